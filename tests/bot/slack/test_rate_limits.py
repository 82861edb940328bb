"""Slack's rate limits at team scale (issue 15), against the fake Slack enforcing the tiers
(tests/fakes/slack_tiers.py): runs started together all start, every result reaches its
thread, every parent message ends ✅ or ❌, and no call is made for a (workspace, method)
while Slack has said to wait. Real PostgreSQL, Redis and worker processes; the model is a
fake that answers in a fraction of a second, so what paces the runs is Slack.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from bot.slack.client import make_client
from bot.slack.ratelimit import stats
from bot.slack.ratelimit.budget import Budget, as_progress, patience
from bot.slack.ratelimit.paced import PacedWebClient, Throttled
from bot.web.server import build_app
from core.context import AppContext
from tests.fakes.slack import CLIENT_ID, CLIENT_SECRET, GENERAL, TEAM_ID, FakeSlack
from tests.fakes.slack_tiers import SlackTiers
from tests.support.http_server import serve
from tests.support.runs import start_worker, stop_worker
from tests.support.slack_app import SlackServer, install_workspace, slack_settings
from tests.support.slack_load import Team, calls_per_run, seed_team, start_runs, wait_all_done
from tests.support.slack_signing import SlackRequests

MODEL_S = 0.3  # each model reply streams over this long


@pytest.fixture
def tiers(slack: SlackServer) -> Iterator[SlackTiers]:
    slack.fake.tiers = tiers = SlackTiers()
    slack.fake.clear_calls()
    try:
        yield tiers
    finally:
        slack.fake.tiers = None


def _worker_env(base_env: dict[str, str], fake: FakeSlack, anthropic_url: str, **extra: str) -> dict[str, str]:
    env = dict(
        base_env,
        SLACK_API_URL=fake.url,
        SLACK_BOT_TOKEN=fake.token,
        ANTHROPIC_BASE_URL=anthropic_url,
        PIPEBOT_WORKER_CONCURRENCY="32",
        PIPEBOT_WORKSPACE_CONCURRENCY="32",
    )
    env.update(extra)
    return env


# ---- the budget itself ------------------------------------------------------------------------


def test_a_429_holds_back_every_client_of_the_workspace(ctx: AppContext, slack: SlackServer) -> None:
    """Two clients with their own Redis connections (as two processes have): the one that
    did not get the 429 waits out its Retry-After too, and /healthz counts it."""
    fake = slack.fake
    one = make_client(slack.ctx, fake.token)
    other = PacedWebClient(
        token=fake.token, base_url=fake.url, budget=Budget(ctx.redis.__class__.from_url(ctx.redis_url))
    )
    before = len(fake.calls("users.info"))
    fake.fail_next("users.info", status=429, retry_after=2)
    done = threading.Event()

    def first() -> None:
        one.users_info(user="U0USER")
        done.set()

    threading.Thread(target=first).start()
    limited = fake.wait_for("users.info", count=before + 1)
    assert limited.status == 429
    time.sleep(0.3)  # the 429 has been written to Redis by now
    other.users_info(user="U0USER")
    assert done.wait(10)
    later = fake.calls("users.info")[before + 1 :]
    assert len(later) == 2 and all(c.ok for c in later)
    assert all(c.time >= limited.time + 2 - 0.05 for c in later), [c.time - limited.time for c in later]
    assert stats.snapshot(ctx.redis)["429s_last_minute"].get("users.info") == 1
    health = httpx.get(f"{slack.url}/healthz", timeout=10).json()
    assert health["slack_rate_limits"]["429s_last_minute"].get("users.info") == 1


def test_progress_yields_to_calls_that_matter(ctx: AppContext, slack: SlackServer) -> None:
    """While a status mark waits for chat.update, a progress call is not sent at all."""
    fake = slack.fake
    client = make_client(slack.ctx, fake.token)
    ts = client.chat_postMessage(channel=GENERAL, text="x")["ts"]
    with patience(0.0):
        sent = 0
        while True:  # use up this second's chat.update window
            try:
                client.chat_update(channel=GENERAL, ts=ts, text=f"n{sent}")
                sent += 1
            except Throttled:
                break
    before = len(fake.calls("chat.update"))
    marks: list[Any] = []
    waiter = threading.Thread(target=lambda: marks.append(client.chat_update(channel=GENERAL, ts=ts, text="✅")))
    waiter.start()
    time.sleep(0.2)  # the mark is waiting for its turn
    with as_progress(), pytest.raises(Throttled):
        client.chat_update(channel=GENERAL, ts=ts, text="progress")
    waiter.join(20)
    assert marks and marks[0]["ok"]
    assert [c.params.get("text") for c in fake.calls("chat.update")[before:]] == ["✅"]


def test_the_fake_enforces_the_tiers_and_the_budget_keeps_below_them(
    ctx: AppContext, slack: SlackServer, tiers: SlackTiers
) -> None:
    """Ten Tier 3 calls at once (the fake lets about 8 through in a burst): sent raw some get
    429; through the budget none does."""
    fake = slack.fake
    raw = httpx.Client(base_url=fake.url, headers={"Authorization": f"Bearer {fake.token}"})
    answers = [raw.post("team.info").status_code for _ in range(10)]
    assert 429 in answers
    assert tiers.count_429("team.info") >= 1
    client = make_client(slack.ctx, fake.token)
    for _ in range(10):
        assert client.conversations_info(channel=GENERAL)["ok"]
    assert tiers.count_429("conversations.info") == 0


# ---- runs at team scale ---------------------------------------------------------------------------


def _truncate(ctx: AppContext) -> None:
    from storage.models import Base

    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with ctx.engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")


def test_24_runs_in_one_channel_all_start_and_finish_with_two_workers(
    ctx: AppContext, slack: SlackServer, tiers: SlackTiers, base_env: dict[str, str], fake_anthropic: Any
) -> None:
    """24 people start a run in #general within a second; two worker processes share the
    workspace's budget."""
    fake = slack.fake
    _truncate(ctx)
    seed_team(ctx, TEAM_ID)
    fake_anthropic.slow_turns(MODEL_S, chunks=6)
    env = _worker_env(base_env, fake, fake_anthropic.url)
    workers = [start_worker(env), start_worker(env)]
    try:
        team = Team(TEAM_ID, GENERAL, SlackRequests())
        start_runs(slack.url, [team], 24, fake)
        result = wait_all_done(ctx, fake, [team], 24, timeout=150)
    finally:
        for w in workers:
            stop_worker(w)
    assert (result.started, result.results, result.marked) == (24, 24, 24), (result, calls_per_run(fake, 24))
    assert tiers.violations() == []
    assert tiers.count_429() <= 5, [(x.method, x.channel) for x in tiers.limited]


