"""Pipeline runs end to end: real PostgreSQL, Redis and RQ worker processes, fake providers."""

from __future__ import annotations

import subprocess
import sys
import time
from decimal import Decimal

import psutil
import pytest
from sqlalchemy import select

from core import agents
from core.agents import AgentDraft
from core.budget import unpriced_models
from core.errors import RunRejected
from core.runs.intake import start_run
from storage.db import transaction
from storage.models import Artifact
from storage.repos import agents as agent_repo
from storage.repos import artifacts as artifact_repo
from storage.repos import runs as run_repo
from storage.repos import workspaces as workspace_repo
from tests.fakes.llm_base import Fault, ToolCallSpec, Turn
from tests.support.runs import (
    GPT,
    HAIKU,
    drain,
    kill_hard,
    make_agent,
    make_pipeline,
    process_with_port,
    start_worker,
    stop_worker,
    with_keys,
)
from tests.support.runs import (
    read_artifact as _artifact,
)
from tests.support.runs import (
    read_run as _run,
)
from tests.support.runs import (
    read_steps as _steps,
)
from tests.support.waiting import wait_until


def test_three_step_pipeline_across_both_providers(ctx, worker_env, fake_anthropic, fake_openai):
    with_keys(ctx, "T1", "anthropic", "openai")
    a = make_agent(ctx, "T1", "Drafter", HAIKU, "Draft it.")
    b = make_agent(ctx, "T1", "Critic", GPT, "Criticise it.")
    c = make_agent(ctx, "T1", "Polisher", HAIKU, "Polish it.", max_output_tokens=500)
    make_pipeline(ctx, "T1", "Essay", [a, b, c])
    fake_anthropic.reply("first draft about otters")
    fake_openai.reply("critique: needs more otters")
    fake_anthropic.reply("final essay: otters everywhere")
    run = start_run(ctx, "T1", "essay", "write about otters", requested_by="U1")
    assert run.status == "queued"
    drain(worker_env)

    done = _run(ctx, "T1", run.id)
    assert done.status == "succeeded", (done.error_kind, done.error_message)
    assert done.output == "final essay: otters everywhere"
    steps = _steps(ctx, run.id)
    assert [s.model for s in steps] == [HAIKU, GPT, HAIKU]
    # each step's input is the previous step's output
    assert [s.input for s in steps] == ["write about otters", "first draft about otters", "critique: needs more otters"]
    assert all(s.status == "succeeded" and s.latency_ms is not None for s in steps)
    assert steps[2].agent_snapshot["max_output_tokens"] == 500 and steps[1].agent_snapshot["name"] == "Critic"
    # the wire: Anthropic gets the system prompt top-level and max_tokens; OpenAI gets instructions
    a_calls = fake_anthropic.calls("/v1/messages")
    assert [
        c.json["system"][0]["text"] if isinstance(c.json["system"], list) else c.json["system"] for c in a_calls
    ] == ["Draft it.", "Polish it."]
    assert a_calls[1].json["max_tokens"] == 500
    o_calls = fake_openai.calls("/v1/responses")
    assert len(o_calls) == 1 and o_calls[0].json["instructions"] == "Criticise it."
    # cost: every step priced, the run and the artifact carry the sum
    costs = [s.cost_usd for s in steps]
    assert all(c is not None and c > 0 for c in costs)
    assert done.cost_usd == sum(costs, Decimal(0))
    art = _artifact(ctx, "T1", run.id)
    assert art.cost_usd == done.cost_usd and art.status == "succeeded"
    assert art.models == [HAIKU, GPT] and art.pipeline_name == "Essay"
    assert art.content["output"] == done.output and len(art.content["steps"]) == 3
    assert Decimal(art.content["cost_usd"]) == done.cost_usd
    step0 = art.content["steps"][0]
    assert step0["agent"]["system_prompt"] == "Draft it." and step0["raw_usage"] and step0["price_version"]


