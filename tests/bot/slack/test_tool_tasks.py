"""Tool calls shown live in the run's thread (DESIGN §12 "Live and recorded"): each call is a
task of the streaming plan, updated in place by its call_id, sent with the progress calls
the reply makes anyway; without streaming they are lines under their step. Driven with the
events core sends, against the fake Slack Web API (as tests/bot/slack/test_reporter.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from slack_sdk import WebClient

from bot.slack.blocks.common import ZWSP
from core.reporter import ToolCallView
from tests.bot.slack.test_reporter import all_text, info_for, outcome, plan, post_parent, reporter, result
from tests.fakes.slack import GENERAL, FakeSlack


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as f:
        yield f


@pytest.fixture
def client(fake: FakeSlack) -> WebClient:
    return WebClient(token=fake.token, base_url=fake.url, timeout=10)


def _calls(position: int) -> list[ToolCallView]:
    """What the worker says of a step's three calls: each when it starts and when it ends."""
    return [
        ToolCallView("c1", position, "Web search", "pizza near me"),
        ToolCallView("c1", position, "Web search", "pizza near me", status="done"),
        ToolCallView("c2", position, "Tickets · lookup_ticket"),
        ToolCallView("c2", position, "Tickets · lookup_ticket", status="error", error="Tickets did not answer in 30 s"),
        ToolCallView("c3", position, "Tickets · close_ticket", status="waiting"),
    ]


def test_each_tool_call_is_a_task_of_the_plan_updated_in_place(fake, client):
    parent = post_parent(client)
    info = info_for(parent, plan(2))
    rep = reporter(client, parent, append_interval=0.05)
    rep.tool_call(info, info.steps[0], _calls(1)[0])  # before the run started: nothing to show it in
    rep.run_started(info)
    rep.step_started(info, info.steps[0])
    for call in _calls(1):
        rep.tool_call(info, info.steps[0], call)
    rep.step_finished(info, result(info.steps[0]))
    rep.step_started(info, info.steps[1])
    rep.step_finished(info, result(info.steps[1]))
    rep.run_finished(info, outcome())

    assert all(c.ok for c in fake.calls()), [(c.method, c.error) for c in fake.calls() if not c.ok]
    [stream] = fake.streams(GENERAL)
    tasks = stream["tasks"]
    assert list(tasks) == ["step-1", "step-2", "tool-c1", "tool-c2", "tool-c3"]
    assert tasks["tool-c1"]["title"] == "Web search: pizza near me" and tasks["tool-c1"]["status"] == "complete"
    assert tasks["tool-c2"]["title"] == "Tickets · lookup_ticket" and tasks["tool-c2"]["status"] == "error"
    assert tasks["tool-c2"]["output"] == "Tickets did not answer in 30 s"
    # a call whose end was never told ended with the run (here a success)
    assert tasks["tool-c3"]["status"] == "complete"
    sent = [c for call in fake.stream_calls(GENERAL) for c in call.params["chunks"] if c["type"] == "task_update"]
    assert {c["status"] for c in sent if c["id"] == "tool-c3"} == {"pending", "complete"}
    assert any(c.get("output") == "Waiting for Allow / Deny" for c in sent if c["id"] == "tool-c3")


def test_tool_tasks_ride_on_the_progress_calls_within_the_streams_pace(fake, client):
    """Forty tool events add no call of their own: the reply makes at most its burst plus one
    call per interval while the run goes, whatever the events."""
    parent = post_parent(client)
    info = info_for(parent, plan(1))
    interval = 0.5
    rep = reporter(client, parent, append_interval=interval)
    began = time.monotonic()
    rep.run_started(info)
    rep.step_started(info, info.steps[0])
    for i in range(20):
        rep.tool_call(info, info.steps[0], ToolCallView(f"q{i}", 1, "Web search", f"query {i}"))
        rep.tool_call(info, info.steps[0], ToolCallView(f"q{i}", 1, "Web search", f"query {i}", status="done"))
    rep.step_finished(info, result(info.steps[0]))
    before_close = time.monotonic()
    paced = [c for c in fake.stream_calls(GENERAL) if c.method in ("chat.startStream", "chat.appendStream")]
    assert len(paced) <= 2 + (before_close - began) / interval  # the burst, then one per interval
    rep.run_finished(info, outcome())
    [stream] = fake.streams(GENERAL)
    assert [stream["tasks"][f"tool-q{i}"]["status"] for i in range(20)] == ["complete"] * 20


def test_tool_call_text_cannot_ping_and_titles_fit(fake, client):
    parent = post_parent(client)
    info = info_for(parent, plan(1))
    rep = reporter(client, parent, append_interval=0.05)
    rep.run_started(info)
    rep.step_started(info, info.steps[0])
    rep.tool_call(
        info,
        info.steps[0],
        ToolCallView("h", 1, "Web search", "<!channel> " + "x" * 400, status="error", error="<@U0ADMIN> " + "y" * 400),
    )
    rep.step_finished(info, result(info.steps[0]))
    rep.run_finished(info, outcome())
    [stream] = fake.streams(GENERAL)
    task = stream["tasks"]["tool-h"]
    assert "<!channel>" not in task["title"] and f"<{ZWSP}!channel>" in task["title"] and len(task["title"]) <= 150
    assert "<@U0ADMIN>" not in task["output"] and len(task["output"]) <= 256


def test_without_streaming_tool_calls_are_lines_under_their_step(fake, client):
    fake.fail_next("chat.startStream", "unknown_method")
    parent = post_parent(client)
    info = info_for(parent, plan(2))
    rep = reporter(client, parent, update_interval=0.05)
    rep.run_started(info)
    rep.step_started(info, info.steps[0])
    for call in _calls(1)[:4]:
        rep.tool_call(info, info.steps[0], call)
    for i in range(8):
        rep.tool_call(info, info.steps[0], ToolCallView(f"m{i}", 1, "Web search", f"more {i}", status="done"))
    rep.step_finished(info, result(info.steps[0]))
    rep.step_started(info, info.steps[1])
    rep.step_finished(info, result(info.steps[1]))
    rep.run_finished(info, outcome())
    progress = fake.replies(GENERAL, parent)[0]
    text = all_text(progress)
    lines = text.splitlines()
    step1 = next(i for i, line in enumerate(lines) if "Step 1" in line)
    step2 = next(i for i, line in enumerate(lines) if "Step 2" in line)
    under = lines[step1 + 1 : step2]
    assert under[0].strip() == "↳ …5 earlier tool calls"  # 10 calls: the latest 5 shown
    assert [line.strip() for line in under[1:]] == [f"↳ ✅ Web search: more {i}" for i in range(3, 8)]
    assert "Tickets did not answer" not in text  # an earlier call, counted
