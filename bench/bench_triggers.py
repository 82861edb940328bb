"""A burst of channel messages on a message trigger: acks, runs started, nothing lost or doubled.

    .venv/bin/python bench/bench_triggers.py [--messages 500] [--seconds 60] [--retries 0.1] [--retry-after 1]

Why: a message trigger listens to every new message of its channels, so a busy channel sends
pipebot a steady stream of ``message`` events. Each must be acked well inside Slack's 3 s (a
late ack makes Slack retry, and a retry must not start a second run); each must be counted
once against the trigger's **Runs per hour**, so the burst starts exactly the cap, one run per
message, and none raises. DESIGN §13, issue 19 ("Done when", second bullet).

Set-up, as bench_slack_ack.py: pipebot's real HTTP app (bot/web/server.build_app) and a bare
Bolt app that acks ``message`` events with an empty listener, each in its own uvicorn process;
Slack's Web API played by the fake (tests/fakes/slack) in a third process, where the messages
are posted first (so the thread a run answers in exists). A scratch database holds a
workspace's agent, pipeline, Anthropic key and ONE message trigger on channel C1 with the
default cap (30 runs per hour).

Load: ``--messages`` signed ``event_callback`` ``message`` events from people (distinct ts and
event_id) paced evenly over ``--seconds`` (open loop: a request leaves on time whether or not
earlier ones were answered), plus ``--retries`` of them sent again as Slack's retries (the same
body and event_id, ``X-Slack-Retry-Num: 1``) ``--retry-after`` seconds (default 1) after the
original; 0 races them on two connections. The same requests go to the bare app first, then to
pipebot. Each ack is timed from send to its last byte. ``--seconds 10`` (50 events a second)
gives a different figure than 60 (see bench/README.md): the default is the issue's minute.

Then, once pipebot has counted every message: the runs recorded in PostgreSQL for the trigger
(``runs.origin`` kind "message"; target exactly the cap), the distinct messages they are for
(no doubles), the messages counted against the cap (every one exactly once: nothing lost),
the runs' first messages posted in the fake's threads, and the answers that were not 200
(target 0). No worker runs: the runs stay queued, which is all this measures. Needs PostgreSQL
(BENCH_DATABASE_URL) and Redis (BENCH_REDIS_URL, default redis://127.0.0.1:6379/15).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import pct, scratch_database  # noqa: E402
from bench.bench_slack_ack import _cpu_seconds, _free_port, _raw, _wait_up  # noqa: E402

SECRET = "bench-signing-secret"
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
CHANNEL = "C1"  # the triggered channel
QUIET = "C2"  # an untriggered channel: warm-up events that start nothing
PEOPLE = [f"U0PERSON{i:02d}" for i in range(12)]
CAP = 30  # the default Runs per hour (core/triggers/store.DEFAULT_RUNS_PER_HOUR)


# ---- the three server processes (this file re-run with --serve/--fake-slack) ---------------


def serve(kind: str, port: int, slack_url: str) -> None:
    import uvicorn

    if kind == "pipebot":
        from bot.web.server import build_app
        from core.context import AppContext
        from core.settings import load_settings

        settings = load_settings(
            _env_file=None, SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=slack_url, SLACK_BOT_TOKEN="xoxb-fake-bot-token"
        )
        ctx = AppContext.create(settings, str(settings.DATABASE_URL), str(settings.REDIS_URL), settings.secret_keys)
        app = build_app(ctx)
    else:
        from concurrent.futures import ThreadPoolExecutor

        from slack_bolt import App
        from slack_sdk import WebClient
        from starlette.applications import Starlette
        from starlette.routing import Route

        from bot.slack.http import bolt_endpoint

        bare = App(
            signing_secret=SECRET,
            token_verification_enabled=False,
            process_before_response=True,
            client=WebClient(token="xoxb-fake-bot-token", base_url=slack_url),
            listener_executor=ThreadPoolExecutor(max_workers=8),
        )
        bare.event("message")(lambda: None)
        app = Starlette(routes=[Route("/slack/events", bolt_endpoint(bare), methods=["POST"])])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def fake_slack(messages: int) -> None:
    """The fake Web API with C1 and ``messages`` people's posts in it (printed as JSON); on
    stdin's close, what pipebot posted in C1 (printed as JSON)."""
    from tests.fakes.slack import FakeSlack

    fake = FakeSlack().start()
    fake.add_channel(CHANNEL, "bench-alerts", is_member=True)
    for person in PEOPLE:
        fake.add_user(person, person.lower())
    posted = [
        fake.post_as_user(CHANNEL, f"alert {i}: disk usage on db-{i % 7} at {80 + i % 20}%", user_id=PEOPLE[i % 12])
        for i in range(messages)
    ]
    keep = ("ts", "user", "text", "team", "client_msg_id")
    print(json.dumps({"url": fake.url, "messages": [{k: m[k] for k in keep} for m in posted]}), flush=True)
    sys.stdin.read()  # until the parent closes it
    threads: dict[str, int] = {}
    for call in fake.calls("chat.postMessage"):
        if call.ok and call.params.get("channel") == CHANNEL and call.params.get("thread_ts"):
            threads[str(call.params["thread_ts"])] = threads.get(str(call.params["thread_ts"]), 0) + 1
    print(json.dumps({"threads": threads, "posts": len(fake.calls("chat.postMessage"))}), flush=True)
    fake.stop()