def test_threaded_worker_keeps_provider_connections_between_runs(ctx, worker_env, fake_anthropic):
    """`pipebot worker` (threads, the default) runs jobs without forking: the second run reuses
    the first one's keep-alive connection to the provider (no new TCP/TLS handshake)."""
    with_keys(ctx, "T1", "anthropic")
    make_pipeline(ctx, "T1", "P", [make_agent(ctx, "T1", "One", HAIKU, "Be brief.")])
    runs = [start_run(ctx, "T1", "P", f"input {i}") for i in range(3)]
    drain(dict(worker_env, PIPEBOT_WORKER_CONCURRENCY="1"))  # one after another
    assert [_run(ctx, "T1", r.id).status for r in runs] == ["succeeded"] * 3
    assert [_artifact(ctx, "T1", r.id).content["input"] for r in runs] == ["input 0", "input 1", "input 2"]
    ports = [c.client_port for c in fake_anthropic.calls("/v1/messages")]
    assert len(ports) == 3 and len(set(ports)) == 1, ports


def test_live_link_next_run_uses_the_edited_agent(ctx, worker_env, fake_anthropic):
    with_keys(ctx, "T1", "anthropic")
    a = make_agent(ctx, "T1", "Writer", HAIKU, "Version one.")
    make_pipeline(ctx, "T1", "Solo", [a])
    r1 = start_run(ctx, "T1", "Solo", "hello")
    drain(worker_env)
    with transaction(ctx.sessions) as s:
        agents.update(
            s, "T1", a, AgentDraft(name="Writer", system_prompt="Version two.", model="anthropic:claude-sonnet-4-5")
        )
    r2 = start_run(ctx, "T1", "Solo", "hello again")
    drain(worker_env)
    calls = fake_anthropic.calls("/v1/messages")
    systems = [c.json["system"][0]["text"] if isinstance(c.json["system"], list) else c.json["system"] for c in calls]
    assert systems == ["Version one.", "Version two."]
    assert calls[1].json["model"] == "claude-sonnet-4-5"
    assert _steps(ctx, r1.id)[0].agent_snapshot["system_prompt"] == "Version one."
    assert _steps(ctx, r2.id)[0].agent_snapshot["system_prompt"] == "Version two."


def test_orphaned_step_fails_before_any_provider_call(ctx, worker_env, fake_anthropic, fake_openai):
    with_keys(ctx, "T1", "anthropic", "openai")
    a = make_agent(ctx, "T1", "Keeper", HAIKU)
    b = make_agent(ctx, "T1", "Goner", GPT)
    make_pipeline(ctx, "T1", "Broken", [a, b])
    with transaction(ctx.sessions) as s:
        agent_repo.delete_agent(s, "T1", b)
    run = start_run(ctx, "T1", "Broken", "input")
    drain(worker_env)
    done = _run(ctx, "T1", run.id)
    assert done.status == "failed" and done.error_kind == "orphaned_step"
    assert "Step 2" in done.error_message and "Goner" in done.error_message
    assert fake_anthropic.count("/v1/messages") == 0 and fake_openai.count("/v1/responses") == 0
    art = _artifact(ctx, "T1", run.id)
    assert art.status == "failed" and art.content["error"]["kind"] == "orphaned_step"


