"""``conversations.info``, ``conversations.join``, ``conversations.list``,
``conversations.members`` and ``users.conversations``: channels and who is in them.

Membership follows Slack's documented rules (docs.slack.dev, each method's page): a channel
added with ``members=None`` holds every full member of its workspace (guests are only where
they are listed); a bot token sees a private conversation only when the bot is in it; a
user's private conversations are listed only where the bot is in them too ("Non-public
channels are restricted to those where the calling user shares membership"); lists page
with ``response_metadata.next_cursor``.
"""

from __future__ import annotations

from typing import Any

from tests.fakes.slack.records import ApiError, Call
from tests.fakes.slack.state import SlackState

_TYPES = ("public_channel", "private_channel", "mpim", "im")


def _kind(chan: dict[str, Any]) -> str:
    if chan.get("is_im"):
        return "im"
    if chan.get("is_mpim"):
        return "mpim"
    return "private_channel" if chan.get("is_private") else "public_channel"


def _types(params: dict[str, Any]) -> set[str]:
    raw = str(params.get("types") or "public_channel")
    types = {t.strip() for t in raw.split(",") if t.strip()}
    if not types <= set(_TYPES):
        raise ApiError("invalid_types")
    return types


def _limit(params: dict[str, Any], default: int, most: int) -> int:
    try:
        limit = int(params.get("limit") or default)
    except (TypeError, ValueError):
        raise ApiError("invalid_limit") from None
    return max(1, min(limit, most))


def _page(items: list[Any], params: dict[str, Any], limit: int) -> tuple[list[Any], str]:
    cursor = str(params.get("cursor") or "")
    try:
        start = int(cursor.removeprefix("next:")) if cursor else 0
    except ValueError:
        raise ApiError("invalid_cursor") from None
    page = items[start : start + limit]
    more = start + limit < len(items)
    return page, (f"next:{start + limit}" if more else "")


