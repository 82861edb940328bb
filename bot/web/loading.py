"""Reading what a viewer page shows: one version of an artifact by its signed link.

Shared by the permalink page, the compare page and the editor's redirects, so the rule "one
query, then the signature against the workspace stored with the row" lives once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from core.context import AppContext
from core.permalinks import verify
from core.runs.artifact import Artifact
from storage.repos import artifact_versions as versions


def requested_version(raw: str | None) -> int | None:
    """``v`` from the query: a positive number, None when absent; 0 (opens nothing) when malformed."""
    if raw is None or raw == "":
        return None
    return int(raw) if raw.isdigit() and len(raw) < 10 else 0


@dataclass(frozen=True)
class Loaded:
    team_id: str
    artifact: Artifact
    number: int
    latest: int
    content: dict[str, Any]
    slack_undelivered: str | None = None


def load_version(
    conn: Connection,
    keys: list[bytes],
    artifact_id: str,
    number: int | None,
    sig: str | None,
    *,
    verified: bool = False,
) -> Loaded | None:
    """One query for the version (the latest when ``number`` is None), then the signature check
    against the workspace stored with it. None for anything that must not open. ``verified``
    skips the check for a caller that has checked another signature naming this artifact (the
    compare link) and compares the workspace itself."""
    try:
        canonical = str(uuid.UUID(artifact_id))
    except ValueError:
        return None
    row = (
        versions.latest_version_unscoped(conn, canonical)
        if number is None
        else versions.version_unscoped(conn, canonical, number)
    )
    if row is None or (not verified and not verify(canonical, row.team_id, sig, keys)):
        return None
    art = Artifact.from_content(dict(row.content, artifact_id=canonical, team_id=row.team_id))
    return Loaded(row.team_id, art, row.number, row.latest, row.content, row.slack_undelivered)


def read_conn(ctx: AppContext) -> Connection:
    """A connection for a page's reads: no ORM session, and autocommit spares the BEGIN and
    ROLLBACK round trips."""
    return ctx.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
