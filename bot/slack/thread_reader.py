"""Reading the thread a run was started in (DESIGN §11), once, in the worker.

``conversations.replies`` pages (1,000 messages a page, at most :data:`MAX_PAGES`), the
messages before the run's own; pipebot's own progress and status messages are left out, its
result messages kept (they carry :data:`~bot.slack.blocks.runs.RESULT_MARK`); authors and
mentioned people by display name (``users.info``, cached in Redis). Which of them step 1 keeps
(the newest, within 50 messages and 20,000 characters) is core's (core/inputs/thread.py).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.blocks.runs import RESULT_MARK
from bot.slack.client import client_for
from bot.slack.text import decode_slack_text
from core.context import AppContext
from core.inputs.refs import ThreadMessage, ThreadRef
from core.inputs.source import InputUnavailable

__all__ = ["ThreadReader", "display_name", "is_own_progress"]

log = logging.getLogger(__name__)

PAGE_SIZE = 1000  # conversations.replies' largest page
MAX_PAGES = 20  # 20,000 messages: far past what step 1 keeps (core/inputs/thread.py)
NAME_TTL_S = 3600  # a display name is trusted this long
MAX_NAME_LOOKUPS = 100  # distinct people looked up per thread; past it, "someone"


def _ts(value: object) -> float:
    """A message ts as a number (0 for anything that is not one: it sorts first)."""
    try:
        return float(str(value))
    except ValueError:
        return 0.0


def is_own_progress(message: Mapping[str, Any], bot_user_id: str | None, bot_id: str | None) -> bool:
    """A message pipebot posted that is not a result: its run-started/status message, its
    progress or stream reply, a note. Results carry :data:`RESULT_MARK` (a block id, and the
    message's metadata event type)."""
    ours = (bot_id and message.get("bot_id") == bot_id) or (bot_user_id and message.get("user") == bot_user_id)
    if not ours:
        return False
    metadata = message.get("metadata")
    if isinstance(metadata, Mapping) and metadata.get("event_type") == RESULT_MARK:
        return False
    return not any(isinstance(b, Mapping) and b.get("block_id") == RESULT_MARK for b in message.get("blocks") or [])


def _result_text(message: Mapping[str, Any]) -> str:
    """A result's full output is in its markdown block (its ``text`` is a 300-character preview)."""
    parts = [
        str(b.get("text") or "")
        for b in message.get("blocks") or []
        if isinstance(b, Mapping) and b.get("type") == "markdown"
    ]
    return "\n".join(p for p in parts if p) or str(message.get("text") or "")


class ThreadReader:
    """Reads threads of any workspace pipebot is installed in; knows pipebot's own ids there
    (``auth.test``, once per reader)."""

    def __init__(self, ctx: AppContext) -> None:
        self._ctx = ctx
        self._who: dict[str, tuple[str | None, str | None]] = {}

    def read(self, team_id: str, ref: ThreadRef) -> list[ThreadMessage]:
        """The thread's messages before ``ref.before_ts``, oldest first; InputUnavailable says why not."""
        try:
            client = client_for(self._ctx, team_id)
        except Exception as exc:  # noqa: BLE001
            raise InputUnavailable(f"pipebot couldn't read the thread: {exc}") from None
        bot_user_id, bot_id = self._identity(team_id, client)
        found = [
            m
            for m in (self._history(client, ref) if ref.since_ts else self._replies(client, ref))
            if not is_own_progress(m, bot_user_id, bot_id)
            and m.get("subtype") not in ("channel_join", "channel_leave", "message_deleted")
            and (ref.before_ts is None or _ts(m.get("ts")) < _ts(ref.before_ts))
        ]
        authors = [m.get("user") for m in found]
        mentioned = [uid for m in found for uid in _MENTION.findall(str(m.get("text") or ""))]
        names = self._names(team_id, client, [*authors, *mentioned], bot_user_id)
        out = []
        for m in found:
            ours = bool(bot_user_id and m.get("user") == bot_user_id) or bool(bot_id and m.get("bot_id") == bot_id)
            text = _result_text(m) if ours else _named(str(m.get("text") or ""), names)
            files = tuple(str(f.get("name") or f.get("title") or "file") for f in m.get("files") or [] if f)
            author = names.get(str(m.get("user") or "")) or _bot_name(m) or "someone"
            out.append(ThreadMessage(author, decode_slack_text(text), str(m.get("ts") or ""), files))
        return out

    def _replies(self, client: WebClient, ref: ThreadRef) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            args: dict[str, Any] = {
                "channel": ref.channel_id,
                "ts": ref.thread_ts,
                "limit": PAGE_SIZE,
                "include_all_metadata": True,
            }
            if ref.before_ts:
                args["latest"] = ref.before_ts
            if cursor:
                args["cursor"] = cursor
            try:
                page = client.conversations_replies(**args)
            except SlackApiError as exc:
                raise InputUnavailable(_thread_refused(exc)) from None
            messages.extend(m for m in page.get("messages") or [] if isinstance(m, dict))
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor or not page.get("has_more", True):
                return messages
        log.warning(
            "thread %s/%s has more than %d pages; reading the first ones", ref.channel_id, ref.thread_ts, MAX_PAGES
        )
        return messages

    def _history(self, client: WebClient, ref: ThreadRef) -> list[dict[str, Any]]:
        """A digest's messages: the channel's top-level messages after ``ref.since_ts``, oldest
        first (``conversations.history`` pages newest first)."""
        messages: list[dict[str, Any]] = []
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            args: dict[str, Any] = {"channel": ref.channel_id, "oldest": ref.since_ts, "limit": PAGE_SIZE}
            if cursor:
                args["cursor"] = cursor
            try:
                page = client.conversations_history(**args)
            except SlackApiError as exc:
                raise InputUnavailable(_thread_refused(exc)) from None
            messages.extend(m for m in page.get("messages") or [] if isinstance(m, dict))
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor or not page.get("has_more", True):
                break
        return sorted(messages, key=lambda m: _ts(m.get("ts")))

    def _identity(self, team_id: str, client: WebClient) -> tuple[str | None, str | None]:
        """pipebot's own user and bot ids in the workspace (auth.test, once per source)."""
        if team_id not in self._who:
            try:
                found = client.auth_test()
                self._who[team_id] = (found.get("user_id"), found.get("bot_id"))
            except SlackApiError as exc:
                raise InputUnavailable(_thread_refused(exc)) from None
        return self._who[team_id]

    def _names(
        self, team_id: str, client: WebClient, user_ids: Iterable[Any], bot_user_id: str | None
    ) -> dict[str, str]:
        names: dict[str, str] = {}
        if bot_user_id:
            names[bot_user_id] = "pipebot"
        for uid in dict.fromkeys(u for u in user_ids if isinstance(u, str) and u):
            if uid in names:
                continue
            if len(names) > MAX_NAME_LOOKUPS:
                break
            names[uid] = display_name(self._ctx, client, team_id, uid)
        return names


_MENTION = re.compile(r"<@([UW][A-Z0-9]+)>")


def _named(text: str, names: Mapping[str, str]) -> str:
    """``<@U123>`` as Slack's ``<@U123|name>``, so decoding shows ``@name`` (people by display name)."""
    return _MENTION.sub(lambda m: f"<@{m.group(1)}|{names[m.group(1)]}>" if m.group(1) in names else m.group(0), text)


def _bot_name(message: Mapping[str, Any]) -> str:
    profile = message.get("bot_profile")
    if isinstance(profile, Mapping) and profile.get("name"):
        return str(profile["name"])
    return str(message.get("username") or "")


def _thread_refused(exc: SlackApiError) -> str:
    error = exc.response.get("error") if exc.response is not None else None
    if error in ("not_in_channel", "channel_not_found"):
        return "pipebot couldn't read the thread: invite @pipebot to the channel, then try again."
    if error == "missing_scope":
        return "pipebot couldn't read the thread: it needs the history scopes; reinstall it from the manifest."
    if error == "thread_not_found":
        return "pipebot couldn't read the thread: its first message was deleted."
    return f"pipebot couldn't read the thread (Slack said `{error}`); try again."


def display_name(ctx: AppContext, client: WebClient, team_id: str, user_id: str) -> str:
    """How people see ``user_id`` in Slack (display name, else real name, else handle),
    cached in Redis for :data:`NAME_TTL_S`; ``someone`` when Slack will not say."""
    key = f"pipebot:display-name:{team_id}:{user_id}"
    try:
        cached = ctx.redis.get(key)
        if cached:
            return cached.decode() if isinstance(cached, bytes) else str(cached)
    except Exception:  # noqa: BLE001 - a cache that cannot answer is asked around
        log.debug("display name cache unreadable", exc_info=True)
    try:
        user = client.users_info(user=user_id)["user"]
    except SlackApiError:
        return "someone"
    profile = user.get("profile") or {}
    name = str(
        profile.get("display_name") or profile.get("real_name") or user.get("real_name") or user.get("name") or ""
    )
    if not name:
        return "someone"
    try:
        ctx.redis.set(key, name, ex=NAME_TTL_S)
    except Exception:  # noqa: BLE001
        log.debug("display name cache unwritable", exc_info=True)
    return name