# ---- requests --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Send:
    at: float  # seconds after the start
    raw: bytes
    retry: bool


def _requests(messages: list[dict[str, Any]], seconds: float, retries: float, retry_after: float = 1.0) -> list[Send]:
    """Every message's signed event at its even slot; every ``1/retries``-th sent again as
    Slack's retry (the same body, signed anew, ``X-Slack-Retry-Num: 1``) ``retry_after`` s later
    (0: on another connection at the same moment, racing the original)."""
    from tests.support.slack_signing import SlackRequests

    signer = SlackRequests(SECRET)
    every = round(1 / retries) if retries > 0 else 0
    step = seconds / len(messages)
    out: list[Send] = []
    for i, m in enumerate(messages):
        event = {
            "type": "message",
            "channel": m.get("channel", CHANNEL),
            "channel_type": "channel",
            "user": m["user"],
            "text": m["text"],
            "ts": m["ts"],
            "event_ts": m["ts"],
            "team": m["team"],
            "client_msg_id": m["client_msg_id"],
            "blocks": [{"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": []}]}],
        }
        body, headers = signer.event(
            event, event_id="Ev" + uuid.uuid4().hex[:10].upper(), event_time=int(float(m["ts"]))
        )
        url = "http://127.0.0.1/slack/events"  # the Host line is not checked
        out.append(Send(i * step, _raw(url, body, headers), False))
        if every and i % every == every // 2:
            _, again = signer.sign(body, "application/json", retry_num=1, retry_reason="http_timeout")
            out.append(Send(i * step + retry_after, _raw(url, body, again), True))
    return sorted(out, key=lambda s: s.at)


async def _paced(port: int, sends: list[Send]) -> tuple[list[float], list[float], dict[str, int]]:
    """Send each request at its time on an idle keep-alive connection (a new one if none is
    idle); ms from send to the ack's last byte for originals and retries, and the statuses."""
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    for _ in range(8):
        idle.append(await asyncio.open_connection("127.0.0.1", port))
    firsts: list[float] = []
    again: list[float] = []
    statuses: dict[str, int] = {}

    async def one(send: Send) -> None:
        conn = idle.pop() if idle else await asyncio.open_connection("127.0.0.1", port)
        reader, writer = conn
        t0 = time.perf_counter()
        writer.write(send.raw)
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        if length:
            await reader.readexactly(length)
        (again if send.retry else firsts).append((time.perf_counter() - t0) * 1000)
        status = head.split(b"\r\n", 1)[0].split(b" ")[1].decode()
        statuses[status] = statuses.get(status, 0) + 1
        idle.append(conn)

    start = time.perf_counter()
    tasks = []
    for send in sends:
        delay = start + send.at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(send)))
    await asyncio.gather(*tasks)
    for _, writer in idle:
        writer.close()
    return firsts, again, statuses


# ---- the scratch workspace -------------------------------------------------------------------


