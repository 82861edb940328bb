"""``response_url``: issued per command or interaction, at most 5 posts each."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from tests.fakes.slack.http import parse_body
from tests.fakes.slack.limits import GENERAL, MSG_TEXT_LIMIT, RESPONSE_URL_USES, TEAM_ID, USER_ID
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
    def _response_url(self, rid: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        with self._cond:
            entry = self._response_urls.get(rid)
            if entry is None:
                return 404, {"Content-Type": "text/plain"}, b"no_such_url"
            if entry["uses"] >= RESPONSE_URL_USES:
                return 404, {"Content-Type": "text/plain"}, b"used_url"
            try:
                payload, _ = parse_body(headers.get("content-type", "application/json"), body)
                if "payload" in payload and isinstance(payload["payload"], str):
                    payload = json.loads(payload["payload"])
            except (ValueError, ApiError):
                return 400, {"Content-Type": "text/plain"}, b"invalid_payload"
            entry["uses"] += 1
            entry["posts"].append(payload)
            call = Call(
                method="response_url",
                params=payload,
                headers=headers,
                time=time.time(),
                token=None,
                encoding="json",
                raw_body=body,
                status=200,
                response={"ok": True},
            )
            text = payload.get("text")
            if text is not None and len(str(text)) > MSG_TEXT_LIMIT:
                call.status, call.response = 400, {"ok": False, "error": "msg_too_long"}
            else:
                team = self.teams[TEAM_ID]
                ctx = {"team": team}
                ts = self._next_ts()
                msg = self._bot_message(ctx, ts, payload)
                chan = self.channels.get(entry["channel"])
                if payload.get("thread_ts"):
                    msg["thread_ts"] = str(payload["thread_ts"])
                if payload.get("response_type") == "in_channel" and chan is not None:
                    self._store(chan, msg)
                else:
                    msg.update(
                        channel=entry["channel"],
                        user=entry["user"],
                        _via="response_url",
                        replace_original=payload.get("replace_original"),
                        delete_original=payload.get("delete_original"),
                    )
                    self._ephemerals.append(msg)
            self._calls.append(call)
            self._cond.notify_all()
            status = call.status
        return status, {"Content-Type": "text/plain"}, (b"ok" if status == 200 else b"msg_too_long")
