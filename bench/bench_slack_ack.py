"""Ack latency of `/pipebot agents` over HTTP, next to a bare Bolt app that only acks.

    .venv/bin/python bench/bench_slack_ack.py [--requests 500] [--concurrency 20] [--rounds 1]
                                              [--command agents]

Why: Slack gives an app 3 s to ack and shows an error past it; the pipebot endpoint must
add little to what Bolt itself costs. Both servers run the same way (uvicorn, one
process each, the same Starlette endpoint handing requests to Bolt in a worker thread,
``process_before_response=True``, Slack's Web API played by a fake in its own process);
only the listeners differ. pipebot reads the workspace's agents from PostgreSQL and
answers with the list in the ack itself (bot/slack_commands.py explains why); the bare
app acks with an empty body.

The load generator keeps ``--concurrency`` signed requests in flight (closed loop) and
times each from send to the ack's last byte; it also prints each server's CPU time per
request (/proc). One Python process serves on one core, so with 20 in flight latency is
about 20 x that CPU time: the figure says where the difference comes from. Targets:
p99 <= 50 ms and pipebot's p99 within 1.5x of the bare app's. Needs PostgreSQL (BENCH_DATABASE_URL, default the local
test server) and Redis (BENCH_REDIS_URL, default redis://127.0.0.1:6379/15).
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
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import pct, scratch_database  # noqa: E402

SECRET = "bench-signing-secret"
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")


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
        ctx = AppContext.create(settings, settings.DATABASE_URL, settings.REDIS_URL, settings.secret_keys)
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
        bare.command("/pipebot")(lambda ack: ack())
        app = Starlette(routes=[Route("/slack/events", bolt_endpoint(bare), methods=["POST"])])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def fake_slack(hooks: int) -> None:
    from tests.fakes.slack import FakeSlack

    fake = FakeSlack().start()
    urls = [fake.new_response_url() for _ in range(hooks)]
    print(json.dumps({"url": fake.url, "hooks": urls}), flush=True)
    sys.stdin.read()  # until the parent closes it
    fake.stop()


# ---- load ----------------------------------------------------------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_up(url: str) -> None:
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.post(url, content=b"", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit(f"server at {url} did not start")


def _raw(url: str, body: bytes, headers: dict[str, str]) -> bytes:
    """The HTTP/1.1 request bytes (built once, so the client spends nothing per request)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    lines = [f"POST {parts.path} HTTP/1.1", f"Host: {parts.netloc}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _load(
    url: str, requests: list[tuple[bytes, dict[str, str]]], concurrency: int, bodies: list[bytes] | None = None
) -> list[float]:
    """Keep ``concurrency`` requests in flight on keep-alive connections; ms per request.

    A minimal HTTP/1.1 client on asyncio streams: an HTTP library would spend more CPU
    per request than the servers under test, on the same two cores, and its event-loop
    lag would be counted as server latency.
    """
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    latencies: list[float] = []
    pending = [_raw(url, body, headers) for body, headers in requests]
    pending.reverse()

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        try:
            while pending:
                raw = pending.pop()
                t0 = time.perf_counter()
                writer.write(raw)
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                content = await reader.readexactly(length) if length else b""
                latencies.append((time.perf_counter() - t0) * 1000)
                if not head.startswith(b"HTTP/1.1 200"):
                    raise SystemExit(f"{url}: {head.splitlines()[0].decode()} {content[:200]!r}")
                if bodies is not None:
                    bodies.append(content)
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


def _signed(hooks: list[str], text: str) -> list[tuple[bytes, dict[str, str]]]:
    from tests.support.slack_signing import SlackRequests

    signer = SlackRequests(SECRET)
    return [signer.slash_command(text, response_url=h) for h in hooks]


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _seed(database_url: str, secret_key: str) -> None:
    from core.context import AppContext
    from core.settings import load_settings
    from storage.db import transaction
    from storage.repos import agents as agent_repo
    from tests.fakes.slack import TEAM_ID

    settings = load_settings(_env_file=None, DATABASE_URL=database_url, REDIS_URL=REDIS, PIPEBOT_SECRET_KEY=secret_key)
    ctx = AppContext.create(settings, database_url, REDIS, settings.secret_keys)
    with transaction(ctx.sessions) as s:
        for i, model in enumerate(
            (
                "anthropic:claude-haiku-4-5",
                "openai:gpt-4o",
                "openai:gpt-5.4-mini",
                "anthropic:claude-sonnet-5-5",
                "openai:gpt-4.1",
            )
        ):
            agent_repo.create_agent(
                s,
                TEAM_ID,
                name=f"Agent {i + 1}",
                system_prompt="Summarise.",
                model=model,
                temperature=0.5 if "gpt-4" in model else None,
                max_output_tokens=1024,
            )
    ctx.close()


