"""Approval requests (DESIGN §12): recording one, reading them, and the conditional UPDATEs
that decide one exactly once.

Every change of an approval is ``UPDATE … WHERE status = 'pending' RETURNING``: PostgreSQL
re-checks the condition after taking the row lock, so of two concurrent decisions (two
clicks, a click and a cancel, two workers' timeout rounds) exactly one gets the row back.
Callers that also change the run lock the run's row first (run, then approval), so those
transactions never wait on each other in opposite orders."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from storage.models import Approval
from storage.states import ApprovalKind, ApprovalStatus


def create(
    s: Session,
    *,
    team_id: str,
    run_id: uuid.UUID,
    position: int,
    approvers: Sequence[str],
    requested_by: str | None,
    output_shown: str,
    timeout_hours: int,
    due_at: datetime | None = None,
    kind: str = ApprovalKind.STEP,
    payload: dict[str, Any] | None = None,
) -> Approval:
    row = Approval(
        team_id=team_id,
        run_id=run_id,
        position=position,
        kind=kind,
        payload=payload,
        status=ApprovalStatus.PENDING,
        approvers=list(approvers),
        requested_by=requested_by,
        output_shown=output_shown,
        timeout_hours=timeout_hours,
        # None: ``timeout_hours`` after the request, both on the database's clock
        due_at=due_at if due_at is not None else func.now() + func.make_interval(0, 0, 0, 0, timeout_hours),
    )
    s.add(row)
    s.flush()
    s.refresh(row)  # requested_at is the database's clock
    return row


def get(s: Session, team_id: str, approval_id: uuid.UUID) -> Approval | None:
    return s.scalar(select(Approval).where(Approval.team_id == team_id, Approval.id == approval_id))


def of_run(s: Session, run_id: uuid.UUID) -> Sequence[Approval]:
    """Every approval the run asked for, in the order asked."""
    return s.scalars(
        select(Approval).where(Approval.run_id == run_id).order_by(Approval.requested_at, Approval.position)
    ).all()


def latest_tool_call(s: Session, run_id: uuid.UUID, position: int) -> Approval | None:
    """The newest tool-call request of a run's step (core/runs/approval_request.tool_decision)."""
    return s.scalars(
        select(Approval)
        .where(Approval.run_id == run_id, Approval.position == position, Approval.kind == ApprovalKind.TOOL_CALL)
        .order_by(Approval.requested_at.desc())
        .limit(1)
    ).first()


def pending_of_run(s: Session, team_id: str, run_id: uuid.UUID) -> Approval | None:
    return s.scalar(
        select(Approval).where(
            Approval.team_id == team_id, Approval.run_id == run_id, Approval.status == ApprovalStatus.PENDING
        )
    )


def decide(
    s: Session,
    team_id: str,
    approval_id: uuid.UUID,
    *,
    status: str,
    by: str | None,
    reason: str | None = None,
    edited_text: str | None = None,
    due_after: datetime | None = None,
) -> Approval | None:
    """Move a pending approval to ``status``; None when it is not pending any more (someone
    else decided first) or, with ``due_after``, when it fell due at or before that instant."""
    cond = [Approval.team_id == team_id, Approval.id == approval_id, Approval.status == ApprovalStatus.PENDING]
    if due_after is not None:
        cond.append(Approval.due_at > due_after)
    return s.scalar(
        update(Approval)
        .where(*cond)
        .values(status=status, decided_by=by, decided_at=func.now(), reason=reason, edited_text=edited_text)
        .returning(Approval),
        execution_options={"populate_existing": True},
    )


def cancel_pending(s: Session, team_id: str, run_id: uuid.UUID, by: str) -> list[uuid.UUID]:
    """Mark the run's pending approvals cancelled (its run was cancelled); their ids."""
    rows = s.scalars(
        update(Approval)
        .where(Approval.team_id == team_id, Approval.run_id == run_id, Approval.status == ApprovalStatus.PENDING)
        .values(status=ApprovalStatus.CANCELLED, decided_by=by, decided_at=func.now())
        .returning(Approval.id)
    )
    return list(rows)


def due(s: Session, now: datetime, limit: int = 200) -> list[tuple[str, uuid.UUID, uuid.UUID]]:
    """(team_id, approval id, run id) of pending approvals due at or before ``now``, oldest
    first. Across workspaces on purpose: maintenance is the deployment's."""
    rows = s.execute(
        select(Approval.team_id, Approval.id, Approval.run_id)
        .where(Approval.status == ApprovalStatus.PENDING, Approval.due_at <= now)
        .order_by(Approval.due_at)
        .limit(limit)
    )
    return [(t, a, r) for t, a, r in rows]


def set_message(s: Session, team_id: str, approval_id: uuid.UUID, channel_id: str, message_ts: str) -> bool:
    """Where the surface showed the request, so it can update its buttons later."""
    res = s.execute(
        update(Approval)
        .where(Approval.team_id == team_id, Approval.id == approval_id)
        .values(channel_id=channel_id, message_ts=message_ts)
        .returning(Approval.id)
    ).first()
    return res is not None


def approved_count(s: Session, run_id: uuid.UUID) -> int:
    """How many times the run was approved and so queued again: each such resume is an
    attempt (a claim) that no lost worker caused."""
    return int(
        s.scalar(
            select(func.count())
            .select_from(Approval)
            .where(Approval.run_id == run_id, Approval.status == ApprovalStatus.APPROVED)
        )
        or 0
    )
