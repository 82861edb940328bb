"""``chat.startStream`` / ``chat.appendStream`` / ``chat.stopStream``: chunks checked as Slack does
and the streamed text reassembled."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from tests.fakes.slack.blocks import validate_blocks
from tests.fakes.slack.limits import MSG_BLOCKS_LIMIT, STREAM_TEXT_LIMIT
from tests.fakes.slack.records import ApiError, Call
from tests.fakes.slack.state import SlackState

TASK_STATUSES = ("pending", "in_progress", "complete", "error")
TASK_DISPLAY_MODES = ("plan", "timeline")
CHUNK_TYPES = ("markdown_text", "task_update", "plan_update", "blocks")


def _nonempty(value: Any) -> bool:
    return isinstance(value, str) and value != ""


def _task_update_ok(chunk: dict[str, Any]) -> bool:
    """``TaskUpdateChunk``: ``id``, ``title`` and a known ``status``; ``details``/``output`` text;
    ``sources`` a list of url source elements (``{"type": "url", "url", "text"}``)."""
    if not (_nonempty(chunk.get("id")) and _nonempty(chunk.get("title")) and chunk.get("status") in TASK_STATUSES):
        return False
    if any(chunk.get(key) is not None and not isinstance(chunk[key], str) for key in ("details", "output")):
        return False
    sources = chunk.get("sources")
    if sources is None:
        return True
    return isinstance(sources, list) and all(
        isinstance(s, dict) and s.get("type") == "url" and _nonempty(s.get("url")) and _nonempty(s.get("text"))
        for s in sources
    )


def check_chunks(markdown: Any, chunks: Any, max_total_options: int | None) -> None:
    """Refuse a stream call's content as Slack does: ``markdown_text`` and markdown chunks at most
    12,000 characters per call (``msg_too_long``); each chunk one of the four known shapes
    (``invalid_chunks``); a blocks chunk's blocks valid Block Kit (``invalid_blocks``)."""
    if markdown is not None and len(str(markdown)) > STREAM_TEXT_LIMIT:
        raise ApiError("msg_too_long")
    if chunks is None:
        return
    if not isinstance(chunks, list):
        raise ApiError("invalid_chunks")
    for i, chunk in enumerate(chunks):
        kind = chunk.get("type") if isinstance(chunk, dict) else None
        if kind not in CHUNK_TYPES:
            raise ApiError("invalid_chunks", [f"[ERROR] unknown chunk type [json-pointer:/chunks/{i}/type]"])
        if kind == "markdown_text" and not isinstance(chunk.get("text"), str):
            raise ApiError("invalid_chunks", [f"[ERROR] missing required field: text [json-pointer:/chunks/{i}/text]"])
        if kind == "task_update" and not _task_update_ok(chunk):
            raise ApiError("invalid_chunks", [f"[ERROR] invalid task_update [json-pointer:/chunks/{i}]"])
        if kind == "plan_update" and not _nonempty(chunk.get("title")):
            raise ApiError(
                "invalid_chunks", [f"[ERROR] missing required field: title [json-pointer:/chunks/{i}/title]"]
            )
        if kind == "blocks":
            errs: list[str] = []
            validate_blocks(chunk.get("blocks"), f"/chunks/{i}/blocks", MSG_BLOCKS_LIMIT, errs, max_total_options)
            if errs:
                raise ApiError("invalid_blocks", errs)
    total = len(str(markdown or "")) + sum(len(c["text"]) for c in chunks if c["type"] == "markdown_text")
    if total > STREAM_TEXT_LIMIT:  # per call, whichever way the markdown came
        raise ApiError("msg_too_long")


