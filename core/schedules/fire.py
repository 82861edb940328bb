"""Firing due schedules, from every worker's maintenance round (DESIGN §13).

Exactly once, however many workers: a round takes due rows ``FOR UPDATE SKIP LOCKED``, and in
that same transaction notes the fire it took (``pending_fire_at``) and moves ``next_fire_at``
past now; then it starts the run through the one way a run starts (core/runs/intake.submit)
with a dedupe key and a run id derived from the schedule and the fire time, and clears the
note. A worker that dies between the two leaves the note for the next round, whose submit
finds the run already recorded if it got that far: no fire is lost and none runs twice.

Fires missed while no worker ran are caught up by one run, for the latest of them, which
says how many it stands for. A schedule whose pipeline was deleted, or whose run is refused
(a limit, a broken pipeline), pauses itself and tells its creator.
"""

from __future__ import annotations

import logging
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

from core.context import AppContext
from core.errors import QueueUnavailable, RunRejected
from core.inputs.refs import ThreadRef
from core.reporter import SafeReporter
from core.runs.intake import submit
from core.runs.request import Origin, ReportTo, RunRequest
from core.schedules import cron, texts
from storage.db import transaction
from storage.models import Schedule
from storage.repos import schedules as repo

log = logging.getLogger(__name__)

#: Schedules one round takes at most (the rest wait for the next round, a few seconds on).
ROUND_LIMIT = 500
#: Runs one round starts at once: each is a few database round trips and an enqueue, so a
#: minute with a thousand due schedules is waiting on the network, not on the CPU.
STARTS_AT_ONCE = 8
#: Missed fire times counted at most (a minutely schedule stopped for a year says "10,000+").
MISSED_COUNT_MAX = 10_000
RUN_ID_NAMESPACE = uuid.UUID("6f0f5b52-6d2b-4c8e-9a55-3f1d8f0c2a11")


@dataclass(frozen=True)
class Fire:
    """One fire a round took: the schedule as it was, the fire time, the earlier times missed."""

    schedule_id: uuid.UUID
    team_id: str
    pipeline_id: int | None
    pipeline_name: str
    channel_id: str
    input: str
    created_by: str
    fire_at: datetime
    missed: int
    digest: bool = False
    since: datetime | None = None  # a digest reads the channel's messages after this

    @property
    def run_id(self) -> uuid.UUID:
        return uuid.uuid5(RUN_ID_NAMESPACE, f"{self.schedule_id}:{self.fire_at.isoformat()}")

    @property
    def dedupe_key(self) -> str:
        return f"schedule:{self.schedule_id}:{int(self.fire_at.timestamp())}"


def fire_due(
    ctx: AppContext, *, now: datetime | None = None, limit: int = ROUND_LIMIT, reporter: SafeReporter | None = None
) -> list[str]:
    """Start a run for every due schedule; the ids of the runs started (or found started)."""
    now = now or datetime.now(UTC)
    fires, gone = _take(ctx, now, limit)
    told = reporter or _installed(ctx)
    for team_id, user, text in gone:
        told.tell_user(team_id, user, text)
    with ThreadPoolExecutor(STARTS_AT_ONCE, thread_name_prefix="schedule-start") as pool:
        ids = list(pool.map(lambda fire: _start(ctx, fire, told), fires))
    return [run_id for run_id in ids if run_id is not None]


def fire_all_due(ctx: AppContext, *, now: datetime | None = None) -> int:
    """Rounds of :func:`fire_due` until one takes less than a full round (a minute with more
    due schedules than a round takes is still fired at once); how many runs were started."""
    started = 0
    while True:
        got = fire_due(ctx, now=now)
        started += len(got)
        if len(got) < ROUND_LIMIT:
            return started


