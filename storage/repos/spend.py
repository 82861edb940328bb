"""What a workspace spent and how many runs a person started: the numbers the spend limits
(core/preflight.py) compare with the workspace's limits."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import Run, RunStep


def spent_since(s: Session, team_id: str, since: datetime) -> Decimal:
    """What the workspace's runs created since ``since`` cost so far. Summed over their
    steps rather than ``runs.cost_usd`` so runs still going count with the steps they
    finished (a branch's reused steps cost nothing here; unpriced steps count as 0)."""
    total = s.scalar(
        select(func.coalesce(func.sum(RunStep.cost_usd), 0))
        .select_from(Run)
        .join(RunStep, RunStep.run_id == Run.id)
        .where(Run.team_id == team_id, Run.created_at >= since)
    )
    return Decimal(total or 0)


def runs_started_since(s: Session, team_id: str, requested_by: str, since: datetime) -> tuple[int, datetime | None]:
    """How many runs ``requested_by`` started since ``since``, and when the oldest of them
    was (index ix_runs_team_requester_created)."""
    row = s.execute(
        select(func.count(), func.min(Run.created_at)).where(
            Run.team_id == team_id, Run.requested_by == requested_by, Run.created_at >= since
        )
    ).one()
    return int(row[0]), row[1]