class StreamsMixin(SlackState):
    """Chat streaming."""

    def expire_streams_after(self, seconds: float) -> None:
        """Streams (new and running) stop accepting appends ``seconds`` after they started,
        as Slack's do after about 5 minutes."""
        with self._lock:
            self.stream_ttl = seconds

    def refuse_streaming(self, error: str | None = "not_allowed") -> None:
        """Answer every ``chat.startStream`` with ``error`` (None: stream again), like a
        workspace or plan without chat streaming."""
        with self._lock:
            self.streaming_refused = error

    def streams(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Messages created by chat.startStream (streaming or stopped)."""
        with self._lock:
            return [
                dict(m)
                for cid, msgs in self._messages.items()
                for m in msgs
                if m.get("_stream") and (channel is None or cid == channel)
            ]

    def stream_calls(self, channel: str | None = None) -> list[Call]:
        """The start/append/stop calls Slack accepted (in ``channel``), oldest first."""
        return [
            c
            for c in self.calls()
            if c.method in ("chat.startStream", "chat.appendStream", "chat.stopStream")
            and c.ok
            and (channel is None or c.params.get("channel") == channel)
        ]

    @staticmethod
    def streamed_markdown(call: Call) -> str:
        """The markdown one stream call appended (``markdown_text`` and markdown chunks)."""
        parts = [str(call.params.get("markdown_text") or "")]
        parts += [
            c.get("text", "")
            for c in call.params.get("chunks") or []
            if isinstance(c, dict) and c.get("type") == "markdown_text"
        ]
        return "".join(parts)

    def stream_text(self, channel: str, ts: str) -> str:
        """The markdown a stream has shown so far, reassembled from its chunks."""
        return self.message(channel, ts)["text"]

    # ----------------------------------------------------------------- streaming
    def _apply_chunks(self, msg: dict[str, Any], params: Mapping[str, Any]) -> None:
        markdown = params.get("markdown_text")
        chunks = params.get("chunks")
        check_chunks(markdown, chunks, self.max_total_options)
        if markdown:
            msg["text"] += str(markdown)
            msg["_chunks"].append({"type": "markdown_text", "text": str(markdown)})
        for chunk in chunks or []:
            msg["_chunks"].append(chunk)
            if chunk["type"] == "markdown_text":
                msg["text"] += chunk["text"]
            elif chunk["type"] == "task_update":
                task = msg["tasks"].setdefault(chunk["id"], {"id": chunk["id"]})
                for key in ("title", "status", "output", "sources"):
                    if key in chunk:
                        task[key] = chunk[key]
                if "details" in chunk:  # live Slack appends details, replaces title/status
                    task["details"] = task.get("details", "") + str(chunk["details"])
            elif chunk["type"] == "plan_update":
                msg["plan_title"] = chunk.get("title")
            elif chunk["type"] == "blocks":
                msg.setdefault("blocks", []).extend(chunk.get("blocks") or [])

    def _live_stream(self, params: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        self._require(params, "channel", "ts")
        chan = self._postable(params.get("channel"))
        msg = self._find_message(chan, params.get("ts"))
        if not msg.get("_stream") or not msg.get("streaming"):
            raise ApiError("message_not_in_streaming_state")
        if time.monotonic() - msg["_started"] > self.stream_ttl:
            msg["streaming"] = False
            raise ApiError("message_not_in_streaming_state")
        return chan, msg

    def _m_chat_startStream(self, params: dict[str, Any], ctx: dict[str, Any], call: Call) -> dict[str, Any]:
        chan = self._postable(params.get("channel"))
        self._require(params, "thread_ts")
        if self.streaming_refused:
            raise ApiError(self.streaming_refused)
        if not chan["is_im"]:
            if not params.get("recipient_user_id"):
                raise ApiError("missing_recipient_user_id")
            if not params.get("recipient_team_id"):
                raise ApiError("missing_recipient_team_id")
            if params["recipient_user_id"] not in self.users:
                raise ApiError("user_not_found")
        mode = params.get("task_display_mode")
        if mode is not None and mode not in TASK_DISPLAY_MODES:
            raise ApiError(
                "invalid_arguments", ["[ERROR] must be one of plan, timeline [json-pointer:/task_display_mode]"]
            )
        ts = self._next_ts()
        msg = self._bot_message(ctx, ts, {})
        msg.update(
            thread_ts=self._thread_root(chan, params["thread_ts"]),
            text="",
            streaming=True,
            tasks={},
            _stream=True,
            _chunks=[],
            _started=time.monotonic(),
        )
        for key in ("recipient_user_id", "recipient_team_id", "task_display_mode"):
            if params.get(key):
                msg[key] = params[key]
        self._apply_chunks(msg, params)
        self._store(chan, msg)
        return {"channel": chan["id"], "ts": ts}

    def _m_chat_appendStream(self, params: dict[str, Any], ctx: dict[str, Any], call: Call) -> dict[str, Any]:
        chan, msg = self._live_stream(params)
        if not params.get("markdown_text") and not params.get("chunks"):
            raise ApiError("no_text")
        self._apply_chunks(msg, params)
        return {"channel": chan["id"], "ts": msg["ts"]}

    def _m_chat_stopStream(self, params: dict[str, Any], ctx: dict[str, Any], call: Call) -> dict[str, Any]:
        chan, msg = self._live_stream(params)
        self._apply_chunks(msg, params)
        blocks = params.get("blocks")
        if blocks:
            if isinstance(blocks, str):
                raise ApiError("invalid_blocks_format")
            errs: list[str] = []
            validate_blocks(blocks, "/blocks", MSG_BLOCKS_LIMIT, errs, self.max_total_options)
            if errs:
                raise ApiError("invalid_blocks", errs)
            msg.setdefault("blocks", []).extend(blocks)
        if params.get("metadata"):
            msg["metadata"] = params["metadata"]
        msg["streaming"] = False
        return {"channel": chan["id"], "ts": msg["ts"], "message": self._public(msg)}
