"""``api.test``, ``auth.test``, ``team.info``, ``users.info``, ``users.list``: who is calling and who is who."""

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

    def _m_users_list(self, params: dict[str, Any], ctx: dict[str, Any], call: Call) -> dict[str, Any]:
        """The workspace's users (bots and deactivated ones included), paged as Slack pages
        them: ``limit`` (at most 1000; Slack suggests 200) and an opaque ``cursor`` from the
        previous page's ``response_metadata.next_cursor`` ("" on the last page)."""
        team_id = params.get("team_id") or ctx["team"]["id"]
        try:
            limit = int(params.get("limit") or 0) or 1000
        except (TypeError, ValueError):
            raise ApiError("invalid_limit") from None
        limit = max(1, min(limit, 1000))
        cursor = str(params.get("cursor") or "")
        try:
            start = int(cursor.removeprefix("dXNlcjo"), 16) if cursor else 0
        except ValueError:
            raise ApiError("invalid_cursor") from None
        with self._lock:
            members = [u for u in self.users.values() if u.get("team_id") == team_id]
        members.sort(key=lambda u: u["id"])
        page = members[start : start + limit]
        following = start + limit
        next_cursor = f"dXNlcjo{following:x}" if following < len(members) else ""
        return {
            "members": json.loads(json.dumps(page)),
            "cache_ts": 1700000000,
            "response_metadata": {"next_cursor": next_cursor},
        }
