"""``conversations.info`` and ``conversations.join``."""

from __future__ import annotations

from typing import Any

from tests.fakes.slack.records import ApiError, Call
from tests.fakes.slack.state import SlackState


class ConversationsMixin(SlackState):
    """Channel methods."""

    def _m_conversations_info(self, params: dict[str, Any], ctx: dict[str, Any], call: Call) -> dict[str, Any]:
        chan = self._resolve_channel(params.get("channel"))
        if chan["is_private"] and not chan["is_member"]:
            raise ApiError("channel_not_found")
        return {"channel": self._public_channel(chan)}

    def _m_conversations_join(self, params: dict[str, Any], ctx: dict[str, Any], call: Call) -> dict[str, Any]:
        chan = self._resolve_channel(params.get("channel"))
        if chan["is_im"] or chan["is_private"]:
            # A bot cannot join a private channel or a DM: it has to be invited.
            raise ApiError("method_not_supported_for_channel_type")
        if chan["is_archived"]:
            raise ApiError("is_archived")
        if chan["is_member"]:
            return {
                "channel": self._public_channel(chan),
                "warning": "already_in_channel",
                "response_metadata": {"warnings": ["already_in_channel"]},
            }
        chan["is_member"] = True
        return {"channel": self._public_channel(chan)}