def test_preflight_refuses_before_a_run_exists_with_the_executors_words(ctx, worker_env, fake_anthropic):
    """What the CLI asks for: the preflight the executor applies, before anything is queued."""
    from core.runs.queue import run_queue

    with_keys(ctx, "T1", "anthropic")
    a = make_agent(ctx, "T1", "Keeper", HAIKU)
    b = make_agent(ctx, "T1", "Goner", HAIKU)
    c = make_agent(ctx, "T1", "Other", GPT)
    make_pipeline(ctx, "T1", "Broken", [a, b])
    make_pipeline(ctx, "T1", "Keyless", [a, c])
    with transaction(ctx.sessions) as s:
        agent_repo.delete_agent(s, "T1", b)
    with pytest.raises(RunRejected) as orphaned:
        start_run(ctx, "T1", "Broken", "input", preflight=True)
    assert orphaned.value.kind == "orphaned_step"
    assert orphaned.value.message == (
        "Step 2 uses the agent “Goner”, which was deleted. Edit the pipeline and pick another agent for step 2."
    )
    with pytest.raises(RunRejected) as keyless:
        start_run(ctx, "T1", "Keyless", "input", preflight=True)
    assert keyless.value.kind == "missing_key" and "No OpenAI API key is set" in keyless.value.message
    with transaction(ctx.sessions) as s:
        assert run_repo.latest_runs(s, "T1") == []
    assert run_queue(ctx).count == 0
    # unchecked, the same pipeline is queued and the executor fails it with the same words
    run = start_run(ctx, "T1", "Broken", "input")
    drain(worker_env)
    done = _run(ctx, "T1", run.id)
    assert (done.error_kind, done.error_message) == ("orphaned_step", orphaned.value.message)
    assert fake_anthropic.count("/v1/messages") == 0


def test_missing_key_fails_fast_naming_the_provider(ctx, worker_env, fake_anthropic, fake_openai):
    with_keys(ctx, "T1", "anthropic")  # no OpenAI key, and no deployment-wide one
    a = make_agent(ctx, "T1", "One", HAIKU)
    b = make_agent(ctx, "T1", "Two", GPT)
    make_pipeline(ctx, "T1", "Mixed", [a, b])
    run = start_run(ctx, "T1", "Mixed", "input")
    drain(worker_env)
    done = _run(ctx, "T1", run.id)
    assert done.status == "failed" and done.error_kind == "missing_key"
    assert "OpenAI" in done.error_message and "/pipebot settings" in done.error_message
    assert fake_anthropic.count("/v1/messages") == 0 and fake_openai.count("/v1/responses") == 0


def test_deployment_wide_key_is_the_fallback(ctx, worker_env, fake_openai):
    a = make_agent(ctx, "T1", "One", GPT)
    make_pipeline(ctx, "T1", "P", [a])
    run = start_run(ctx, "T1", "P", "input")
    drain(dict(worker_env, OPENAI_API_KEY="sk-deployment-wide-0001"))
    assert _run(ctx, "T1", run.id).status == "succeeded"
    assert fake_openai.last.header("authorization") == "Bearer sk-deployment-wide-0001"


def test_rate_limit_then_success_is_retried(ctx, worker_env, fake_openai):
    with_keys(ctx, "T1", "openai")
    make_pipeline(ctx, "T1", "P", [make_agent(ctx, "T1", "One", GPT)])
    fake_openai.fail(
        429, headers={"retry-after": "0.2"}, message="Rate limit reached", type="requests", code="rate_limit_exceeded"
    )
    fake_openai.reply("made it")
    run = start_run(ctx, "T1", "P", "input")
    drain(worker_env)
    done = _run(ctx, "T1", run.id)
    assert done.status == "succeeded" and done.output == "made it"
    assert fake_openai.count("/v1/responses") == 2


def test_persistent_server_error_fails_the_run_with_its_kind(ctx, worker_env, fake_anthropic):
    with_keys(ctx, "T1", "anthropic")
    make_pipeline(ctx, "T1", "P", [make_agent(ctx, "T1", "One", HAIKU)])
    for _ in range(6):
        fake_anthropic.enqueue(
            Fault(
                500,
                {"type": "error", "error": {"type": "api_error", "message": "Internal server error"}},
                {"retry-after": "0"},
            )
        )
    run = start_run(ctx, "T1", "P", "input")
    drain(worker_env)
    done = _run(ctx, "T1", run.id)
    assert done.status == "failed" and done.error_kind == "server"
    assert "Step 1" in done.error_message and "Anthropic" in done.error_message
    assert 2 <= fake_anthropic.count("/v1/messages") <= 6
    steps = _steps(ctx, run.id)
    assert steps[0].status == "failed" and steps[0].error_kind == "server"


