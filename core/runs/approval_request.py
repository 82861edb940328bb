"""A run reaching an approval step: the step recorded as waiting, the request recorded, and
the run set ``waiting``, in one transaction; then the executor returns and the worker's
slot, the workspace's fair-share slot and the RQ job are all given back (DESIGN §12).

Nothing polls a waiting run: it lives in PostgreSQL alone until core/runs/approvals.py
decides it (queued again, or failed) or maintenance times it out. The request's row is
what every surface reads (:func:`view_of`)."""

from __future__ import annotations

import uuid

from core import messages
from core.reporter import ApprovalView, RunInfo, StepPlan
from providers import catalog
from storage.db import Session, SessionFactory, transaction
from storage.models import Approval, Run, RunStep
from storage.repos import approvals as approval_repo
from storage.repos import runs as run_repo
from storage.states import StepKind, StepStatus

__all__ = ["NotWaiting", "approval_snapshot", "request_approval", "run_info_of", "view_of"]


class NotWaiting(Exception):
    """The run could not start waiting: someone asked to cancel it meanwhile."""


def approval_snapshot(approvers: tuple[str, ...] | list[str], timeout_hours: int) -> dict[str, object]:
    """What a run step records in place of an agent snapshot: the step is an approval, who
    approves, how long it waits (a branch recognises it by ``kind`` and asks again)."""
    return {
        "name": messages.APPROVAL_STEP,
        "kind": StepKind.APPROVAL.value,
        "approvers": list(approvers),
        "timeout_hours": timeout_hours,
    }


def request_approval(
    sessions: SessionFactory,
    *,
    team_id: str,
    rid: uuid.UUID,
    position: int,
    approvers: tuple[str, ...],
    timeout_hours: int,
    requested_by: str | None,
    output: str,
) -> ApprovalView:
    """Record the waiting step and its request and set the run waiting, all or nothing;
    NotWaiting when a cancel was asked for first (nothing is recorded then)."""
    with transaction(sessions) as s:
        run_repo.record_waiting_step(
            s, rid, position, snapshot=approval_snapshot(approvers, timeout_hours), step_input=output
        )
        row = approval_repo.create(
            s,
            team_id=team_id,
            run_id=rid,
            position=position,
            approvers=approvers,
            requested_by=requested_by,
            output_shown=output,
            timeout_hours=timeout_hours,
        )
        if not run_repo.set_waiting(s, team_id, rid):
            raise NotWaiting(str(rid))
        return view_of(row)


def view_of(row: Approval) -> ApprovalView:
    return ApprovalView(
        approval_id=str(row.id),
        run_id=str(row.run_id),
        team_id=row.team_id,
        position=row.position,
        kind=row.kind,
        status=row.status,
        approvers=list(row.approvers or []),
        requested_by=row.requested_by,
        output=row.output_shown,
        timeout_hours=row.timeout_hours,
        requested_at=row.requested_at,
        due_at=row.due_at,
        payload=row.payload,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        reason=row.reason,
        edited=row.edited_text is not None,
        channel_id=row.channel_id,
        message_ts=row.message_ts,
    )


def run_info_of(s: Session, run: Run) -> RunInfo:
    """A RunInfo for telling reporters about a run no worker holds (decided or timed out
    while waiting): its plan as its steps recorded it."""
    steps: list[RunStep] = list(run_repo.steps_of(s, run.id))
    return RunInfo(
        run_id=str(run.id),
        team_id=run.team_id,
        pipeline_name=run.pipeline_name,
        input=run.input,
        requested_by=run.requested_by,
        source=run.source,
        channel_id=run.channel_id,
        thread_ts=run.thread_ts,
        recipient_team_id=run.recipient_team_id,
        steps=[
            StepPlan(st.position, (st.agent_snapshot or {}).get("name", ""), st.model, catalog.display_name(st.model))
            for st in steps
        ],
        resumed_from=sum(1 for st in steps if st.status == StepStatus.SUCCEEDED),
    )