def _figures(name: str, xs: list[float]) -> str:
    return (
        f"{name:8s} n={len(xs):4d}  p50 {statistics.median(xs):6.2f} ms  p90 {pct(xs, 90):6.2f} ms  "
        f"p99 {pct(xs, 99):6.2f} ms  max {max(xs):6.2f} ms"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=500)
    p.add_argument("--concurrency", type=int, default=20)
    p.add_argument("--rounds", type=int, default=1, help="alternate bare/pipebot this many times")
    p.add_argument("--warmup", type=int, default=60)
    p.add_argument("--command", default="agents", help="text after /pipebot (default: agents)")
    p.add_argument("--serve", choices=["pipebot", "bare"])
    p.add_argument("--port", type=int)
    p.add_argument("--slack-url")
    p.add_argument("--fake-slack", type=int, metavar="HOOKS")
    args = p.parse_args()
    if args.serve:
        return serve(args.serve, args.port, args.slack_url)
    if args.fake_slack:
        return fake_slack(args.fake_slack)

    from storage.secrets import new_key

    per_server = args.warmup + args.requests * args.rounds
    secret_key = new_key()
    procs: list[subprocess.Popen[str]] = []
    with scratch_database("pipebot_bench_ack") as (database_url, _engine):
        _seed(database_url, secret_key)
        env = dict(
            os.environ, DATABASE_URL=database_url, REDIS_URL=REDIS, PIPEBOT_SECRET_KEY=secret_key, PYTHONPATH=str(ROOT)
        )
        try:
            fake = subprocess.Popen(
                [sys.executable, __file__, "--fake-slack", str(per_server)],
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            procs.append(fake)
            info: dict[str, Any] = json.loads(fake.stdout.readline())  # type: ignore[union-attr]
            hooks = info["hooks"]
            urls, pids = {}, {}
            for kind in ("bare", "pipebot"):
                port = _free_port()
                procs.append(
                    subprocess.Popen(
                        [sys.executable, __file__, "--serve", kind, "--port", str(port), "--slack-url", info["url"]],
                        env=env,
                    )
                )
                urls[kind] = f"http://127.0.0.1:{port}/slack/events"
                pids[kind] = procs[-1].pid
            for url in urls.values():
                _wait_up(url)
            bare_req = _signed(["https://hooks.invalid/unused"] * per_server, args.command)
            pipe_req = _signed(hooks[:per_server], args.command)
            cpu = {"bare": 0.0, "pipebot": 0.0}
            results: dict[str, list[float]] = {"bare": [], "pipebot": []}
            asyncio.run(_load(urls["bare"], bare_req[: args.warmup], args.concurrency))
            asyncio.run(_load(urls["pipebot"], pipe_req[: args.warmup], args.concurrency))
            answers: list[bytes] = []
            for r in range(args.rounds):
                lo, hi = args.warmup + r * args.requests, args.warmup + (r + 1) * args.requests
                for kind, reqs in (("bare", bare_req), ("pipebot", pipe_req)):
                    before = _cpu_seconds(pids[kind])
                    results[kind] += asyncio.run(
                        _load(urls[kind], reqs[lo:hi], args.concurrency, answers if kind == "pipebot" else None)
                    )
                    time.sleep(0.3)  # work left after the acks (if any) counts too
                    cpu[kind] += _cpu_seconds(pids[kind]) - before
            if args.command == "agents":
                in_ack = sum(1 for b in answers if b"Agent 5" in b)
                print(f"pipebot answered {in_ack} of {len(answers)} commands with the agents list in the ack")
            n = args.requests * args.rounds
            print(
                f"/pipebot {args.command}, {n} signed requests per server, "
                f"{args.concurrency} in flight, HTTP via uvicorn (1 process each), {os.cpu_count()} CPUs, "
                f"load average {os.getloadavg()[0]:.2f}"
            )
            for kind in ("bare", "pipebot"):
                print(_figures(kind, results[kind]) + f"  server CPU {cpu[kind] / n * 1000:5.2f} ms/request")
            ratio = pct(results["pipebot"], 99) / pct(results["bare"], 99)
            ok = pct(results["pipebot"], 99) <= 50 and ratio <= 1.5
            print(
                f"p99 ratio pipebot/bare {ratio:.2f}x  (target p99 <= 50 ms and <= 1.5x: {'met' if ok else 'NOT met'})"
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
