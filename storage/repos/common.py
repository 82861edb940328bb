"""Small helpers the repository modules share."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def parse_uuid(value: uuid.UUID | str) -> uuid.UUID | None:
    """An id from a URL or a button may be anything: a malformed one matches no row."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None
