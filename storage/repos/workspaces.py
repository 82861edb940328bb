"""Workspaces (Slack teams): the row every tenant-scoped row hangs off, and the limits its
admins set (daily spend, runs per person per hour, public links)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from storage.models import Workspace


def ensure_workspace(s: Session, team_id: str, name: str | None = None) -> None:
    stmt = pg_insert(Workspace).values(team_id=team_id, name=name)
    if name:
        stmt = stmt.on_conflict_do_update(index_elements=[Workspace.team_id], set_={"name": name})
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=[Workspace.team_id])
    s.execute(stmt)


@dataclass(frozen=True)
class Limits:
    """A workspace's admin limits (DESIGN §10); None means no limit."""

    daily_limit_usd: Decimal | None = None
    runs_per_person_hour: int | None = None
    public_links: bool = False


def limits(s: Session, team_id: str) -> Limits:
    """The workspace's limits (no row yet: none)."""
    row = s.execute(
        select(Workspace.daily_limit_usd, Workspace.runs_per_person_hour, Workspace.public_links).where(
            Workspace.team_id == team_id
        )
    ).first()
    return Limits(row[0], row[1], bool(row[2])) if row is not None else Limits()


def set_limits(s: Session, team_id: str, new: Limits) -> None:
    ensure_workspace(s, team_id)
    s.execute(
        update(Workspace)
        .where(Workspace.team_id == team_id)
        .values(
            daily_limit_usd=new.daily_limit_usd,
            runs_per_person_hour=new.runs_per_person_hour,
            public_links=new.public_links,
        )
    )


def public_links(s: Session, team_id: str) -> bool:
    """Whether the workspace lets a signed link alone open its public-channel runs (the
    setting *Anyone with the link can open public-channel runs*; off, and for a workspace
    with no row yet)."""
    value = s.execute(select(Workspace.public_links).where(Workspace.team_id == team_id)).scalar()
    return bool(value)


def claim_limit_notice(s: Session, team_id: str, today: date) -> bool:
    """True for exactly one caller per workspace and UTC day: the row is marked in the same
    statement that tests it, so concurrent workers cannot both win."""
    row = s.execute(
        update(Workspace)
        .where(Workspace.team_id == team_id, Workspace.limit_notice_on.is_distinct_from(today))
        .values(limit_notice_on=today)
        .returning(Workspace.team_id)
    ).first()
    return row is not None
