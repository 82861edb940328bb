"""`pipebot run` on a pipeline with an approval step (DESIGN §12): when the run stops for a
person the command says so (for what, from whom, where, until when) and exits 4 instead of
following a run that may wait for hours; the run stays waiting, holding no worker."""

from __future__ import annotations

import json
import subprocess
import sys

from storage.db import transaction
from storage.repos import runs as run_repo
from tests.support.approvals import agent_approval_agent
from tests.support.runs import drain

PIPEBOT = [sys.executable, "-m", "bot.cli.main"]


def test_run_that_waits_for_approval_says_whom_and_exits_cleanly(ctx, worker_env, fake_anthropic):
    agent_approval_agent(ctx, "T1", approvers=("U0APPROVER", "U0BOSS"), hours=6)
    fake_anthropic.reply("draft about otters")
    proc = subprocess.Popen(
        PIPEBOT + ["run", "Reviewed", "--team", "T1", "--input", "write about otters", "--queue-timeout", "120"],
        env=worker_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = proc.stderr.readline()  # printed once it listens for the run's events
        assert "queued" in first, first
        drain(worker_env)  # a real worker runs step 1 and stops at the approval
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 4, err
    assert "Traceback" not in err and out == ""  # no output yet: nothing printed as if it were the result
    assert "is waiting at step 2 for approval from U0APPROVER, U0BOSS" in err
    assert "it has no Slack thread to show the buttons in" in err  # a CLI run has no thread
    assert "unless decided by 20" in err and "UTC it ends as not approved" in err
    assert "this command stops following it here" in err
    assert "▶ step 1: Reviewed drafter" in err  # what ran before it is shown as usual
    with transaction(ctx.sessions) as s:
        [run] = run_repo.latest_runs(s, "T1")
        assert run.status == "waiting"


def test_tool_calls_are_published_and_printed_as_they_end(ctx, capsys):
    """The worker's reporter publishes each tool call on the run's channel; `pipebot run`
    prints a line when one ends (or stops for Allow / Deny), model text made printable."""
    from bot.cli.run import _print_event
    from core.events import RedisEventReporter, channel
    from core.reporter import RunInfo, StepPlan, ToolCallView

    info = RunInfo("r-tools", "T1", "P", "in", None, "cli", None, None, None, [StepPlan(1, "A", "m")])
    pubsub = ctx.redis.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(channel("r-tools"))
    try:
        rep = RedisEventReporter(ctx.redis)
        for call in (
            ToolCallView("c1", 1, "Web search", "pizza\x1b[2J near me"),
            ToolCallView("c1", 1, "Web search", "pizza\x1b[2J near me", status="done"),
            ToolCallView("c2", 1, "Tickets · lookup_ticket", status="error", error="Tickets did not\nanswer"),
            ToolCallView("c3", 1, "Tickets · close_ticket", status="waiting"),
        ):
            rep.tool_call(info, info.steps[0], call)
        events: list[dict] = []
        for _ in range(400):  # None for the subscribe confirmation, and while nothing came yet
            msg = pubsub.get_message(timeout=0.05)
            if msg is not None:
                events.append(json.loads(msg["data"]))
            if len(events) == 4:
                break
    finally:
        pubsub.close()
    assert [e["event"] for e in events] == ["tool_call"] * 4 and events[0]["call"]["call_id"] == "c1"
    for ev in events:
        _print_event(ev, streaming=True)
    err = capsys.readouterr().err
    assert err.splitlines()[1:] == [
        "  ↳ ✓ Web search: pizza[2J near me",
        "",
        "  ↳ ✗ Tickets · lookup_ticket: Tickets did not answer",
        "",
        "  ↳ ⏸ Tickets · close_ticket: waiting for Allow / Deny",
    ]
    assert "\x1b" not in err
