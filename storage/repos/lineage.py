"""Where a branch came from, what branched from an artifact, and what it can be compared with.

A branch is an artifact of its own (one per run, written by the executor); its lineage is set
on it afterwards, and only to a parent of the same workspace. The parent may be deleted later:
``parent_artifact_id`` then becomes NULL while the version, step and changes stay, so a page
can still say "branched from step 3 of a deleted artifact".
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, String, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Session

from storage.repos.artifacts import ChannelScope
from storage.repos.common import parse_uuid

__all__ = ["ArtifactSummary", "Parent", "list_branches", "parent_of", "related_artifacts", "set_parent"]

#: The most rows one list of branches or related artifacts returns.
MAX_LIST = 100


@dataclass(frozen=True)
class Parent:
    """The lineage of a branch. ``artifact_id`` is None once the parent was deleted."""

    artifact_id: uuid.UUID | None
    version: int | None
    step: int | None
    changes: dict[str, Any] | None


@dataclass(frozen=True)
class ArtifactSummary:
    """An artifact as a picker or list shows it (no content: it can be large)."""

    id: uuid.UUID
    pipeline_name: str
    status: str
    cost_usd: Decimal | None
    models: list[str]
    created_at: datetime
    created_by: str | None
    latest_version: int
    parent_version: int | None
    branched_from_step: int | None
    branch_changes: dict[str, Any] | None


_SET_PARENT = text(
    "UPDATE artifacts SET parent_artifact_id = p.id, parent_version = :version, branched_from_step = :step, "
    "branch_changes = :changes FROM artifacts p "
    "WHERE artifacts.team_id = :team AND artifacts.id = :aid AND p.team_id = :team AND p.id = :parent "
    "AND p.id <> artifacts.id AND :version BETWEEN 1 AND p.latest_version"
).bindparams(bindparam("changes", type_=JSONB))


def set_parent(
    s: Session,
    team_id: str,
    artifact_id: uuid.UUID | str,
    *,
    parent_artifact_id: uuid.UUID | str,
    parent_version: int,
    branched_from_step: int,
    branch_changes: dict[str, Any] | None,
) -> bool:
    """Record that ``artifact_id`` branched from ``parent_version`` of ``parent_artifact_id`` at
    ``branched_from_step`` with ``branch_changes`` (what changed for that step: agent, model,
    input). False, and nothing written, unless both artifacts are this workspace's and that
    version of the parent exists."""
    aid, parent = parse_uuid(artifact_id), parse_uuid(parent_artifact_id)
    if aid is None or parent is None:
        return False
    res = s.execute(
        _SET_PARENT,
        {
            "team": team_id,
            "aid": aid,
            "parent": parent,
            "version": parent_version,
            "step": branched_from_step,
            "changes": branch_changes,
        },
    )
    return bool(getattr(res, "rowcount", 0))


_PARENT = text(
    "SELECT parent_artifact_id, parent_version, branched_from_step, branch_changes FROM artifacts "
    "WHERE team_id = :team AND id = :aid"
)


def parent_of(s: Session | Connection, team_id: str, artifact_id: uuid.UUID | str) -> Parent | None:
    """The lineage of a branch; None for an artifact that is not a branch (or not found)."""
    aid = parse_uuid(artifact_id)
    if aid is None:
        return None
    row = s.execute(_PARENT, {"team": team_id, "aid": aid}).first()
    if row is None or (row.parent_artifact_id is None and row.branched_from_step is None):
        return None
    return Parent(row.parent_artifact_id, row.parent_version, row.branched_from_step, row.branch_changes)


_SUMMARY = (
    "SELECT a.id, a.pipeline_name, a.status, a.cost_usd, a.models, a.created_at, a.created_by, "
    "a.latest_version, a.parent_version, a.branched_from_step, a.branch_changes FROM artifacts a "
)
_BRANCHES = (
    _SUMMARY + "WHERE a.team_id = :team AND a.parent_artifact_id = :aid {scope}"
    "ORDER BY a.created_at DESC, a.id DESC LIMIT :limit"
)
# The same pipeline's newest artifacts, walking ix_artifacts_team_pipeline_created.
_RELATED = (
    _SUMMARY + "WHERE a.team_id = :team AND a.pipeline_id = "
    "(SELECT o.pipeline_id FROM artifacts o WHERE o.team_id = :team AND o.id = :aid) "
    "AND a.id <> :aid {scope}ORDER BY a.created_at DESC, a.id DESC LIMIT :limit"
)
# The visibility rule as a filter (storage/repos/artifacts.ChannelScope, core/visibility.py):
# runs of the conversations one may see, and those that posted nowhere when ``unplaced``.
_SCOPES = {
    None: "",
    False: "AND a.channel_id = ANY(:scope_channels) ",
    True: "AND (a.channel_id = ANY(:scope_channels) OR a.channel_id IS NULL) ",
}


@functools.cache
def _statement(template: str, unplaced: bool | None) -> Any:
    stmt = text(template.format(scope=_SCOPES[unplaced]))
    if unplaced is not None:
        stmt = stmt.bindparams(bindparam("scope_channels", type_=ARRAY(String)))
    return stmt


def _listed(
    s: Session | Connection, template: str, team_id: str, aid: uuid.UUID, limit: int, scope: ChannelScope | None
) -> list[ArtifactSummary]:
    params: dict[str, Any] = {"team": team_id, "aid": aid, "limit": max(1, min(limit, MAX_LIST))}
    if scope is not None:
        params["scope_channels"] = sorted(scope.channels)
    return _summaries(s.execute(_statement(template, None if scope is None else scope.unplaced), params))


def _summaries(rows: Any) -> list[ArtifactSummary]:
    return [
        ArtifactSummary(
            id=r.id,
            pipeline_name=r.pipeline_name,
            status=r.status,
            cost_usd=r.cost_usd,
            models=list(r.models),
            created_at=r.created_at,
            created_by=r.created_by,
            latest_version=r.latest_version,
            parent_version=r.parent_version,
            branched_from_step=r.branched_from_step,
            branch_changes=r.branch_changes,
        )
        for r in rows
    ]


def list_branches(
    s: Session | Connection,
    team_id: str,
    artifact_id: uuid.UUID | str,
    *,
    limit: int = 20,
    scope: ChannelScope | None = None,
) -> Sequence[ArtifactSummary]:
    """Artifacts that branched from this one, newest first; with ``scope``, only those of
    conversations the viewer may see (a private branch is not even named)."""
    aid = parse_uuid(artifact_id)
    if aid is None:
        return []
    return _listed(s, _BRANCHES, team_id, aid, limit, scope)


def related_artifacts(
    s: Session | Connection,
    team_id: str,
    artifact_id: uuid.UUID | str,
    *,
    limit: int = 20,
    scope: ChannelScope | None = None,
) -> Sequence[ArtifactSummary]:
    """The newest other artifacts of the same pipeline in the workspace, for a compare picker;
    with ``scope``, only those the viewer may see. Empty when the artifact's pipeline was
    deleted (its artifacts no longer share an id)."""
    aid = parse_uuid(artifact_id)
    if aid is None:
        return []
    return _listed(s, _RELATED, team_id, aid, limit, scope)
