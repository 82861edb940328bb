"""Closing a run: its status, what it cost, and its one artifact, written together.

Both the executor (a run that ends) and the reaper (a run given up after its worker died
too often) close runs here, so the artifact has one format and one writer.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from core.context import AppContext
from core.inputs.parts import FIRST_STEP, plan_files
from core.inputs.stored import StoredFile, stored_files
from core.links import artifact_permalink, thread_url
from core.reporter import RunOutcome, StepResult
from core.runs.artifact import CURRENT_VERSION, USAGE_KEYS, Artifact
from core.runs.branch_spec import BranchSpec
from providers import catalog
from providers.types import Usage
from storage.db import transaction
from storage.models import Approval, RunStep
from storage.repos import approvals as approval_repo
from storage.repos import artifacts as artifact_repo
from storage.repos import lineage as lineage_repo
from storage.repos import run_files as file_repo
from storage.repos import runs as run_repo
from storage.states import ApprovalKind, RunStatus, StepKind, StepStatus


def _file_fields(st: RunStep, files: Sequence[StoredFile]) -> dict[str, Any]:
    """Which of the run's files the step's model got, and which as extracted text: decided
    as the executor decided it (core/inputs/parts.plan_files), from the step's snapshot."""
    snap = st.agent_snapshot or {}
    sees = st.position == FIRST_STEP or bool(snap.get("sees_files"))
    plans = plan_files(files, st.model or "", sees)
    if not plans:
        return {}
    return {"files": [p.file.name for p in plans], "text_extracted_from": [p.file.name for p in plans if p.as_text]}


def _file_record(f: StoredFile) -> dict[str, Any]:
    return {
        "position": f.position,
        "name": f.name,
        "mimetype": f.mimetype,
        "kind": f.kind,
        "size": f.size,
        "sha256": f.sha256,
        "text_extracted": bool(f.extracted_text) if f.kind == "pdf" else None,
        "pages": f.pages,
    }


def _thread_fields(thread: Any) -> dict[str, Any] | None:
    """The artifact's thread context: the messages step 1 read (none before they were fetched)."""
    if not isinstance(thread, dict):
        return None
    ref: dict[str, Any] = thread["ref"] if isinstance(thread.get("ref"), dict) else {}
    return {
        "channel_id": ref.get("channel_id"),
        "thread_ts": ref.get("thread_ts"),
        "messages": list(thread.get("messages") or []),
        "left_out": thread.get("left_out"),
    }


def _approval_fields(row: Approval) -> dict[str, Any]:
    """An approval step's request and decision, as the artifact records them."""
    return {
        "status": row.status,
        "approvers": list(row.approvers or []),
        "requested_at": row.requested_at,
        "due_at": row.due_at,
        "timeout_hours": row.timeout_hours,
        "decided_by": row.decided_by,
        "decided_at": row.decided_at,
        "edited": row.edited_text is not None,
        "original_output": row.output_shown if row.edited_text is not None else None,
        "reason": row.reason,
    }


def _step_fields(
    st: RunStep,
    branch: BranchSpec | None,
    files: Sequence[StoredFile] = (),
    approvals: Mapping[int, Approval] | None = None,
) -> dict[str, Any]:
    """One step of the artifact; a branch's reused step says so, with what it cost in the
    source (it costs nothing here); an approval step says who decided, when and how; a step
    that called tools lists each call (core/tool_calls.ToolCallRecord)."""
    fields: dict[str, Any] = {
        "position": st.position,
        "status": st.status,
        "agent": st.agent_snapshot,
        "model": st.model,
        "model_display": catalog.display_name(st.model),
        "input": st.input,
        "output": st.output,
        "usage": st.usage,
        "raw_usage": st.raw_usage,
        "cost_usd": st.cost_usd,
        "price_version": st.price_version,
        "latency_ms": st.latency_ms,
        "error": {"kind": st.error_kind, "message": st.error_message} if st.error_kind else None,
        **_file_fields(st, files),
    }
    if branch is not None and branch.reused(st.position):
        fields.update(reused=True, original_cost_usd=branch.original_cost(st.position))
    if approvals and (row := approvals.get(st.position)) is not None:
        fields["approval"] = _approval_fields(row)
    if st.tool_calls:  # none made: the key stays out, as in artifacts written before tools
        fields["tool_calls"] = [dict(c) for c in st.tool_calls if isinstance(c, Mapping)]
    return fields