def _seed(database_url: str, secret_key: str, cap: int) -> str:
    """An agent, a pipeline, an Anthropic key and one message trigger on C1 with ``cap`` runs
    per hour; the trigger's id."""
    from bot.slack.trigger_runs import changed
    from core.context import AppContext
    from core.settings import load_settings
    from core.triggers import store
    from core.triggers.store import MESSAGE, TriggerDraft
    from tests.fakes.slack import TEAM_ID, USER_ID
    from tests.support.runs import make_agent, make_pipeline, with_keys

    settings = load_settings(_env_file=None, DATABASE_URL=database_url, REDIS_URL=REDIS, PIPEBOT_SECRET_KEY=secret_key)
    ctx = AppContext.create(settings, database_url, REDIS, settings.secret_keys)
    with_keys(ctx, TEAM_ID, "anthropic")
    pipeline = make_pipeline(ctx, TEAM_ID, "Alert triage", [make_agent(ctx, TEAM_ID, "Triage")])
    trigger, _ = store.create(
        ctx, TEAM_ID, USER_ID, TriggerDraft(MESSAGE, pipeline, channels=(CHANNEL,), runs_per_hour=cap)
    )
    assert trigger.runs_per_hour == cap, trigger
    changed(ctx, TEAM_ID)
    ctx.close()
    return trigger.id


def _counted(trigger_id: str) -> int:
    """Messages counted against the trigger's cap, over every hour window (the hour may turn)."""
    import redis

    r = redis.Redis.from_url(REDIS)
    return sum(int(r.get(k) or 0) for k in r.scan_iter(f"pipebot:trigger:runs:{trigger_id}:*"))


def _windows(trigger_id: str) -> int:
    import redis

    return sum(1 for _ in redis.Redis.from_url(REDIS).scan_iter(f"pipebot:trigger:runs:{trigger_id}:*"))


def _runs(database_url: str) -> list[tuple[str, str | None, str | None, float]]:
    import psycopg

    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT thread_ts, dedupe_key, status, extract(epoch FROM created_at) FROM runs"
            " WHERE origin->>'kind' = 'message' ORDER BY created_at"
        ).fetchall()
    return [(str(r[0]), r[1], r[2], float(r[3])) for r in rows]


# ---- report ----------------------------------------------------------------------------------


