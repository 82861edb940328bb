""" "Queued: N runs ahead" on the parent message of a run that waits, end to end: runs started
through the real `/slack/events` endpoint, one real worker process with a single slot, the
fake Anthropic API holding the first run's model call until the test lets it go, and the
fake Slack Web API recording every chat.update.

The bound on the work: with 200 runs waiting, one round reads them with one statement and
edits at most a few messages per workspace (chat.update is Tier 3).
"""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from slack_sdk import WebClient
from sqlalchemy import event

from bot.slack.blocks.runs import RUN_CANCEL, parent_message
from bot.worker import queue_position
from core.runs.intake import start_run
from core.runs.request import Origin, ReportTo
from tests.fakes.slack import GENERAL, TEAM_ID, USER_ID, FakeSlack
from tests.support.runs import (
    all_runs,
    make_agent,
    make_pipeline,
    read_run,
    start_worker,
    stop_worker,
    with_keys,
)
from tests.support.slack_app import SlackServer, slack_settings
from tests.support.waiting import wait_until

# fixtures: fake providers, worker_env (tests/support/runs.py); fake_slack, slack (tests/support/slack_app.py)

QUEUED = re.compile(r"^⏳ Queued: (\d+) runs? ahead · \*Essay\* for <@U0USER>")


@pytest.fixture
def fake(slack: SlackServer) -> Iterator[FakeSlack]:
    slack.fake.clear_calls()
    yield slack.fake


def _updates(fake: FakeSlack, ts: str) -> list[str]:
    return [c.params["text"] for c in fake.calls("chat.update") if c.params.get("ts") == ts and c.ok]


def _shown(fake: FakeSlack, ts: str) -> list[int]:
    return [int(m.group(1)) for t in _updates(fake, ts) if (m := QUEUED.match(t))]


def test_waiting_runs_say_how_many_are_ahead_and_switch_to_running(ctx, slack, fake, fake_anthropic, worker_env):
    with_keys(ctx, TEAM_ID, "anthropic")
    make_pipeline(ctx, TEAM_ID, "Essay", [make_agent(ctx, TEAM_ID, "Writer")])
    for i in range(4):  # all queued before any worker runs: the queue's order is theirs
        response, _hook = slack.command(f"run Essay otters part {i}")
        assert response.status_code == 200
        wait_until(lambda i=i: len(all_runs(ctx, TEAM_ID)) == i + 1, 10)
    first, *waiting = all_runs(ctx, TEAM_ID)
    gate, held = threading.Event(), []

    def hold_first(req) -> None:  # the first run's model call waits until the test says so
        if req.path == "/v1/messages" and not held:
            held.append(req)
            gate.wait(60)

    fake_anthropic.on_request = hold_first
    env = dict(
        worker_env,
        SLACK_API_URL=fake.url,
        SLACK_BOT_TOKEN=fake.token,
        PIPEBOT_WORKER_CONCURRENCY="1",
        PIPEBOT_QUEUE_STATUS_SECONDS="0.3",
    )
    worker = start_worker(env)
    try:
        wait_until(lambda: held, 60)  # the first run is in its model call; the three others wait
        for n, run in enumerate(waiting):
            wait_until(lambda run=run, n=n: _shown(fake, run.thread_ts)[-1:] == [n], 30)
        assert [_updates(fake, r.thread_ts)[-1] for r in waiting] == [
            parent_message("Essay", USER_ID, f"otters part {i + 1}", status="queued", ahead=i)[0] for i in range(3)
        ]
        last = fake.last("chat.update")
        assert [el["action_id"] for b in last.params["blocks"] if b["type"] == "actions" for el in b["elements"]] == [
            RUN_CANCEL
        ]
        gate.set()
        wait_until(lambda: all(read_run(ctx, TEAM_ID, r.id).status == "succeeded" for r in [first, *waiting]), 90)
        for r in [first, *waiting]:
            wait_until(lambda r=r: (_updates(fake, r.thread_ts) or [""])[-1].startswith("✅"), 10)
    finally:
        gate.set()
        fake_anthropic.on_request = None
        stop_worker(worker)
    for n, run in enumerate(waiting):
        texts = _updates(fake, run.thread_ts)
        shown = _shown(fake, run.thread_ts)
        assert shown and all(k <= n for k in shown), texts  # never more ahead than were queued before it
        assert all(a > b for a, b in zip(shown, shown[1:], strict=False)), texts  # edited only when N changed
        running = [i for i, t in enumerate(texts) if t.startswith("⏳ Running *Essay*")]
        assert running, texts  # it said running once it started ...
        queued_at = [i for i, t in enumerate(texts) if QUEUED.match(t)]
        assert max(queued_at) < running[0] < len(texts) - 1 and texts[-1].startswith("✅"), texts  # ... then done
    # the first run started before any round saw it waiting, or switched back to running
    first_texts = _updates(fake, first.thread_ts)
    assert not any(QUEUED.match(t) for t in first_texts) or any(t.startswith("⏳ Running") for t in first_texts)


