"""Many runs at once: 1, 24 and 200 simultaneous runs of a 2-step pipeline whose (fake)
model streams each reply over about 2 s, on one `pipebot worker` and, as the baseline, on a
bare `rq worker` (a forked work horse per job, one at a time).

Prints, side by side: the wall time from the first enqueue to the last artifact, its ratio
to the models' own time (2 steps x 2 s = 4 s), and the worker's peak PSS (its work horses
included). The pipebot worker runs with PIPEBOT_WORKER_CONCURRENCY and
PIPEBOT_WORKSPACE_CONCURRENCY raised to 200 (no longer needed: fair share holds back no run
of a workspace that is alone; kept so the figures compare with earlier rounds).
The baseline at 200 would take about 15 minutes and is projected from its 24-run figure.

    .venv/bin/python bench/bench_concurrency.py
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from redis import Redis  # noqa: E402
from rq import Queue, Worker  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from bench._common import PeakMemory, scratch_database  # noqa: E402
from core.context import AppContext  # noqa: E402
from core.runs.intake import start_run  # noqa: E402
from core.settings import load_settings  # noqa: E402
from storage.db import transaction  # noqa: E402
from storage.models import Artifact  # noqa: E402
from storage.repos import agents as agent_repo  # noqa: E402
from storage.repos import credentials as credential_repo  # noqa: E402
from storage.repos import pipelines as pipeline_repo  # noqa: E402
from storage.secrets import new_key  # noqa: E402

QUEUE = load_settings().PIPEBOT_QUEUE

REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
TEAM = "TBENCH"
STREAM_S = 2.0
MODEL_S = 2 * STREAM_S
SIZES = (1, 24, 200)


def _serve(conn: Any) -> None:
    """The fake Anthropic API in a child process, so its threads do not share our GIL."""
    from tests.fakes.fake_anthropic import FakeAnthropic

    fake = FakeAnthropic().start()
    fake.slow_turns(STREAM_S, chunks=16)
    fake.on_request = lambda req: fake.requests.clear()  # keep memory flat
    conn.send(fake.url)
    conn.recv()
    fake.stop()


def _finished(ctx: AppContext, ids: list[Any]) -> int:
    with transaction(ctx.sessions) as s:
        return int(s.scalar(select(func.count()).select_from(Artifact).where(Artifact.run_id.in_(ids))) or 0)


def _round(ctx: AppContext, redis: Redis, cmd: list[str], env: dict[str, str], n: int) -> tuple[float, int]:
    proc = subprocess.Popen(
        cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 60
        while Worker.count(queue=Queue(QUEUE, connection=redis)) == 0:  # ready, warmed up
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("the worker did not start")
            time.sleep(0.1)
        time.sleep(1)
        pss = PeakMemory(proc.pid, pss=True, every=0.1)
        pss.start()
        t0 = time.monotonic()
        ids = [start_run(ctx, TEAM, "Two steps", f"input {i}").id for i in range(n)]
        while _finished(ctx, ids) < n:
            time.sleep(0.1)
        wall = time.monotonic() - t0
        return wall, pss.stop()
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(60)


def main() -> None:
    redis = Redis.from_url(REDIS)
    redis.flushdb()
    here, there = multiprocessing.Pipe()
    server = multiprocessing.Process(target=_serve, args=(there,), daemon=True)
    server.start()
    fake_url = here.recv()
    key = new_key()
    rows: list[str] = []
    with scratch_database() as (db_url, _engine):
        env = dict(
            os.environ,
            DATABASE_URL=db_url,
            REDIS_URL=REDIS,
            PIPEBOT_SECRET_KEY=key,
            PIPEBOT_QUEUE=QUEUE,
            ANTHROPIC_BASE_URL=fake_url,
            PYTHONPATH=str(ROOT),
            PIPEBOT_WORKER_CONCURRENCY="200",
            PIPEBOT_WORKSPACE_CONCURRENCY="200",
        )
        settings = load_settings(_env_file=None, DATABASE_URL=db_url, REDIS_URL=REDIS, PIPEBOT_SECRET_KEY=key)
        ctx = AppContext.create(settings, db_url, REDIS, settings.secret_keys)
        with transaction(ctx.sessions) as s:
            credential_repo.set_credential(s, TEAM, "anthropic", "sk-bench-key-0001", ctx.box)
            a = agent_repo.create_agent(
                s, TEAM, name="A", model="anthropic:claude-haiku-4-5", system_prompt="Be brief."
            )
            pipeline_repo.create_pipeline(s, TEAM, "Two steps", [a.id, a.id])
        ours = [sys.executable, "-m", "bot.cli.main", "worker"]
        bare = [sys.executable, "-m", "rq.cli", "worker", QUEUE, "--url", REDIS]
        results: dict[tuple[str, int], tuple[float, int]] = {}
        for n in SIZES:
            results[("ours", n)] = _round(ctx, redis, ours, env, n)
        for n in SIZES[:2]:
            results[("bare", n)] = _round(ctx, redis, bare, env, n)
        ctx.close()
    here.send("stop")
    server.join(10)

    one_pss = results[("ours", 1)][1]
    rows.append(
        f"2-step pipeline, model streams each reply over {STREAM_S:g} s (models' own time {MODEL_S:g} s per run)"
    )
    rows.append(
        f"{'runs':>5} | {'pipebot worker: wall':>21} {'ratio':>6} {'peak PSS':>9} {'vs 1 run':>8} | "
        f"{'bare rq worker: wall':>21} {'ratio':>7} {'peak PSS':>9}"
    )
    for n in SIZES:
        wall, pss = results[("ours", n)]
        if ("bare", n) in results:
            bwall, bpss = results[("bare", n)]
            bare_cols = f"{bwall:20.1f}s {bwall / MODEL_S:6.1f}x {bpss / 2**20:8.0f}M"
        else:
            per_run = results[("bare", SIZES[1])][0] / SIZES[1]
            bare_cols = f"{per_run * n:14.0f}s (proj) {per_run * n / MODEL_S:6.1f}x {'-':>9}"
        rows.append(
            f"{n:5d} | {wall:20.1f}s {wall / MODEL_S:5.2f}x {pss / 2**20:8.0f}M {pss / one_pss:7.2f}x | {bare_cols}"
        )
    print("\n".join(rows))


if __name__ == "__main__":
    main()
