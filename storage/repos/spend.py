"""What a workspace spent and how many runs a person started: the numbers the spend limits
(core/preflight.py) compare with the workspace's limits."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import Run, RunStep


def spent_since(s: Session, team_id: str, since: datetime) -> Decimal:
    """What the workspace's runs created since ``since`` cost: each closed run's
    ``cost_usd``, and for a run still going (or one whose total is unknown) what its steps
    cost so far, so concurrent runs count before they close (unpriced steps count as 0)."""
    steps = select(func.sum(RunStep.cost_usd)).where(RunStep.run_id == Run.id).correlate(Run).scalar_subquery()
    total = s.scalar(
        select(func.coalesce(func.sum(func.coalesce(Run.cost_usd, steps)), 0)).where(
            Run.team_id == team_id, Run.created_at >= since
        )
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
