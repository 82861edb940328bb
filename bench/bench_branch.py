"""Re-running from a step (a branch) against a full run of a 4-step pipeline: how many model
calls a branch from step 3 and from step 4 makes (expected 2 and 1: the steps before are
reused, never called), and the time from start to artifact of each beside the full run's.

One pipebot worker, a fake Anthropic API in a child process answering each call after
DELAY_S (a model that takes its time; 0 shows pipebot's own overhead).

    .venv/bin/python bench/bench_branch.py [N] [DELAY_S]
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
import subprocess
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from redis import Redis  # noqa: E402
from sqlalchemy import text  # noqa: E402

from bench._common import pct, scratch_database  # noqa: E402
from core.context import AppContext  # noqa: E402
from core.runs.intake import start_branch, start_run  # noqa: E402
from core.runs.request import Origin  # noqa: E402
from core.settings import load_settings  # noqa: E402
from storage.db import transaction  # noqa: E402
from storage.repos import agents as agent_repo  # noqa: E402
from storage.repos import artifacts as artifact_repo  # noqa: E402
from storage.repos import credentials as credential_repo  # noqa: E402
from storage.repos import pipelines as pipeline_repo  # noqa: E402
from storage.secrets import new_key  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 20
DELAY_S = float(sys.argv[2]) if len(sys.argv) > 2 else 0.1
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
TEAM = "TBENCH"


def _serve(conn: Any, delay: float) -> None:
    """The fake Anthropic API, counting the model calls it answers (in a child process, so
    its threads do not compete with the benchmark's for the GIL)."""
    from tests.fakes.fake_anthropic import FakeAnthropic
    from tests.fakes.llm_base import Turn

    fake = FakeAnthropic().start()
    calls = [0]

    def seen(req: Any) -> None:
        if req.path == "/v1/messages":
            calls[0] += 1
        fake.requests.clear()  # keep memory flat

    fake.on_request = seen
    fake.default_turn = lambda req, model_id, last_user: Turn(text=f"[{model_id}] {last_user[:40]}", delay=delay)
    conn.send(fake.url)
    while (msg := conn.recv()) != "stop":
        conn.send(calls[0] if msg == "count" else None)
    fake.stop()


def _finish(ctx: AppContext, run_id: Any, timeout: float = 120) -> None:
    """Wait for the run's artifact (polled every 2 ms: the figure is start to artifact)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with ctx.engine.connect() as conn:
            status = conn.execute(
                text("SELECT status FROM artifacts WHERE team_id = :t AND run_id = :r"), {"t": TEAM, "r": run_id}
            ).scalar()
        if status is not None:
            assert status == "succeeded", status
            return
        time.sleep(0.002)
    raise AssertionError(f"run {run_id} left no artifact in {timeout} s")


def _measure(ctx: AppContext, conn: Any, start: Any) -> tuple[float, int]:
    """(ms from start to artifact, model calls made) of one run."""
    conn.send("count")
    before = conn.recv()
    t0 = time.perf_counter()
    run = start()
    _finish(ctx, run.id)
    ms = (time.perf_counter() - t0) * 1000
    conn.send("count")
    return ms, conn.recv() - before


def _full_run(ctx: AppContext, input_text: str, out: list[Any]) -> Any:
    out.append(start_run(ctx, TEAM, "Four steps", input_text))
    return out[-1]


def _branch(ctx: AppContext, artifact_id: str, step: int) -> Any:
    return start_branch(ctx, TEAM, artifact_id=artifact_id, from_step=step, requested_by=None, origin=Origin.CLI)


def _line(name: str, xs: list[tuple[float, int]]) -> str:
    ms = [m for m, _ in xs]
    calls = sorted({c for _, c in xs})
    return (
        f"{name:<26} model calls per run {'/'.join(map(str, calls)):>3}   "
        f"p50 {statistics.median(ms):8.1f} ms   p99 {pct(ms, 99):8.1f} ms"
    )


def main() -> None:
    redis = Redis.from_url(REDIS)
    redis.flushdb()
    here, there = multiprocessing.Pipe()
    server = multiprocessing.Process(target=_serve, args=(there, DELAY_S), daemon=True)
    server.start()
    fake_url = here.recv()
    key = new_key()
    with scratch_database() as (db_url, _engine):
        env = dict(
            os.environ,
            DATABASE_URL=db_url,
            REDIS_URL=REDIS,
            PIPEBOT_SECRET_KEY=key,
            ANTHROPIC_BASE_URL=fake_url,
            PYTHONPATH=str(ROOT),
        )
        settings = load_settings(_env_file=None, DATABASE_URL=db_url, REDIS_URL=REDIS, PIPEBOT_SECRET_KEY=key)
        ctx = AppContext.create(settings, db_url, REDIS, settings.secret_keys)
        with transaction(ctx.sessions) as s:
            credential_repo.set_credential(s, TEAM, "anthropic", "sk-bench-key-0001", ctx.box)
            ids = [
                agent_repo.create_agent(
                    s, TEAM, name=f"Step {n}", model="anthropic:claude-haiku-4-5", system_prompt="Be brief."
                ).id
                for n in range(1, 5)
            ]
            pipeline_repo.create_pipeline(s, TEAM, "Four steps", ids)
        worker = subprocess.Popen(
            [sys.executable, "-m", "bot.cli.main", "worker"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            time.sleep(6)
            full, from3, from4 = [], [], []
            for i in range(N + 2):  # the first two warm the worker up
                runs: list[Any] = []
                f = _measure(ctx, here, partial(_full_run, ctx, f"input {i}", runs))
                with transaction(ctx.sessions) as s:
                    artifact = str(artifact_repo.get_artifact_for_run(s, TEAM, runs[-1].id).id)
                b3 = _measure(ctx, here, partial(_branch, ctx, artifact, 3))
                b4 = _measure(ctx, here, partial(_branch, ctx, artifact, 4))
                if i >= 2:
                    full.append(f)
                    from3.append(b3)
                    from4.append(b4)
        finally:
            os.killpg(worker.pid, 15)
            worker.wait(30)
        ctx.close()
    here.send("stop")
    server.join(10)
    print(f"-- 4-step pipeline, {N} runs each, 1 worker, fake model answering after {DELAY_S:g} s")
    print(_line("full run", full))
    print(_line("branch from step 3", from3))
    print(_line("branch from step 4", from4))


if __name__ == "__main__":
    main()
