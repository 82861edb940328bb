"""The fake's state (one lock guards it all) and the checks several API families share:
who may post where, what a message may hold, how a message is stored and threaded."""

from __future__ import annotations

import base64
import itertools
import json
import secrets
import threading
import time
from collections.abc import Mapping
from typing import Any

from tests.fakes.slack.blocks import fill_ids, validate_blocks
from tests.fakes.slack.http import SlackHTTPServer
from tests.fakes.slack.limits import (
    APP_ID,
    CLIENT_ID,
    CLIENT_SECRET,
    MSG_BLOCKS_JSON_LIMIT,
    MSG_BLOCKS_LIMIT,
    MSG_TEXT_LIMIT,
    OPTIONS_LIMIT,
    STREAM_TEXT_LIMIT,
    STREAM_TTL,
    TEAM_ID,
    TOKEN,
    TRIGGER_TTL,
)
from tests.fakes.slack.records import ApiError, Call, Fault, RateLimit
from tests.fakes.slack_tiers import SlackTiers


class SlackState:
    """All of a fake Slack's state; the API families are mixins over it."""

    def __init__(
        self,
        *,
        trigger_ttl: float = TRIGGER_TTL,
        stream_ttl: float = STREAM_TTL,
        max_total_options_in_groups: int | None = OPTIONS_LIMIT,
        client_id: str = CLIENT_ID,
        client_secret: str = CLIENT_SECRET,
    ) -> None:
        """``max_total_options_in_groups`` caps options summed over all groups of one
        select (Slack allows 100 options per select, groups included); pass None to
        check only Slack's per-group and group-count limits."""
        self.trigger_ttl = trigger_ttl
        self.stream_ttl = stream_ttl
        self.streaming_refused: str | None = None
        self.max_total_options = max_total_options_in_groups
        self.client_id = client_id
        self.client_secret = client_secret
        self.token = TOKEN
        self.team_id = TEAM_ID
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._server: SlackHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._ids = itertools.count(1)
        self._id_stem = "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(5))
        self._last_ts = 0.0
        self._calls: list[Call] = []
        self._faults: list[Fault] = []
        self._rate_limits: dict[str, RateLimit] = {}
        self.tiers: SlackTiers | None = None  # per-tier token buckets (tests/fakes/slack_tiers.py)
        self._latency: dict[str, float] = {}
        self._holds: dict[str, threading.Event] = {}
        self.teams: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, dict[str, Any]] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.channels: dict[str, dict[str, Any]] = {}
        self._messages: dict[str, list[dict[str, Any]]] = {}
        self._ephemerals: list[dict[str, Any]] = []
        self._triggers: dict[str, dict[str, Any]] = {}
        self._views: dict[str, dict[str, Any]] = {}
        self._stacks: dict[str, list[str]] = {}
        self._home: dict[str, str] = {}
        self._oauth_codes: dict[str, dict[str, Any]] = {}
        self._oidc_codes: dict[str, dict[str, Any]] = {}  # Sign in with Slack (openid.py)
        self.id_token_overrides: dict[str, Any] = {}
        self.authorize_requests: list[dict[str, str]] = []
        self._response_urls: dict[str, dict[str, Any]] = {}
        self._shared: dict[str, dict[str, Any]] = {}  # unfurl_id -> the shared links and where
        self._unfurls: list[dict[str, Any]] = []
        self._files: dict[str, dict[str, Any]] = {}  # file id -> object, bytes, team, deleted (files.py)
        self._downloads: list[Any] = []  # GETs of file URLs (files.Download)
        self._seed()

    # ----------------------------------------------------------------- ids and triggers
    def _next_ts(self) -> str:
        with self._lock:
            now = max(time.time(), self._last_ts + 0.000001)
            self._last_ts = now
            return f"{now:.6f}"

    def _new_id(self, prefix: str) -> str:
        # Slack's ids are unique across the whole service, not per connection: a per-instance
        # random stem keeps two fakes (two tests) from handing out the same view id.
        return f"{prefix}{self._id_stem}{next(self._ids):05d}"

    # ----------------------------------------------------------------- shared checks
    @staticmethod
    def _require(params: Mapping[str, Any], *names: str) -> None:
        missing = [n for n in names if params.get(n) in (None, "")]
        if missing:
            raise ApiError("invalid_arguments", [f"[ERROR] missing required field: {n}" for n in missing])

    def _check_client(self, params: Mapping[str, Any], call: Call) -> None:
        """The app's client credentials, by HTTP Basic auth or as parameters (Slack takes
        both on its OAuth methods), or the error Slack gives."""
        client_id, client_secret = params.get("client_id"), params.get("client_secret")
        auth = call.headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            try:
                client_id, _, client_secret = base64.b64decode(auth[6:]).decode("utf-8").partition(":")
            except ValueError:
                raise ApiError("invalid_client_id") from None
        if client_id != self.client_id:
            raise ApiError("invalid_client_id")
        if client_secret != self.client_secret:
            raise ApiError("bad_client_secret")

    def _resolve_channel(self, ref: Any) -> dict[str, Any]:
        if not ref or not isinstance(ref, str):
            raise ApiError("channel_not_found")
        if ref in self.channels:
            return self.channels[ref]
        if ref[:1] in ("U", "W") and ref in self.users:
            return self.channels[self.dm_channel(ref)]
        name = ref.lstrip("#")
        for chan in self.channels.values():
            if chan.get("name") == name:
                return chan
        raise ApiError("channel_not_found")

    def _postable(self, ref: Any) -> dict[str, Any]:
        """The channel if the bot may post there, else the error Slack gives."""
        chan = self._resolve_channel(ref)
        if not chan["is_member"]:
            raise ApiError("channel_not_found" if chan["is_private"] else "not_in_channel")
        if chan["is_archived"]:
            raise ApiError("is_archived")
        return chan

    def _check_message_content(self, params: Mapping[str, Any], *, require_content: bool = True) -> None:
        text, blocks = params.get("text"), params.get("blocks")
        markdown = params.get("markdown_text")
        if require_content and not text and not blocks and not params.get("attachments") and not markdown:
            raise ApiError("no_text")
        if text is not None and len(str(text)) > MSG_TEXT_LIMIT:
            raise ApiError("msg_too_long")
        if markdown is not None and len(str(markdown)) > STREAM_TEXT_LIMIT:
            raise ApiError("msg_too_long")
        if blocks in (None, "", []):
            return
        if isinstance(blocks, str):
            raise ApiError("invalid_blocks_format")
        errs: list[str] = []
        validate_blocks(blocks, "/blocks", MSG_BLOCKS_LIMIT, errs, self.max_total_options)
        if errs:
            raise ApiError("invalid_blocks", errs)
        if len(json.dumps(blocks, ensure_ascii=False)) > MSG_BLOCKS_JSON_LIMIT:
            raise ApiError("msg_blocks_too_long")

    def _bot_message(self, ctx: dict[str, Any], ts: str, params: Mapping[str, Any]) -> dict[str, Any]:
        team = ctx["team"]
        msg: dict[str, Any] = {
            "type": "message",
            "subtype": "bot_message",
            "ts": ts,
            "user": team["bot_user_id"],
            "bot_id": team["bot_id"],
            "app_id": APP_ID,
            "team": team["id"],
            "text": params.get("text") or params.get("markdown_text") or "",
        }
        for key in ("blocks", "attachments", "metadata", "username", "icon_emoji", "icon_url"):
            if params.get(key) not in (None, ""):
                msg[key] = fill_ids(params[key]) if key == "blocks" else params[key]
        return msg

    def _find_message(self, chan: dict[str, Any], ts: Any) -> dict[str, Any]:
        for msg in self._messages.get(chan["id"], []):
            if msg["ts"] == ts:
                return msg
        raise ApiError("message_not_found")

    def _thread_root(self, chan: dict[str, Any], thread_ts: Any) -> str:
        """Slack threads a reply-to-a-reply under the parent; mirror that."""
        for msg in self._messages.get(chan["id"], []):
            if msg["ts"] == thread_ts and msg.get("thread_ts") not in (None, msg["ts"]):
                return msg["thread_ts"]
        return str(thread_ts)

    def _store(self, chan: dict[str, Any], msg: dict[str, Any]) -> None:
        msgs = self._messages.setdefault(chan["id"], [])
        msgs.append(msg)
        thread_ts = msg.get("thread_ts")
        if thread_ts:
            for parent in msgs:
                if parent["ts"] == thread_ts:
                    parent["thread_ts"] = thread_ts
                    parent["reply_count"] = parent.get("reply_count", 0) + 1
                    parent["latest_reply"] = msg["ts"]

    @staticmethod
    def _public(msg: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in msg.items() if not k.startswith("_")}

    @staticmethod
    def _public_channel(chan: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in chan.items() if not k.startswith("_")}
