"""Many runs started from Slack at once, against the fake Slack with its tiers on, and what
they left behind: shared by tests/bot/slack/test_rate_limits.py and bench/bench_slack_limits.py.

A *team* here is a workspace with the app installed (its bot token in the fake, its signer
for slash commands, its channel, a 2-step pipeline and provider keys in the database).
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import time
from typing import Any

import httpx

from storage.db import transaction
from storage.repos import runs as run_repo
from tests.fakes.slack import FakeSlack
from tests.support.runs import make_agent, make_pipeline, with_keys
from tests.support.slack_signing import SlackRequests

PIPELINE = "Pair"


@dataclasses.dataclass
class Team:
    team_id: str
    channel: str
    signer: SlackRequests


def seed_team(ctx: Any, team_id: str) -> None:
    """Keys and the 2-step pipeline ``Pair`` for ``team_id``."""
    with_keys(ctx, team_id, "anthropic")
    first, second = make_agent(ctx, team_id, "Drafter"), make_agent(ctx, team_id, "Critic")
    make_pipeline(ctx, team_id, PIPELINE, [first, second])


def start_runs(url: str, teams: list[Team], per_team: int, fake: FakeSlack) -> float:
    """``per_team`` `/pipebot run Pair …` commands per team, all sent at once; returns when
    the first one was sent (time.monotonic)."""
    jobs = []
    for team in teams:
        for i in range(per_team):
            hook = fake.new_response_url(channel_id=team.channel)
            trigger = fake.new_trigger_id(team_id=team.team_id)
            jobs.append(
                team.signer.slash_command(
                    f"run {PIPELINE} topic {team.team_id} {i}",
                    channel_id=team.channel,
                    trigger_id=trigger,
                    response_url=hook,
                )
            )
    started = time.monotonic()
    with httpx.Client(timeout=30) as http, concurrent.futures.ThreadPoolExecutor(len(jobs)) as pool:
        answers = list(pool.map(lambda s: http.post(url + "/slack/events", content=s[0], headers=s[1]), jobs))
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers if a.status_code != 200]
    return started


def runs_of(ctx: Any, team_id: str) -> list[Any]:
    with transaction(ctx.sessions) as s:
        runs = list(run_repo.latest_runs(s, team_id, limit=500))
        s.expunge_all()
    return runs


@dataclasses.dataclass
class Seen:
    """What the fake shows of the runs: how many started, how many have their result in the
    thread and their parent message marked ✅/❌, and when the last result arrived."""

    started: int
    results: int
    marked: int
    last_result_at: float | None  # time.time() of the fake's last result post


def seen(ctx: Any, fake: FakeSlack, teams: list[Team], skip: frozenset[Any] = frozenset()) -> Seen:
    """``skip``: ids of runs that were there before (an earlier round in the same workspace)."""
    team_ids = dict.fromkeys(t.team_id for t in teams)
    runs = [r for team_id in team_ids for r in runs_of(ctx, team_id) if r.id not in skip]
    results = marked = 0
    last: float | None = None
    posts = {
        (c.params.get("channel"), c.params.get("thread_ts")): c.time
        for c in fake.calls("chat.postMessage")
        if c.ok and str(c.params.get("text", "")).startswith(("✅ Pair:", "❌ Pair failed"))
    }
    for run in runs:
        if not run.thread_ts:
            continue
        at = posts.get((run.channel_id, run.thread_ts))
        if at is not None:
            results += 1
            last = max(last or at, at)
        try:
            parent = fake.message(run.channel_id, run.thread_ts)
        except Exception:  # noqa: BLE001 - not posted (yet)
            continue
        if str(parent.get("text", "")).startswith(("✅", "❌")):
            marked += 1
    return Seen(len(runs), results, marked, last)


def wait_all_done(
    ctx: Any,
    fake: FakeSlack,
    teams: list[Team],
    total: int,
    timeout: float,
    report: Any = None,
    skip: frozenset[Any] = frozenset(),
) -> Seen:
    """Until every run has started, has its result and its mark, or ``timeout``; ``report``
    (optional) is called with the current :class:`Seen` every few seconds."""
    deadline = time.monotonic() + timeout
    told = time.monotonic()
    while True:
        now = seen(ctx, fake, teams, skip)
        if (now.started, now.results, now.marked) == (total, total, total) or time.monotonic() > deadline:
            return now
        if report is not None and time.monotonic() - told > 5:
            report(now)
            told = time.monotonic()
        time.sleep(0.5)


def calls_per_run(fake: FakeSlack, runs: int) -> dict[str, float]:
    """Web API calls per run, by method (every call the fake received, 429s included)."""
    counts = collections.Counter(c.method for c in fake.calls())
    return {m: round(n / runs, 2) for m, n in sorted(counts.items())}
