"""Taking data back (DESIGN §10): a deleted result's tombstone, and retention's purge.

Why SQL of its own: a delete touches five tables (the artifact, its versions, its feedback,
the run and its steps) and must do so in one transaction under the artifact's row lock, so a
concurrent edit either lands before (and is deleted with the rest) or finds the tombstone.
Retention removes rows outright, in bounded batches, so one pass never holds long locks.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, String, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Session

from storage.repos.common import parse_uuid
from storage.states import FINISHED

__all__ = ["PurgeCounts", "Target", "lock_for_delete", "purge_batch", "tombstone"]


@dataclass(frozen=True)
class Target:
    """An artifact about to be deleted, as its row says (read under its lock)."""

    artifact_id: uuid.UUID
    run_id: uuid.UUID | None
    created_by: str | None
    pipeline_name: str
    deleted_at: datetime | None
    deleted_by: str | None
    content: dict[str, Any]


_LOCK = text(
    "SELECT id, run_id, created_by, pipeline_name, deleted_at, deleted_by, content FROM artifacts "
    "WHERE team_id = :team AND id = :aid FOR UPDATE"
)


def lock_for_delete(s: Session, team_id: str, artifact_id: uuid.UUID | str) -> Target | None:
    """The artifact's row, locked until the transaction ends; None when not in this workspace."""
    aid = parse_uuid(artifact_id)
    if aid is None:
        return None
    row = s.execute(_LOCK, {"team": team_id, "aid": aid}).first()
    if row is None:
        return None
    return Target(row.id, row.run_id, row.created_by, row.pipeline_name, row.deleted_at, row.deleted_by, row.content)


_TOMBSTONE = (
    text(
        "UPDATE artifacts SET content = :content, latest_version = 1, deleted_at = :at, deleted_by = :by "
        "WHERE team_id = :team AND id = :aid"
    ).bindparams(bindparam("content", type_=JSONB)),
    text("DELETE FROM artifact_versions WHERE team_id = :team AND artifact_id = :aid"),
    text("DELETE FROM artifact_feedback WHERE team_id = :team AND artifact_id = :aid"),
    text("DELETE FROM edit_link_uses WHERE team_id = :team AND artifact_id = :aid"),
)
_CLEAR_RUN = (
    text(
        "UPDATE runs SET input = '', output = NULL, error_message = NULL, thread = NULL "
        "WHERE team_id = :team AND id = :run"
    ),
    # usage and cost stay, so the workspace's spend still adds up
    text("UPDATE run_steps SET input = '', output = NULL, error_message = NULL WHERE run_id = :run"),
    # the files people shared, bytes and all (their chunks go with them: ON DELETE CASCADE)
    text("DELETE FROM run_files WHERE run_id = :run"),
)


def tombstone(
    s: Session,
    team_id: str,
    target: Target,
    content: dict[str, Any],
    *,
    by: str,
    at: datetime,
) -> None:
    """Replace the artifact's content by ``content`` (the tombstone) and remove everything
    else it held: its versions, its votes, its edit links' uses, the run's and its steps'
    text, the thread's messages and the run's files. The caller holds the row lock (:func:`lock_for_delete`)."""
    params = {"team": team_id, "aid": target.artifact_id, "content": content, "at": at, "by": by}
    for stmt in _TOMBSTONE:
        s.execute(stmt, params)
    if target.run_id is not None:
        for stmt in _CLEAR_RUN:
            s.execute(stmt, {"team": team_id, "run": target.run_id})


# ---- retention --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PurgeCounts:
    artifacts: int = 0
    runs: int = 0

    def __add__(self, other: PurgeCounts) -> PurgeCounts:
        return PurgeCounts(self.artifacts + other.artifacts, self.runs + other.runs)

    @property
    def any(self) -> bool:
        return bool(self.artifacts or self.runs)


_FINISHED = sorted(str(s) for s in FINISHED)

# Artifacts older than the cut whose run is finished (or gone). Versions, feedback and edit link
# uses go with them (ON DELETE CASCADE); a branch of one keeps its row, its parent link set NULL.
_OLD_ARTIFACTS = text(
    "WITH doomed AS ("
    " SELECT a.id FROM artifacts a LEFT JOIN runs r ON r.id = a.run_id"
    " WHERE a.created_at < :cut AND (r.id IS NULL OR r.status = ANY(:finished))"
    " LIMIT :batch FOR UPDATE OF a SKIP LOCKED)"
    " DELETE FROM artifacts a USING doomed WHERE a.id = doomed.id"
).bindparams(bindparam("finished", type_=ARRAY(String)))
# Finished runs older than the cut (their artifact went first, or they never wrote one). Their
# steps go with them (ON DELETE CASCADE). A queued, running or waiting run is never touched.
_OLD_RUNS = text(
    "WITH doomed AS ("
    " SELECT id FROM runs WHERE created_at < :cut AND status = ANY(:finished)"
    " AND NOT EXISTS (SELECT 1 FROM artifacts a WHERE a.run_id = runs.id AND a.created_at >= :cut)"
    " LIMIT :batch FOR UPDATE SKIP LOCKED)"
    " DELETE FROM runs r USING doomed WHERE r.id = doomed.id"
).bindparams(bindparam("finished", type_=ARRAY(String)))


def purge_batch(conn: Session | Connection, cut: datetime, batch: int) -> PurgeCounts:
    """Delete at most ``batch`` artifacts and ``batch`` runs older than ``cut`` (one statement
    each, rows already locked by someone else skipped); the counts deleted."""
    params = {"cut": cut, "batch": batch, "finished": _FINISHED}
    artifacts = conn.execute(_OLD_ARTIFACTS, params)
    runs = conn.execute(_OLD_RUNS, params)
    return PurgeCounts(int(getattr(artifacts, "rowcount", 0) or 0), int(getattr(runs, "rowcount", 0) or 0))