def _take(ctx: AppContext, now: datetime, limit: int) -> tuple[list[Fire], list[tuple[str, str, str]]]:
    fires: list[Fire] = []
    gone: list[tuple[str, str, str]] = []
    with transaction(ctx.sessions) as s:
        for row in repo.take_due(s, now, limit):
            if row.pending_fire_at is not None:  # a fire an earlier round took but did not finish
                fires.append(_fire(row, row.pending_fire_at, row.pending_missed, row.last_fire_at))
                continue
            if row.pipeline_id is None:
                row.paused_at, row.paused_reason = now, texts.paused_pipeline_gone(row.pipeline_name)
                gone.append((row.team_id, row.created_by, row.paused_reason))
                continue
            latest, missed = _latest_due(row, now)
            since = row.last_fire_at or row.created_at
            row.pending_fire_at, row.pending_missed, row.last_fire_at = latest, missed, latest
            row.next_fire_at = cron.next_after(row.cron, row.timezone, now)
            fires.append(_fire(row, latest, missed, since))
    return fires, gone


def _latest_due(row: Schedule, now: datetime) -> tuple[datetime, int]:
    """The latest fire time not after ``now`` (from ``next_fire_at`` on) and how many earlier
    ones it stands for."""
    assert row.next_fire_at is not None
    latest, missed = row.next_fire_at, 0
    for t in cron.fire_times(row.cron, row.timezone, latest):
        if t > now or missed >= MISSED_COUNT_MAX:
            break
        latest, missed = t, missed + 1
    return latest, missed


def _fire(row: Schedule, fire_at: datetime, missed: int, since: datetime | None) -> Fire:
    return Fire(
        row.id,
        row.team_id,
        row.pipeline_id,
        row.pipeline_name,
        row.channel_id,
        row.input,
        row.created_by,
        fire_at,
        missed,
        row.digest,
        since,
    )


def _start(ctx: AppContext, fire: Fire, told: SafeReporter) -> str | None:
    origin = {
        "kind": Origin.SCHEDULE.value,
        "id": str(fire.schedule_id),
        "by": fire.created_by,
        "fire_at": fire.fire_at.isoformat(),
        "missed": fire.missed,
    }
    request = RunRequest(
        fire.team_id,
        Origin.SCHEDULE,
        pipeline_id=fire.pipeline_id,
        pipeline_name=fire.pipeline_name,
        input_text=fire.input,
        requested_by=fire.created_by,
        report_to=ReportTo(channel_id=fire.channel_id),
        dedupe_key=fire.dedupe_key,
        run_id=fire.run_id,
        origin_detail=origin,
        thread=_digest(fire),
    )
    run_id: str | None = None
    try:
        # preflight off: the pipeline's agents, keys and models are checked when the run starts
        # (and said in its thread); the workspace's limits are checked here all the same
        submission = submit(ctx, request, preflight=False)
        if submission.run is None:  # another round is starting it right now: leave the note to it
            return None
        run_id = str(submission.run.id)
    except QueueUnavailable as exc:  # recorded, queued in PostgreSQL: maintenance enqueues it
        run_id = str(exc.run.id)
    except RunRejected as exc:
        _pause(ctx, fire, str(exc))
        told.tell_user(fire.team_id, fire.created_by, texts.paused_failed_start(fire.pipeline_name, str(exc)))
    except Exception:  # noqa: BLE001 - the note stays: the next round tries this fire again
        log.exception("schedule %s could not start its run for %s", fire.schedule_id, fire.fire_at)
        return None
    with transaction(ctx.sessions) as s:
        repo.clear_pending(s, fire.schedule_id, fire.fire_at, uuid.UUID(run_id) if run_id else None)
    return run_id


def _digest(fire: Fire) -> ThreadRef | None:
    """A digest's context: the channel's messages since the schedule's previous run (its
    creation, for the first), read by the worker like a thread's (core/inputs)."""
    if not fire.digest or fire.since is None:
        return None
    ts = f"{fire.since.timestamp():.6f}"
    return ThreadRef(fire.channel_id, ts, since_ts=ts)


def _pause(ctx: AppContext, fire: Fire, why: str) -> None:
    with transaction(ctx.sessions) as s:
        row = repo.get(s, fire.team_id, fire.schedule_id)
        if row is not None:
            row.paused_at, row.paused_reason = datetime.now(UTC), texts.paused_failed_start(fire.pipeline_name, why)


def _installed(ctx: AppContext) -> SafeReporter:
    from core.runs.job import reporters_for  # the installed surfaces', as a worker's job has them

    return SafeReporter(*reporters_for(ctx))
