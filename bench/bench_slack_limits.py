"""Runs at Slack's real rate limits: many runs started together, against the fake Slack
enforcing the tiers (tests/fakes/slack_tiers.py), with a real `pipebot worker` process.

    .venv/bin/python bench/bench_slack_limits.py

Three scenarios, side by side: 24 runs of a 2-step pipeline (the fake model streams each
reply over 2 s) started together in one channel of one workspace, and 3 workspaces x 8
runs, each workspace in a channel of its own (multi-workspace install); and, with the tiers
off and the default settings of `make run` (one workspace), 24 runs in 24 channels, whose
floor is the models' own 4 s (issue 15's fair-share figure, today 3.56x). For each: runs
completed (result in the thread and parent message ✅/❌), the wall time from the first
command to the last final output in Slack against the floor Slack's limits impose (a parent
and a result per run at one message a second per channel, or the models' own 4 s when
that is longer), 429s received, and Web API calls per run by method.

Targets (issue 15): 24/24 completed, wall <= 1.3x the floor, <= 5 429s. The machine is
shared: wall times move with its load. Needs PostgreSQL (BENCH_DATABASE_URL, default the
local test server) and Redis (claims a free database 1-15, as the test suite does).
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from redis import Redis  # noqa: E402
from rq import Queue, Worker  # noqa: E402

from bench._common import scratch_database  # noqa: E402
from bot.web.server import build_app  # noqa: E402
from core.context import AppContext  # noqa: E402
from core.settings import load_settings  # noqa: E402
from storage.secrets import new_key  # noqa: E402
from tests.fakes.slack import CLIENT_ID, CLIENT_SECRET, GENERAL, TEAM_ID, FakeSlack  # noqa: E402
from tests.fakes.slack_tiers import SlackTiers  # noqa: E402
from tests.support.http_server import serve  # noqa: E402
from tests.support.slack_app import install_workspace  # noqa: E402
from tests.support.slack_load import Team, calls_per_run, runs_of, seed_team, start_runs, wait_all_done  # noqa: E402
from tests.support.slack_signing import DEFAULT_SIGNING_SECRET, SlackRequests  # noqa: E402

REDIS_BASE = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379")
LOCK = "pipebot:test-session"  # the test suite's claim on a Redis database (tests/conftest.py)
STREAM_S = 2.0
MODEL_S = 2 * STREAM_S
QUEUE = f"pipebot-bench-{uuid.uuid4().hex[:6]}"


def _serve_model(conn: Any) -> None:
    """The fake Anthropic API in a child process, so its threads do not share our GIL."""
    from tests.fakes.fake_anthropic import FakeAnthropic

    fake = FakeAnthropic().start()
    fake.slow_turns(STREAM_S, chunks=16)
    fake.on_request = lambda req: fake.requests.clear()
    conn.send(fake.url)
    conn.recv()
    fake.stop()


def _claim_redis() -> tuple[str, Redis]:
    token = uuid.uuid4().hex
    for db in range(1, 16):
        client = Redis.from_url(f"{REDIS_BASE}/{db}")
        if client.set(LOCK, token, nx=True, ex=3600):
            client.flushdb()
            client.set(LOCK, token, ex=3600)
            return f"{REDIS_BASE}/{db}", client
        client.close()
    raise SystemExit("no free Redis database 1-15")


@dataclasses.dataclass
class Result:
    name: str
    total: int
    completed: int
    wall: float
    floor: float
    limited: int
    violations: int
    calls: dict[str, float]


def _worker(env: dict[str, str], redis: Redis) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli.main", "worker"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while Worker.count(queue=Queue(QUEUE, connection=redis)) == 0:
        if time.monotonic() > deadline or proc.poll() is not None:
            raise SystemExit("the worker did not start")
        time.sleep(0.1)
    return proc


def _scenario(
    name: str,
    ctx: AppContext,
    fake: FakeSlack,
    url: str,
    teams: list[Team],
    per_team: int,
    env: dict[str, str],
    *,
    enforce: bool = True,
) -> Result:
    fake.clear_calls()
    ctx.redis.delete(*(list(ctx.redis.scan_iter("pipebot:slack:*")) or ["-"]))  # the last scenario's budget
    fake.tiers = tiers = SlackTiers() if enforce else None
    tiers = tiers or SlackTiers()  # counts nothing when off
    skip = frozenset(r.id for team_id in {t.team_id for t in teams} for r in runs_of(ctx, team_id))
    proc = _worker(env, ctx.redis)
    try:
        t0_wall = time.time()
        start_runs(url, teams, per_team, fake)
        total = len(teams) * per_team
        seen = wait_all_done(
            ctx, fake, teams, total, timeout=300, report=lambda s: print(name, s, file=sys.stderr), skip=skip
        )
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(60)
    # a parent and a result per run at 1/s per channel (tiers on), never below the models' own time
    floor = max(2 * per_team * 1.0, MODEL_S) if enforce else MODEL_S
    wall = (seen.last_result_at or time.time()) - t0_wall
    return Result(
        name,
        total,
        min(seen.results, seen.marked),
        wall,
        floor,
        tiers.count_429(),
        len(tiers.violations()),
        calls_per_run(fake, total),
    )


def _install(ctx: AppContext, fake: FakeSlack, n: int) -> Team:
    team_id, channel = f"T0BENCH{n}", f"C0BENCH{n}"
    install_workspace(ctx, fake, team_id, f"Bench {n}", bot_suffix=f"BENCH{n}")
    fake.add_channel(channel, f"bench-{n}", is_member=True, team_id=team_id)
    seed_team(ctx, team_id)
    return Team(team_id, channel, SlackRequests(team_id=team_id, channel_id=channel))


def main() -> None:
    redis_url, redis = _claim_redis()
    here, there = multiprocessing.Pipe()
    model = multiprocessing.Process(target=_serve_model, args=(there,), daemon=True)
    model.start()
    model_url = here.recv()
    fake = FakeSlack().start()
    key = new_key()
    results: list[Result] = []
    try:
        with scratch_database() as (db_url, _engine):
            common = dict(
                _env_file=None,
                DATABASE_URL=db_url,
                REDIS_URL=redis_url,
                PIPEBOT_SECRET_KEY=key,
                PIPEBOT_QUEUE=QUEUE,
                SLACK_SIGNING_SECRET=DEFAULT_SIGNING_SECRET,
                SLACK_API_URL=fake.url,
                ANTHROPIC_BASE_URL=model_url,
            )
            base_env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PIPEBOT_", "ANTHROPIC_"))}
            base_env.update({k: str(v) for k, v in common.items() if k != "_env_file"}, PYTHONPATH=str(ROOT))

            one = load_settings(**common, SLACK_BOT_TOKEN=fake.token)
            ctx = AppContext.create(one, db_url, redis_url, one.secret_keys)
            seed_team(ctx, TEAM_ID)
            with serve(build_app(ctx)) as url:
                env = dict(base_env, SLACK_BOT_TOKEN=fake.token)
                team = Team(TEAM_ID, GENERAL, SlackRequests())
                results.append(_scenario("24 runs, 1 channel", ctx, fake, url, [team], 24, env))
                channels = []
                for i in range(24):
                    fake.add_channel(f"C0SPREAD{i:02d}", f"spread-{i}", is_member=True)
                    channels.append(Team(TEAM_ID, f"C0SPREAD{i:02d}", SlackRequests()))
                results.append(
                    _scenario("24 runs, 24 channels, tiers off", ctx, fake, url, channels, 1, env, enforce=False)
                )

            multi = load_settings(**common, SLACK_CLIENT_ID=CLIENT_ID, SLACK_CLIENT_SECRET=CLIENT_SECRET)
            mctx = AppContext.create(multi, db_url, redis_url, multi.secret_keys)
            teams = [_install(mctx, fake, n) for n in range(3)]
            with serve(build_app(mctx)) as url:
                env = dict(base_env, SLACK_CLIENT_ID=CLIENT_ID, SLACK_CLIENT_SECRET=CLIENT_SECRET)
                results.append(_scenario("3 workspaces x 8 runs", mctx, fake, url, teams, 8, env))
            ctx.close()
            mctx.close()
    finally:
        fake.stop()
        here.send("stop")
        model.join(10)
        redis.delete(LOCK)
    _print(results)


def _print(results: list[Result]) -> None:
    print(f"2-step pipeline, each model reply streams over {STREAM_S:g} s; fake Slack enforcing the tiers")
    width = max(len(r.name) for r in results)
    print(f"{'':{width}} | {'completed':>9} | {'wall':>7} {'floor':>6} {'ratio':>6} | {'429s':>4} {'in-window':>9}")
    for r in results:
        print(
            f"{r.name:{width}} | {r.completed:>4}/{r.total:<4} | {r.wall:6.1f}s {r.floor:5.0f}s {r.wall / r.floor:5.2f}x"
            f" | {r.limited:>4} {r.violations:>9}"
        )
    methods = sorted({m for r in results for m in r.calls})
    print("\nWeb API calls per run, by method (429s included)")
    print(f"{'method':24} " + " ".join(f"{r.name:>{len(r.name)}}" for r in results))
    for m in methods:
        print(f"{m:24} " + " ".join(f"{r.calls.get(m, 0):>{len(r.name)}.2f}" for r in results))


if __name__ == "__main__":
    main()
