"""core.runs.maintenance on real PostgreSQL and Redis, no worker: one rule for "its job is
gone" decides which queued runs are enqueued again; a run whose worker died is taken over
with a fresh attempt's job; nothing else is touched."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rq.job import Job
from sqlalchemy import func, text

from core.runs.intake import start_run
from core.runs.maintenance import job_gone, maintain_runs
from core.runs.queue import job_id, run_queue
from storage.db import transaction
from storage.repos import runs as run_repo
from storage.states import RunStatus
from tests.support.runs import make_agent, make_pipeline, read_run


def _pipeline(ctx) -> None:
    make_pipeline(ctx, "T1", "P", [make_agent(ctx, "T1", "One")])


def _later(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


def test_a_queued_run_is_enqueued_again_only_when_its_job_is_gone(ctx):
    _pipeline(ctx)
    run = start_run(ctx, "T1", "P", "x")
    assert not job_gone(ctx, run.id, 0)
    assert maintain_runs(ctx, now=_later(60)) == []  # its job waits in RQ: left alone
    Job.fetch(job_id(run.id), connection=ctx.redis).delete()  # Redis lost it
    assert job_gone(ctx, run.id, 0)
    assert maintain_runs(ctx) == []  # just created: start_run's own enqueue gets its grace
    assert maintain_runs(ctx, now=_later(60)) == [str(run.id)]
    assert run_queue(ctx).fetch_job(job_id(run.id)) is not None and not job_gone(ctx, run.id, 0)
    assert maintain_runs(ctx, now=_later(60)) == []  # enqueued once, not at every round


def test_a_queued_run_whose_job_ended_gets_a_fresh_job(ctx):
    _pipeline(ctx)
    run = start_run(ctx, "T1", "P", "x")
    job = Job.fetch(job_id(run.id), connection=ctx.redis)
    run_queue(ctx).remove(job)
    job.set_status("failed")  # ended without the run leaving "queued"
    assert job_gone(ctx, run.id, 0)
    assert maintain_runs(ctx, now=_later(60)) == [str(run.id)]
    assert Job.fetch(job_id(run.id), connection=ctx.redis).get_status() == "queued"


def test_a_run_whose_worker_died_is_taken_over_with_the_next_attempts_job(ctx):
    _pipeline(ctx)
    live = start_run(ctx, "T1", "P", "live")
    dead = start_run(ctx, "T1", "P", "dead")
    with transaction(ctx.sessions) as s:
        for run, age in ((live, "1 second"), (dead, "10 minutes")):
            r = run_repo.get_run(s, "T1", run.id)
            r.status, r.attempts = RunStatus.RUNNING, 1
            r.heartbeat_at = func.now() - text(f"interval '{age}'")
    assert maintain_runs(ctx) == [str(dead.id)]
    assert read_run(ctx, "T1", live.id).status == RunStatus.RUNNING
    taken = read_run(ctx, "T1", dead.id)
    assert taken.status == RunStatus.QUEUED and taken.attempts == 1
    assert run_queue(ctx).fetch_job(job_id(dead.id, 1)) is not None  # a fresh job id for the new attempt
    assert not job_gone(ctx, dead.id, taken.attempts)  # so no round enqueues it twice
    assert maintain_runs(ctx) == []