def _figures(name: str, xs: list[float]) -> str:
    return (
        f"{name:8s} n={len(xs):4d}  p50 {statistics.median(xs):6.2f} ms  p95 {pct(xs, 95):6.2f} ms  "
        f"p99 {pct(xs, 99):6.2f} ms  max {max(xs):7.2f} ms"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--messages", type=int, default=500)
    p.add_argument("--seconds", type=float, default=60.0, help="the burst's length (paced evenly)")
    p.add_argument("--retries", type=float, default=0.1, help="share of events Slack sends again")
    p.add_argument("--retry-after", type=float, default=1.0, help="seconds from an event to its retry")
    p.add_argument("--cap", type=int, default=CAP, help="the trigger's Runs per hour (default 30)")
    p.add_argument("--settle", type=float, default=120.0, help="seconds to wait for every message to be counted")
    p.add_argument("--serve", choices=["pipebot", "bare"])
    p.add_argument("--port", type=int)
    p.add_argument("--slack-url")
    p.add_argument("--fake-slack", type=int, metavar="MESSAGES")
    args = p.parse_args()
    if args.serve:
        return serve(args.serve, args.port, args.slack_url)
    if args.fake_slack:
        return fake_slack(args.fake_slack)

    from storage.secrets import new_key

    secret_key = new_key()
    procs: list[subprocess.Popen[str]] = []
    with scratch_database("pipebot_bench_triggers") as (database_url, _engine):
        trigger_id = _seed(database_url, secret_key, args.cap)
        env = dict(
            os.environ, DATABASE_URL=database_url, REDIS_URL=REDIS, PIPEBOT_SECRET_KEY=secret_key, PYTHONPATH=str(ROOT)
        )
        try:
            fake = subprocess.Popen(
                [sys.executable, __file__, "--fake-slack", str(args.messages)],
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            procs.append(fake)
            info: dict[str, Any] = json.loads(fake.stdout.readline())  # type: ignore[union-attr]
            ports, pids = {}, {}
            for kind in ("bare", "pipebot"):
                ports[kind] = _free_port()
                procs.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            __file__,
                            "--serve",
                            kind,
                            "--port",
                            str(ports[kind]),
                            "--slack-url",
                            info["url"],
                        ],
                        env=env,
                        text=True,
                    )
                )
                pids[kind] = procs[-1].pid
            for port in ports.values():
                _wait_up(f"http://127.0.0.1:{port}/slack/events")
            sends = _requests(info["messages"], args.seconds, args.retries, args.retry_after)
            retried = sum(s.retry for s in sends)
            # Warm-up: events in an untriggered channel (they read the triggers, start nothing).
            quiet = [dict(m, channel=QUIET, ts=f"{float(m['ts']) - 1e5:.6f}") for m in info["messages"][:30]]
            results: dict[str, tuple[list[float], list[float], dict[str, int]]] = {}
            cpu: dict[str, float] = {}
            settled = began = 0.0
            for kind in ("bare", "pipebot"):
                asyncio.run(_paced(ports[kind], _requests(quiet, 1.0, 0)))
                before = _cpu_seconds(pids[kind])
                t0, began = time.monotonic(), time.time()
                results[kind] = asyncio.run(_paced(ports[kind], sends))
                took = time.monotonic() - t0
                if kind == "pipebot":
                    deadline = time.monotonic() + args.settle
                    while _counted(trigger_id) < args.messages and time.monotonic() < deadline:
                        time.sleep(0.2)
                    settled = time.monotonic() - t0
                    # Runs within the cap start after their ack, one Slack post each (paced
                    # by Slack's limits): wait for the last, or for nothing new in 15 s.
                    want, seen, quiet_since = args.cap * _windows(trigger_id), -1, time.monotonic()
                    while time.monotonic() < deadline + args.settle + 2 * want:
                        now_runs = len(_runs(database_url))
                        if now_runs != seen:
                            seen, quiet_since = now_runs, time.monotonic()
                        if now_runs >= want or time.monotonic() - quiet_since > 15:
                            break
                        time.sleep(0.5)
                    time.sleep(2)  # a run past the cap (a double) would show up here
                cpu[kind] = _cpu_seconds(pids[kind]) - before
            fake.stdin.close()  # type: ignore[union-attr]
            posted: dict[str, Any] = json.loads(fake.stdout.readline())  # type: ignore[union-attr]
            runs = _runs(database_url)
            last_run = max((r[3] for r in runs), default=began) - began
            counted, windows = _counted(trigger_id), _windows(trigger_id)

            n = len(sends)
            print(
                f"{args.messages} message events on C1 + {retried} retries (same event_id, X-Slack-Retry-Num: 1, "
                f"{args.retry_after:g} s later), "
                f"paced evenly over {args.seconds:.0f} s (sent in {took:.1f} s), per server; HTTP via uvicorn "
                f"(1 process each), {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"
            )
            for kind in ("bare", "pipebot"):
                firsts, again, statuses = results[kind]
                print(
                    _figures(kind, firsts + again)
                    + f"  retries p99 {pct(again, 99) if again else 0:6.2f} ms  server CPU {cpu[kind] / n * 1000:5.2f} ms/event"
                )
            p99 = pct(results["pipebot"][0] + results["pipebot"][1], 99)
            print(f"pipebot ack p99 {p99:.2f} ms (target <= 100 ms: {'met' if p99 <= 100 else 'NOT met'})")
            for kind in ("bare", "pipebot"):
                statuses = results[kind][2]
                bad = sum(c for s, c in statuses.items() if s != "200")
                print(f"{kind:8s} answers {dict(sorted(statuses.items()))}: not 200 = {bad} (target 0)")
            distinct = len({r[0] for r in runs})
            keys = len({r[1] for r in runs})
            cap = args.cap * windows
            print(
                f"pipebot counted {counted} of {args.messages} messages against the cap in {settled:.1f} s "
                f"({windows} hour window{'s' if windows != 1 else ''}; target {args.messages}: each once, none lost); "
                f"last run recorded {last_run:.1f} s after the burst began"
            )
            print(
                f"runs recorded for the trigger {len(runs)} (target exactly the cap, {cap}: "
                f"{'met' if len(runs) == cap else 'NOT met'}), for {distinct} distinct messages, {keys} distinct "
                f"dedupe keys (doubles: {len(runs) - distinct}), statuses {sorted({str(r[2]) for r in runs})}"
            )
            threads = posted["threads"]
            print(
                f"fake Slack: first messages in {len(threads)} threads of C1, "
                f"most in one thread {max(threads.values(), default=0)}; chat.postMessage calls {posted['posts']}"
            )
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.terminate()
            for proc in procs:
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()


if __name__ == "__main__":
    main()
