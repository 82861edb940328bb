"""What Slack does for pipebot's triggers (DESIGN §13): ``conversations.history``, ``emoji.list``
and the events a trigger listens to, ``reaction_added`` and channel ``message`` events.

As Slack documents them (docs.slack.dev, each method's and event's page; NOTES §4):
``conversations.history`` returns top-level messages only, newest first, ``latest``/``oldest``
exclusive unless ``inclusive``, and needs the bot in the conversation (``not_in_channel`` in a
public channel, ``channel_not_found`` in a private one). ``emoji.list`` answers the custom emoji
(name → URL or ``alias:name``) and, with ``include_categories``, the standard emoji's names by
category. ``reaction_added`` carries no message text: ``user``, ``reaction``, ``item_user`` and
``item: {type: message, channel, ts}``.
"""

from __future__ import annotations

import secrets
from typing import Any

from tests.fakes.slack.http import truthy
from tests.fakes.slack.limits import BOT_ID, BOT_USER_ID, GENERAL, TEAM_ID, USER_ID
from tests.fakes.slack.records import ApiError, Call
from tests.fakes.slack.state import SlackState

#: A few standard emoji, by category, as emoji.list's include_categories gives them.
STANDARD_EMOJI = {
    "smileys_&_people": ["grinning", "joy", "thinking_face", "wave"],
    "objects": ["memo", "pushpin", "bookmark_tabs", "spiral_calendar_pad"],
    "symbols": ["white_check_mark", "heavy_check_mark", "x", "warning"],
}


class TriggersMixin(SlackState):
    """History, emoji and the events of reactions and channel messages."""

    def add_emoji(self, name: str, team_id: str = TEAM_ID) -> None:
        """A custom emoji uploaded to a workspace."""
        with self._lock:
            self.teams[team_id].setdefault("_emoji", {})[name] = f"https://emoji.invalid/{name}.png"

    # ================================================================= API methods
    def _m_conversations_history(self, params: dict[str, Any], ctx: dict[str, Any], call: Call) -> dict[str, Any]:
        chan = self._resolve_channel(params.get("channel"))
        if not chan.get("is_member"):
            raise ApiError("channel_not_found" if chan.get("is_private") else "not_in_channel")
        try:
            limit = max(1, min(int(params.get("limit") or 100), 999))
        except (TypeError, ValueError):
            raise ApiError("invalid_limit") from None
        inclusive = truthy(params.get("inclusive"))
        latest, oldest = params.get("latest"), params.get("oldest")

        def within(m: dict[str, Any]) -> bool:
            t = float(m["ts"])
            if latest not in (None, "") and (t > float(latest) or (t == float(latest) and not inclusive)):
                return False
            if oldest not in (None, "") and (t < float(oldest) or (t == float(oldest) and not inclusive)):
                return False
            return True

        with self._lock:
            top = [
                self._public(m)
                for m in self._messages.get(chan["id"], [])
                if m.get("thread_ts") in (None, m["ts"]) and within(m)
            ]
        top.sort(key=lambda m: float(m["ts"]), reverse=True)
        return {"messages": top[:limit], "has_more": len(top) > limit, "response_metadata": {"next_cursor": ""}}

    def _m_emoji_list(self, params: dict[str, Any], ctx: dict[str, Any], call: Call) -> dict[str, Any]:
        team = self.teams[ctx["team"]["id"]]
        out: dict[str, Any] = {"emoji": dict(team.get("_emoji") or {}), "cache_ts": "1700000000.000000"}
        if truthy(params.get("include_categories")):
            out["categories_version"] = "5"
            out["categories"] = [{"name": name, "emoji_names": list(names)} for name, names in STANDARD_EMOJI.items()]
        return out

    # ================================================================= events
    def reaction_event(
        self, message: dict[str, Any], reaction: str, *, channel: str = GENERAL, user_id: str = USER_ID
    ) -> dict[str, Any]:
        """Someone reacts to ``message`` (as :meth:`post_as_user` returned it): the event Slack
        sends, without the message's text."""
        event: dict[str, Any] = {
            "type": "reaction_added",
            "user": user_id,
            "reaction": reaction,
            "item": {"type": "message", "channel": channel, "ts": message["ts"]},
            "event_ts": f"{float(message['ts']) + 1:.6f}",
        }
        if message.get("user"):
            event["item_user"] = message["user"]
        return event

    def message_event(self, message: dict[str, Any], *, channel: str = GENERAL, **extra: Any) -> dict[str, Any]:
        """The ``message`` event of a message already stored (``post_as_user``), in a channel."""
        chan = self._resolve_channel(channel)
        event = {k: v for k, v in message.items() if k in ("type", "user", "text", "ts", "team", "thread_ts", "files")}
        event.update(
            {
                "type": "message",
                "channel": chan["id"],
                "channel_type": "group" if chan.get("is_private") else "channel",
                "client_msg_id": message.get("client_msg_id") or secrets.token_hex(8),
            }
        )
        if message.get("subtype"):
            event["subtype"] = message["subtype"]
        event.update(extra)
        return event

    def bot_post_event(
        self, text: str, *, channel: str = GENERAL, bot_id: str = BOT_ID, user_id: str = BOT_USER_ID
    ) -> dict[str, Any]:
        """A bot posts ``text`` (pipebot by default): stored, and the ``message`` event it makes."""
        with self._lock:
            chan = self._resolve_channel(channel)
            msg = {
                "type": "message",
                "ts": self._next_ts(),
                "user": user_id,
                "bot_id": bot_id,
                "text": text,
                "team": TEAM_ID,
            }
            self._store(chan, msg)
        return {**self._public(msg), "channel": chan["id"], "channel_type": "channel"}
