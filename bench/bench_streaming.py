"""Live output: how long after the model writes its first words they first reach Slack.

A real `pipebot worker` runs two-step pipelines started from a Slack thread, against the fake
Anthropic API (each step's reply streams over about 2 s, after a 0.3 s wait for its first
token) and the fake Slack Web API, both in this process. The figure is the time from the fake
model's own send time of its first text event to the first fake-Slack call carrying that
text; beside it, the baseline: how long after the request the model sent that token.
Both with chat streaming and with streaming refused (the chat.update fallback).

    .venv/bin/python bench/bench_streaming.py [N]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from redis import Redis  # noqa: E402
from slack_sdk import WebClient  # noqa: E402

from bench._common import pct, scratch_database  # noqa: E402
from bot.slack.blocks.runs import parent_message  # noqa: E402
from core.context import AppContext  # noqa: E402
from core.runs.intake import start_run  # noqa: E402
from core.runs.request import Origin, ReportTo  # noqa: E402
from core.settings import load_settings  # noqa: E402
from storage.db import transaction  # noqa: E402
from storage.repos import agents as agent_repo  # noqa: E402
from storage.repos import credentials as credential_repo  # noqa: E402
from storage.repos import pipelines as pipeline_repo  # noqa: E402
from storage.repos import runs as run_repo  # noqa: E402
from storage.secrets import new_key  # noqa: E402
from tests.fakes.fake_anthropic import FakeAnthropic  # noqa: E402
from tests.fakes.llm_base import Turn  # noqa: E402
from tests.fakes.slack import GENERAL, TEAM_ID, USER_ID, FakeSlack  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 20
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
FIRST_TOKEN_DELAY_S = 0.3
DELTAS, CHUNK_DELAY_S = 100, 0.02  # 100 text deltas over about 2 s
SHOWN_BY = ("chat.startStream", "chat.appendStream", "chat.stopStream", "chat.update", "chat.postMessage")


def _run_once(
    ctx: AppContext, client: WebClient, anthropic: FakeAnthropic, slack: FakeSlack, i: int
) -> list[tuple[float, float]]:
    """Per step: (model's time to first token, first token → first Slack call with it), in ms."""
    markers = [f"run{i}step{k}" for k in (1, 2)]
    for marker in markers:
        deltas = [f"{marker} "] + [f"word{j} " for j in range(DELTAS - 1)]
        anthropic.enqueue(
            Turn(text="".join(deltas), deltas=deltas, delay=FIRST_TOKEN_DELAY_S, chunk_delay=CHUNK_DELAY_S)
        )
    text, blocks = parent_message("Essay", USER_ID, "write")
    parent = client.chat_postMessage(channel=GENERAL, text=text, blocks=[b.to_dict() for b in blocks])["ts"]
    run = start_run(
        ctx,
        TEAM_ID,
        "Essay",
        f"input {i}",
        requested_by=USER_ID,
        origin=Origin.SLASH_COMMAND,
        report_to=ReportTo(GENERAL, parent),
    )
    deadline = time.monotonic() + 60
    while True:
        with transaction(ctx.sessions) as s:
            status = run_repo.get_run(s, TEAM_ID, run.id).status
        if status in ("succeeded", "failed"):
            break
        if time.monotonic() > deadline:
            raise SystemExit(f"run {i} did not finish within 60 s")
        time.sleep(0.05)
    assert status == "succeeded", status
    out = []
    for marker in markers:
        req = next(r for r in anthropic.calls("/v1/messages") if r.sent_at(marker))
        first_token = req.sent_at(marker)
        assert first_token is not None
        shown = min(
            c.time
            for c in slack.calls()
            if c.ok
            and c.method in SHOWN_BY
            and marker in str(c.params.get("chunks") or "") + str(c.params.get("blocks") or "")
        )
        out.append(((first_token - req.received) * 1000, (shown - first_token) * 1000))
    return out


def _line(label: str, xs: list[float]) -> str:
    return f"{label:<52} median {statistics.median(xs):7.1f} ms   p90 {pct(xs, 90):7.1f} ms   max {max(xs):7.1f} ms"


def main() -> None:
    Redis.from_url(REDIS).flushdb()
    anthropic, slack = FakeAnthropic().start(), FakeSlack().start()
    key = new_key()
    with scratch_database("pipebot_bench_stream") as (db_url, _engine):
        settings = load_settings(
            _env_file=None,
            DATABASE_URL=db_url,
            REDIS_URL=REDIS,
            PIPEBOT_SECRET_KEY=key,
            SLACK_BOT_TOKEN=slack.token,
            SLACK_API_URL=slack.url,
        )
        ctx = AppContext.create(settings, db_url, REDIS, settings.secret_keys)
        with transaction(ctx.sessions) as s:
            credential_repo.set_credential(s, TEAM_ID, "anthropic", "sk-bench-key-0001", ctx.box)
            a = agent_repo.create_agent(
                s, TEAM_ID, name="Drafter", model="anthropic:claude-haiku-4-5", system_prompt="Be brief."
            )
            pipeline_repo.create_pipeline(s, TEAM_ID, "Essay", [a.id, a.id])
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PIPEBOT_", "ANTHROPIC_"))}
        env.update(
            DATABASE_URL=db_url,
            REDIS_URL=REDIS,
            PIPEBOT_SECRET_KEY=key,
            ANTHROPIC_BASE_URL=anthropic.url,
            SLACK_API_URL=slack.url,
            SLACK_BOT_TOKEN=slack.token,
            PYTHONPATH=str(ROOT),
        )
        worker = subprocess.Popen(
            [sys.executable, "-m", "bot.cli.main", "worker"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        client = WebClient(token=slack.token, base_url=slack.url)
        try:
            _run_once(ctx, client, anthropic, slack, -1)  # warm-up: the worker's first job pays its imports
            results = {}
            for mode in ("chat streaming", "chat.update fallback"):
                slack.refuse_streaming("not_allowed" if mode != "chat streaming" else None)
                pairs = [_run_once(ctx, client, anthropic, slack, i + (1000 if results else 0)) for i in range(N)]
                results[mode] = pairs
        finally:
            os.killpg(worker.pid, 15)
            worker.wait(30)
            ctx.close()
            anthropic.stop()
            slack.stop()
    print(f"-- first words: model's first token → first Slack call with it ({N} two-step runs each, 1 worker)")
    for mode, runs in results.items():
        print(_line("baseline: model's own time to first token", [p[0] for r in runs for p in r]))
        for k in (0, 1):
            print(_line(f"{mode}, step {k + 1}: first token → Slack", [r[k][1] for r in runs]))


if __name__ == "__main__":
    main()
