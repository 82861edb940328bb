"""Sign in with Slack (OpenID Connect): the authorize page and ``openid.connect.token``.

As Slack documents them (https://api.slack.com/authentication/sign-in-with-slack;
``openid.connect.token``: client credentials by HTTP Basic auth or as parameters, ``code``,
``redirect_uri`` equal to the authorize request's, ``code_verifier`` for PKCE; errors
``invalid_code``, ``bad_redirect_uri``, ``invalid_client_id``, ``bad_client_secret``). The
answer carries ``access_token``, ``token_type`` and an ``id_token``: a JWT whose payload has
``iss`` https://slack.com, ``sub``, ``aud`` (the client id), ``exp``, ``iat``, ``nonce`` and
the ``https://slack.com/team_id`` / ``user_id`` claims. Its signature is random bytes: an app
that takes the id token straight from the token endpoint checks its claims, not the signature
(OIDC Core §3.1.3.7), and one that tried to verify it would fail here loudly.

``GET /openid/connect/authorize`` plays the person consenting: it redirects to
``redirect_uri`` with a code and the state, as Slack does, signing in :attr:`signin_user`
(set with :meth:`sign_in_as`), or with ``error=access_denied`` after :meth:`refuse_consent`.
:attr:`id_token_overrides` changes claims of the next id tokens (a wrong ``nonce``, ``aud``,
``iss``, an ``exp`` in the past), for tests of an app's checks. A PKCE verifier that does not
match its challenge answers ``invalid_code`` (Slack documents no error of its own for it).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
import urllib.parse
from typing import Any

from tests.fakes.slack.limits import USER_ID
from tests.fakes.slack.records import ApiError, Call
from tests.fakes.slack.state import SlackState

ISSUER = "https://slack.com"
ID_TOKEN_TTL_S = 300


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


class OpenIDMixin(SlackState):
    """Sign in with Slack."""

    signin_user: str = USER_ID
    consent: bool = True

    def sign_in_as(self, user_id: str) -> None:
        """The person who consents on the next authorize requests (their team is their own)."""
        with self._lock:
            self.signin_user = user_id
            self.consent = True

    def refuse_consent(self) -> None:
        """The next authorize requests are cancelled by the person (``error=access_denied``)."""
        with self._lock:
            self.consent = False

    def _authorize_page(self, query: str) -> tuple[int, dict[str, str], bytes]:
        q = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
        with self._lock:
            self.authorize_requests.append(q)
            redirect = q.get("redirect_uri", "")
            if q.get("client_id") != self.client_id or not redirect:
                return 400, {"Content-Type": "text/plain"}, b"invalid_client_id or missing redirect_uri"
            if q.get("response_type") != "code" or "openid" not in q.get("scope", "").replace(",", " ").split():
                return 400, {"Content-Type": "text/plain"}, b"invalid_scope"
            if not self.consent:
                params = {"error": "access_denied", "state": q.get("state", "")}
            else:
                user = self.users.get(self.signin_user) or {"team_id": self.team_id}
                code = f"{next(self._ids)}.{secrets.token_hex(12)}"
                self._oidc_codes[code] = {
                    "user_id": self.signin_user,
                    "team_id": user.get("team_id") or self.team_id,
                    "nonce": q.get("nonce"),
                    "redirect_uri": redirect,
                    "challenge": q.get("code_challenge"),
                    "method": q.get("code_challenge_method") or "plain",
                    "client_id": q.get("client_id"),
                }
                params = {"code": code, "state": q.get("state", "")}
        sep = "&" if "?" in redirect else "?"
        return 302, {"Location": redirect + sep + urllib.parse.urlencode(params)}, b""

    def _m_openid_connect_token(self, params: dict[str, Any], ctx: Any, call: Call) -> dict[str, Any]:
        self._check_client(params, call)
        code = self._oidc_codes.pop(str(params.get("code") or ""), None)
        if code is None:
            raise ApiError("invalid_code")
        if params.get("redirect_uri") != code["redirect_uri"]:
            raise ApiError("bad_redirect_uri")
        if code["challenge"]:
            verifier = str(params.get("code_verifier") or "")
            if code["method"] == "S256":
                expected = _b64(hashlib.sha256(verifier.encode("ascii", "replace")).digest())
            else:
                expected = verifier
            if not verifier or not secrets.compare_digest(expected, code["challenge"]):
                raise ApiError("invalid_code")
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "sub": code["user_id"],
            "aud": code["client_id"],
            "exp": now + ID_TOKEN_TTL_S,
            "iat": now,
            "auth_time": now,
            "nonce": code["nonce"],
            "at_hash": _b64(secrets.token_bytes(16)),
            "https://slack.com/team_id": code["team_id"],
            "https://slack.com/user_id": code["user_id"],
        }
        claims.update(self.id_token_overrides)
        header = _b64(json.dumps({"typ": "JWT", "alg": "RS256", "kid": "fake-kid"}).encode())
        payload = _b64(json.dumps(claims).encode())
        return {
            "access_token": f"xoxp-{code['team_id']}-{secrets.token_hex(8)}",
            "token_type": "Bearer",
            "id_token": f"{header}.{payload}.{_b64(secrets.token_bytes(64))}",
        }
