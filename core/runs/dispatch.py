"""PostgreSQL is the source of truth, Redis the dispatch: a run that is queued in the
database but has no live RQ job (Redis restarted without persistence, was flushed, evicted
the key, or was unreachable when the run started) is enqueued again.

Enqueueing twice is harmless: the job id derives from the run id and the attempt, and the
executor's claim lets one execution win. So this may run in every worker at once.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from core.context import AppContext
from core.runs.queue import enqueue, job_id
from storage.db import transaction
from storage.repos.run_queue import queued_runs

log = logging.getLogger(__name__)

# A run just created is enqueued by start_run right after its commit: leave it that long.
GRACE_S = 5.0
_PENDING = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED}


def _job_status(ctx: AppContext, jid: str) -> JobStatus | None:
    try:
        return Job.fetch(jid, connection=ctx.redis).get_status(refresh=False)
    except NoSuchJobError:
        return None


def requeue_lost_runs(ctx: AppContext, *, now: datetime | None = None) -> list[str]:
    """Enqueue every queued run whose RQ job is gone or ended; returns their ids."""
    now = now or datetime.now(UTC)
    with transaction(ctx.sessions) as s:
        waiting = queued_runs(s, now - timedelta(seconds=GRACE_S))
    requeued: list[str] = []
    for team_id, run_id, attempts in waiting:
        ids = [job_id(run_id, a) for a in range(attempts + 1)]
        statuses = [_job_status(ctx, jid) for jid in ids]
        if any(st in _PENDING for st in statuses):
            continue
        jid = ids[-1]
        if statuses[-1] is not None:  # ended without the run leaving "queued": make room for a fresh job
            Job.fetch(jid, connection=ctx.redis).delete()
        log.warning("run %s is queued but its job is gone; enqueued again", run_id)
        enqueue(ctx, team_id, run_id, attempt=attempts)
        requeued.append(str(run_id))
    return requeued
