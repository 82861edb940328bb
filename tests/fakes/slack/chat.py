"""``chat.postMessage``, ``chat.postEphemeral``, ``chat.update``, ``chat.delete``, ``chat.getPermalink`` and reading
messages back."""

from __future__ import annotations

from typing import Any

from tests.fakes.slack.blocks import fill_ids
from tests.fakes.slack.http import truthy
from tests.fakes.slack.records import ApiError, Call
from tests.fakes.slack.state import SlackState


class ChatMixin(SlackState):
    """Message methods."""

    # ----------------------------------------------------------------- reading state back
    def messages(self, channel: str) -> list[dict[str, Any]]:
        """Top-level messages of a channel, oldest first (what the channel shows)."""
        with self._lock:
            return [dict(m) for m in self._messages.get(channel, []) if m.get("thread_ts") in (None, m["ts"])]

    def all_messages(self, channel: str) -> list[dict[str, Any]]:
        """Every message of a channel, replies included, oldest first."""
        with self._lock:
            return [dict(m) for m in self._messages.get(channel, [])]

    def thread(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        """The parent message (if it exists) followed by its replies, oldest first."""
        with self._lock:
            return [
                dict(m)
                for m in self._messages.get(channel, [])
                if m["ts"] == thread_ts or m.get("thread_ts") == thread_ts
            ]

    def replies(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        """Only the replies of a thread, oldest first."""
        return [m for m in self.thread(channel, thread_ts) if m["ts"] != thread_ts]

    def message(self, channel: str, ts: str) -> dict[str, Any]:
        """One message by ts; KeyError if absent."""
        with self._lock:
            for m in self._messages.get(channel, []):
                if m["ts"] == ts:
                    return dict(m)
        raise KeyError(f"no message {ts} in {channel}")

    def ephemerals(self, channel: str | None = None, user: str | None = None) -> list[dict[str, Any]]:
        """Ephemeral messages (chat.postEphemeral and ephemeral response_url posts)."""
        with self._lock:
            return [
                dict(m)
                for m in self._ephemerals
                if (channel is None or m["channel"] == channel) and (user is None or m["user"] == user)
            ]

    def _m_chat_postMessage(self, params: dict[str, Any], ctx: dict[str, Any], call: Call) -> dict[str, Any]:
        chan = self._postable(params.get("channel"))
        self._check_message_content(params)
        ts = self._next_ts()
        msg = self._bot_message(ctx, ts, params)
        if params.get("thread_ts"):
            msg["thread_ts"] = self._thread_root(chan, params["thread_ts"])
            if truthy(params.get("reply_broadcast", False)):
                msg["subtype"] = "thread_broadcast"
        self._store(chan, msg)
        return {"channel": chan["id"], "ts": ts, "message": self._public(msg)}

    def _m_chat_postEphemeral(self, params: dict[str, Any], ctx: dict[str, Any], call: Call) -> dict[str, Any]:
        chan = self._postable(params.get("channel"))
        user = params.get("user")
        if not user or user not in self.users:
            raise ApiError("user_not_found")
        members = chan.get("_members")
        if members is not None and user not in members:
            raise ApiError("user_not_in_channel")
        self._check_message_content(params)
        ts = self._next_ts()
        msg = self._bot_message(ctx, ts, params)
        msg.update(channel=chan["id"], user=user, _via="chat.postEphemeral")
        if params.get("thread_ts"):
            msg["thread_ts"] = str(params["thread_ts"])
        self._ephemerals.append(msg)
        return {"message_ts": ts}

    def _m_chat_update(self, params: dict[str, Any], ctx: dict[str, Any], call: Call) -> dict[str, Any]:
        chan = self._resolve_channel(params.get("channel"))
        if chan["is_private"] and not chan["is_member"]:
            raise ApiError("channel_not_found")
        msg = self._find_message(chan, params.get("ts"))
        if msg.get("bot_id") != ctx["team"]["bot_id"]:
            raise ApiError("cant_update_message")
        self._check_message_content(params, require_content=False)
        if params.get("text") is None and params.get("blocks") is None and params.get("markdown_text") is None:
            raise ApiError("no_text")
        msg.setdefault("_history", []).append({"text": msg.get("text"), "blocks": msg.get("blocks")})
        if params.get("text") is not None or params.get("markdown_text") is not None:
            msg["text"] = params.get("text") if params.get("text") is not None else params["markdown_text"]
        if params.get("blocks") is not None:
            msg["blocks"] = fill_ids(params["blocks"] or [])
        if params.get("metadata") is not None:
            msg["metadata"] = params["metadata"]
        msg["edited"] = {"user": ctx["team"]["bot_user_id"], "ts": self._next_ts()}
        return {"channel": chan["id"], "ts": msg["ts"], "text": msg.get("text", ""), "message": self._public(msg)}

    def _m_chat_delete(self, params: dict[str, Any], ctx: dict[str, Any], call: Call) -> dict[str, Any]:
        """Slack's rule: a bot token deletes only its own messages (else cant_delete_message)."""
        chan = self._resolve_channel(params.get("channel"))
        if chan["is_private"] and not chan["is_member"]:
            raise ApiError("channel_not_found")
        msg = self._find_message(chan, params.get("ts"))
        if msg.get("bot_id") != ctx["team"]["bot_id"]:
            raise ApiError("cant_delete_message")
        with self._lock:
            self._messages[chan["id"]] = [m for m in self._messages.get(chan["id"], []) if m["ts"] != msg["ts"]]
        return {"channel": chan["id"], "ts": msg["ts"]}

    def _m_chat_getPermalink(self, params: dict[str, Any], ctx: dict[str, Any], call: Call) -> dict[str, Any]:
        chan = self._resolve_channel(params.get("channel"))
        if chan["is_private"] and not chan["is_member"]:
            raise ApiError("channel_not_found")
        msg = self._find_message(chan, params.get("message_ts"))
        link = f"https://{ctx['team']['domain']}.slack.com/archives/{chan['id']}/p{msg['ts'].replace('.', '')}"
        if msg.get("thread_ts") not in (None, msg["ts"]):
            link += f"?thread_ts={msg['thread_ts']}&cid={chan['id']}"
        return {"channel": chan["id"], "permalink": link}