class ConversationsMixin(SlackState):
    """Channel methods."""

    # ----------------------------------------------------------------- membership
    def members_of(self, chan: dict[str, Any]) -> set[str]:
        """Who is in ``chan``: its listed members, or every full member of its workspace."""
        with self._lock:
            if chan.get("_members") is not None:
                return set(chan["_members"])
            team = chan.get("context_team_id")
            return {
                uid
                for uid, u in self.users.items()
                if u.get("team_id") == team
                and not u.get("deleted")
                and not u.get("is_bot")
                and not u.get("is_restricted")
                and not u.get("is_ultra_restricted")
            }

    def set_members(self, channel_id: str, members: set[str]) -> None:
        """Make exactly ``members`` the people in ``channel_id`` (a guest joins this way)."""
        with self._lock:
            self.channels[channel_id]["_members"] = set(members)

    def _visible_to_bot(self, chan: dict[str, Any], team_id: str) -> bool:
        if chan.get("is_im") or chan.get("is_mpim") or chan.get("is_private"):
            return bool(chan.get("is_member"))
        return chan.get("context_team_id") == team_id or bool(chan.get("is_member"))

    # ================================================================= API methods
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

    def _m_conversations_list(self, params: dict[str, Any], ctx: dict[str, Any], call: Call) -> dict[str, Any]:
        types = _types(params)
        limit = _limit(params, 100, 1000)
        skip_archived = str(params.get("exclude_archived") or "").lower() in ("1", "true")
        team_id = ctx["team"]["id"]
        with self._lock:
            found = [
                self._public_channel(c)
                for c in self.channels.values()
                if _kind(c) in types
                and self._visible_to_bot(c, team_id)
                and not (skip_archived and c.get("is_archived"))
            ]
        page, cursor = _page(found, params, limit)
        return {"channels": page, "response_metadata": {"next_cursor": cursor}}

    def _m_conversations_members(self, params: dict[str, Any], ctx: dict[str, Any], call: Call) -> dict[str, Any]:
        chan = self._resolve_channel(params.get("channel"))
        if not self._visible_to_bot(chan, ctx["team"]["id"]):
            raise ApiError("channel_not_found")
        limit = _limit(params, 100, 1000)
        page, cursor = _page(sorted(self.members_of(chan)), params, limit)
        return {"members": page, "response_metadata": {"next_cursor": cursor}}

    def _m_users_conversations(self, params: dict[str, Any], ctx: dict[str, Any], call: Call) -> dict[str, Any]:
        types = _types(params)
        limit = _limit(params, 100, 999)
        skip_archived = str(params.get("exclude_archived") or "").lower() in ("1", "true")
        team_id = ctx["team"]["id"]
        user_id = params.get("user") or ctx["team"]["bot_user_id"]
        if user_id not in self.users:
            raise ApiError("user_not_found")
        with self._lock:
            found = [
                self._public_channel(c)
                for c in self.channels.values()
                if _kind(c) in types
                and self._visible_to_bot(c, team_id)
                and user_id in self.members_of(c)
                and not (skip_archived and c.get("is_archived"))
            ]
        page, cursor = _page(found, params, limit)
        return {"channels": page, "response_metadata": {"next_cursor": cursor}}

    def _m_conversations_history(self, params: dict[str, Any], ctx: dict[str, Any], call: Call) -> dict[str, Any]:
        """A channel's top-level messages (thread replies left out), newest first, as Slack
        pages them: ``limit`` at most 1000, ``latest``/``oldest`` (exclusive unless
        ``inclusive``), ``has_more`` and ``response_metadata.next_cursor``. The bot must be in it."""
        chan = self._resolve_channel(params.get("channel"))
        if not chan.get("is_member"):
            raise ApiError("channel_not_found" if chan.get("is_private") else "not_in_channel")
        limit = _limit(params, 100, 1000)
        inclusive = str(params.get("inclusive") or "").lower() in ("1", "true")
        latest, oldest = params.get("latest"), params.get("oldest")

        def within(m: dict[str, Any]) -> bool:
            t = float(m["ts"])
            if latest not in (None, "") and (t > float(latest) or (t == float(latest) and not inclusive)):
                return False
            return oldest in (None, "") or t > float(oldest) or (t == float(oldest) and inclusive)

        with self._lock:
            top = [
                {k: v for k, v in m.items() if not k.startswith("_")}
                for m in self._messages.get(chan["id"], [])
                if m.get("thread_ts") in (None, m["ts"]) and within(m)
            ]
        top.sort(key=lambda m: float(m["ts"]), reverse=True)
        page, cursor = _page(top, params, limit)
        return {"messages": page, "has_more": bool(cursor), "response_metadata": {"next_cursor": cursor}}

    def _m_conversations_replies(self, params: dict[str, Any], ctx: dict[str, Any], call: Call) -> dict[str, Any]:
        """A thread, parent first then replies oldest first, as Slack pages it: ``limit`` at
        most 1000, ``latest``/``oldest`` (exclusive unless ``inclusive``), ``has_more`` and
        ``response_metadata.next_cursor``. The bot must be in the conversation; message
        metadata only with ``include_all_metadata``."""
        chan = self._resolve_channel(params.get("channel"))
        if not chan.get("is_member"):
            raise ApiError("channel_not_found" if chan.get("is_private") else "not_in_channel")
        ts = str(params.get("ts") or "")
        if not ts:
            raise ApiError("invalid_arguments", ["[ERROR] missing required field: ts"])
        limit = _limit(params, 1000, 1000)
        inclusive = str(params.get("inclusive") or "").lower() in ("1", "true")
        latest, oldest = params.get("latest"), params.get("oldest")
        with_metadata = str(params.get("include_all_metadata") or "").lower() in ("1", "true")

        def within(m: dict[str, Any]) -> bool:
            t = float(m["ts"])
            if latest not in (None, "") and (t > float(latest) or (t == float(latest) and not inclusive)):
                return False
            if oldest not in (None, "") and (t < float(oldest) or (t == float(oldest) and not inclusive)):
                return False
            return True

        with self._lock:
            msgs = self._messages.get(chan["id"], [])
            parent = next((m for m in msgs if m["ts"] == ts), None)
            if parent is None:
                raise ApiError("thread_not_found")
            root = parent.get("thread_ts") or ts
            thread = [m for m in msgs if m["ts"] == root or m.get("thread_ts") == root]
            thread.sort(key=lambda m: float(m["ts"]))
            found = []
            for m in thread:
                if not within(m):
                    continue
                out = {k: v for k, v in m.items() if not k.startswith("_")}
                if not with_metadata:
                    out.pop("metadata", None)
                found.append(out)
        page, cursor = _page(found, params, limit)
        return {"messages": page, "has_more": bool(cursor), "response_metadata": {"next_cursor": cursor}}
