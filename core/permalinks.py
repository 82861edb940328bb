"""Signed, unguessable permalinks to run artifacts.

An artifact page is opened from a link posted in Slack, by people who are not
logged in to pipebot's web server. So the link itself is the credential: it
carries an HMAC of the artifact id *and* the workspace (team) id. The server
looks the artifact up by id, then verifies the signature against the team id
stored with that artifact, so a link minted for one workspace can never open an
artifact of another even if ids were guessed or swapped.

Pure functions only: no Slack, no SQL, no environment access. The caller
derives the signing key from ``PIPEBOT_SECRET_KEY`` (see :func:`derive_key`) and
passes it in; :func:`verify` also accepts a list of keys so the secret can be
rotated without breaking links that are already in Slack history.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Sequence
from urllib.parse import quote

__all__ = [
    "SIG_LENGTH",
    "derive_key",
    "sign",
    "verify",
    "permalink",
]

# 18 bytes of HMAC-SHA256 = 144 bits, exactly 24 URL-safe base64 chars with no
# padding. Far beyond brute-forcing over HTTP, short enough for tidy links.
_SIG_BYTES = 18
SIG_LENGTH = 24

# Domain separation: the same PIPEBOT_SECRET_KEY also protects stored provider
# keys, so the MAC input is tagged to make it useless for anything else.
_CONTEXT = b"pipebot/permalink/v1"

_ALLOWED_SUFFIXES = ("", ".json", ".md")

Secret = bytes | str


def _key_bytes(secret: Secret) -> bytes:
    if isinstance(secret, str):
        secret = secret.encode("utf-8")
    if not isinstance(secret, (bytes, bytearray)):
        raise TypeError("permalink secret must be bytes or str")
    if not secret:
        # An empty key would make every link forgeable; fail loudly instead.
        raise ValueError("permalink secret is empty; set PIPEBOT_SECRET_KEY")
    return bytes(secret)


def _canonical_id(artifact_id: str) -> str:
    """Return the canonical lowercase UUID form when ``artifact_id`` is a UUID.

    Why: the same artifact may reach us as ``ABC…`` or ``abc…`` (or braced)
    from a URL or a database driver; the signature must not depend on that.
    Non-UUID strings are signed as given, so this module never guesses.
    """
    try:
        return str(uuid.UUID(str(artifact_id)))
    except (ValueError, AttributeError, TypeError):
        return str(artifact_id)


def _mac(artifact_id: str, team_id: str, key: bytes) -> bytes:
    # NUL separators: ids never contain NUL, so ("ab", "c") != ("a", "bc").
    msg = b"\x00".join((_CONTEXT, _canonical_id(artifact_id).encode("utf-8"), str(team_id).encode("utf-8")))
    return hmac.new(key, msg, hashlib.sha256).digest()[:_SIG_BYTES]


def derive_key(master_secret: Secret) -> bytes:
    """Derive the permalink signing key from ``PIPEBOT_SECRET_KEY``.

    Why: the master secret also encrypts provider API keys at rest; signing with
    a derived subkey keeps the two uses cryptographically independent, so a
    leaked signature can never help an attack on the encryption (or vice versa).
    """
    return hmac.new(_key_bytes(master_secret), b"pipebot permalink signing key v1", hashlib.sha256).digest()


def sign(artifact_id: str, team_id: str, secret: Secret) -> str:
    """Return the URL-safe signature (24 chars) binding ``artifact_id`` to ``team_id``.

    Binding the team id means a link only opens the artifact for the workspace
    it was minted for: tenancy is enforced by the link itself.
    """
    raw = _mac(artifact_id, team_id, _key_bytes(secret))
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def verify(
    artifact_id: str,
    team_id: str,
    sig: str | None,
    secret: Secret | Sequence[Secret],
) -> bool:
    """Check ``sig`` in constant time; any of several secrets may match.

    ``secret`` may be one key or a list (newest first) so keys can be rotated:
    links signed with an older key keep working while it stays in the list.
    Malformed input (None, non-ASCII, wrong length) is simply ``False``: this is
    called with attacker-controlled query strings and must never raise.
    """
    if not isinstance(sig, str) or len(sig) != SIG_LENGTH or not sig.isascii():
        return False
    secrets: Sequence[Secret]
    if isinstance(secret, (str, bytes, bytearray)):
        secrets = [secret]
    else:
        secrets = list(secret)
    if not secrets:
        return False
    given = sig.encode("ascii")
    ok = False
    for s in secrets:
        expected = sign(artifact_id, team_id, s).encode("ascii")
        # No short-circuit: every key is checked so timing does not reveal which matched.
        ok |= hmac.compare_digest(expected, given)
    return ok


def permalink(
    public_url: str,
    artifact_id: str,
    team_id: str,
    secret: Secret | Sequence[Secret],
    *,
    suffix: str = "",
) -> str:
    """Build ``{public_url}/artifacts/{id}{suffix}?s={sig}``.

    ``suffix`` is ``""`` (HTML page), ``".json"`` or ``".md"``; the signature is
    the same for all three since it covers the artifact, not the format.
    When ``secret`` is a rotation list, the first (newest) key signs.
    Trailing slashes on ``public_url`` are tolerated (``PIPEBOT_PUBLIC_URL`` is
    typed by humans).
    """
    if suffix not in _ALLOWED_SUFFIXES:
        raise ValueError(f"suffix must be one of {_ALLOWED_SUFFIXES!r}")
    if isinstance(secret, (str, bytes, bytearray)):
        key = secret
    else:
        keys = list(secret)
        if not keys:
            raise ValueError("permalink secret list is empty; set PIPEBOT_SECRET_KEY")
        key = keys[0]
    aid = _canonical_id(artifact_id)
    base = (public_url or "").strip().rstrip("/")
    return f"{base}/artifacts/{quote(aid, safe='')}{suffix}?s={sign(aid, team_id, key)}"