def _forget_slack_budget(ctx) -> None:
    """The shared Slack budget (bot/slack/ratelimit/) as after a quiet spell: this test
    checks the rounds, not Slack's pacing, and its round key lives less than 3 s."""
    keys = list(ctx.redis.scan_iter("pipebot:slack:*"))
    if keys:
        ctx.redis.delete(*keys)


def test_one_round_with_200_waiting_runs_is_one_statement_and_a_few_edits(ctx, fake):
    sctx = dataclasses.replace(ctx, settings=slack_settings(ctx.settings, fake))
    with_keys(ctx, TEAM_ID, "anthropic")
    make_pipeline(ctx, TEAM_ID, "Essay", [make_agent(ctx, TEAM_ID, "Writer")])
    client = WebClient(token=fake.token, base_url=fake.url)
    for i in range(200):
        text, blocks = parent_message("Essay", USER_ID, f"part {i}")
        ts = client.chat_postMessage(channel=GENERAL, text=text, blocks=[b.to_dict() for b in blocks])["ts"]
        start_run(
            sctx,
            TEAM_ID,
            "Essay",
            f"part {i}",
            requested_by=USER_ID,
            origin=Origin.SLASH_COMMAND,
            report_to=ReportTo(GENERAL, ts),
        )
    runs = all_runs(ctx, TEAM_ID)
    later = datetime.now(UTC) + timedelta(seconds=30)
    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    event.listen(ctx.engine, "before_cursor_execute", count)
    try:
        edited = queue_position.update_queue_positions(sctx, now=later)
    finally:
        event.remove(ctx.engine, "before_cursor_execute", count)
    per_round = queue_position.PER_WORKSPACE_PER_ROUND
    assert edited == per_round == len(fake.calls("chat.update"))
    reads = [s for s in statements if "row_number" in s]
    assert len(reads) == 1 and len(statements) == 1 + per_round  # the read, then one status check per edit
    # the first rounds reach the runs never shown, in queue order, each with its own N
    rounds = 3
    for _ in range(rounds - 1):
        sctx.redis.delete(queue_position.ROUND_KEY)  # the next round (another worker's, or later)
        _forget_slack_budget(sctx)  # as if the round came 3 s later: chat.update's budget refilled
        assert queue_position.update_queue_positions(sctx, now=later) == per_round
    updates = fake.calls("chat.update")
    assert [c.params["ts"] for c in updates] == [r.thread_ts for r in runs[: rounds * per_round]]
    assert [QUEUED.match(c.params["text"]).group(1) for c in updates] == [str(i) for i in range(rounds * per_round)]
    # one worker per round: a second worker asking during the same round edits nothing
    assert queue_position.update_queue_positions(sctx, now=later) == 0
    assert len(fake.calls("chat.update")) == rounds * per_round
