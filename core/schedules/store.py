"""Making, listing and changing schedules (DESIGN §13): every rule a surface needs, so Slack's
modal and list and the CLI say the same things. Each refusal is a ValidationFailed keyed by
the form's fields, or a ScheduleRefused with a sentence; nothing half-saved."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from core import audit as audit_names
from core.context import AppContext
from core.errors import ValidationFailed
from core.runs.request import INPUT_MAX
from core.schedules import cron, texts
from core.text import clean_text
from storage.db import transaction
from storage.models import Schedule
from storage.repos import audit
from storage.repos import pipelines as pipeline_repo
from storage.repos import schedules as repo
from storage.repos.workspaces import ensure_workspace

DEFAULT_MIN_MINUTES = 1
#: How many schedules one workspace may hold (each fires runs on its own).
MAX_SCHEDULES = 200


class ScheduleRefused(Exception):
    """A change that may not be made (not found, not yours); the message says why."""


@dataclass(frozen=True)
class ScheduleDraft:
    """The form's fields as typed."""

    pipeline_id: int | None
    cron: str
    timezone: str
    channel_id: str
    input: str = ""
    digest: bool = False


@dataclass(frozen=True)
class ScheduleView:
    id: str
    team_id: str
    pipeline_id: int | None
    pipeline_name: str
    cron: str
    timezone: str
    channel_id: str
    input: str
    digest: bool
    created_by: str
    paused: bool
    paused_reason: str | None
    next_fire_at: datetime | None
    last_fire_at: datetime | None


def view_of(row: Schedule) -> ScheduleView:
    return ScheduleView(
        str(row.id),
        row.team_id,
        row.pipeline_id,
        row.pipeline_name,
        row.cron,
        row.timezone,
        row.channel_id,
        row.input,
        row.digest,
        row.created_by,
        row.paused_at is not None,
        row.paused_reason,
        row.next_fire_at,
        row.last_fire_at,
    )


def preview(
    expr: str, tz: str, *, min_minutes: int = DEFAULT_MIN_MINUTES, now: datetime | None = None
) -> list[datetime]:
    """The next three fire times (UTC), or ValidationFailed keyed ``cron`` / ``timezone``."""
    now = now or datetime.now(UTC)
    tidy, _ = _checked(expr, tz)
    if (problem := cron.interval_problem(tidy, tz, min_minutes, now)) is not None:
        raise ValidationFailed({"cron": problem})
    return cron.next_times(tidy, tz, now, 3)


def create(
    ctx: AppContext, team_id: str, user_id: str, draft: ScheduleDraft, *, now: datetime | None = None
) -> tuple[ScheduleView, list[datetime]]:
    """Check and save; the schedule and its next three times."""
    now = now or datetime.now(UTC)
    errors: dict[str, str] = {}
    text = clean_text(draft.input or "").strip()
    if len(text) > INPUT_MAX:
        errors["input"] = texts.INPUT_TOO_LONG
    if not (draft.channel_id or "").strip():
        errors["channel"] = texts.CHANNEL_MISSING
    tidy = ""
    try:
        tidy, _ = _checked(draft.cron, draft.timezone)
    except ValidationFailed as exc:
        errors.update(exc.errors)
    with transaction(ctx.sessions) as s:
        ensure_workspace(s, team_id)
        pipeline = pipeline_repo.get_pipeline(s, team_id, draft.pipeline_id) if draft.pipeline_id else None
        if pipeline is None:
            errors["pipeline"] = texts.PIPELINE_MISSING
        minimum = repo.min_minutes(s, team_id) or DEFAULT_MIN_MINUTES
        if tidy and "cron" not in errors:
            if (problem := cron.interval_problem(tidy, draft.timezone, minimum, now)) is not None:
                errors["cron"] = problem
        if repo.count_of_team(s, team_id) >= MAX_SCHEDULES:
            errors["pipeline"] = (
                f"This workspace has {MAX_SCHEDULES} schedules, the most it may hold. Delete one first."
            )
        if errors:
            raise ValidationFailed(errors)
        assert pipeline is not None
        first = cron.next_after(tidy, draft.timezone, now)
        row = repo.add(
            s,
            team_id,
            pipeline_id=pipeline.id,
            pipeline_name=pipeline.name,
            cron=tidy,
            timezone=draft.timezone.strip(),
            channel_id=draft.channel_id.strip(),
            input=text,
            digest=draft.digest,
            created_by=user_id,
            next_fire_at=first,
        )
        audit.record(s, team_id, user_id, audit_names.AuditAction.SCHEDULE_CREATED, pipeline.name, {"cron": tidy})
        return view_of(row), cron.next_times(tidy, draft.timezone, now, 3)


