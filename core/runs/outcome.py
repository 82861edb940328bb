"""Closing a run: its status, what it cost, and its one artifact, written together.

Both the executor (a run that ends) and the reaper (a run given up after its worker died
too often) close runs here, so the artifact has one format and one writer.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from core.context import AppContext
from core.links import artifact_permalink, thread_url
from core.reporter import RunOutcome, StepResult
from core.runs.branch_spec import BranchSpec
from core.runs.steps import model_display
from providers.types import Usage
from storage.db import transaction
from storage.repos import artifacts as artifact_repo
from storage.repos import lineage as lineage_repo
from storage.repos import runs as run_repo
from storage.states import RunStatus, StepStatus

_USAGE_KEYS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f")


def _record_lineage(content: dict[str, Any], branch: BranchSpec) -> None:
    """A branch's artifact says where it came from, and which steps it took over (they cost
    nothing here; ``original_cost_usd`` is what they cost in the source)."""
    content["branch"] = branch.lineage()
    for step in content["steps"]:
        if branch.reused(step["position"]):
            step["reused"] = True
            step["original_cost_usd"] = _dec(branch.original_cost(step["position"]))


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
) -> RunOutcome:
    """Close the run and write its one artifact, in one transaction (the artifact insert is
    idempotent on run_id, so a second call changes nothing)."""
    with transaction(ctx.sessions) as s:
        if status is not None:  # a run that already ended keeps how it ended
            run_repo.close(
                s, team_id, rid, status=status, output=output, error_kind=error_kind, error_message=error_message
            )
        steps = run_repo.steps_of(s, rid)
        finished = [st for st in steps if st.status == StepStatus.SUCCEEDED]
        # What the run cost: every finished step (an unknown price makes the total unknown),
        # plus whatever a failed step was charged before it failed (a refusal is paid for).
        costs = [st.cost_usd for st in finished] + [
            st.cost_usd for st in steps if st.status == StepStatus.FAILED and st.cost_usd is not None
        ]
        known = [c for c in costs if c is not None]
        total = sum(known, Decimal(0)) if len(known) == len(costs) else None
        run = run_repo.set_cost(s, team_id, rid, total)
        usage = Usage(0, 0)
        for st in finished:
            if st.usage:
                usage = usage + Usage(**{k: st.usage.get(k, 0) for k in _USAGE_KEYS})
        models = list(dict.fromkeys(st.model for st in steps))
        duration = int(
            ((run.finished_at or datetime.now(UTC)) - (run.started_at or run.created_at)).total_seconds() * 1000
        )
        content: dict[str, Any] = {
            "version": 1,
            "run_id": str(run.id),
            "team_id": team_id,
            "status": run.status,
            "pipeline": {"id": run.pipeline_id, "name": run.pipeline_name},
            "input": run.input,
            "output": run.output,
            "requested_by": run.requested_by,
            "source": run.source,
            "created_at": _iso(run.created_at),
            "started_at": _iso(run.started_at),
            "finished_at": _iso(run.finished_at),
            "duration_ms": duration,
            "cost_usd": _dec(total),
            "models": models,
            "usage": usage.to_dict(),
            "attempts": run.attempts,
            "slack": (
                {
                    "channel_id": run.channel_id,
                    "thread_ts": run.thread_ts,
                    "thread_url": thread_url(run.channel_id, run.thread_ts, team_id),
                }
                if run.channel_id
                else None
            ),
            "error": (
                {"kind": run.error_kind, "message": run.error_message, "step": error_step}
                if run.status == RunStatus.FAILED
                else None
            ),
            "steps": [
                {
                    "position": st.position,
                    "status": st.status,
                    "agent": st.agent_snapshot,
                    "model": st.model,
                    "model_display": model_display(st.model),
                    "input": st.input,
                    "output": st.output,
                    "usage": st.usage,
                    "raw_usage": st.raw_usage,
                    "cost_usd": _dec(st.cost_usd),
                    "price_version": st.price_version,
                    "latency_ms": st.latency_ms,
                    "error": {"kind": st.error_kind, "message": st.error_message} if st.error_kind else None,
                }
                for st in steps
            ],
        }
        branch = BranchSpec.from_json(getattr(run, "branch", None))
        if branch is not None:
            _record_lineage(content, branch)
        artifact_id = artifact_repo.insert_for_run(s, team_id, run, content, models=models, cost_usd=total)
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
        outcome = RunOutcome(
            run_id=str(run.id),
            status=run.status,
            output=run.output,
            error_kind=run.error_kind,
            error_message=run.error_message,
            cost_usd=total,
            models=models,
            duration_ms=duration,
            artifact_id=str(artifact_id),
            permalink=artifact_permalink(ctx, team_id, str(artifact_id)),
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
                for st in finished
            ],
        )
    return outcome
