"""Versions of an artifact: saved with optimistic concurrency, read one indexed query at a time.

Version 1 is ``artifacts.content`` itself, not a row of ``artifact_versions``: the run's
content is already stored once, so materialising it again would double every artifact's size,
make the upgrade copy a million JSONB documents, and need the executor's insert (or a trigger)
to write a second row. Instead ``artifacts.latest_version`` says which version is newest, and
each read is one statement over the artifact's primary key left-joined to the unique
``(artifact_id, number)`` index of ``artifact_versions``: version 1 comes from the artifact row,
any later one from the join. Rows of ``artifact_versions`` are only inserted, never updated, so
nothing overwrites version 1 or any other.

Every function takes the workspace's team id and filters by it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from storage.repos.common import parse_uuid

__all__ = [
    "ArtifactNotFound",
    "VersionConflict",
    "VersionInfo",
    "VersionRow",
    "get_version",
    "latest_version",
    "latest_version_unscoped",
    "list_versions",
    "save_version",
    "version_unscoped",
]

#: The most versions one list returns (a page shows them; older ones are paged with ``before``).
MAX_LIST = 200


class ArtifactNotFound(LookupError):
    """No artifact with this id in this workspace (deleted, never existed, or another's)."""


class VersionConflict(Exception):
    """Someone saved a version after the one this edit started from.

    ``latest`` is the number they saved (for "someone saved version N meanwhile"); ``content``,
    ``edited`` and ``note`` are the losing edit as it was submitted, handed back so the caller
    can offer it again and nothing typed is lost.
    """

    def __init__(self, latest: int, *, content: dict[str, Any], edited: str, note: str | None) -> None:
        super().__init__(f"version {latest} was saved meanwhile")
        self.latest = latest
        self.content = content
        self.edited = edited
        self.note = note


@dataclass(frozen=True)
class VersionInfo:
    """A version as a list shows it. Version 1 has ``edited`` None and the run's requester as
    author (it is what the run produced)."""

    number: int
    author: str | None
    note: str | None
    created_at: datetime
    edited: str | None


@dataclass(frozen=True)
class VersionRow:
    """One version with its whole content, and which version is the newest."""

    artifact_id: uuid.UUID
    team_id: str
    number: int
    latest: int
    content: dict[str, Any]
    author: str | None
    note: str | None
    created_at: datetime
    edited: str | None
    slack_undelivered: str | None = None


_BUMP = text(
    "UPDATE artifacts SET latest_version = latest_version + 1 "
    "WHERE team_id = :team AND id = :aid AND latest_version = :base AND deleted_at IS NULL RETURNING latest_version"
)
_CURRENT = text("SELECT latest_version, deleted_at FROM artifacts WHERE team_id = :team AND id = :aid")
_INSERT = text(
    "INSERT INTO artifact_versions (team_id, artifact_id, number, content, edited, author, note) "
    "VALUES (:team, :aid, :number, :content, :edited, :author, :note)"
).bindparams(bindparam("content", type_=JSONB))


def save_version(
    s: Session,
    team_id: str,
    artifact_id: uuid.UUID | str,
    *,
    base_version: int,
    content: dict[str, Any],
    edited: str,
    author: str,
    note: str | None = None,
) -> int:
    """Save ``content`` as the version after ``base_version`` and return its number.

    The bump of ``latest_version`` is the lock: it succeeds only while the artifact's latest is
    still ``base_version`` and its result was not deleted (core/artifacts/deletion.py). A second editor who started from the same version waits on the first
    one's row lock, then finds the condition false and gets :class:`VersionConflict` with the
    number the first one saved, carrying their own edit back.
    """
    aid = parse_uuid(artifact_id)
    if aid is None:
        raise ArtifactNotFound(str(artifact_id))
    number = s.execute(_BUMP, {"team": team_id, "aid": aid, "base": base_version}).scalar()
    if number is None:
        current = s.execute(_CURRENT, {"team": team_id, "aid": aid}).first()
        if current is None or current.deleted_at is not None:  # a deleted result takes no edits
            raise ArtifactNotFound(str(artifact_id))
        raise VersionConflict(int(current.latest_version), content=content, edited=edited, note=note)
    s.execute(
        _INSERT,
        {
            "team": team_id,
            "aid": aid,
            "number": number,
            "content": content,
            "edited": edited,
            "author": author,
            "note": note,
        },
    )
    return int(number)


# Version 1 is the artifact row; any later one the joined row. CASE (not coalesce) so the
# artifact's content is not even read for a later version.
_COLUMNS = (
    "SELECT a.id, a.team_id, {number} AS number, a.latest_version, "
    "CASE WHEN {number} = 1 THEN a.content ELSE v.content END AS content, "
    "CASE WHEN {number} = 1 THEN a.created_by ELSE v.author END AS author, v.note, "
    "CASE WHEN {number} = 1 THEN a.created_at ELSE v.created_at END AS created_at, v.edited, "
    "a.slack_undelivered "
    "FROM artifacts a LEFT JOIN artifact_versions v ON v.artifact_id = a.id AND v.number = {number} "
    "WHERE a.id = :aid AND ({number} = 1 OR v.id IS NOT NULL)"
)
_BY_NUMBER = text(_COLUMNS.format(number="CAST(:number AS integer)") + " AND a.team_id = :team")
_LATEST = text(_COLUMNS.format(number="a.latest_version") + " AND a.team_id = :team")
_BY_NUMBER_UNSCOPED = text(_COLUMNS.format(number="CAST(:number AS integer)"))
_LATEST_UNSCOPED = text(_COLUMNS.format(number="a.latest_version"))


def _row(row: Any) -> VersionRow | None:
    if row is None:
        return None
    return VersionRow(
        artifact_id=row.id,
        team_id=row.team_id,
        number=row.number,
        latest=row.latest_version,
        content=row.content,
        author=row.author,
        note=row.note,
        created_at=row.created_at,
        edited=row.edited,
        slack_undelivered=row.slack_undelivered,
    )


def get_version(s: Session | Connection, team_id: str, artifact_id: uuid.UUID | str, number: int) -> VersionRow | None:
    """Version ``number`` of the artifact, or None (no such artifact here, or no such version)."""
    aid = parse_uuid(artifact_id)
    if aid is None or number < 1:
        return None
    return _row(s.execute(_BY_NUMBER, {"aid": aid, "number": number, "team": team_id}).first())


def latest_version(s: Session | Connection, team_id: str, artifact_id: uuid.UUID | str) -> VersionRow | None:
    """The newest version of the artifact, or None."""
    aid = parse_uuid(artifact_id)
    if aid is None:
        return None
    return _row(s.execute(_LATEST, {"aid": aid, "team": team_id}).first())


def version_unscoped(conn: Session | Connection, artifact_id: uuid.UUID | str, number: int) -> VersionRow | None:
    """Version ``number`` by artifact id alone. Only for the permalink page, whose signature
    names the workspace and is checked by the caller against ``VersionRow.team_id``."""
    aid = parse_uuid(artifact_id)
    if aid is None or number < 1:
        return None
    return _row(conn.execute(_BY_NUMBER_UNSCOPED, {"aid": aid, "number": number}).first())


def latest_version_unscoped(conn: Session | Connection, artifact_id: uuid.UUID | str) -> VersionRow | None:
    """The newest version by artifact id alone; same rule as :func:`version_unscoped`."""
    aid = parse_uuid(artifact_id)
    if aid is None:
        return None
    return _row(conn.execute(_LATEST_UNSCOPED, {"aid": aid}).first())


_LIST = text(
    "SELECT number, author, note, created_at, edited FROM ("
    " (SELECT number, author, note, created_at, edited FROM artifact_versions"
    "  WHERE team_id = :team AND artifact_id = :aid AND number < :before ORDER BY number DESC LIMIT :limit)"
    " UNION ALL"
    " SELECT 1, created_by, NULL, created_at, NULL FROM artifacts WHERE team_id = :team AND id = :aid AND :before > 1"
    ") versions ORDER BY number DESC LIMIT :limit"
)


def list_versions(
    s: Session | Connection, team_id: str, artifact_id: uuid.UUID | str, *, limit: int = 50, before: int | None = None
) -> Sequence[VersionInfo]:
    """Versions newest first, without their content, at most ``limit`` (capped at
    :data:`MAX_LIST`); ``before`` pages on from a number. Empty for an artifact not found."""
    aid = parse_uuid(artifact_id)
    if aid is None:
        return []
    limit = max(1, min(limit, MAX_LIST))
    rows = s.execute(
        _LIST, {"team": team_id, "aid": aid, "limit": limit, "before": before if before is not None else 2**31 - 1}
    )
    return [
        VersionInfo(number=r.number, author=r.author, note=r.note, created_at=r.created_at, edited=r.edited)
        for r in rows
    ]
