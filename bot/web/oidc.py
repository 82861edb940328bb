"""Sign in with Slack (OpenID Connect) for the web viewer: the authorize URL, the one-time
state, and the checks on the id token (DESIGN §10; NOTES-integrations §3).

Why the URL is built here and not by slack_sdk's ``OpenIDConnectAuthorizeUrlGenerator``: that
helper puts ``redirect_uri`` into the query without URL-encoding it and has no PKCE, so its URL
breaks on any redirect URI with a query or an ``&``, and cannot carry ``code_challenge``. The
query is built with :func:`urllib.parse.urlencode`, which encodes every value.

Why the id token's signature is not checked: it comes straight from ``openid.connect.token``
over TLS (server certificate verified), and OIDC Core §3.1.3.7 lets "the TLS server
validation" of the token endpoint stand in for the signature in that case. Its ``iss``,
``aud``, ``exp`` and ``nonce`` are still checked (:func:`check_id_token`), so a token issued for
another app, an old one or one from another sign-in is refused.

The state is random, stored in Redis for :data:`STATE_TTL_S` with the nonce, the PKCE verifier
and where to go next, and taken back with GETDEL: a state works once, and one Slack never saw
(forged) or already used (replayed) finds nothing. The state is also bound to the browser that
started the sign-in: ``/signin`` sets a short cookie holding :func:`state_binding` of it, and the
callback requires that cookie (:func:`bound_to`), so a callback URL of someone else's sign-in
opened in this browser (login CSRF) signs nobody in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import redis

#: How long a started sign-in may take before its state expires.
STATE_TTL_S = 600
#: Slack's issuer, the ``iss`` of every id token it signs.
ISSUER = "https://slack.com"
TEAM_CLAIM = "https://slack.com/team_id"
USER_CLAIM = "https://slack.com/user_id"
#: Where sign-in comes back (register ``{PIPEBOT_PUBLIC_URL}/signin/callback`` in the Slack app).
CALLBACK_PATH = "/signin/callback"
#: Pages ``next`` may name: the viewer's own, relative to this site.
NEXT_PREFIXES = ("/artifacts/", "/compare")

_STATE_KEY = "pipebot:signin:state:"
_BINDING_LABEL = b"pipebot sign-in browser binding v1"


class TokenUntrusted(Exception):
    """The id token failed a check; the message names which (shown to the person)."""


@dataclass(frozen=True)
class Pending:
    """A sign-in started by ``GET /signin``, waiting for Slack to send the person back."""

    nonce: str
    verifier: str
    next: str


@dataclass(frozen=True)
class Identity:
    """Who Slack says signed in, from a checked id token."""

    team_id: str
    user_id: str
    name: str


def safe_next(raw: str | None) -> str:
    """``raw`` if it is one of the viewer's own pages as a relative path, else ``/``: the
    callback redirects there, and must never send someone to another site (``//evil``,
    ``/\\evil``, ``https://…``) or to a path of ours that is not a page."""
    if not raw or len(raw) > 2000 or not raw.startswith(NEXT_PREFIXES):
        return "/"
    if "\\" in raw or any(ord(c) < 0x20 or ord(c) == 0x7F for c in raw):
        return "/"
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc or ".." in parts.path.split("/"):
        return "/"
    return raw


def authorize_endpoint(slack_api_url: str) -> str:
    """Slack's authorize page on the same origin as the Web API: ``https://slack.com/api/``
    gives ``https://slack.com/openid/connect/authorize``, and a fake Slack at
    ``http://127.0.0.1:PORT/api/`` gives ``http://127.0.0.1:PORT/openid/connect/authorize``."""
    parts = urlsplit(slack_api_url)
    path = parts.path.rstrip("/")
    if path.endswith("/api"):
        path = path[: -len("/api")]
    return urlunsplit((parts.scheme, parts.netloc, path + "/openid/connect/authorize", "", ""))


def code_challenge(verifier: str) -> str:
    """PKCE's S256 challenge of ``verifier`` (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def authorize_url(
    endpoint: str, *, client_id: str, redirect_uri: str, state: str, nonce: str, verifier: str, team: str | None
) -> str:
    """The URL that sends someone to Slack to sign in (scope ``openid`` only: the user's id
    and workspace are all the viewer needs)."""
    query = {
        "response_type": "code",
        "scope": "openid",
        "client_id": client_id,
        "state": state,
        "nonce": nonce,
        "redirect_uri": redirect_uri,
        "code_challenge": code_challenge(verifier),
        "code_challenge_method": "S256",
    }
    if team:
        query["team"] = team
    return f"{endpoint}?{urlencode(query)}"


def start(r: redis.Redis, next_path: str) -> tuple[str, Pending]:
    """A new state and what it will need at the callback, stored for :data:`STATE_TTL_S`."""
    state = secrets.token_urlsafe(32)
    pending = Pending(nonce=secrets.token_urlsafe(32), verifier=secrets.token_urlsafe(64), next=safe_next(next_path))
    r.set(_STATE_KEY + state, json.dumps(pending.__dict__), ex=STATE_TTL_S)
    return state, pending


def _binding(secret: str, state: str) -> str:
    key = hmac.new(secret.encode("utf-8"), _BINDING_LABEL, hashlib.sha256).digest()
    mac = hmac.new(key, state.encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode("ascii").rstrip("=")


def state_binding(keys: Sequence[str], state: str) -> str:
    """The keyed hash of ``state`` that ``/signin`` leaves in the browser (under a key derived
    from the newest PIPEBOT_SECRET_KEY with its own label): not the state itself, so the cookie
    alone cannot finish anyone's sign-in."""
    if not keys:
        raise ValueError("no PIPEBOT_SECRET_KEY: a sign-in cannot be bound to its browser")
    return _binding(keys[0], state)


def bound_to(keys: Sequence[str], state: str | None, cookie: str | None) -> bool:
    """Whether ``cookie`` (the browser's) is the binding of ``state`` under any key of the
    rotation list (a sign-in started just before a key change still finishes)."""
    if not state or not cookie or len(cookie) > 100:
        return False
    return any(hmac.compare_digest(_binding(k, state), cookie) for k in keys)


def take(r: redis.Redis, state: str | None) -> Pending | None:
    """The sign-in ``state`` started, once: None if it never existed, expired or was used."""
    if not state or len(state) > 200:
        return None
    raw = r.getdel(_STATE_KEY + state)
    if raw is None:
        return None
    try:
        data = json.loads(raw)
        return Pending(nonce=str(data["nonce"]), verifier=str(data["verifier"]), next=safe_next(data["next"]))
    except (ValueError, KeyError, TypeError):
        return None


def claims_of(id_token: Any) -> dict[str, Any]:
    """The payload of a JWT, not verified (see the module docstring for why that is sound here)."""
    if not isinstance(id_token, str) or id_token.count(".") != 2:
        raise TokenUntrusted("the id token is not a JWT")
    payload = id_token.split(".")[1]
    try:
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, UnicodeError):
        raise TokenUntrusted("the id token cannot be read") from None
    if not isinstance(data, dict):
        raise TokenUntrusted("the id token cannot be read")
    return data


def check_id_token(claims: Mapping[str, Any], *, client_id: str, nonce: str, now: float | None = None) -> Identity:
    """Who signed in, after checking ``iss``, ``aud``, ``exp`` and ``nonce``."""
    if claims.get("iss") != ISSUER:
        raise TokenUntrusted("it was not issued by Slack")
    aud = claims.get("aud")
    if not (aud == client_id or (isinstance(aud, list) and client_id in aud)):
        raise TokenUntrusted("it was issued for another app")
    exp = claims.get("exp")
    if not isinstance(exp, (int, float)) or isinstance(exp, bool) or exp <= (time.time() if now is None else now):
        raise TokenUntrusted("it has expired")
    if not isinstance(claims.get("nonce"), str) or not secrets.compare_digest(str(claims["nonce"]), nonce):
        raise TokenUntrusted("it belongs to another sign-in")
    team = claims.get(TEAM_CLAIM)
    user = claims.get(USER_CLAIM) or claims.get("sub")
    if not (isinstance(team, str) and team and isinstance(user, str) and user):
        raise TokenUntrusted("it does not name a workspace and a user")
    name = claims.get("name")
    return Identity(team, user, name if isinstance(name, str) else "")
