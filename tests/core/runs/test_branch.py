"""Re-running from a step of an artifact (core/runs/branch.py) with real worker processes
against the fake providers: reused steps call no model and cost nothing, the lineage is
recorded, a kill and resume never calls a reused step, and every refusal says why."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest
from sqlalchemy import select

from core.artifacts.editing import save_edit
from core.errors import RunRejected
from core.runs.artifact import Artifact as Content
from core.runs.intake import start_branch, start_run
from core.runs.request import Origin
from storage.db import transaction
from storage.models import Artifact
from storage.repos import agents as agent_repo
from tests.fakes.llm_base import Turn
from tests.support.runs import (
    GPT,
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


def _sent(req) -> str:
    """Everything the request sent the model (system prompt and messages), as one text."""
    return json.dumps(req.json.get("messages"))


def _four_steps(ctx, worker_env, fake_anthropic, team: str = "T1") -> tuple[list[int], str]:
    """A finished 4-step run: its agents and its artifact's id."""
    with_keys(ctx, team, "anthropic", "openai")
    ids = [make_agent(ctx, team, f"Agent {n}", HAIKU) for n in range(1, 5)]
    make_pipeline(ctx, team, "Four", ids)
    for n in range(1, 5):
        fake_anthropic.reply(f"output of step {n}")
    run = start_run(ctx, team, "Four", "the original input", requested_by="U1", origin=Origin.SLASH_COMMAND)
    drain(worker_env)
    art = read_artifact(ctx, team, run.id)
    assert art is not None and art.status == "succeeded"
    assert fake_anthropic.count(MESSAGES) == 4
    return ids, str(art.id)


def _branch_artifact(ctx, team: str, run_id) -> Artifact:
    art = read_artifact(ctx, team, run_id)
    assert art is not None
    return art


def test_branch_from_step_3_of_4_calls_the_model_twice_and_reuses_steps_at_no_cost(ctx, worker_env, fake_anthropic):
    _, source_id = _four_steps(ctx, worker_env, fake_anthropic)
    with transaction(ctx.sessions) as s:
        source = Content.from_content(s.get(Artifact, source_id).content)
    fake_anthropic.reset()
    fake_anthropic.reply("new output of step 3")
    fake_anthropic.reply("new output of step 4")

    run = start_branch(ctx, "T1", artifact_id=source_id, from_step=3, requested_by="U2", origin=Origin.RERUN)
    drain(worker_env)

    assert fake_anthropic.count(MESSAGES) == 2
    step3, step4 = fake_anthropic.calls(MESSAGES)
    assert "output of step 2" in _sent(step3) and "new output of step 3" in _sent(step4)
    done = read_run(ctx, "T1", run.id)
    assert done.status == "succeeded" and done.output == "new output of step 4"
    steps = read_steps(ctx, run.id)
    assert [(st.position, st.status) for st in steps] == [
        (1, "succeeded"),
        (2, "succeeded"),
        (3, "succeeded"),
        (4, "succeeded"),
    ]
    assert [st.cost_usd for st in steps[:2]] == [Decimal(0), Decimal(0)]
    assert [st.output for st in steps[:2]] == ["output of step 1", "output of step 2"]
    assert all(st.cost_usd and st.cost_usd > 0 for st in steps[2:])
    assert done.cost_usd == steps[2].cost_usd + steps[3].cost_usd  # only the new work

    art = _branch_artifact(ctx, "T1", run.id)
    assert (str(art.parent_artifact_id), art.parent_version, art.branched_from_step) == (source_id, 1, 3)
    assert art.branch_changes == {}
    content = Content.from_content(art.content)
    stored = art.content["steps"]
    assert [st.get("reused", False) for st in stored] == [True, True, False, False]
    assert [st["cost_usd"] for st in stored[:2]] == ["0", "0"]
    assert [Decimal(st["original_cost_usd"]) for st in stored[:2]] == [s.cost_usd for s in source.steps[:2]]
    assert all(s.cost_usd and s.cost_usd > 0 for s in source.steps[:2])
    assert [s.output for s in content.steps[:2]] == ["output of step 1", "output of step 2"]
    assert art.content["branch"] == {
        "parent_artifact_id": source_id,
        "parent_version": 1,
        "from_step": 3,
        "changes": {},
    }
    assert content.input == "the original input"


