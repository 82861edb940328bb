"""Approval steps (DESIGN §12, issue 18 items 4–5), end to end: real PostgreSQL and Redis,
real `pipebot worker` processes against the fake Anthropic API.

A run reaching an approval step becomes `waiting` and gives its worker back (another run
goes ahead on a one-slot worker); Approve, Edit & approve and Reject are decided once, by
approvers only; a timeout, a cancel, a SIGKILL of the worker with a Redis flush all end or
resume the run cleanly, and nothing is paid for twice.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from core import messages, pipelines
from core.errors import ValidationFailed
from core.pipelines import PipelineDraft
from core.preflight import check, load_plan
from core.runs.approvals import DecisionResult, approval_view, decide, expire_due, pending_approval, record_message
from core.runs.artifact import Artifact as Content
from core.runs.cancel import CancelResult, cancel_run, cancelled_message
from core.runs.fair_share import slots_key
from core.runs.intake import start_branch, start_run
from core.runs.maintenance import maintain_runs, requeue_lost_runs, take_over_dead_runs
from core.runs.request import Origin, ReportTo
from storage.db import transaction
from storage.repos import pipelines as pipeline_repo
from storage.repos import runs as run_repo
from tests.conftest import SESSION_LOCK
from tests.support.approvals import Recorder, agent_approval_agent, approvals_of
from tests.support.runs import (
    HAIKU,
    drain,
    kill_hard,
    make_agent,
    make_pipeline,
    read_artifact,
    read_run,
    read_steps,
    start_worker,
    stop_worker,
    with_keys,
)
from tests.support.waiting import wait_until

MESSAGES = "/v1/messages"
BOSS = "U0BOSS"


def _sent(call) -> str:
    return str(call.json.get("messages"))


def _waiting_run(ctx, worker_env, fake_anthropic, *, approvers=(), hours=24, team="T1"):
    """A run of Drafter → Approval → Publisher that reached the approval: (run, approval)."""
    agent_approval_agent(ctx, team, approvers=approvers, hours=hours)
    fake_anthropic.reply("draft about otters")
    run = start_run(ctx, team, "Reviewed", "write about otters", requested_by="U1")
    drain(worker_env)
    assert read_run(ctx, team, run.id).status == "waiting"
    (approval,) = approvals_of(ctx, run.id)
    return run, approval


# ---- the pipeline ------------------------------------------------------------------------


def test_approval_steps_in_a_pipeline_are_checked_and_shown(ctx):
    with_keys(ctx, "T1", "anthropic")
    a = make_agent(ctx, "T1", "Writer", HAIKU)
    pid = make_pipeline(ctx, "T1", "Flow", [a])
    with transaction(ctx.sessions) as s:
        p = pipelines.add_approval(s, "T1", pid, pipelines.approval_step([BOSS], "48"))
        assert [pipelines.step_label(st) for st in p.steps] == ["Writer", "Approval"]
        assert (p.steps[1].approvers, p.steps[1].timeout_hours, p.steps[1].agent_id) == ([BOSS], 48, None)
        assert pipelines.orphans(p) == []  # an approval step has no agent and is not orphaned
        # nothing to approve before the first step
        with pytest.raises(ValidationFailed) as first:
            pipelines.add_approval(s, "T1", pid, pipelines.approval_step(), position=1)
        assert first.value.errors == {"step_1": messages.APPROVAL_FIRST_STEP}
        with pytest.raises(ValidationFailed):
            pipelines.update(s, "T1", pid, PipelineDraft("Flow", [pipelines.ApprovalStep(), a]))
    for bad in ("0", "721", "soon", "1.5"):
        with pytest.raises(ValidationFailed) as hours:
            pipelines.approval_step(timeout_hours=bad)
        assert hours.value.errors == {"timeout_hours": messages.approval_timeout_range(1, 720)}
    with pytest.raises(ValidationFailed) as who:
        pipelines.approval_step(["not a user"])
    assert "not a Slack user" in who.value.errors["approvers"]
    assert pipelines.approval_step(timeout_hours=None).timeout_hours == 24
    # preflight: the approval needs no key and no model; refused as the first step
    with transaction(ctx.sessions) as s:
        plan = load_plan(s, "T1", pid)
        assert [p.is_approval for p in plan.steps] == [False, True]
        assert check(plan, {"anthropic": "sk"}) is None
        first_step = pipeline_repo.get_pipeline(s, "T1", pid)
        assert first_step is not None
        first_step.steps[0].kind = "approval"  # as an old builder could have saved it
        s.flush()
        refused = check(load_plan(s, "T1", pid), {"anthropic": "sk"})
        assert refused is not None and refused.message == messages.APPROVAL_FIRST_STEP
        s.rollback()


# ---- waiting frees the slot; approve goes on with the step-1 output ----------------------


def test_a_waiting_run_frees_its_slot_and_approve_goes_on_with_the_output_so_far(ctx, worker_env, fake_anthropic):
    agent_approval_agent(ctx, "T1")
    with_keys(ctx, "T1", "anthropic")
    make_pipeline(ctx, "T1", "Quick", [make_agent(ctx, "T1", "Quick one", HAIKU)])
    fake_anthropic.reply("draft about otters")
    waiting = start_run(ctx, "T1", "Reviewed", "write about otters", requested_by="U1")
    worker = start_worker(dict(worker_env, PIPEBOT_WORKER_CONCURRENCY="1", PIPEBOT_WORKSPACE_CONCURRENCY="1"))
    try:
        wait_until(lambda: read_run(ctx, "T1", waiting.id).status == "waiting", 60, "the run waits")
        # the one worker slot and the workspace's one fair-share slot are free: another run goes
        fake_anthropic.reply("quick answer")
        other = start_run(ctx, "T1", "Quick", "hello", requested_by="U2")
        wait_until(lambda: read_run(ctx, "T1", other.id).status == "succeeded", 60, "the other run ends")
        assert read_run(ctx, "T1", waiting.id).status == "waiting"
        assert ctx.redis.zscore(slots_key("T1"), str(waiting.id)) is None
        assert [(st.position, st.status) for st in read_steps(ctx, waiting.id)] == [(1, "succeeded"), (2, "waiting")]
        (approval,) = approvals_of(ctx, waiting.id)
        assert (approval.status, approval.output_shown, approval.requested_by) == (
            "pending",
            "draft about otters",
            "U1",
        )
        assert approval.due_at - approval.requested_at == timedelta(hours=24)

        fake_anthropic.reply("published otters")
        rec = Recorder()
        decision = decide(ctx, "T1", approval.id, "U1", "approve", reporter=rec)
        assert decision.result == DecisionResult.APPROVED and decision.approval is not None
        assert decision.approval.status == "approved" and decision.approval.decided_by == "U1"
        assert rec.names() == ["approval_decided"]
        wait_until(lambda: read_run(ctx, "T1", waiting.id).status == "succeeded", 60, "the approved run ends")
    finally:
        stop_worker(worker)
    done = read_run(ctx, "T1", waiting.id)
    assert done.output == "published otters"
    calls = fake_anthropic.calls(MESSAGES)
    assert len(calls) == 3  # step 1, the other run, step 3: nothing twice
    assert "draft about otters" in _sent(calls[2])
    steps = read_steps(ctx, waiting.id)
    assert [(st.position, st.status, st.output) for st in steps] == [
        (1, "succeeded", "draft about otters"),
        (2, "succeeded", "draft about otters"),
        (3, "succeeded", "published otters"),
    ]
    assert steps[1].cost_usd == 0 and done.cost_usd == steps[0].cost_usd + steps[2].cost_usd
    content = Content.from_content(read_artifact(ctx, "T1", waiting.id).content)
    decided = content.steps[1].approval
    assert decided is not None and (decided.status, decided.decided_by, decided.edited) == ("approved", "U1", False)
    assert decided.decided_at is not None and content.models == [HAIKU]


def test_edit_and_approve_goes_on_with_the_edited_text(ctx, worker_env, fake_anthropic):
    run, approval = _waiting_run(ctx, worker_env, fake_anthropic)
    shown = pending_approval(ctx, "T1", run.id)
    assert shown is not None and shown.approval_id == str(approval.id) and shown.output == "draft about otters"
    assert record_message(ctx, "T1", approval.id, "C1", "171.000") and not record_message(ctx, "T1", "x", "C1", "1")
    placed = approval_view(ctx, "T1", approval.id)
    assert placed is not None and (placed.channel_id, placed.message_ts) == ("C1", "171.000")
    assert approval_view(ctx, "T2", approval.id) is None  # another workspace's
    empty = decide(ctx, "T1", approval.id, "U1", "approve", text="  \n ", reporter=Recorder())
    assert (empty.result, empty.message) == (DecisionResult.EMPTY_TEXT, messages.APPROVAL_EMPTY_TEXT)
    assert approvals_of(ctx, run.id)[0].status == "pending"

    edited = decide(ctx, "T1", approval.id, "U1", "approve", text="otters, edited by a person", reporter=Recorder())
    assert edited.result == DecisionResult.APPROVED and edited.approval and edited.approval.edited
    fake_anthropic.reply("published edited otters")
    drain(worker_env)
    assert read_run(ctx, "T1", run.id).status == "succeeded"
    last = fake_anthropic.calls(MESSAGES)[-1]
    assert "otters, edited by a person" in _sent(last) and "draft about otters" not in _sent(last)
    step2 = read_steps(ctx, run.id)[1]
    assert (step2.output, step2.input) == ("otters, edited by a person", "draft about otters")
    recorded = Content.from_content(read_artifact(ctx, "T1", run.id).content).steps[1].approval
    assert recorded is not None and recorded.edited and recorded.original_output == "draft about otters"


# ---- who may decide, and only once --------------------------------------------------------


def test_reject_by_an_approver_ends_the_run_and_others_are_refused(ctx, worker_env, fake_anthropic):
    run, approval = _waiting_run(ctx, worker_env, fake_anthropic, approvers=(BOSS,))
    rec = Recorder()
    refused = decide(ctx, "T1", approval.id, "U1", "reject", reason="no", reporter=rec)  # the requester is not named
    assert refused.result == DecisionResult.NOT_ALLOWED and refused.message == messages.approval_not_allowed(
        [BOSS], "U1"
    )
    assert refused.message == f"Only <@{BOSS}> can decide on this approval."
    assert read_run(ctx, "T1", run.id).status == "waiting" and rec.events == []
    nonsense = decide(ctx, "T1", "not-an-id", BOSS, "approve")
    assert nonsense.result == DecisionResult.NOT_FOUND

    rejected = decide(ctx, "T1", approval.id, BOSS, "reject", reason="too long", reporter=rec)
    assert rejected.result == DecisionResult.REJECTED and rejected.permalink
    done = read_run(ctx, "T1", run.id)
    assert (done.status, done.error_kind, done.error_message) == (
        "failed",
        "rejected",
        f"rejected by <@{BOSS}>: too long",
    )
    assert rec.names() == ["approval_decided", "run_finished"]
    assert rec.events[1][1].status == "failed"
    steps = read_steps(ctx, run.id)
    assert [(st.position, st.status) for st in steps] == [(1, "succeeded"), (2, "failed")]
    art = read_artifact(ctx, "T1", run.id)
    content = Content.from_content(art.content)
    assert content.error is not None and content.error.step == 2
    assert content.steps[1].approval is not None and content.steps[1].approval.reason == "too long"

    again = decide(ctx, "T1", approval.id, BOSS, "approve", reporter=rec)
    assert again.result == DecisionResult.ALREADY_DECIDED and again.message.startswith(f"Already rejected by <@{BOSS}>")
    assert read_run(ctx, "T1", run.id).status == "failed" and len(rec.events) == 2
    assert fake_anthropic.count(MESSAGES) == 1  # step 3 never ran


def test_two_clicks_at_once_have_one_winner(ctx, worker_env, fake_anthropic):
    run, approval = _waiting_run(ctx, worker_env, fake_anthropic)
    results: list[DecisionResult] = []
    barrier = threading.Barrier(4)

    def click(verdict: str) -> None:
        barrier.wait()
        results.append(decide(ctx, "T1", approval.id, "U1", verdict, reporter=Recorder()).result)

    threads = [threading.Thread(target=click, args=(v,)) for v in ("approve", "reject", "approve", "reject")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [r for r in results if r in (DecisionResult.APPROVED, DecisionResult.REJECTED)]
    assert len(winners) == 1 and results.count(DecisionResult.ALREADY_DECIDED) == 3
    status = read_run(ctx, "T1", run.id).status
    assert status == ("queued" if winners[0] == DecisionResult.APPROVED else "failed")


# ---- timeout, cancel -----------------------------------------------------------------------


def test_an_approval_not_given_in_time_ends_the_run_once(ctx, worker_env, fake_anthropic):
    run, approval = _waiting_run(ctx, worker_env, fake_anthropic, hours=1)
    assert expire_due(ctx, reporter=Recorder()) == []  # not due yet
    later = datetime.now(UTC) + timedelta(hours=1, minutes=1)
    recs = [Recorder(), Recorder(), Recorder()]
    ended: list[list[str]] = []
    barrier = threading.Barrier(len(recs))

    def round_of(rec: Recorder) -> None:  # several workers' maintenance rounds at once
        barrier.wait()
        ended.append(expire_due(ctx, now=later, reporter=rec))

    threads = [threading.Thread(target=round_of, args=(r,)) for r in recs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(len(e) for e in ended) == [0, 0, 1] and [e for e in ended if e] == [[str(run.id)]]
    told = [r for r in recs if r.events]
    assert len(told) == 1 and told[0].names() == ["approval_decided", "run_finished"]
    done = read_run(ctx, "T1", run.id)
    assert (done.status, done.error_kind, done.error_message) == (
        "failed",
        "approval_timed_out",
        "not approved in time (1 h)",
    )
    assert approvals_of(ctx, run.id)[0].status == "timed_out"
    late = decide(ctx, "T1", approval.id, "U1", "approve", reporter=Recorder())
    assert late.result == DecisionResult.TIMED_OUT and late.message.startswith("Too late")
    assert read_artifact(ctx, "T1", run.id) is not None


def test_a_decision_after_the_due_time_is_too_late_even_before_maintenance(ctx, worker_env, fake_anthropic):
    run, approval = _waiting_run(ctx, worker_env, fake_anthropic)
    with transaction(ctx.sessions) as s:
        s.execute(
            __import__("sqlalchemy").text("UPDATE approvals SET due_at = now() - interval '1 minute' WHERE id = :id"),
            {"id": approval.id},
        )
    late = decide(ctx, "T1", approval.id, "U1", "approve", reporter=Recorder())
    assert late.result == DecisionResult.TIMED_OUT and late.message == messages.approval_too_late(24)
    assert read_run(ctx, "T1", run.id).status == "waiting"  # maintenance ends it
    assert maintain_runs(ctx) == [str(run.id)]
    assert read_run(ctx, "T1", run.id).error_message == "not approved in time (24 h)"


def test_cancel_while_waiting_ends_the_run_and_the_approval(ctx, worker_env, fake_anthropic):
    run, approval = _waiting_run(ctx, worker_env, fake_anthropic)
    answer = cancel_run(ctx, "T1", run.id, "U1")
    assert answer.result == CancelResult.CANCELLED and answer.permalink
    done = read_run(ctx, "T1", run.id)
    assert (done.status, done.error_kind, done.error_message) == ("failed", "cancelled", cancelled_message("U1"))
    row = approvals_of(ctx, run.id)[0]
    assert (row.status, row.decided_by) == ("cancelled", "U1")
    after = decide(ctx, "T1", approval.id, "U1", "approve", reporter=Recorder())
    assert after.result == DecisionResult.CANCELLED and "cancelled" in after.message
    assert cancel_run(ctx, "T1", run.id, "U1").result == CancelResult.FINISHED
    drain(worker_env)
    assert read_run(ctx, "T1", run.id).status == "failed" and fake_anthropic.count(MESSAGES) == 1


# ---- durability -------------------------------------------------------------------------------


def _flush_redis_keeping_session_lock(ctx) -> None:
    """Redis restarted empty (FLUSHDB of this session's database: the machine is shared)."""
    token = ctx.redis.get(SESSION_LOCK)
    ctx.redis.flushdb()
    if token:
        ctx.redis.set(SESSION_LOCK, token, ex=4 * 3600)


def test_a_waiting_run_survives_a_killed_worker_and_a_flushed_redis(ctx, worker_env, fake_anthropic):
    agent_approval_agent(ctx, "T1")
    fake_anthropic.reply("draft about otters")
    run = start_run(ctx, "T1", "Reviewed", "write about otters", requested_by="U1")
    worker = start_worker(worker_env)
    try:
        wait_until(lambda: read_run(ctx, "T1", run.id).status == "waiting", 60, "the run waits")
    finally:
        kill_hard(worker)
    _flush_redis_keeping_session_lock(ctx)
    # maintenance neither requeues nor takes over a waiting run, however late it is
    much_later = datetime.now(UTC) + timedelta(hours=2)
    assert take_over_dead_runs(ctx, now=much_later) == [] and requeue_lost_runs(ctx, now=much_later) == []
    assert read_run(ctx, "T1", run.id).status == "waiting"

    (approval,) = approvals_of(ctx, run.id)
    assert decide(ctx, "T1", approval.id, "U1", "approve", reporter=Recorder()).result == DecisionResult.APPROVED
    fake_anthropic.reply("published otters")
    drain(worker_env)
    done = read_run(ctx, "T1", run.id)
    assert (done.status, done.output) == ("succeeded", "published otters")
    assert fake_anthropic.count(MESSAGES) == 2


def test_an_approval_while_redis_was_flushed_is_enqueued_by_maintenance(ctx, worker_env, fake_anthropic):
    run, approval = _waiting_run(ctx, worker_env, fake_anthropic)
    assert decide(ctx, "T1", approval.id, "U1", "approve", reporter=Recorder()).result == DecisionResult.APPROVED
    _flush_redis_keeping_session_lock(ctx)  # the job is lost after the decision
    assert requeue_lost_runs(ctx, now=datetime.now(UTC) + timedelta(minutes=5)) == [str(run.id)]
    fake_anthropic.reply("published otters")
    drain(worker_env)
    assert read_run(ctx, "T1", run.id).status == "succeeded" and fake_anthropic.count(MESSAGES) == 2


# ---- queue positions, fair share, re-runs -----------------------------------------------------


def test_waiting_runs_are_not_counted_as_queued(ctx, worker_env, fake_anthropic):
    run, _ = _waiting_run(ctx, worker_env, fake_anthropic)
    with_keys(ctx, "T2", "anthropic")
    make_pipeline(ctx, "T2", "Quick", [make_agent(ctx, "T2", "Quick one", HAIKU)])
    queued = start_run(
        ctx, "T2", "Quick", "hello", requested_by="U2", report_to=ReportTo("C1", "111.222"), origin=Origin.SLASH_COMMAND
    )
    with transaction(ctx.sessions) as s:
        s.execute(
            __import__("sqlalchemy").text("UPDATE runs SET channel_id = 'C1', thread_ts = '1.1' WHERE id = :id"),
            {"id": run.id},
        )
        positions = run_repo.queue_positions(s, datetime.now(UTC) + timedelta(minutes=1))
        assert [(str(r.id), r.ahead) for r in positions] == [(str(queued.id), 0)]
        assert run_repo.teams_with_queued_runs(s, "T2") == []  # T1's waiting run holds no place
        assert run_repo.teams_with_queued_runs(s, "T1") == ["T2"]


def test_a_rerun_from_the_step_after_an_approval_asks_again(ctx, worker_env, fake_anthropic):
    run, approval = _waiting_run(ctx, worker_env, fake_anthropic)
    decide(ctx, "T1", approval.id, "U1", "approve", text="approved draft", reporter=Recorder())
    fake_anthropic.reply("published otters")
    drain(worker_env)
    art = read_artifact(ctx, "T1", run.id)
    assert art is not None and art.status == "succeeded"
    fake_anthropic.reset()

    branch = start_branch(ctx, "T1", artifact_id=str(art.id), from_step=3, requested_by="U1", origin=Origin.RERUN)
    drain(worker_env)
    assert read_run(ctx, "T1", branch.id).status == "waiting"  # the approval is asked again
    assert fake_anthropic.count(MESSAGES) == 0  # step 1 reused, nothing called yet
    (again,) = approvals_of(ctx, branch.id)
    assert (again.status, again.output_shown) == ("pending", "draft about otters")
    assert [(st.position, st.status) for st in read_steps(ctx, branch.id)] == [(1, "succeeded"), (2, "waiting")]

    fake_anthropic.reply("published again")
    assert decide(ctx, "T1", again.id, "U1", "approve", reporter=Recorder()).result == DecisionResult.APPROVED
    drain(worker_env)
    done = read_run(ctx, "T1", branch.id)
    assert (done.status, done.output) == ("succeeded", "published again")
    assert fake_anthropic.count(MESSAGES) == 1
