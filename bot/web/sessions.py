"""The web viewer's session: who signed in with Slack, in a sealed cookie (DESIGN §10).

The cookie holds the workspace, the user and when they signed in, sealed with Fernet
(encrypted and authenticated) so it can be neither read nor forged, under a key derived from
PIPEBOT_SECRET_KEY with its own label: the same secret encrypts stored provider keys and signs
permalinks, and a session must never be usable as either. Every key of the rotation list opens
a cookie, the newest seals new ones, so rotating the secret does not sign everyone out at once.

Fernet's timestamp is the issue time, and :func:`open_session` passes :data:`SESSION_TTL_S` as
its ``ttl``: an old cookie is refused by the server even if a browser kept it past its
``Max-Age``. Anything that does not open (expired, forged, sealed under a retired key) is
simply "not signed in": the page sends the person to sign in again, with no error.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from core.settings import Settings

#: The session cookie's name.
COOKIE_NAME = "pipebot_session"
#: The cookie that binds a started sign-in to the browser that started it (login CSRF).
SIGNIN_COOKIE = "pipebot_signin"
#: Where that cookie is sent: the sign-in's own paths only.
SIGNIN_COOKIE_PATH = "/signin"
#: How long a sign-in lasts (a working day): then Slack is asked again.
SESSION_TTL_S = 8 * 3600
#: Cookies longer than this are not even tried (a browser sends at most ~4 KB anyway).
MAX_COOKIE_CHARS = 2048

_LABEL = b"pipebot web session key v1"


@dataclass(frozen=True)
class WebSession:
    """Who is signed in: ``user_id`` of ``team_id`` (their own workspace, as Slack said at
    sign-in), since ``issued_at`` (Unix seconds). ``name`` is Slack's display name when the
    id token carried one (else empty)."""

    team_id: str
    user_id: str
    issued_at: int
    name: str = ""


def derive_session_key(master_secret: str) -> bytes:
    """The Fernet key of session cookies, derived from one PIPEBOT_SECRET_KEY entry."""
    raw = hmac.new(master_secret.encode("utf-8"), _LABEL, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(raw)


def _box(keys: Sequence[str]) -> MultiFernet:
    if not keys:
        raise ValueError("no PIPEBOT_SECRET_KEY: sessions cannot be sealed")
    return MultiFernet([Fernet(derive_session_key(k)) for k in keys])


def seal_session(keys: Sequence[str], session: WebSession) -> str:
    """The cookie value for ``session``, sealed under the newest key; Fernet's own timestamp is
    ``issued_at``, so the server-side expiry counts from the sign-in."""
    body = json.dumps({"t": session.team_id, "u": session.user_id, "n": session.name}, separators=(",", ":"))
    return _box(keys).encrypt_at_time(body.encode("utf-8"), session.issued_at).decode("ascii")


def open_session(keys: Sequence[str], value: str | None, *, now: float | None = None) -> WebSession | None:
    """The session in a cookie value, or None for anything that is not a live one of ours."""
    if not value or len(value) > MAX_COOKIE_CHARS or not keys:
        return None
    box = _box(keys)
    at = int(time.time() if now is None else now)
    try:
        raw = box.decrypt_at_time(value.encode("ascii"), SESSION_TTL_S, at)
        issued = box.extract_timestamp(value.encode("ascii"))
        data = json.loads(raw)
    except (InvalidToken, ValueError, UnicodeError):
        return None
    team, user, name = data.get("t"), data.get("u"), data.get("n", "")
    if not (isinstance(team, str) and team and isinstance(user, str) and user and isinstance(name, str)):
        return None
    return WebSession(team, user, int(issued), name)


def _secure(settings: Settings) -> str:
    return "; Secure" if settings.public_url.lower().startswith("https://") else ""


def session_cookie(settings: Settings, value: str) -> str:
    """The ``Set-Cookie`` value that signs someone in: HttpOnly (no script reads it, there is
    none anyway), Secure over https, SameSite=Lax (sent when a link from Slack is followed,
    not with another site's form posts), the whole site, expiring with the session."""
    return f"{COOKIE_NAME}={value}; Max-Age={SESSION_TTL_S}; Path=/; HttpOnly{_secure(settings)}; SameSite=Lax"


def cleared_cookie(settings: Settings) -> str:
    """The ``Set-Cookie`` value that signs someone out."""
    return f"{COOKIE_NAME}=; Max-Age=0; Path=/; HttpOnly{_secure(settings)}; SameSite=Lax"


def signin_cookie(settings: Settings, value: str, max_age: int) -> str:
    """The ``Set-Cookie`` value of ``/signin``: the state's keyed hash (bot/web/oidc.py
    :func:`~bot.web.oidc.state_binding`), sent back only to ``/signin…`` for ``max_age`` seconds.
    The callback requires it, so a callback URL made in someone else's browser (an attacker
    signing a victim into the attacker's account) finds no matching cookie and signs nobody in."""
    return f"{SIGNIN_COOKIE}={value}; Max-Age={max_age}; Path={SIGNIN_COOKIE_PATH}; HttpOnly{_secure(settings)}; SameSite=Lax"


def cleared_signin_cookie(settings: Settings) -> str:
    """The ``Set-Cookie`` value that forgets a started sign-in (the callback spends it)."""
    return f"{SIGNIN_COOKIE}=; Max-Age=0; Path={SIGNIN_COOKIE_PATH}; HttpOnly{_secure(settings)}; SameSite=Lax"


__all__ = [
    "COOKIE_NAME",
    "SIGNIN_COOKIE",
    "SIGNIN_COOKIE_PATH",
    "cleared_signin_cookie",
    "signin_cookie",
    "SESSION_TTL_S",
    "WebSession",
    "cleared_cookie",
    "derive_session_key",
    "open_session",
    "seal_session",
    "session_cookie",
]