def test_branch_of_the_last_step_calls_the_model_exactly_once(ctx, worker_env, fake_anthropic):
    _, source_id = _four_steps(ctx, worker_env, fake_anthropic)
    fake_anthropic.reset()
    fake_anthropic.reply("another last step")
    run = start_branch(ctx, "T1", artifact_id=source_id, from_step=4, requested_by="U1", origin=Origin.CLI)
    drain(worker_env)
    assert fake_anthropic.count(MESSAGES) == 1
    assert "output of step 3" in _sent(fake_anthropic.last)
    assert read_run(ctx, "T1", run.id).output == "another last step"
    assert [st.cost_usd == 0 for st in read_steps(ctx, run.id)] == [True, True, True, False]


def test_branch_of_an_edited_version_with_another_agent_model_and_input(ctx, worker_env, fake_anthropic, fake_openai):
    _, source_id = _four_steps(ctx, worker_env, fake_anthropic)
    v2 = save_edit(ctx, "T1", source_id, base_version=1, target="step:2", text="edited step two", author="U3")
    assert v2 == 2
    other = make_agent(ctx, "T1", "Other", HAIKU)
    fake_anthropic.reset()
    fake_openai.reply("step 3 by another agent on GPT")
    fake_anthropic.reply("step 4 again")

    # the version's edited output is what reaches step 3 when the input is left unchanged
    run = start_branch(
        ctx,
        "T1",
        artifact_id=source_id,
        version=2,
        from_step=3,
        agent_id=other,
        model=GPT,
        requested_by="U1",
        origin=Origin.RERUN,
    )
    drain(worker_env)
    assert fake_openai.count("/v1/responses") == 1 and fake_anthropic.count(MESSAGES) == 1
    assert "edited step two" in json.dumps(fake_openai.last.json)
    steps = read_steps(ctx, run.id)
    assert steps[1].output == "edited step two"
    assert steps[2].model == GPT and steps[2].agent_id == other and steps[2].agent_snapshot["model"] == GPT
    art = _branch_artifact(ctx, "T1", run.id)
    assert art.parent_version == 2
    assert art.branch_changes["agent"]["to"] == {"id": other, "name": "Other"}
    assert art.branch_changes["agent"]["from"]["name"] == "Agent 3"
    assert art.branch_changes["model"] == {"from": HAIKU, "to": GPT}

    # an edited input replaces what reaches the step
    fake_anthropic.reset()
    run = start_branch(
        ctx,
        "T1",
        artifact_id=source_id,
        from_step=2,
        input_text="a different input",
        requested_by="U1",
        origin=Origin.RERUN,
    )
    drain(worker_env)
    assert fake_anthropic.count(MESSAGES) == 3
    assert "a different input" in _sent(fake_anthropic.calls(MESSAGES)[0])
    art = _branch_artifact(ctx, "T1", run.id)
    assert art.branch_changes == {
        "input": {"from_chars": len("output of step 1"), "to_chars": len("a different input")}
    }
    assert read_steps(ctx, run.id)[1].input == "a different input"


def test_a_killed_branch_resumes_without_calling_reused_steps(ctx, worker_env, fake_anthropic):
    _, source_id = _four_steps(ctx, worker_env, fake_anthropic)
    fake_anthropic.reset()
    fake_anthropic.enqueue(Turn(text="never delivered", delay=60))  # the worker dies waiting for step 3
    fake_anthropic.reply("step 3 again")
    fake_anthropic.reply("step 4 again")
    run = start_branch(ctx, "T1", artifact_id=source_id, from_step=3, requested_by="U1", origin=Origin.RERUN)
    worker = start_worker(worker_env)
    try:
        wait_until(lambda: fake_anthropic.count(MESSAGES) >= 1, timeout=60)
        kill_hard(worker)
    finally:
        stop_worker(worker)
    time.sleep(3.5)  # the heartbeat goes stale
    drain(worker_env)
    done = read_run(ctx, "T1", run.id)
    assert done.status == "succeeded", (done.error_kind, done.error_message)
    assert done.attempts == 2 and done.output == "step 4 again"
    calls = fake_anthropic.calls(MESSAGES)
    assert len(calls) == 3  # step 3 twice (the first one was cut), step 4 once; never steps 1 or 2
    assert all("output of step 2" in _sent(c) for c in calls[:2]) and "step 3 again" in _sent(calls[2])
    assert [st.cost_usd == 0 for st in read_steps(ctx, run.id)] == [True, True, False, False]
    with transaction(ctx.sessions) as s:
        assert len(s.scalars(select(Artifact).where(Artifact.run_id == run.id)).all()) == 1


