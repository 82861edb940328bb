"""SQL for schedules (DESIGN §13). The due query locks with SKIP LOCKED, so workers racing
for the same minute each take different rows and none takes a row twice."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from storage.models import Schedule, Workspace


def add(s: Session, team_id: str, **fields: Any) -> Schedule:
    row = Schedule(team_id=team_id, **fields)
    s.add(row)
    s.flush()
    s.refresh(row)
    return row


def get(s: Session, team_id: str, schedule_id: uuid.UUID) -> Schedule | None:
    return s.scalars(select(Schedule).where(Schedule.team_id == team_id, Schedule.id == schedule_id)).first()


def of_team(s: Session, team_id: str, limit: int = 100) -> Sequence[Schedule]:
    return s.scalars(
        select(Schedule).where(Schedule.team_id == team_id).order_by(Schedule.created_at).limit(limit)
    ).all()


def count_of_team(s: Session, team_id: str) -> int:
    return len(s.scalars(select(Schedule.id).where(Schedule.team_id == team_id)).all())


def delete(s: Session, team_id: str, schedule_id: uuid.UUID) -> Schedule | None:
    row = get(s, team_id, schedule_id)
    if row is not None:
        s.delete(row)
    return row


def take_due(s: Session, now: datetime, limit: int) -> Sequence[Schedule]:
    """Unpaused schedules whose next fire time has come, or whose taken fire has no run yet,
    locked for this transaction; rows another worker holds are skipped, not waited for."""
    return s.scalars(
        select(Schedule)
        .where(
            or_(
                Schedule.pending_fire_at.is_not(None),
                (Schedule.paused_at.is_(None)) & (Schedule.next_fire_at <= now),
            )
        )
        .order_by(Schedule.next_fire_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()


def clear_pending(s: Session, schedule_id: uuid.UUID, fire_at: datetime, run_id: uuid.UUID | None) -> None:
    """The taken fire has its run (or was given up): only if it is still the one pending."""
    s.execute(
        update(Schedule)
        .where(Schedule.id == schedule_id, Schedule.pending_fire_at == fire_at)
        .values(pending_fire_at=None, pending_missed=0, last_run_id=run_id)
        .execution_options(synchronize_session=False)
    )


def min_minutes(s: Session, team_id: str) -> int | None:
    return s.scalar(select(Workspace.min_schedule_minutes).where(Workspace.team_id == team_id))


def set_min_minutes(s: Session, team_id: str, minutes: int | None) -> None:
    s.execute(update(Workspace).where(Workspace.team_id == team_id).values(min_schedule_minutes=minutes))
