"""OAuth codes and ``oauth.v2.access``."""

from __future__ import annotations

import secrets
from typing import Any

from tests.fakes.slack.limits import APP_ID
from tests.fakes.slack.records import ApiError, Call
from tests.fakes.slack.state import SlackState


class OAuthMixin(SlackState):
    """Installing the app."""

    def new_oauth_code(
        self,
        team_id: str = "T0NEWTEAM",
        team_name: str = "New Team",
        *,
        user_id: str = "U0INSTALLER",
        scope: str = "commands,chat:write",
        redirect_uri: str | None = None,
        enterprise_id: str | None = None,
    ) -> str:
        """A code as Slack puts on the OAuth redirect, for ``oauth.v2.access``."""
        with self._lock:
            code = f"{next(self._ids)}.{secrets.token_hex(12)}"
            self._oauth_codes[code] = {
                "team_id": team_id,
                "team_name": team_name,
                "user_id": user_id,
                "scope": scope,
                "redirect_uri": redirect_uri,
                "enterprise_id": enterprise_id,
            }
            return code

    # ----------------------------------------------------------------- OAuth
    def _m_oauth_v2_access(self, params: dict[str, Any], ctx: Any, call: Call) -> dict[str, Any]:
        self._check_client(params, call)
        code = self._oauth_codes.pop(str(params.get("code") or ""), None)
        if code is None:
            raise ApiError("invalid_code")
        if code["redirect_uri"] and params.get("redirect_uri") != code["redirect_uri"]:
            raise ApiError("bad_redirect_uri")
        team = self.teams.get(code["team_id"])
        if team is None:
            token = self.add_team(code["team_id"], code["team_name"], enterprise_id=code["enterprise_id"])
            team = self.teams[code["team_id"]]
        else:
            token = f"xoxb-{team['id']}-{secrets.token_hex(8)}"
            self.tokens[token] = {"team_id": team["id"], "kind": "bot", "revoked": False}
        if code["user_id"] not in self.users:
            self.add_user(code["user_id"], "installer", team_id=team["id"], is_admin=True)
        enterprise = {"id": team["enterprise_id"], "name": "Enterprise"} if team.get("enterprise_id") else None
        return {
            "access_token": token,
            "token_type": "bot",
            "scope": code["scope"],
            "bot_user_id": team["bot_user_id"],
            "app_id": APP_ID,
            "team": {"id": team["id"], "name": team["name"]},
            "enterprise": enterprise,
            "authed_user": {"id": code["user_id"]},
            "is_enterprise_install": False,
        }