def test_an_orphaned_later_step_fails_the_branch_before_any_model_call(ctx, worker_env, fake_anthropic):
    ids, source_id = _four_steps(ctx, worker_env, fake_anthropic)
    with transaction(ctx.sessions) as s:
        agent_repo.delete_agent(s, "T1", ids[3])
    fake_anthropic.reset()
    run = start_branch(ctx, "T1", artifact_id=source_id, from_step=3, requested_by="U1", origin=Origin.RERUN)
    drain(worker_env)
    done = read_run(ctx, "T1", run.id)
    assert done.status == "failed" and done.error_kind == "orphaned_step" and "Step 4" in done.error_message
    assert fake_anthropic.count(MESSAGES) == 0


def test_refusals(ctx, worker_env, fake_anthropic):
    ids, source_id = _four_steps(ctx, worker_env, fake_anthropic)
    stranger = make_agent(ctx, "T2", "Stranger", HAIKU)

    def refused(**kw) -> RunRejected:
        args = dict(artifact_id=source_id, from_step=2, requested_by="U1", origin=Origin.RERUN) | kw
        team = args.pop("team", "T1")
        with pytest.raises(RunRejected) as exc:
            start_branch(ctx, team, **args)
        return exc.value

    for step in (0, 5):
        exc = refused(from_step=step)
        assert exc.kind == "bad_step" and "1–4" in exc.message
    assert refused(team="T2").kind == "not_found"  # another workspace's artifact
    assert refused(artifact_id="00000000-0000-0000-0000-000000000000").kind == "not_found"
    assert refused(artifact_id="not-a-uuid").kind == "not_found"
    exc = refused(version=7)
    assert exc.kind == "version_missing" and "version 7" in exc.message
    assert refused(agent_id=stranger).kind == "bad_agent"  # another workspace's agent
    with transaction(ctx.sessions) as s:
        agent_repo.delete_agent(s, "T1", ids[0])
    assert refused(agent_id=ids[0]).kind == "bad_agent"  # a deleted one
    assert refused(model="openai:no-such-model").kind == "unknown_model"
    assert refused(model="nonsense").kind == "unknown_model"

    # a source that failed at step 2: nothing to reuse from step 3 on, step 2 itself is fine
    with_keys(ctx, "T1", "anthropic")
    a, b = make_agent(ctx, "T1", "Ok", HAIKU), make_agent(ctx, "T1", "Breaks", HAIKU)
    make_pipeline(ctx, "T1", "Fragile", [a, b, make_agent(ctx, "T1", "Never", HAIKU)])
    fake_anthropic.reply("fine")
    fake_anthropic.fail(400, message="bad request")
    failed = start_run(ctx, "T1", "Fragile", "x")
    drain(worker_env)
    failed_art = read_artifact(ctx, "T1", failed.id)
    assert failed_art.status == "failed"
    exc = refused(artifact_id=str(failed_art.id), from_step=3)
    assert exc.kind == "nothing_to_reuse" and "Step 2" in exc.message
    assert (
        start_branch(
            ctx, "T1", artifact_id=str(failed_art.id), from_step=2, requested_by="U1", origin=Origin.CLI
        ).status
        == "queued"
    )


def test_a_repeated_dedupe_key_returns_the_first_branch(ctx, worker_env, fake_anthropic):
    _, source_id = _four_steps(ctx, worker_env, fake_anthropic)
    first = start_branch(
        ctx,
        "T1",
        artifact_id=source_id,
        from_step=4,
        requested_by="U1",
        origin=Origin.RERUN,
        dedupe_key="slack:T1:view:V1",
    )
    again = start_branch(
        ctx,
        "T1",
        artifact_id=source_id,
        from_step=4,
        requested_by="U1",
        origin=Origin.RERUN,
        dedupe_key="slack:T1:view:V1",
    )
    assert again.id == first.id
