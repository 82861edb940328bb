"""Edit links: one Slack user may open the web editor of one artifact, for a few minutes, once.

The viewer has no login, so the link is the credential, like a permalink; it is only ever
sent to the person who pressed *Edit* (an ephemeral message), so holding it stands for being
them. The token carries the workspace, the artifact, the user, the version the edit starts
from, an expiry and a random nonce, and is signed with the permalink signing
(core/permalinks.py, with the deployment's rotation list from core/links.py): one signing,
one key rotation. The signed text is tagged ``edit-link:`` and a permalink signs a bare
artifact UUID, so neither signature is ever valid as the other.

Single use: saving records the nonce in ``edit_link_uses`` (PostgreSQL, the source of truth),
whose primary key refuses a second save. The editor form carries a CSRF token derived from
the link (a MAC of its nonce) that the POST must echo, so a form on another site cannot post
an edit with a link it does not hold.

Every refusal is an :class:`EditLinkError` whose ``reason`` says which rule refused it.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any
from urllib.parse import quote

from core.artifacts import messages
from core.permalinks import Secret, sign, verify
from core.timings import EDIT_LINK_TTL_S

__all__ = [
    "EditLink",
    "EditLinkError",
    "Reason",
    "check_csrf",
    "csrf_token",
    "edit_url",
    "mint",
    "read",
    "reused",
]

#: How long an edit link opens the editor (seconds).

_FORMAT = 1
_LINK_TAG = "edit-link:"
_CSRF_TAG = "edit-csrf:"


class Reason(Enum):
    TAMPERED = "tampered"
    EXPIRED = "expired"
    REUSED = "reused"
    WRONG_ARTIFACT = "wrong_artifact"
    WRONG_USER = "wrong_user"
    CSRF = "csrf"


class EditLinkError(Exception):
    """An edit link (or its form) refused; ``str()`` is the message to show the person."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class EditLink:
    """What a valid link grants: ``user_id`` of ``team_id`` may save one version of
    ``artifact_id`` after ``base_version``, until ``expires_at`` (Unix seconds)."""

    team_id: str
    artifact_id: str
    user_id: str
    base_version: int
    expires_at: int
    nonce: str

    @property
    def expires(self) -> datetime:
        return datetime.fromtimestamp(self.expires_at, UTC)


def _first(keys: Secret | Sequence[Secret]) -> Secret:
    if isinstance(keys, (str, bytes, bytearray)):
        return keys
    listed = list(keys)
    if not listed:
        raise ValueError("signing key list is empty; set PIPEBOT_SECRET_KEY")
    return listed[0]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def mint(
    keys: Secret | Sequence[Secret],
    *,
    team_id: str,
    artifact_id: str,
    user_id: str,
    base_version: int,
    ttl_s: int = EDIT_LINK_TTL_S,
    now: float | None = None,
) -> str:
    """A signed token (URL-safe) for :func:`edit_url`; the newest key of ``keys`` signs."""
    issued = int(time.time() if now is None else now)
    claims = [
        _FORMAT,
        team_id,
        str(uuid.UUID(str(artifact_id))),
        user_id,
        int(base_version),
        issued + ttl_s,
        _b64(secrets.token_bytes(16)),
    ]
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode("utf-8"))
    return f"{payload}.{sign(_LINK_TAG + payload, team_id, _first(keys))}"


def _decode(token: str) -> tuple[str, list[Any]]:
    tampered = EditLinkError(Reason.TAMPERED, messages.EDIT_LINK_TAMPERED)
    if not isinstance(token, str) or token.count(".") != 1 or not token.isascii():
        raise tampered
    payload, _ = token.split(".")
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise tampered from None
    if (
        not isinstance(claims, list)
        or len(claims) != 7
        or claims[0] != _FORMAT
        or not all(isinstance(c, str) for c in (claims[1], claims[2], claims[3], claims[6]))
        or not all(isinstance(c, int) for c in (claims[4], claims[5]))
    ):
        raise tampered
    return payload, claims


def read(
    token: str,
    keys: Secret | Sequence[Secret],
    *,
    artifact_id: str,
    user_id: str | None = None,
    now: float | None = None,
) -> EditLink:
    """Check a token for the editor of ``artifact_id`` and return what it grants.

    Refused, each with its own reason: a token not signed by us or altered (``TAMPERED``), one
    past its expiry (``EXPIRED``), one for another artifact (``WRONG_ARTIFACT``), and, where the
    caller knows who is asking (``user_id``, e.g. a Slack action), one made for someone else
    (``WRONG_USER``). Whether it was used already is the store's to say
    (``storage.repos.edit_links``), checked by core/artifacts/editing.py.
    """
    payload, claims = _decode(token)
    sig = token.split(".")[1]
    if not verify(_LINK_TAG + payload, claims[1], sig, keys):
        raise EditLinkError(Reason.TAMPERED, messages.EDIT_LINK_TAMPERED)
    link = EditLink(
        team_id=claims[1],
        artifact_id=claims[2],
        user_id=claims[3],
        base_version=claims[4],
        expires_at=claims[5],
        nonce=claims[6],
    )
    try:
        wanted = str(uuid.UUID(str(artifact_id)))
    except ValueError:
        wanted = str(artifact_id)
    if link.artifact_id != wanted:
        raise EditLinkError(Reason.WRONG_ARTIFACT, messages.EDIT_LINK_WRONG_ARTIFACT)
    if (time.time() if now is None else now) >= link.expires_at:
        raise EditLinkError(Reason.EXPIRED, messages.EDIT_LINK_EXPIRED)
    if user_id is not None and user_id != link.user_id:
        raise EditLinkError(Reason.WRONG_USER, messages.EDIT_LINK_WRONG_USER)
    return link


def reused() -> EditLinkError:
    """The refusal of a link whose nonce the store has already seen."""
    return EditLinkError(Reason.REUSED, messages.EDIT_LINK_REUSED)


def csrf_token(link: EditLink, keys: Secret | Sequence[Secret]) -> str:
    """The token the editor form carries and its POST must echo (a MAC of the link's nonce)."""
    return sign(_CSRF_TAG + link.nonce, link.team_id, _first(keys))


def check_csrf(link: EditLink, given: str | None, keys: Secret | Sequence[Secret]) -> None:
    """Refuse (``CSRF``) a POST whose echoed token is not this link's."""
    if not verify(_CSRF_TAG + link.nonce, link.team_id, given, keys):
        raise EditLinkError(Reason.CSRF, messages.EDIT_LINK_CSRF)


PART_PARAM = "part"  # the query parameter naming the part the editor opens (absent: the final output)


def part_query(part: str | None) -> str:
    """``&part=…`` for a step (``step:N``); nothing for the final output. The one place that
    spells the parameter, so the link sent from Slack and the editor's own links agree."""
    return f"&{PART_PARAM}={quote(part, safe='')}" if part and part != "output" else ""


def edit_url(public_url: str, artifact_id: str, token: str, part: str | None = None) -> str:
    """``{public_url}/artifacts/{id}/edit?t={token}[&part=step:N]``: the editor page of the web viewer."""
    base = (public_url or "").strip().rstrip("/")
    return f"{base}/artifacts/{quote(str(uuid.UUID(str(artifact_id))), safe='')}/edit?t={token}{part_query(part)}"
