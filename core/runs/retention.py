"""Retention (DESIGN §10 "Taking back"): with ``PIPEBOT_RETENTION_DAYS`` set, finished runs and
their artifacts older than that are purged by the workers' maintenance.

Purged means gone: the rows are deleted, not tombstoned (a tombstone is for a result someone
chose to delete; retention is the deployment's policy). A run still queued, running or
waiting is never touched, however old. An artifact's versions, feedback and edit-link uses go
with it; a branch of a purged artifact keeps working (its parent link is set NULL).

Why batches: one ``DELETE`` of a year of runs would hold its locks, and the WAL, for as long
as it takes. Each statement deletes at most :data:`PURGE_BATCH` rows in its own transaction,
skipping rows someone else holds, and one pass stops after :data:`PURGE_BATCHES_PER_PASS`
rounds so the maintenance loop goes back to rescuing runs; the next pass continues. Passes
are spaced by :data:`PURGE_EVERY_S` across all workers (a Redis key), since a few seconds'
delay in purging month-old rows matters to no one.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from core.context import AppContext
from storage.db import transaction
from storage.repos.takeback import PurgeCounts, purge_batch

log = logging.getLogger(__name__)

#: Rows one statement deletes at most.
PURGE_BATCH = 500
#: Statements of each kind one pass runs at most (then the loop goes back to its other work).
PURGE_BATCHES_PER_PASS = 20
#: How often any worker purges (one pass per interval across all workers).
PURGE_EVERY_S = 300

_GATE = "pipebot:retention:last_pass"


def purge_expired(ctx: AppContext, *, now: datetime | None = None, batch: int = PURGE_BATCH) -> PurgeCounts:
    """One pass: delete finished runs and artifacts older than the retention, a batch at a
    time; the counts deleted. Nothing when ``PIPEBOT_RETENTION_DAYS`` is unset."""
    days = ctx.settings.PIPEBOT_RETENTION_DAYS
    if days is None:
        return PurgeCounts()
    cut = (now or datetime.now(UTC)) - timedelta(days=days)
    total = PurgeCounts()
    for _ in range(PURGE_BATCHES_PER_PASS):
        with transaction(ctx.sessions) as s:
            done = purge_batch(s, cut, batch)
        total = total + done
        if done.artifacts < batch and done.runs < batch:
            break
    if total.any:
        log.info("retention: purged %d artifacts and %d runs older than %d days", total.artifacts, total.runs, days)
    return total


def purge_when_due(ctx: AppContext, *, now: datetime | None = None) -> PurgeCounts:
    """The maintenance loop's call: a pass when retention is on and no worker ran one in the
    last :data:`PURGE_EVERY_S` (Redis unreachable: this worker purges anyway, bounded)."""
    if ctx.settings.PIPEBOT_RETENTION_DAYS is None:
        return PurgeCounts()
    try:
        if not ctx.redis.set(_GATE, "1", nx=True, ex=PURGE_EVERY_S):
            return PurgeCounts()
    except Exception:  # noqa: BLE001 - the purge is bounded; running it twice is harmless
        log.debug("retention gate unreadable", exc_info=True)
    return purge_expired(ctx, now=now)
