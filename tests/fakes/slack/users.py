"""``api.test``, ``auth.test``, ``team.info``, ``users.info``: who is calling and who is who."""

from __future__ import annotations

import json
from typing import Any

from tests.fakes.slack.records import ApiError, Call
from tests.fakes.slack.state import SlackState


class UsersMixin(SlackState):
    """Identity methods."""

    # ================================================================= API methods
    def _m_api_test(self, params: dict[str, Any], ctx: Any, call: Call) -> dict[str, Any]:
        return {"args": {k: v for k, v in params.items() if isinstance(v, str)}}

    def _m_auth_test(self, params: dict[str, Any], ctx: dict[str, Any], call: Call) -> dict[str, Any]:
        team = ctx["team"]
        out = {
            "url": f"https://{team['domain']}.slack.com/",
            "team": team["name"],
            "user": "pipebot",
            "team_id": team["id"],
            "user_id": team["bot_user_id"],
            "bot_id": team["bot_id"],
            "is_enterprise_install": False,
        }
        if team.get("enterprise_id"):
            out["enterprise_id"] = team["enterprise_id"]
        return out

    def _m_team_info(self, params: dict[str, Any], ctx: dict[str, Any], call: Call) -> dict[str, Any]:
        team_id = params.get("team") or ctx["team"]["id"]
        team = self.teams.get(team_id)
        if team is None:
            raise ApiError("team_not_found")
        out = {
            "id": team["id"],
            "name": team["name"],
            "domain": team["domain"],
            "email_domain": "",
            "url": f"https://{team['domain']}.slack.com/",
            "icon": {"image_34": "https://example.invalid/34.png", "image_default": True},
        }
        if team.get("enterprise_id"):
            out["enterprise_id"] = team["enterprise_id"]
        return {"team": out}

    def _m_users_info(self, params: dict[str, Any], ctx: dict[str, Any], call: Call) -> dict[str, Any]:
        user = self.users.get(params.get("user") or "")
        if user is None:
            raise ApiError("user_not_found")
        return {"user": json.loads(json.dumps(user))}
