"""The reads that dispatch maintenance needs: runs PostgreSQL says are waiting."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import Run
from storage.states import RunStatus


def queued_runs(s: Session, older_than: datetime, limit: int = 500) -> list[tuple[str, uuid.UUID, int]]:
    """(team_id, run id, attempts) of runs queued since before ``older_than``, oldest first.
    Across workspaces on purpose: dispatch is the deployment's, not a tenant's."""
    rows = s.execute(
        select(Run.team_id, Run.id, Run.attempts)
        .where(Run.status == RunStatus.QUEUED, func.coalesce(Run.heartbeat_at, Run.created_at) < older_than)
        .order_by(Run.created_at)
        .limit(limit)
    )
    return [(t, i, a or 0) for t, i, a in rows]
