"""Starting runs: create (queued) and enqueue one RQ job. Rescuing runs whose job or worker
was lost is core/runs/maintenance.py."""

from __future__ import annotations

import logging
import uuid

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import Queue

from core.context import AppContext
from core.errors import QueueUnavailable
from core.settings import Settings
from core.timings import JOB_FAILURE_TTL_S, JOB_RESULT_TTL_S, JOB_TIMEOUT_MARGIN_S
from storage.models import Run

log = logging.getLogger(__name__)

# The job by its import path, as RQ stores it: core.runs.job imports the executor, which
# imports this module (branches enqueue too), so importing the function here would be a cycle.
JOB_FUNC = "core.runs.job.execute_run_job"

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
        result_ttl=JOB_RESULT_TTL_S,
        failure_ttl=JOB_FAILURE_TTL_S,
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