def test_agent_tool_loop_runs_built_in_tools(ctx, worker_env, fake_anthropic):
    with_keys(ctx, "T1", "anthropic")
    a = make_agent(ctx, "T1", "Clock", HAIKU, tools=["current_time"])
    make_pipeline(ctx, "T1", "Time", [a])
    fake_anthropic.reply_tool_calls([ToolCallSpec("current_time", {})])
    fake_anthropic.reply("It is now.")
    run = start_run(ctx, "T1", "Time", "what time is it?")
    drain(worker_env)
    done = _run(ctx, "T1", run.id)
    assert done.status == "succeeded" and done.output == "It is now."
    calls = fake_anthropic.calls("/v1/messages")
    assert [t["name"] for t in calls[0].json["tools"]] == ["current_time"]
    last = calls[1].json["messages"][-1]
    result = [b for b in last["content"] if b["type"] == "tool_result"][0]
    assert "utc" in (result["content"] if isinstance(result["content"], str) else result["content"][0]["text"])
    assert len(_steps(ctx, run.id)[0].raw_usage) == 2  # both rounds counted


def test_fork_worker_runs_each_job_in_a_work_horse(ctx, worker_env, fake_anthropic):
    """`pipebot worker --fork`: RQ's classic worker forks a work horse per job, so each run
    opens its own provider connection (the threaded worker reuses one: test above)."""
    with_keys(ctx, "T1", "anthropic")
    make_pipeline(ctx, "T1", "P", [make_agent(ctx, "T1", "One", HAIKU, "Be brief.")])
    runs = [start_run(ctx, "T1", "P", f"input {i}") for i in range(3)]
    drain(worker_env, mode="fork")
    assert [_run(ctx, "T1", r.id).status for r in runs] == ["succeeded"] * 3
    assert [_artifact(ctx, "T1", r.id).content["input"] for r in runs] == ["input 0", "input 1", "input 2"]
    ports = [c.client_port for c in fake_anthropic.calls("/v1/messages")]
    assert len(ports) == 3 and len(set(ports)) == 3, ports


@pytest.mark.parametrize("mode", ["fork", "threads"], ids=["fork-per-job", "threads"])
def test_killed_worker_run_resumes_after_last_finished_step(ctx, worker_env, fake_anthropic, fake_openai, mode):
    with_keys(ctx, "T1", "anthropic", "openai")
    a = make_agent(ctx, "T1", "First", HAIKU)
    b = make_agent(ctx, "T1", "Second", GPT)
    make_pipeline(ctx, "T1", "Long", [a, b])
    fake_anthropic.reply("step one output")
    fake_openai.enqueue(Turn(text="never delivered", delay=60))  # the worker dies while waiting for this
    fake_openai.reply("step two output")
    run = start_run(ctx, "T1", "Long", "the input")
    worker = start_worker(worker_env, mode=mode)
    try:
        wait_until(lambda: fake_openai.count("/v1/responses") >= 1, timeout=60)
        assert _run(ctx, "T1", run.id).status == "running"
        # which process is waiting on the provider: a forked work horse, or the worker itself
        port = fake_openai.calls("/v1/responses")[0].client_port
        caller = wait_until(lambda: process_with_port(worker.pid, port), 10, "the process calling the provider")
        if mode == "fork":
            assert caller != worker.pid and psutil.Process(caller).ppid() == worker.pid
        else:
            assert caller == worker.pid
        kill_hard(worker)
    finally:
        stop_worker(worker)
    time.sleep(3.5)  # the heartbeat goes stale
    drain(worker_env, mode=mode)  # a new worker reaps the run and resumes it
    done = _run(ctx, "T1", run.id)
    assert done.status == "succeeded", (done.error_kind, done.error_message)
    assert done.output == "step two output" and done.attempts == 2
    assert fake_anthropic.count("/v1/messages") == 1  # the finished step was not requested again
    assert fake_openai.count("/v1/responses") == 2
    assert [s.status for s in _steps(ctx, run.id)] == ["succeeded", "succeeded"]
    with transaction(ctx.sessions) as s:
        assert len(s.scalars(select(Artifact).where(Artifact.run_id == run.id)).all()) == 1


