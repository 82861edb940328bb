"""Deleting a run's result (DESIGN §10 "Taking back"): who may, and what is left.

The requester of the run or an admin may delete it. What is left is a tombstone: the
artifact row keeps what the run was (pipeline, status, dates, cost, models) so lists and
spend still add up, and its content says who deleted it and when; the output, the input,
every version, every vote, every step's text, the thread's messages and the files shared
with the run (DESIGN §11) are gone. Every reader of an artifact goes
through the content (core/runs/artifact.Artifact.deleted), so each shows the tombstone
instead. Branches keep their own copies (they were separate runs).

Callable from any surface: the View modal's *Delete* (bot/slack/listeners/artifact_delete.py)
and a POST route of the web viewer alike pass the team, the artifact, the person and
whether that person is an admin (the surface knows how to ask).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from core.audit import AuditAction
from core.context import AppContext
from core.runs.artifact import Artifact
from storage.db import transaction
from storage.repos import audit
from storage.repos import takeback as repo

__all__ = ["Deleted", "NotAllowed", "delete_result", "may_delete", "tombstone_content"]

#: What the tombstone keeps of the content: what the run was, nothing it said.
KEPT: tuple[str, ...] = (
    *("version", "run_id", "team_id", "status", "pipeline", "requested_by", "source", "created_at"),
    *("started_at", "finished_at", "duration_ms", "cost_usd", "models", "usage", "attempts", "slack", "branch"),
)


class NotAllowed(Exception):
    """The person may not delete this result (neither its requester nor an admin)."""


@dataclass(frozen=True)
class Deleted:
    """The outcome: ``already`` is True when it was deleted before (by ``by`` at ``at``)."""

    artifact_id: uuid.UUID
    by: str
    at: datetime
    already: bool
    pipeline_name: str


def may_delete(user_id: str, created_by: str | None, *, admin: bool) -> bool:
    """The rule: the run's requester, or an admin."""
    return admin or (bool(created_by) and created_by == user_id)


def tombstone_content(content: dict[str, Any], *, by: str, at: datetime) -> dict[str, Any]:
    """The content a deleted result keeps (valid for :class:`Artifact`): the run's facts,
    and who deleted it when. Read, not written, through the model: an older writer's keys
    among the kept facts must not make a delete fail."""
    kept = {k: content[k] for k in KEPT if k in content}
    kept["steps"] = [
        {
            k: st[k]
            for k in ("position", "status", "model", "model_display", "usage", "cost_usd", "latency_ms")
            if k in st
        }
        for st in content.get("steps") or []
        if isinstance(st, dict)
    ]
    slack = kept.get("slack")
    if isinstance(slack, dict):  # where it ran stays (visibility follows it); nothing else
        kept["slack"] = {k: slack[k] for k in ("channel_id",) if k in slack}
    branch = kept.get("branch")
    if isinstance(branch, dict):  # the lineage stays; what the branch changed (an input) goes
        kept["branch"] = {k: branch[k] for k in ("parent_artifact_id", "parent_version", "from_step") if k in branch}
    fields = dict(kept, deleted=True, deleted_by=by, deleted_at=at)
    return Artifact.from_content(fields).to_content()


def delete_result(
    ctx: AppContext, team_id: str, artifact_id: str | uuid.UUID, by: str, *, admin: bool, now: datetime | None = None
) -> Deleted | None:
    """Delete the artifact's result for ``by``; None when there is no such artifact in this
    workspace. Raises :class:`NotAllowed` for someone who may not. A second delete changes
    nothing and says it was deleted already. The audit event is recorded in the same
    transaction as the delete."""
    at = now or datetime.now(UTC)
    with transaction(ctx.sessions) as s:
        target = repo.lock_for_delete(s, team_id, artifact_id)
        if target is None:
            return None
        if not may_delete(by, target.created_by, admin=admin):
            raise NotAllowed(str(artifact_id))
        if target.deleted_at is not None:
            return Deleted(target.artifact_id, target.deleted_by or "", target.deleted_at, True, target.pipeline_name)
        content = tombstone_content(target.content or {}, by=by, at=at)
        repo.tombstone(s, team_id, target, content, by=by, at=at)
        audit.record(
            s,
            team_id,
            by,
            AuditAction.RUN_DELETED,
            subject=target.pipeline_name,
            detail={"artifact_id": str(target.artifact_id)},
        )
    return Deleted(target.artifact_id, by, at, False, target.pipeline_name)
