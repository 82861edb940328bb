"""Issue 19's schedule figure: 1,000 schedules due in the same minute across 50 workspaces,
fired by 2 real `pipebot worker` processes.

Every schedule (20 in each of 50 workspaces, one pipeline each) is made due at the same fire
time T a few seconds ahead, with both workers already running; the workers' schedule loops
(core/schedules/fire.py, every PIPEBOT_SCHEDULE_SECONDS) take them. Printed: the time from T
to each run's record (``runs.created_at``: the run is enqueued right after its commit), p50,
p99 and the last (target: the last ≤ 10 s), the runs per schedule (target: exactly 1, no
duplicates), and beside it a baseline: the same 1,000 runs started by one process calling
``intake.submit`` back to back (the plain way in, without schedules). The fake Anthropic API
answers the runs (their execution is not measured here).

    .venv/bin/python bench/bench_schedules.py      # BENCH_SCHEDULES_TEAMS=50 BENCH_SCHEDULES_EACH=20
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from redis import Redis  # noqa: E402
from rq import Queue, Worker  # noqa: E402
from sqlalchemy import func, select, update  # noqa: E402

from bench._common import pct, scratch_database  # noqa: E402
from core.agents import AgentDraft  # noqa: E402
from core.agents import create as create_agent  # noqa: E402
from core.context import AppContext  # noqa: E402
from core.pipelines import PipelineDraft  # noqa: E402
from core.pipelines import create as create_pipeline  # noqa: E402
from core.runs.intake import submit  # noqa: E402
from core.runs.request import Origin, ReportTo, RunRequest  # noqa: E402
from core.schedules import store  # noqa: E402
from core.schedules.store import ScheduleDraft  # noqa: E402
from core.settings import load_settings  # noqa: E402
from storage.db import transaction  # noqa: E402
from storage.models import Run, Schedule  # noqa: E402
from storage.repos import credentials as credential_repo  # noqa: E402
from storage.repos.workspaces import ensure_workspace  # noqa: E402
from storage.secrets import new_key  # noqa: E402
from tests.fakes.fake_anthropic import FakeAnthropic  # noqa: E402

TEAMS = int(os.environ.get("BENCH_SCHEDULES_TEAMS", "50"))
EACH = int(os.environ.get("BENCH_SCHEDULES_EACH", "20"))
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
QUEUE = "bench-schedules"
LEAD_S = 8.0  # T is this far ahead when the schedules are made due


@contextmanager
def workers(env: dict[str, str], redis: Redis, n: int) -> Iterator[None]:
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "bot.cli.main", "worker"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for _ in range(n)
    ]
    try:
        deadline = time.monotonic() + 60
        while Worker.count(queue=Queue(QUEUE, connection=redis)) < n:
            if time.monotonic() > deadline:
                raise RuntimeError("the workers did not start")
            time.sleep(0.1)
        yield
    finally:
        for p in procs:
            os.killpg(p.pid, 15)
        for p in procs:
            p.wait(60)


def _setup(ctx: AppContext) -> dict[str, int]:
    pipelines: dict[str, int] = {}
    for t in range(TEAMS):
        team = f"TB{t:04d}"
        with transaction(ctx.sessions) as s:
            ensure_workspace(s, team)
            credential_repo.set_credential(s, team, "anthropic", "sk-bench-key-0001", ctx.box)
            agent = create_agent(s, team, AgentDraft("Digester", "Summarise.", "anthropic:claude-haiku-4-5"), "U1")
            pipelines[team] = create_pipeline(s, team, PipelineDraft("Digest", [agent.id]), "U1").id
        for i in range(EACH):
            store.create(ctx, team, "U1", ScheduleDraft(pipelines[team], "0 9 * * *", "UTC", "C1", f"digest {i}"))
    return pipelines


def _created_after(ctx: AppContext, t0: datetime) -> list[float]:
    with transaction(ctx.sessions) as s:
        rows = s.scalars(select(Run.created_at).where(Run.created_at >= t0 - timedelta(seconds=30))).all()
    return sorted((c - t0).total_seconds() * 1000 for c in rows)


def main() -> None:
    redis = Redis.from_url(REDIS)
    redis.flushdb()
    key = new_key()
    total = TEAMS * EACH
    with FakeAnthropic() as model, scratch_database() as (db_url, _engine):
        env = dict(
            os.environ,
            DATABASE_URL=db_url,
            REDIS_URL=REDIS,
            PIPEBOT_SECRET_KEY=key,
            PIPEBOT_QUEUE=QUEUE,
            ANTHROPIC_BASE_URL=model.url,
            PYTHONPATH=str(ROOT),
        )
        settings = load_settings(_env_file=None, DATABASE_URL=db_url, REDIS_URL=REDIS, PIPEBOT_SECRET_KEY=key)
        ctx = AppContext.create(settings, db_url, REDIS, settings.secret_keys)
        try:
            t_setup = time.monotonic()
            pipelines = _setup(ctx)
            setup_s = time.monotonic() - t_setup
            with workers(env, redis, 2):
                fire_at = (datetime.now(UTC) + timedelta(seconds=LEAD_S)).replace(microsecond=0)
                with transaction(ctx.sessions) as s:
                    s.execute(update(Schedule).values(next_fire_at=fire_at))
                deadline = time.monotonic() + LEAD_S + 120
                while time.monotonic() < deadline:
                    with transaction(ctx.sessions) as s:
                        n = s.scalar(select(func.count()).select_from(Run))
                    if n >= total:
                        break
                    time.sleep(0.25)
                time.sleep(2)  # anything doubled would show by now
                fired = _created_after(ctx, fire_at)
                with transaction(ctx.sessions) as s:
                    runs = s.scalar(select(func.count()).select_from(Run))
                    distinct = s.scalar(select(func.count(func.distinct(Run.origin["id"].astext))).select_from(Run))
            # baseline: the same number of runs by one process through the one way in
            t1 = datetime.now(UTC)
            started = time.monotonic()
            for team, pid in pipelines.items():
                for i in range(EACH):
                    req = RunRequest(
                        team, Origin.CLI, pipeline_id=pid, input_text=f"by hand {i}", report_to=ReportTo("C1")
                    )
                    submit(ctx, req, preflight=True)
            plain_s = time.monotonic() - started
            plain = _created_after(ctx, t1)[-total:]
        finally:
            ctx.close()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the end; setup {setup_s:.1f} s")
    print(f"-- {total:,} schedules due at the same time in {TEAMS} workspaces, 2 pipebot workers")
    if fired:
        print(
            f"  fire time -> run recorded   n={len(fired):5d}  first {fired[0]:8.0f} ms  p50 {pct(fired, 50):8.0f} ms"
            f"  p99 {pct(fired, 99):8.0f} ms  last {fired[-1]:8.0f} ms"
        )
    print(f"  baseline: one process submitting {total:,} runs back to back: {plain_s * 1000:8.0f} ms in all")
    if plain:
        print(f"            (run recorded after the first: last {plain[-1]:8.0f} ms)")
    dup = runs - distinct
    print(
        f"  runs {runs:,} for {distinct:,} schedules: duplicates {dup} (target 0: {'met' if dup == 0 else 'NOT met'})"
    )
    last = fired[-1] / 1000 if fired else float("inf")
    met = "met" if last <= 10 and len(fired) == total else "NOT met"
    print(f"  target: the last run recorded <= 10 s after its fire time: {last:.1f} s ({met})")


if __name__ == "__main__":
    main()
