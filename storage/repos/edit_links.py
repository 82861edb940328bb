"""The used nonces of edit links: a row per use, its primary key refuses a second one."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from storage.repos.common import parse_uuid

__all__ = ["edit_link_used", "purge_edit_link_uses", "record_edit_link_use"]

# Written only for an artifact of this workspace; a nonce already there writes nothing.
_RECORD = text(
    "INSERT INTO edit_link_uses (nonce, team_id, artifact_id, user_id, expires_at) "
    "SELECT :nonce, a.team_id, a.id, :user, :expires FROM artifacts a WHERE a.team_id = :team AND a.id = :aid "
    "ON CONFLICT (nonce) DO NOTHING RETURNING nonce"
)


def record_edit_link_use(
    s: Session | Connection, team_id: str, nonce: str, artifact_id: uuid.UUID | str, user_id: str, expires_at: datetime
) -> bool:
    """Mark the link's nonce used. True for the first use only; False for a replay (or for an
    artifact that is not this workspace's, where nothing is written)."""
    aid = parse_uuid(artifact_id)
    if aid is None:
        return False
    row = s.execute(
        _RECORD, {"nonce": nonce, "team": team_id, "aid": aid, "user": user_id, "expires": expires_at}
    ).first()
    return row is not None


def edit_link_used(s: Session | Connection, nonce: str) -> bool:
    """Whether the link with this nonce was used already (so its editor says so at once)."""
    return s.execute(text("SELECT 1 FROM edit_link_uses WHERE nonce = :nonce"), {"nonce": nonce}).first() is not None


def purge_edit_link_uses(s: Session | Connection, expired_before: datetime) -> int:
    """Forget uses of links that expired before ``expired_before``: such a link is refused as
    expired anyway, so its nonce need not be kept."""
    res = s.execute(text("DELETE FROM edit_link_uses WHERE expires_at < :t"), {"t": expired_before})
    return int(getattr(res, "rowcount", 0))
