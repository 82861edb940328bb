"""The audit trail: who changed keys, limits, settings or MCP servers, or deleted agents,
pipelines and runs (DESIGN §10). Rows are only inserted; ``/pipebot audit`` reads the newest."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import AuditEvent
from storage.repos.workspaces import ensure_workspace


def record(
    s: Session, team_id: str, actor: str, action: str, subject: str = "", detail: dict[str, Any] | None = None
) -> None:
    """Add one event in the caller's transaction, so it lands exactly when the change does.
    ``detail`` must never hold a secret (a key's last four characters at most)."""
    ensure_workspace(s, team_id)
    s.add(AuditEvent(team_id=team_id, actor=actor[:32], action=action[:40], subject=subject[:200], detail=detail))
    s.flush()


def latest(s: Session, team_id: str, limit: int = 50) -> Sequence[AuditEvent]:
    """The newest events of the workspace, newest first."""
    stmt = (
        select(AuditEvent)
        .where(AuditEvent.team_id == team_id)
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
        .limit(limit)
    )
    return s.scalars(stmt).all()
