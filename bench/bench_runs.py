"""Runs through the queue: enqueue-to-artifact latency of a one-step run against a
zero-latency fake model, next to bare RQ running a no-op job on the same Redis with the
same worker class, then the throughput of 200 runs through 2 workers.

    .venv/bin/python bench/bench_runs.py [N]
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
from rq import Queue  # noqa: E402
from rq.job import Job  # noqa: E402

from bench._common import pct, scratch_database  # noqa: E402
from core.context import AppContext  # noqa: E402
from core.runs import job_id, start_run  # noqa: E402
from core.settings import load_settings  # noqa: E402
from storage import repos  # noqa: E402
from storage.db import transaction  # noqa: E402
from storage.secrets import new_key  # noqa: E402
from tests.fakes.fake_anthropic import FakeAnthropic  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 100
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
TEAM = "TBENCH"


def _workers(cmd: list[str], env: dict[str, str], n: int) -> list[subprocess.Popen[bytes]]:
    return [subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True) for _ in range(n)]


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        os.killpg(p.pid, 15)
    for p in procs:
        p.wait(30)


def _wait(redis: Redis, jid: str, timeout: int = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            job = Job.fetch(jid, connection=redis)
            break
        except Exception:  # noqa: BLE001 - not visible yet
            if time.monotonic() > deadline:
                raise
    res = job.latest_result(timeout=timeout)
    assert res is not None and res.type == res.Type.SUCCESSFUL, res


def _stats(name: str, xs: list[float]) -> str:
    return f"{name:<34} p50 {statistics.median(xs):7.2f} ms   p99 {pct(xs, 99):7.2f} ms   mean {statistics.mean(xs):7.2f} ms"


def main() -> None:
    redis = Redis.from_url(REDIS)
    redis.flushdb()
    fake = FakeAnthropic().start()
    key = new_key()
    with scratch_database() as (db_url, _engine):
        env = dict(os.environ, DATABASE_URL=db_url, REDIS_URL=REDIS, PIPEBOT_SECRET_KEY=key,
                   ANTHROPIC_BASE_URL=fake.url, PYTHONPATH=str(ROOT))
        settings = load_settings(_env_file=None, DATABASE_URL=db_url, REDIS_URL=REDIS, PIPEBOT_SECRET_KEY=key)
        ctx = AppContext.create(settings, db_url, REDIS, settings.secret_keys)
        with transaction(ctx.sessions) as s:
            repos.set_credential(s, TEAM, "anthropic", "sk-bench-key-0001", ctx.box)
            a = repos.create_agent(s, TEAM, name="A", model="anthropic:claude-haiku-4-5", system_prompt="Be brief.")
            repos.create_pipeline(s, TEAM, "One step", [a.id])

        # --- baseline: bare RQ, no-op job, same Redis, same (forking) Worker class
        bare = _workers([sys.executable, "-m", "rq.cli", "worker", "bench-bare", "--url", REDIS, "-w", "rq.Worker"], env, 1)
        q = Queue("bench-bare", connection=redis)
        time.sleep(2)
        bare_ms = []
        for i in range(N + 5):
            t0 = time.perf_counter()
            job = q.enqueue("bench.noop.noop")
            job.latest_result(timeout=30)
            if i >= 5:
                bare_ms.append((time.perf_counter() - t0) * 1000)
        _stop(bare)

        # --- ours: one-step run, enqueue to artifact written and job finished
        ours = _workers([sys.executable, "-m", "bot.cli", "worker"], env, 1)
        time.sleep(6)
        ours_ms = []
        for i in range(N + 5):
            t0 = time.perf_counter()
            run = start_run(ctx, TEAM, "One step", f"input {i}")
            _wait(redis, job_id(run.id))
            if i >= 5:
                ours_ms.append((time.perf_counter() - t0) * 1000)
        _stop(ours)
        with transaction(ctx.sessions) as s:
            assert len(repos.latest_artifacts(s, TEAM, limit=1000)) == N + 5

        # --- throughput: 200 runs through 2 workers
        two = _workers([sys.executable, "-m", "bot.cli", "worker"], env, 2)
        time.sleep(6)
        t0 = time.perf_counter()
        runs = [start_run(ctx, TEAM, "One step", f"bulk {i}") for i in range(200)]
        for r in runs:
            _wait(redis, job_id(r.id), timeout=300)
        elapsed = time.perf_counter() - t0
        _stop(two)
        ctx.close()
    fake.stop()

    print(f"one-step run, enqueue → artifact ({N} runs, 1 worker, rq.Worker forking per job)")
    print(_stats("bare RQ no-op job", bare_ms))
    print(_stats("pipebot one-step run (fake model)", ours_ms))
    print(f"overhead: {statistics.median(ours_ms) / statistics.median(bare_ms):.2f}× bare RQ at the median, "
          f"+{statistics.median(ours_ms) - statistics.median(bare_ms):.2f} ms per one-step run")
    print(f"throughput: 200 runs through 2 workers in {elapsed:.2f} s = {200 / elapsed:.1f} runs/s")


if __name__ == "__main__":
    main()