def test_run_gives_up_after_too_many_lost_workers(ctx, worker_env):
    from core.runs.maintenance import maintain_runs
    from core.runs.queue import MAX_ATTEMPTS

    with_keys(ctx, "T1", "anthropic")
    make_pipeline(ctx, "T1", "P", [make_agent(ctx, "T1", "One", HAIKU)])
    run = start_run(ctx, "T1", "P", "x")
    with transaction(ctx.sessions) as s:  # as if MAX_ATTEMPTS workers had claimed it and died
        r = run_repo.get_run(s, "T1", run.id)
        r.status, r.attempts = "running", MAX_ATTEMPTS
        from sqlalchemy import func, text

        r.heartbeat_at = func.now() - text("interval '10 minutes'")
    assert maintain_runs(ctx) == [str(run.id)]
    done = _run(ctx, "T1", run.id)
    assert done.status == "failed" and done.error_kind == "worker_lost"
    assert _artifact(ctx, "T1", run.id).status == "failed"


def test_double_enqueue_runs_once_and_tenancy_holds(ctx, worker_env, fake_anthropic):
    from core.runs.queue import enqueue

    with_keys(ctx, "T1", "anthropic")
    make_pipeline(ctx, "T1", "Mine", [make_agent(ctx, "T1", "One", HAIKU)])
    run = start_run(ctx, "T1", "Mine", "x", dedupe_key="slack:trigger-1")
    again = start_run(ctx, "T1", "Mine", "x", dedupe_key="slack:trigger-1")
    assert again.id == run.id
    enqueue(ctx, "T1", run.id)
    drain(worker_env)
    assert fake_anthropic.count("/v1/messages") == 1
    with pytest.raises(RunRejected) as exc:
        start_run(ctx, "T2", "Mine", "x")
    assert exc.value.kind == "not_found"
    with transaction(ctx.sessions) as s:
        assert run_repo.get_run(s, "T2", run.id) is None
        assert artifact_repo.latest_artifacts(s, "T2") == []


def test_budget_stops_the_run_before_the_next_step(ctx, worker_env, fake_anthropic):
    with_keys(ctx, "T1", "anthropic")
    a = make_agent(ctx, "T1", "Costly", "anthropic:claude-opus-4-5")
    make_pipeline(ctx, "T1", "Budgeted", [a, a], budget_usd="0.000001")
    run = start_run(ctx, "T1", "Budgeted", "x" * 400)
    drain(worker_env)
    done = _run(ctx, "T1", run.id)
    assert done.status == "failed" and done.error_kind == "budget_exceeded"
    assert fake_anthropic.count("/v1/messages") == 1


def test_the_daily_limit_stops_a_run_before_its_next_step(ctx, worker_env, fake_anthropic):
    with_keys(ctx, "T1", "anthropic")
    a = make_agent(ctx, "T1", "Costly", "anthropic:claude-opus-4-5")
    make_pipeline(ctx, "T1", "Long", [a, a])
    with transaction(ctx.sessions) as s:  # any first step reaches it
        workspace_repo.set_limits(s, "T1", workspace_repo.Limits(daily_limit_usd=Decimal("0.00000001")))
    run = start_run(ctx, "T1", "Long", "x" * 400)
    drain(worker_env)
    done = _run(ctx, "T1", run.id)
    assert done.status == "failed" and done.error_kind == "budget_exceeded"
    assert "daily limit of $0.00 was reached" in done.error_message and "before step 2" in done.error_message
    assert fake_anthropic.count("/v1/messages") == 1


