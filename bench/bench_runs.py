"""Runs through the queue: enqueue-to-artifact latency of a one-step run against a
zero-latency fake model, next to bare RQ running a no-op job on the same Redis with the
same worker class, then the throughput of 200 runs through 2 workers.

    .venv/bin/python bench/bench_runs.py [N]
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from redis import Redis  # noqa: E402
from rq import Queue  # noqa: E402
from rq.job import Job  # noqa: E402

from bench._common import pct, scratch_database  # noqa: E402
from core.context import AppContext  # noqa: E402
from core.runs.intake import start_run  # noqa: E402
from core.runs.queue import job_id  # noqa: E402
from core.settings import load_settings  # noqa: E402
from storage.db import transaction  # noqa: E402
from storage.repos import agents as agent_repo  # noqa: E402
from storage.repos import artifacts as artifact_repo  # noqa: E402
from storage.repos import credentials as credential_repo  # noqa: E402
from storage.repos import pipelines as pipeline_repo  # noqa: E402
from storage.secrets import new_key  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 100
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
TEAM = "TBENCH"


def _workers(cmd: list[str], env: dict[str, str], n: int) -> list[subprocess.Popen[bytes]]:
    return [
        subprocess.Popen(
            cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        for _ in range(n)
    ]


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        os.killpg(p.pid, 15)
    for p in procs:
        p.wait(30)


def _serve(conn: Any) -> None:
    """The fake Anthropic API, in a child process: in this one its threads would fight the
    benchmark's own for the GIL and add their waits to every figure."""
    from tests.fakes.fake_anthropic import FakeAnthropic

    fake = FakeAnthropic().start()
    fake.on_request = lambda req: fake.requests.clear()  # keep memory flat
    conn.send(fake.url)
    conn.recv()  # "stop"
    fake.stop()


def _wait(redis: Redis, jid: str, timeout: int = 60) -> None:
    job = Job.fetch(jid, connection=redis)  # start_run enqueued it before returning
    res = job.latest_result(timeout=timeout)
    assert res is not None and res.type == res.Type.SUCCESSFUL, res


def _stats(name: str, xs: list[float]) -> str:
    return f"{name:<34} p50 {statistics.median(xs):7.2f} ms   p99 {pct(xs, 99):7.2f} ms   mean {statistics.mean(xs):7.2f} ms"


def _latency(redis: Redis, ctx: AppContext, pipeline: str, n: int) -> list[float]:
    out = []
    for i in range(n + 5):
        t0 = time.perf_counter()
        run = start_run(ctx, TEAM, pipeline, f"input {i}")
        _wait(redis, job_id(run.id))
        if i >= 5:
            out.append((time.perf_counter() - t0) * 1000)
    return out


def _bare(redis: Redis, env: dict[str, str], worker_class: str, n: int) -> list[float]:
    bare = _workers(
        [sys.executable, "-m", "rq.cli", "worker", "bench-bare", "--url", REDIS, "-w", worker_class], env, 1
    )
    q = Queue("bench-bare", connection=redis)
    time.sleep(2)
    out = []
    for i in range(n + 5):
        t0 = time.perf_counter()
        job = q.enqueue("bench.noop.noop")
        job.latest_result(timeout=30)
        if i >= 5:
            out.append((time.perf_counter() - t0) * 1000)
    _stop(bare)
    return out


MODES = (  # (label, the RQ worker class, how pipebot's worker is started with that class)
    ("fork per job", "rq.Worker", [sys.executable, "-m", "bot.cli.main", "worker", "--fork"]),
    ("in process (threads)", "rq.SimpleWorker", [sys.executable, "-m", "bot.cli.main", "worker"]),
)


def main() -> None:
    redis = Redis.from_url(REDIS)
    redis.flushdb()
    here, there = multiprocessing.Pipe()
    server = multiprocessing.Process(target=_serve, args=(there,), daemon=True)
    server.start()
    fake_url = here.recv()
    key = new_key()
    lines = []
    with scratch_database() as (db_url, _engine):
        env = dict(
            os.environ,
            DATABASE_URL=db_url,
            REDIS_URL=REDIS,
            PIPEBOT_SECRET_KEY=key,
            ANTHROPIC_BASE_URL=fake_url,
            PYTHONPATH=str(ROOT),
            # every run here is one workspace's, so fair share (work-conserving) holds none
            # back; the share is raised anyway so the figures compare with earlier rounds
            PIPEBOT_WORKSPACE_CONCURRENCY="256",
        )
        settings = load_settings(_env_file=None, DATABASE_URL=db_url, REDIS_URL=REDIS, PIPEBOT_SECRET_KEY=key)
        ctx = AppContext.create(settings, db_url, REDIS, settings.secret_keys)
        with transaction(ctx.sessions) as s:
            credential_repo.set_credential(s, TEAM, "anthropic", "sk-bench-key-0001", ctx.box)
            a = agent_repo.create_agent(
                s, TEAM, name="A", model="anthropic:claude-haiku-4-5", system_prompt="Be brief."
            )
            pipeline_repo.create_pipeline(s, TEAM, "One step", [a.id])
            pipeline_repo.create_pipeline(s, TEAM, "Three steps", [a.id, a.id, a.id])

        for label, worker_class, ours_cmd in MODES:
            bare_ms = _bare(redis, env, worker_class, N)
            ours = _workers(ours_cmd, env, 1)
            time.sleep(6)
            one_ms = _latency(redis, ctx, "One step", N)
            three_ms = _latency(redis, ctx, "Three steps", N)
            _stop(ours)

            two = _workers(ours_cmd, env, 2)
            time.sleep(6)
            t0 = time.perf_counter()
            runs = [start_run(ctx, TEAM, "One step", f"bulk {i}") for i in range(200)]
            for r in runs:
                _wait(redis, job_id(r.id), timeout=300)
            elapsed = time.perf_counter() - t0
            _stop(two)

            b, o, t = statistics.median(bare_ms), statistics.median(one_ms), statistics.median(three_ms)
            lines += [
                f"-- {label}: enqueue → result/artifact ({N} runs each, 1 worker, {worker_class})",
                _stats("bare RQ no-op job", bare_ms),
                _stats("pipebot one-step run (fake model)", one_ms),
                _stats("pipebot three-step run", three_ms),
                f"one-step run = {o / b:.2f}× bare RQ at the median (+{o - b:.2f} ms); "
                f"each further step +{(t - o) / 2:.2f} ms",
                f"throughput: 200 one-step runs through 2 workers in {elapsed:.2f} s = {200 / elapsed:.1f} runs/s",
            ]
        with transaction(ctx.sessions) as s:
            assert len(artifact_repo.latest_artifacts(s, TEAM, limit=10_000)) == len(MODES) * (2 * (N + 5) + 200)
        ctx.close()
    here.send("stop")
    server.join(10)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
