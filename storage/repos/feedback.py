"""👍/👎 on a version of an artifact: one vote per person per version, the last click wins.

Slack's feedback buttons toggle: a second click on the same button clears the vote, which the
caller passes as ``None`` and which deletes the row.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import ARRAY, Connection, bindparam, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Session

from storage.repos.common import parse_uuid

__all__ = ["VoteCounts", "counts", "counts_for_artifacts", "toggle", "vote", "vote_of"]


@dataclass(frozen=True)
class VoteCounts:
    up: int = 0
    down: int = 0


# The vote is written only where the artifact and that version exist in this workspace (and
# its result was not deleted); the conflict clause keeps a row of another workspace untouched.
_UPSERT = text(
    "INSERT INTO artifact_feedback (team_id, artifact_id, version, user_id, vote) "
    "SELECT a.team_id, a.id, :version, :user, :vote FROM artifacts a "
    "WHERE a.team_id = :team AND a.id = :aid AND :version BETWEEN 1 AND a.latest_version AND a.deleted_at IS NULL "
    "ON CONFLICT (artifact_id, version, user_id) DO UPDATE SET vote = excluded.vote, updated_at = now() "
    "WHERE artifact_feedback.team_id = excluded.team_id"
)
_CLEAR = text(
    "DELETE FROM artifact_feedback WHERE team_id = :team AND artifact_id = :aid AND version = :version "
    "AND user_id = :user"
)


def vote(s: Session, team_id: str, artifact_id: uuid.UUID | str, version: int, user_id: str, value: int | None) -> bool:
    """Record ``user_id``'s vote (+1 or -1) on ``version``, replacing their earlier one, or clear
    it with ``None``. False when nothing was written (no such artifact or version here, or no
    vote to clear)."""
    if value not in (1, -1, None):
        raise ValueError("a vote is +1, -1 or None")
    aid = parse_uuid(artifact_id)
    if aid is None:
        return False
    params = {"team": team_id, "aid": aid, "version": version, "user": user_id, "vote": value}
    res = s.execute(_CLEAR if value is None else _UPSERT, params)
    return bool(getattr(res, "rowcount", 0))


_VOTE_OF = text(
    "SELECT vote FROM artifact_feedback WHERE team_id = :team AND artifact_id = :aid "
    "AND version = :version AND user_id = :user"
)


def vote_of(
    s: Session | Connection, team_id: str, artifact_id: uuid.UUID | str, version: int, user_id: str
) -> int | None:
    """``user_id``'s vote on ``version`` (+1 or -1), or None: a click on the same button again
    clears it, so the caller needs to know what is stored."""
    aid = parse_uuid(artifact_id)
    if aid is None:
        return None
    value = s.execute(_VOTE_OF, {"team": team_id, "aid": aid, "version": version, "user": user_id}).scalar()
    return None if value is None else int(value)


# Two quick clicks of one person arrive as two requests handled at once: a lock of that
# person's vote on that version (held to the end of the transaction) applies them in turn.
_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))")


def toggle(
    s: Session, team_id: str, artifact_id: uuid.UUID | str, version: int, user_id: str, value: int
) -> int | None:
    """A click on Slack's feedback buttons: the button already chosen clears the vote, the other
    one replaces it. Returns the vote now stored (None: cleared, or nothing written because the
    artifact or version is not this workspace's)."""
    aid = parse_uuid(artifact_id)
    if aid is None:
        return None
    s.execute(_LOCK, {"key": f"artifact_feedback:{aid}:{version}:{user_id}"})
    new = None if vote_of(s, team_id, aid, version, user_id) == value else value
    if not vote(s, team_id, aid, version, user_id, new):
        return None
    return new


_COUNTS = text(
    "SELECT count(*) FILTER (WHERE vote > 0) AS up, count(*) FILTER (WHERE vote < 0) AS down "
    "FROM artifact_feedback WHERE team_id = :team AND artifact_id = :aid AND version = :version"
)
_COUNTS_MANY = text(
    "SELECT artifact_id, count(*) FILTER (WHERE vote > 0) AS up, count(*) FILTER (WHERE vote < 0) AS down "
    "FROM artifact_feedback WHERE team_id = :team AND artifact_id = ANY(:aids) GROUP BY artifact_id"
).bindparams(bindparam("aids", type_=ARRAY(UUID(as_uuid=True))))


def counts(s: Session | Connection, team_id: str, artifact_id: uuid.UUID | str, version: int) -> VoteCounts:
    """👍 and 👎 on one version."""
    aid = parse_uuid(artifact_id)
    if aid is None:
        return VoteCounts()
    row = s.execute(_COUNTS, {"team": team_id, "aid": aid, "version": version}).one()
    return VoteCounts(int(row.up), int(row.down))


def counts_for_artifacts(
    s: Session | Connection, team_id: str, artifact_ids: Iterable[uuid.UUID | str]
) -> dict[uuid.UUID, VoteCounts]:
    """👍 and 👎 of many artifacts at once (all their versions together), for lists: one query
    over the feedback key's prefix. Artifacts without votes are absent from the result."""
    aids = [a for a in (parse_uuid(x) for x in artifact_ids) if a is not None]
    if not aids:
        return {}
    rows = s.execute(_COUNTS_MANY, {"team": team_id, "aids": aids})
    return {r.artifact_id: VoteCounts(int(r.up), int(r.down)) for r in rows}
