"""Keeping runs honest: one round of maintenance that every worker runs now and then
(bot/worker/main.py ``maintain``), so no run stays queued or running forever (DESIGN §8).

PostgreSQL is the source of truth, Redis the dispatch. Two kinds of run need rescue:

* a **queued** run whose RQ job is gone (Redis restarted without persistence, was
  flushed, evicted the key, or was unreachable when the run started) is enqueued again;
* a **running** run whose heartbeat stopped (its worker died) is taken over: queued
  again for a fresh attempt, or failed once its attempts are spent or its cancel was
  asked for.

A **waiting** run (paused for an approval, DESIGN §12) needs neither rescue: it has no
job and no heartbeat on purpose, and both rules above look only at queued and running
runs. Each round ends the waiting runs whose approval is past due instead
(core/runs/approvals.expire_due: failed, "not approved in time"; exactly once across
workers).

Each round also purges, when due, the finished runs retention expired (core/runs/retention.py).

"Its job is gone" has one rule, :func:`job_gone`: none of the run's job ids (one per
attempt) is waiting or running in RQ. Neither rescue runs a finished step twice: the
executor resumes after the last finished step. Both are safe from many workers at once:
the job id derives from the run id and the attempt (enqueueing twice runs once), each
take-over is a conditional update under a row lock, and the executor's claim lets one
execution win.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from core import messages
from core.context import AppContext
from core.runs.approvals import expire_due
from core.runs.cancel_watch import KIND as CANCELLED
from core.runs.cancel_watch import cancelled_message
from core.runs.outcome import write_outcome
from core.runs.queue import MAX_ATTEMPTS, enqueue, job_id
from core.runs.retention import purge_when_due
from core.timings import QUEUED_GRACE_S
from storage.db import transaction
from storage.repos import approvals as approval_repo
from storage.repos import runs as run_repo
from storage.repos.run_queue import queued_runs
from storage.states import FailureKind, RunStatus

log = logging.getLogger(__name__)

_PENDING = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED}


def maintain_runs(ctx: AppContext, *, now: datetime | None = None) -> list[str]:
    """One round: take over runs whose worker died, then enqueue queued runs whose job is
    gone, then end waiting runs whose approval is past due, then (when due) purge what
    retention expired; returns the ids of the runs it rescued or ended. Due schedules have
    a loop of their own (bot/worker/main.start_schedules), on a shorter period."""
    now = now or datetime.now(UTC)
    touched = take_over_dead_runs(ctx, now=now) + requeue_lost_runs(ctx, now=now)
    try:
        touched += expire_due(ctx, now=now)
    except Exception:  # noqa: BLE001 - the next round tries again; rescues matter as much
        log.exception("approval timeouts failed")
    try:
        purge_when_due(ctx)
    except Exception:  # noqa: BLE001 - rescuing runs matters more; the next round purges
        log.exception("retention purge failed")
    return touched


def job_gone(ctx: AppContext, run_id: uuid.UUID | str, attempts: int) -> bool:
    """True when none of the run's jobs (one per attempt so far) waits or runs in RQ."""
    return not any(_job_status(ctx, job_id(run_id, a)) in _PENDING for a in range(attempts + 1))


def _job_status(ctx: AppContext, jid: str) -> JobStatus | None:
    try:
        return Job.fetch(jid, connection=ctx.redis).get_status(refresh=False)
    except NoSuchJobError:
        return None


def requeue_lost_runs(ctx: AppContext, *, now: datetime | None = None) -> list[str]:
    """Enqueue every queued run whose job is gone (a run just created gets QUEUED_GRACE_S:
    start_run enqueues it right after its commit); returns their ids."""
    now = now or datetime.now(UTC)
    with transaction(ctx.sessions) as s:
        waiting = queued_runs(s, now - timedelta(seconds=QUEUED_GRACE_S))
    requeued: list[str] = []
    for team_id, run_id, attempts in waiting:
        if not job_gone(ctx, run_id, attempts):
            continue
        jid = job_id(run_id, attempts)
        if _job_status(ctx, jid) is not None:  # ended without the run leaving "queued": make room for a fresh job
            Job.fetch(jid, connection=ctx.redis).delete()
        log.warning("run %s is queued but its job is gone; enqueued again", run_id)
        enqueue(ctx, team_id, run_id, attempt=attempts)
        requeued.append(str(run_id))
    return requeued


def take_over_dead_runs(ctx: AppContext, *, now: datetime | None = None) -> list[str]:
    """Requeue running runs whose worker stopped heartbeating; fail them once attempts are
    spent (or their cancel was asked for). Each decision is made under the run's row lock."""
    now = now or datetime.now(UTC)
    stale_before = now - timedelta(seconds=ctx.settings.PIPEBOT_STALE_AFTER_SECONDS)
    with transaction(ctx.sessions) as s:
        stale = run_repo.stale_running_runs(s, stale_before)
    touched: list[str] = []
    for team_id, run_id in stale:
        with transaction(ctx.sessions) as s:
            run = run_repo.get_run(s, team_id, run_id, lock=True)
            if run is None or run.status != RunStatus.RUNNING or (run.heartbeat_at or run.created_at) >= stale_before:
                continue  # finished, or taken over by another worker, since the read
            requeue: int | None = None
            if run.cancel_requested_by is not None:  # its worker died after the cancel: it ends now
                run_repo.mark_given_up(run, CANCELLED, cancelled_message(run.cancel_requested_by))
            elif run.attempts - approval_repo.approved_count(s, run_id) >= MAX_ATTEMPTS:  # approvals resume freely
                run_repo.mark_given_up(run, FailureKind.WORKER_LOST, messages.worker_lost(run.attempts))
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