def test_cli_run_prints_output_and_permalink(ctx, worker_env, fake_anthropic):
    with_keys(ctx, "T1", "anthropic")
    make_pipeline(ctx, "T1", "Weekly digest", [make_agent(ctx, "T1", "One", HAIKU)])
    fake_anthropic.reply("the digest")
    worker = start_worker(worker_env)
    try:
        out = subprocess.run(
            [sys.executable, "-m", "bot.cli.main", "run", "weekly DIGEST", "--team", "T1", "--input", "this week"],
            env=worker_env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        stop_worker(worker)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "the digest"
    assert "step 1: One" in out.stderr and "http://pipebot.test/artifacts/" in out.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "bot.cli.main", "run", "nope", "--team", "T1", "--input", "x"],
        env=worker_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "No pipeline named “nope”" in bad.stderr


def test_a_one_step_run_takes_eleven_statements_in_three_transactions(ctx, fake_anthropic):
    """The bookkeeping a run pays a round trip for: claim and load with the first step's start,
    the step's finish, the close with its artifact (bench/README.md, "SQL")."""
    from sqlalchemy import event

    from core.context import AppContext
    from core.runs.executor import execute
    from core.settings import load_settings

    with_keys(ctx, "T1", "anthropic")
    make_pipeline(ctx, "T1", "Solo", [make_agent(ctx, "T1", "One", HAIKU)])
    run = start_run(ctx, "T1", "Solo", "hello")
    fake_anthropic.reply("hi back")
    settings = load_settings(
        _env_file=None,
        **{
            **ctx.settings.model_dump(
                include={"DATABASE_URL", "REDIS_URL", "PIPEBOT_SECRET_KEY", "PIPEBOT_PUBLIC_URL", "PIPEBOT_QUEUE"}
            ),
            "ANTHROPIC_BASE_URL": fake_anthropic.url,
            "PIPEBOT_HEARTBEAT_SECONDS": "3600",
        },
    )
    runner = AppContext.create(settings, ctx.database_url, ctx.redis_url, ctx.keys)
    statements: list[str] = []
    commits: list[object] = []
    event.listen(
        runner.engine, "before_cursor_execute", lambda conn, cursor, sql, params, context, many: statements.append(sql)
    )
    event.listen(runner.engine, "commit", commits.append)
    try:
        outcome = execute(runner, "T1", run.id)
    finally:
        runner.close()
    assert outcome is not None and outcome.status == "succeeded" and outcome.output == "hi back"
    # 11: the claim also reads the workspace's daily limit (none here: no check per step, no
    # notice at the close).
    assert (len(statements), len(commits)) == (11, 3), "\n".join(statements)


def test_a_budgeted_run_whose_model_has_no_price_is_refused_naming_it(ctx, worker_env, fake_anthropic):
    """The budget was set over a priced model; the agent's model changed since. A new run is
    refused before it exists, and one already queued fails at its start, naming the model."""
    unpriced = "anthropic:claude-pipebot-no-price-9"  # a model id no price data will ever list
    assert unpriced_models([unpriced, HAIKU]) == [unpriced]  # the premise
    with_keys(ctx, "T1", "anthropic")
    a = make_agent(ctx, "T1", "Changes", HAIKU)
    make_pipeline(ctx, "T1", "Budgeted", [a], budget_usd="0.50")
    queued = start_run(ctx, "T1", "Budgeted", "x", preflight=True)
    with transaction(ctx.sessions) as s:
        agent_repo.update_agent(s, "T1", a, model=unpriced)
    with pytest.raises(RunRejected) as exc:
        start_run(ctx, "T1", "Budgeted", "y", preflight=True)
    assert exc.value.kind == "unpriced_budget" and unpriced in exc.value.message
    drain(worker_env)
    done = _run(ctx, "T1", queued.id)
    assert done.status == "failed" and done.error_kind == "unpriced_budget" and unpriced in done.error_message
    assert fake_anthropic.count("/v1/messages") == 0
