"""Workspaces (Slack teams): the row every tenant-scoped row hangs off."""

from __future__ import annotations

from sqlalchemy import select
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


def public_links(s: Session, team_id: str) -> bool:
    """Whether the workspace lets a signed link alone open its public-channel runs (the
    setting *Anyone with the link can open public-channel runs*; off, and for a workspace
    with no row yet)."""
    value = s.execute(select(Workspace.public_links).where(Workspace.team_id == team_id)).scalar()
    return bool(value)
