"""SQL for triggers (DESIGN §13). The lookups an event makes (a workspace's active triggers of
one kind) use ix_triggers_team_kind; a webhook finds its trigger by id alone."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Trigger


def add(s: Session, team_id: str, **fields: Any) -> Trigger:
    row = Trigger(team_id=team_id, **fields)
    s.add(row)
    s.flush()
    s.refresh(row)
    return row


def get(s: Session, team_id: str, trigger_id: uuid.UUID) -> Trigger | None:
    return s.scalars(select(Trigger).where(Trigger.team_id == team_id, Trigger.id == trigger_id)).first()


def get_by_id(s: Session, trigger_id: uuid.UUID) -> Trigger | None:
    """A webhook's trigger: the URL carries the id, not the workspace."""
    return s.get(Trigger, trigger_id)


def of_team(s: Session, team_id: str, limit: int = 200) -> Sequence[Trigger]:
    return s.scalars(select(Trigger).where(Trigger.team_id == team_id).order_by(Trigger.created_at).limit(limit)).all()


def active_of_kind(s: Session, team_id: str, kind: str) -> Sequence[Trigger]:
    """The unpaused triggers of ``kind`` whose pipeline still exists."""
    return s.scalars(
        select(Trigger).where(
            Trigger.team_id == team_id,
            Trigger.kind == kind,
            Trigger.paused_at.is_(None),
            Trigger.pipeline_id.is_not(None),
        )
    ).all()


def count_of_team(s: Session, team_id: str) -> int:
    return len(s.scalars(select(Trigger.id).where(Trigger.team_id == team_id)).all())
