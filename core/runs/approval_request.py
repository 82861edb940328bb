"""A run reaching an approval step: the step recorded as waiting, the request recorded, and
the run set ``waiting``, in one transaction; then the executor returns and the worker's
slot, the workspace's fair-share slot and the RQ job are all given back (DESIGN §12).

Nothing polls a waiting run: it lives in PostgreSQL alone until core/runs/approvals.py
decides it (queued again, or failed) or maintenance times it out. The request's row is
what every surface reads (:func:`view_of`)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from core import messages
from core.mcp.tools import McpTool
from core.pipelines import APPROVAL_TIMEOUT_DEFAULT_H
from core.reporter import ApprovalView, RunInfo, StepPlan
from core.runs.step_state import ToolDecision
from providers import catalog
from storage.db import Session, SessionFactory, transaction
from storage.models import Approval, Run, RunStep
from storage.repos import approvals as approval_repo
from storage.repos import runs as run_repo
from storage.states import ApprovalKind, ApprovalStatus, StepKind, StepStatus

__all__ = [
    "NotWaiting",
    "approval_snapshot",
    "request_approval",
    "request_tool_approval",
    "run_info_of",
    "tool_decision",
    "view_of",
]

#: How much of a tool call's arguments its request shows (the approver reads them).
ARGUMENTS_SHOWN_CHARS = 2000
_DECIDED = (ApprovalStatus.APPROVED, ApprovalStatus.REJECTED)


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


def request_tool_approval(
    sessions: SessionFactory,
    *,
    team_id: str,
    rid: uuid.UUID,
    position: int,
    step_id: int,
    requested_by: str | None,
    tool: McpTool,
    arguments: dict[str, Any],
    call_id: str,
    said: str,
    state: dict[str, Any],
    spent: dict[str, Any],
) -> ApprovalView:
    """A step stops at a tool call of a server that asks before every call: the step set
    waiting with what it cost so far (a rejected or timed-out run still counts it), the
    request recorded with the tool, its arguments and where the step goes on from, the run
    set waiting; all or nothing. NotWaiting when a cancel was asked for first."""
    with transaction(sessions) as s:
        run_repo.finish_step(s, step_id, status=StepStatus.WAITING, **spent)
        row = approval_repo.create(
            s,
            team_id=team_id,
            run_id=rid,
            position=position,
            approvers=(),
            requested_by=requested_by,
            output_shown=said,
            timeout_hours=APPROVAL_TIMEOUT_DEFAULT_H,
            kind=ApprovalKind.TOOL_CALL,
            payload={
                "server": tool.server,
                "tool": tool.tool,
                "label": tool.label,
                "arguments": _shown(arguments),
                "call_id": call_id,
            },
        )
        row.resume_state = state
        if not run_repo.set_waiting(s, team_id, rid):
            raise NotWaiting(str(rid))
        return view_of(row)


def tool_decision(sessions: SessionFactory, rid: uuid.UUID, position: int) -> ToolDecision | None:
    """How the step at ``position`` goes on after a person allowed or denied its paused
    call: the newest decided tool-call request of the step (a step that paused twice goes
    on from its second), or None for a step that never paused."""
    with sessions() as s:
        row = approval_repo.latest_tool_call(s, rid, position)
        if row is None or row.resume_state is None or row.status not in _DECIDED:
            return None
        call_id = str((row.payload or {}).get("call_id") or "")
        allowed = row.status == ApprovalStatus.APPROVED
        return ToolDecision(dict(row.resume_state), call_id, allowed, row.decided_by or "")


def _shown(arguments: dict[str, Any]) -> Any:
    """The arguments as the request shows them: the whole JSON, or its first part when long."""
    text = json.dumps(arguments, default=str)
    return arguments if len(text) <= ARGUMENTS_SHOWN_CHARS else text[:ARGUMENTS_SHOWN_CHARS] + "…"


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
        origin=run.origin,
    )