@pytest.fixture
def three_workspaces(
    _session_ctx: AppContext, ctx: AppContext, fake_slack: FakeSlack
) -> Iterator[tuple[str, list[Team]]]:
    """pipebot in multi-workspace mode with three workspaces installed, each with a channel."""
    settings = slack_settings(
        _session_ctx.settings,
        fake_slack,
        SLACK_BOT_TOKEN=None,
        SLACK_CLIENT_ID=CLIENT_ID,
        SLACK_CLIENT_SECRET=CLIENT_SECRET,
    )
    octx = dataclasses.replace(_session_ctx, settings=settings)
    teams = []
    for n in range(3):
        team_id, channel = f"T0LOAD{n}", f"C0LOAD{n}"
        install_workspace(octx, fake_slack, team_id, f"Load {n}", bot_suffix=f"LOAD{n}")
        fake_slack.add_channel(channel, f"load-{n}", is_member=True, team_id=team_id)
        teams.append(Team(team_id, channel, SlackRequests(team_id=team_id, channel_id=channel)))
    try:
        with serve(build_app(octx)) as url:
            yield url, teams
    finally:
        with octx.engine.begin() as conn:
            for table in ("slack_bots", "slack_installations"):
                conn.execute(text(f"DELETE FROM {table} WHERE team_id LIKE 'T0LOAD%'"))


def test_three_workspaces_of_8_runs_all_start_and_finish(
    ctx: AppContext,
    slack: SlackServer,
    tiers: SlackTiers,
    three_workspaces: tuple[str, list[Team]],
    base_env: dict[str, str],
    fake_anthropic: Any,
) -> None:
    url, teams = three_workspaces
    fake = slack.fake
    _truncate(ctx)
    for team in teams:
        seed_team(ctx, team.team_id)
    fake_anthropic.slow_turns(MODEL_S, chunks=6)
    env = _worker_env(
        base_env,
        fake,
        fake_anthropic.url,
        SLACK_BOT_TOKEN="",
        SLACK_CLIENT_ID=CLIENT_ID,
        SLACK_CLIENT_SECRET=CLIENT_SECRET,
    )
    worker = start_worker(env)
    try:
        start_runs(url, teams, 8, fake)
        result = wait_all_done(ctx, fake, teams, 24, timeout=150)
    finally:
        stop_worker(worker)
    assert (result.started, result.results, result.marked) == (24, 24, 24), (result, calls_per_run(fake, 24))
    assert tiers.violations() == []
    assert tiers.count_429() <= 5, [(x.method, x.channel) for x in tiers.limited]
