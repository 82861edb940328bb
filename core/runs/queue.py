"""Starting runs and keeping them honest: create (queued), enqueue one RQ job, and reap runs
whose worker died so none stays "running" forever."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import Queue

from core import messages
from core.context import AppContext
from core.errors import QueueUnavailable
from core.runs.cancel_watch import KIND as CANCELLED
from core.runs.cancel_watch import cancelled_message
from core.runs.outcome import write_outcome
from core.settings import Settings
from storage.db import transaction
from storage.models import Run
from storage.repos import runs as run_repo

log = logging.getLogger(__name__)

# The job by its import path, as RQ stores it: core.runs.job imports the executor, which
# imports this module (branches enqueue too), so importing the function here would be a cycle.
JOB_FUNC = "core.runs.job.execute_run_job"

JOB_TIMEOUT_MARGIN_S = 120  # the RQ job outlives the run's own time limit by this much
QUEUED_STALE_AFTER_S = 600  # a queued run no worker picked up (e.g. Redis lost the job)
MAX_ATTEMPTS = 3


def job_id(run_id: uuid.UUID | str, attempt: int = 0) -> str:
    return f"run-{run_id}" if attempt == 0 else f"run-{run_id}-retry{attempt}"


def run_queue(ctx: AppContext) -> Queue:
    """The deployment's one RQ queue."""
    return Queue(ctx.settings.PIPEBOT_QUEUE, connection=ctx.redis)


def job_timeout_s(settings: Settings) -> int:
    return settings.run_time_limit_s + JOB_TIMEOUT_MARGIN_S


def enqueue(ctx: AppContext, team_id: str, run_id: uuid.UUID | str, attempt: int = 0) -> None:
    """The job id derives from the run id, so enqueueing twice runs once."""
    q = run_queue(ctx)
    jid = job_id(run_id, attempt)
    if q.fetch_job(jid) is not None:
        return
    q.enqueue(
        JOB_FUNC,
        team_id,
        str(run_id),
        job_id=jid,
        job_timeout=job_timeout_s(ctx.settings),
        result_ttl=3600,
        failure_ttl=7 * 86400,
        description=f"pipebot run {run_id}",
    )


def enqueue_new_run(ctx: AppContext, team_id: str, run: Run) -> Run:
    """Enqueue a run just committed; a Redis outage leaves it queued in PostgreSQL (the workers'
    maintenance enqueues it once Redis is back) and raises QueueUnavailable carrying it."""
    try:
        enqueue(ctx, team_id, run.id)
    except (RedisConnectionError, RedisTimeoutError) as exc:
        log.warning("run %s kept queued: Redis is unreachable (%s)", run.id, type(exc).__name__)
        raise QueueUnavailable(run) from None
    return run


def reap_stale_runs(ctx: AppContext, *, now: datetime | None = None) -> list[str]:
    """Requeue runs whose worker stopped heartbeating; fail them once attempts are spent.

    Safe to run from many processes at once: each decision is a conditional UPDATE.
    """
    now = now or datetime.now(UTC)
    stale_after = timedelta(seconds=ctx.settings.PIPEBOT_STALE_AFTER_SECONDS)
    touched: list[str] = []
    with transaction(ctx.sessions) as s:
        stale = run_repo.stale_running_runs(s, now - stale_after)
    for team_id, run_id in stale:
        with transaction(ctx.sessions) as s:
            run = run_repo.get_run(s, team_id, run_id, lock=True)
            if run is None:
                continue
            beat = run.heartbeat_at or run.created_at
            if run.status == "queued":
                if beat >= now - timedelta(seconds=QUEUED_STALE_AFTER_S) or _job_pending(ctx, run):
                    continue
            elif run.status != "running" or beat >= now - stale_after:
                continue
            if run.cancel_requested_by is not None:  # its worker died after the cancel: it ends now
                run_repo.mark_given_up(run, CANCELLED, cancelled_message(run.cancel_requested_by))
                requeue = None
            elif run.attempts >= MAX_ATTEMPTS:
                run_repo.mark_given_up(run, "worker_lost", messages.worker_lost(run.attempts))
                requeue = None
            else:
                run_repo.mark_requeued(run)
                requeue = run.attempts
            touched.append(str(run_id))
        if requeue is not None:
            log.warning("run %s lost its worker; requeued (attempt %d)", run_id, requeue + 1)
            enqueue(ctx, team_id, run_id, attempt=requeue)
        else:
            log.warning("run %s lost its worker too often; marked failed", run_id)
            write_outcome(ctx, team_id, run_id)
    return touched


def _job_pending(ctx: AppContext, run: Run) -> bool:
    q = run_queue(ctx)
    return any(q.fetch_job(job_id(run.id, a)) is not None for a in range(run.attempts + 1))