def list_schedules(ctx: AppContext, team_id: str) -> list[ScheduleView]:
    with transaction(ctx.sessions) as s:
        return [view_of(r) for r in repo.of_team(s, team_id)]


def pause(ctx: AppContext, team_id: str, schedule_id: str, user_id: str, *, is_admin: bool = False) -> ScheduleView:
    with transaction(ctx.sessions) as s:
        row = _mine(s, team_id, schedule_id, user_id, is_admin)
        if row.paused_at is None:
            row.paused_at, row.paused_reason = datetime.now(UTC), None
        return view_of(row)


def resume(
    ctx: AppContext,
    team_id: str,
    schedule_id: str,
    user_id: str,
    *,
    is_admin: bool = False,
    now: datetime | None = None,
) -> ScheduleView:
    """Unpaused from now on: the times that passed while it was paused are not caught up
    (pausing says "not now"; a caught-up run would do what the person paused)."""
    now = now or datetime.now(UTC)
    with transaction(ctx.sessions) as s:
        row = _mine(s, team_id, schedule_id, user_id, is_admin)
        if row.pipeline_id is None:
            raise ScheduleRefused(texts.paused_pipeline_gone(row.pipeline_name))
        row.paused_at, row.paused_reason = None, None
        row.next_fire_at = cron.next_after(row.cron, row.timezone, now)
        return view_of(row)


def pause_itself(ctx: AppContext, team_id: str, schedule_id: str, reason: str) -> bool:
    """A schedule that cannot do its job (its channel took no message) stops, saying why;
    False when it is gone or paused already."""
    try:
        sid = uuid.UUID(str(schedule_id))
    except ValueError:
        return False
    with transaction(ctx.sessions) as s:
        row = repo.get(s, team_id, sid)
        if row is None or row.paused_at is not None:
            return False
        row.paused_at, row.paused_reason = datetime.now(UTC), reason
        return True


def delete(ctx: AppContext, team_id: str, schedule_id: str, user_id: str, *, is_admin: bool = False) -> ScheduleView:
    with transaction(ctx.sessions) as s:
        row = _mine(s, team_id, schedule_id, user_id, is_admin)
        view = view_of(row)
        s.delete(row)
        audit.record(
            s, team_id, user_id, audit_names.AuditAction.SCHEDULE_DELETED, row.pipeline_name, {"cron": row.cron}
        )
        return view


def set_min_minutes(ctx: AppContext, team_id: str, minutes: int | None) -> None:
    with transaction(ctx.sessions) as s:
        ensure_workspace(s, team_id)
        repo.set_min_minutes(s, team_id, minutes)


def min_minutes(ctx: AppContext, team_id: str) -> int:
    """The workspace's shortest interval between a schedule's runs (the admin's setting)."""
    with transaction(ctx.sessions) as s:
        return repo.min_minutes(s, team_id) or DEFAULT_MIN_MINUTES


def _checked(expr: str, tz: str) -> tuple[str, object]:
    try:
        cron.zone(tz)
    except cron.CronProblem as exc:
        raise ValidationFailed({"timezone": str(exc)}) from None
    try:
        return cron.check(expr, tz)
    except cron.CronProblem as exc:
        raise ValidationFailed({"cron": str(exc)}) from None


def _mine(s: object, team_id: str, schedule_id: str, user_id: str, is_admin: bool) -> Schedule:
    try:
        sid = uuid.UUID(str(schedule_id))
    except ValueError:
        raise ScheduleRefused(texts.NOT_FOUND) from None
    row = repo.get(s, team_id, sid)  # type: ignore[arg-type]
    if row is None:
        raise ScheduleRefused(texts.NOT_FOUND)
    if row.created_by != user_id and not is_admin:
        raise ScheduleRefused(texts.NOT_YOURS)
    return row