def _artifact(
    run: Any,
    steps: Sequence[RunStep],
    total: Decimal | None,
    usage: Usage,
    error_step: int | None,
    files: Sequence[StoredFile] = (),
    approvals: Mapping[int, Approval] | None = None,
) -> Artifact:
    """The run's artifact, built through the model (which refuses a field it does not name)."""
    branch = BranchSpec.from_json(getattr(run, "branch", None))
    finished_at = run.finished_at or datetime.now(UTC)
    fields: dict[str, Any] = {
        "version": CURRENT_VERSION,
        "run_id": str(run.id),
        "team_id": run.team_id,
        "status": run.status,
        "pipeline": {"id": run.pipeline_id, "name": run.pipeline_name},
        "input": run.input,
        "output": run.output,
        "requested_by": run.requested_by,
        "source": run.source,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "duration_ms": int((finished_at - (run.started_at or run.created_at)).total_seconds() * 1000),
        "cost_usd": total,
        "models": list(dict.fromkeys(st.model for st in steps if st.model)),  # an approval has none
        "usage": usage.to_dict(),
        "attempts": run.attempts,
        "slack": (
            {
                "channel_id": run.channel_id,
                "thread_ts": run.thread_ts,
                "thread_url": thread_url(run.channel_id, run.thread_ts, run.team_id),
            }
            if run.channel_id
            else None
        ),
        "error": (
            {"kind": run.error_kind, "message": run.error_message, "step": error_step}
            if run.status == RunStatus.FAILED
            else None
        ),
        "steps": [_step_fields(st, branch, files, approvals) for st in steps],
    }
    if files:
        fields["files"] = [_file_record(f) for f in files]
    if (thread := _thread_fields(getattr(run, "thread", None))) is not None:
        fields["thread"] = thread
    if branch is not None:
        fields["branch"] = branch.lineage()
    return Artifact.for_write(**fields)


def _cost_and_usage(steps: Sequence[RunStep]) -> tuple[Decimal | None, Usage]:
    """What the run cost: every finished step (an unknown price makes the total unknown),
    plus whatever a failed step was charged before it failed (a refusal is paid for); and
    the tokens of the finished steps."""
    finished = [st for st in steps if st.status == StepStatus.SUCCEEDED]
    costs = [st.cost_usd for st in finished] + [
        st.cost_usd for st in steps if st.status == StepStatus.FAILED and st.cost_usd is not None
    ]
    known = [c for c in costs if c is not None]
    total = sum(known, Decimal(0)) if len(known) == len(costs) else None
    usage = Usage(0, 0)
    for st in finished:
        if st.usage:
            usage = usage + Usage(**{k: st.usage.get(k, 0) for k in USAGE_KEYS})
    return total, usage


def write_outcome(
    ctx: AppContext,
    team_id: str,
    rid: uuid.UUID,
    *,
    status: str | None = None,
    output: str | None = None,
    error_kind: str | None = None,
    error_message: str | None = None,
    error_step: int | None = None,
    files: Sequence[StoredFile] | None = None,
) -> RunOutcome:
    """Close the run and write its one artifact, in one transaction (the artifact insert is
    idempotent on run_id, so a second call changes nothing). ``files``: the run's files as
    the executor knows them (None: read here, as the reaper does)."""
    with transaction(ctx.sessions) as s:
        if status is not None:  # a run that already ended keeps how it ended
            run_repo.close(
                s, team_id, rid, status=status, output=output, error_kind=error_kind, error_message=error_message
            )
        steps = run_repo.steps_of(s, rid)
        total, usage = _cost_and_usage(steps)
        run = run_repo.set_cost(s, team_id, rid, total)
        if files is None:
            files = stored_files(file_repo.files_of(s, rid))
        approvals = (  # read only for a run that had an approval step: no statement for the others
            {a.position: a for a in approval_repo.of_run(s, rid) if a.kind == ApprovalKind.STEP}
            if any((st.agent_snapshot or {}).get("kind") == StepKind.APPROVAL for st in steps)
            else {}
        )
        artifact = _artifact(run, steps, total, usage, error_step, files, approvals)
        models = artifact.models
        artifact_id = artifact_repo.insert_for_run(
            s, team_id, run, artifact.to_content(), models=models, cost_usd=total
        )
        branch = BranchSpec.from_json(getattr(run, "branch", None))
        if branch is not None:  # the parent may be gone by now: then the content alone says it
            lineage_repo.set_parent(
                s,
                team_id,
                artifact_id,
                parent_artifact_id=branch.artifact_id,
                parent_version=branch.version,
                branched_from_step=branch.from_step,
                branch_changes=branch.changes,
            )
        outcome = _outcome(ctx, run, steps, artifact, str(artifact_id))
    return outcome


def _outcome(ctx: AppContext, run: Any, steps: Sequence[RunStep], artifact: Artifact, artifact_id: str) -> RunOutcome:
    """What the run's reporters are told of how it ended."""
    return RunOutcome(
        run_id=str(run.id),
        status=run.status,
        output=run.output,
        error_kind=run.error_kind,
        error_message=run.error_message,
        cost_usd=artifact.cost_usd,
        models=artifact.models,
        duration_ms=artifact.duration_ms or 0,
        artifact_id=artifact_id,
        permalink=artifact_permalink(ctx, run.team_id, artifact_id),
        cancelled_by=run.cancel_requested_by if run.status == RunStatus.FAILED else None,
        steps=[
            StepResult(
                st.position,
                (st.agent_snapshot or {}).get("name", ""),
                st.model,
                st.output or "",
                st.cost_usd,
                (st.usage or {}).get("input_tokens", 0),
                (st.usage or {}).get("output_tokens", 0),
                st.latency_ms or 0,
            )
            for st in steps
            if st.status == StepStatus.SUCCEEDED
        ],
    )
