"""``response_url``: issued per command or interaction, at most 5 posts each."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from tests.fakes.slack.http import parse_body, truthy
from tests.fakes.slack.limits import GENERAL, RESPONSE_URL_USES, TEAM_ID, USER_ID
from tests.fakes.slack.records import ApiError, Call
from tests.fakes.slack.state import SlackState


class ResponseUrlsMixin(SlackState):
    """Posts to response URLs."""

    def new_response_url(self, channel_id: str = GENERAL, user_id: str = USER_ID) -> str:
        """A ``response_url`` served by this fake (``POST {base}/response/ID``).

        Bolt's ``respond()`` posts there; ``response_type`` ``in_channel`` lands in the
        channel, anything else is stored as an ephemeral for ``user_id``. Like Slack,
        it takes at most 5 posts (then HTTP 404 ``used_url``).
        """
        with self._lock:
            rid = secrets.token_hex(10)
            self._response_urls[rid] = {"channel": channel_id, "user": user_id, "uses": 0, "posts": []}
            return f"{self.base}/response/{rid}"

    def response_url_posts(self, response_url: str) -> list[dict[str, Any]]:
        """The JSON bodies posted to one of this fake's response_urls."""
        with self._lock:
            return list(self._response_urls[response_url.rstrip("/").rsplit("/", 1)[-1]]["posts"])

    # ----------------------------------------------------------------- response_url
    def _response_refusal(self, payload: Any) -> str | None:
        """What Slack answers (HTTP 400, the code as the body) to a post it refuses, checked as
        chat.postMessage checks a message: text length, blocks (Block Kit, count, size). Only a
        ``delete_original`` post may come without text or blocks; ``replace_original`` and
        ``delete_original`` are booleans."""
        if not isinstance(payload, dict):
            return "invalid_payload"
        for key in ("replace_original", "delete_original"):
            value = payload.get(key)
            if value is not None and not isinstance(value, bool) and str(value).lower() not in ("true", "false"):
                return "invalid_payload"
        if payload.get("response_type") not in (None, "in_channel", "ephemeral"):
            return "invalid_payload"
        try:
            self._check_message_content(payload, require_content=not truthy(payload.get("delete_original", False)))
        except ApiError as exc:
            return exc.error
        return None

    def _response_message(self, entry: dict[str, Any], payload: dict[str, Any]) -> None:
        """Land an accepted post: in the channel (``in_channel``) or as the user's ephemeral."""
        msg = self._bot_message({"team": self.teams[TEAM_ID]}, self._next_ts(), payload)
        chan = self.channels.get(entry["channel"])
        if payload.get("thread_ts"):
            msg["thread_ts"] = str(payload["thread_ts"])
        if payload.get("response_type") == "in_channel" and chan is not None:
            self._store(chan, msg)
            return
        msg.update(
            channel=entry["channel"],
            user=entry["user"],
            _via="response_url",
            replace_original=payload.get("replace_original"),
            delete_original=payload.get("delete_original"),
        )
        self._ephemerals.append(msg)

    def _response_url(self, rid: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        """A post to a response_url. Refused posts are recorded as calls (status 400 and the
        error) but neither use the URL up nor appear in :meth:`response_url_posts`."""
        plain = {"Content-Type": "text/plain"}
        with self._cond:
            entry = self._response_urls.get(rid)
            if entry is None:
                return 404, plain, b"no_such_url"
            if entry["uses"] >= RESPONSE_URL_USES:
                return 404, plain, b"used_url"
            try:
                payload, _ = parse_body(headers.get("content-type", "application/json"), body)
                if "payload" in payload and isinstance(payload["payload"], str):
                    payload = json.loads(payload["payload"])
            except (ValueError, ApiError):
                return 400, plain, b"invalid_payload"
            error = self._response_refusal(payload)
            call = Call(
                method="response_url",
                params=payload,
                headers=headers,
                time=time.time(),
                token=None,
                encoding="json",
                raw_body=body,
                status=400 if error else 200,
                response={"ok": False, "error": error} if error else {"ok": True},
            )
            if error is None:
                entry["uses"] += 1
                entry["posts"].append(payload)
                self._response_message(entry, payload)
            self._calls.append(call)
            self._cond.notify_all()
        return call.status, plain, (error or "ok").encode("utf-8")
