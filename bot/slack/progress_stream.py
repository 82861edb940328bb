"""The chat-stream calls of a progress reply (bot/slack/progress.py): start, append, renew.

A stream lives about 5 minutes; after that Slack answers ``message_not_in_streaming_state``.
The reply renews it before then (``renew_after``) or when told so: a new stream in the
same thread picks up with the whole plan and the text the old one did not accept, after a
"continued" line when it picks a step up in the middle. Where streaming is refused or
breaks for good (``TRANSIENT_FAILURES_MAX`` transient errors in a row), the reply falls
back to ``chat.update``.

Kept apart from the reply's public side and its pacer thread so that what one Slack call
may carry (the next piece of text, the task changes, what Slack accepted) is read in one
place. Only the pacer makes these calls (``open`` and ``close``: before and after it runs).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from slack_sdk import WebClient

from bot.slack.blocks import stream as live
from bot.slack.blocks.runs import StepView, ToolTaskView, task_chunk, tool_task_chunk
from bot.slack.progress_gate import RATELIMIT_PAUSE_S, Bucket, error_code, kind_of
from bot.slack.ratelimit.paced import is_rate_limited
from bot.slack.ratelimit.paced import retry_after as _retry_after

log = logging.getLogger(__name__)

TRANSIENT_FAILURES_MAX = 3  # consecutive transient errors before giving streaming up


class StreamCalls:
    """The stream side of :class:`bot.slack.progress.ProgressReply`, which sets every
    attribute declared here in its ``__init__`` (one reply, one lock, one state)."""

    client: WebClient
    channel_id: str
    thread_ts: str
    recipient_user_id: str | None
    recipient_team_id: str | None
    renew_after: float
    mode: str | None
    stream_ts: str | None
    stream_ts_history: list[str]
    _append_gate: Bucket
    _cond: threading.Condition
    _pipeline: str
    _views: dict[int, StepView]
    _dirty: dict[int, StepView]
    _tools: dict[str, ToolTaskView]
    _dirty_tools: dict[str, ToolTaskView]
    _changed: bool
    _pending: str
    _accepted: int
    _marks: list[tuple[int, int]]
    _stream_started: float
    _failures: int

    def _chunks(self, piece: str, tasks: Sequence[StepView | ToolTaskView]) -> list[Any]:
        return ([live.markdown_chunk(piece)] if piece else []) + [
            tool_task_chunk(v) if isinstance(v, ToolTaskView) else task_chunk(v) for v in tasks
        ]

    def _all_tasks(self) -> list[StepView | ToolTaskView]:
        """Every task of the plan: the steps in order, then the tool calls in the order made."""
        return [*(self._views[k] for k in sorted(self._views)), *self._tools.values()]

    def _deliver(self, *, stop: bool = False) -> bool:
        """Send the next piece of pending text and the task changes in one call (the last
        one with ``stop``); renew the stream when it is old or expired, fall back to
        chat.update when streaming is refused. True when Slack took it."""
        with self._cond:
            unstarted = self.stream_ts is None
            renew = time.monotonic() - self._stream_started >= self.renew_after
        if unstarted:
            return self._start_later()
        if renew:
            self._renew(stop_old=True)
            return False
        with self._cond:
            piece = live.next_piece(self._pending)
            if stop and len(piece) < len(self._pending):
                stop = False  # more than one call's worth is left: this one is an append
            tasks: list[StepView | ToolTaskView] = [*self._dirty.values(), *self._dirty_tools.values()]
            ts = self.stream_ts
            assert ts is not None  # the pacer delivers only in "stream" mode, once a stream is open
            self._append_gate.take()
        method = self.client.chat_stopStream if stop else self.client.chat_appendStream
        try:
            method(channel=self.channel_id, ts=ts, chunks=self._chunks(piece, tasks))
        except Exception as exc:  # noqa: BLE001
            kind = kind_of(exc)
            log.info("chat.%sStream failed in %s (%s)", "stop" if stop else "append", self.channel_id, error_code(exc))
            if kind == "expired":
                self._renew(stop_old=False)
                return False
            with self._cond:
                if kind == "ratelimited":  # never a reason to give streaming up: the text waits
                    self._append_gate.hold_off(max(RATELIMIT_PAUSE_S, _retry_after(exc) or 0.0))
                elif kind == "transient" and self._failures + 1 < TRANSIENT_FAILURES_MAX:
                    self._failures += 1
                    self._append_gate.hold_off(max(1.0, self._append_gate.interval))
                else:
                    self._to_update_mode()
            return False
        with self._cond:
            self._failures = 0
            self._accept(len(piece), tasks)
        return stop

    def _accept(self, n: int, tasks: Sequence[StepView | ToolTaskView]) -> None:
        self._pending = self._pending[n:]
        self._accepted += n
        for v in tasks:  # not changed again meanwhile
            if isinstance(v, ToolTaskView):
                if self._dirty_tools.get(v.call_id) is v:
                    del self._dirty_tools[v.call_id]
            elif self._dirty.get(v.position) is v:
                del self._dirty[v.position]

    def _step_at(self, offset: int) -> tuple[int, int] | None:
        """The (offset, position) mark of the step whose text is at ``offset``."""
        found = None
        for mark in self._marks:
            if mark[0] > offset:
                break
            found = mark
        return found

    def _start_later(self) -> bool:
        """The stream the budget did not let start yet, with everything queued so far."""
        started = self._start_stream(self._lead())
        with self._cond:
            if started is False:
                self._to_update_mode()
            elif started is None:
                self._append_gate.hold_off(RATELIMIT_PAUSE_S)
        return False

    def _start_stream(self, lead: str) -> bool | None:
        """A new stream: the plan, every task, ``lead`` and the next piece of pending text.
        True when it started, None when the budget said not yet (the text keeps waiting),
        False when Slack refused streaming."""
        with self._cond:
            piece = live.next_piece(self._pending, live.APPEND_MARKDOWN_LIMIT - len(lead))
            steps = [self._views[k] for k in sorted(self._views)]
            tools = list(self._tools.values())
            tasks: list[StepView | ToolTaskView] = [*steps, *tools]
            chunks = live.plan_chunks(self._pipeline, steps, tools)
            if lead or piece:
                chunks.append(live.markdown_chunk(lead + piece))
        try:
            resp = self.client.chat_startStream(
                channel=self.channel_id,
                thread_ts=self.thread_ts,
                recipient_user_id=self.recipient_user_id,
                recipient_team_id=self.recipient_team_id,
                task_display_mode="plan",
                chunks=chunks,
            )
            ts = resp.get("ts")
            if not ts:
                raise RuntimeError("chat.startStream returned no ts")
        except Exception as exc:  # noqa: BLE001 - no streaming here: edit a plain reply instead
            if is_rate_limited(exc):
                log.info("chat.startStream in %s waits for the budget", self.channel_id)
                return None
            log.info("chat streaming unavailable in %s (%s); using chat.update", self.channel_id, error_code(exc))
            return False
        with self._cond:
            self.stream_ts = str(ts)
            self.stream_ts_history.append(self.stream_ts)
            self._stream_started = time.monotonic()
            self._append_gate.take()
            self._accept(len(piece), tasks)
        return True

    def _lead(self) -> str:
        """A "continued" line when the next stream picks a step up in the middle."""
        with self._cond:
            mark = self._step_at(self._accepted)
            if mark is not None and mark[0] < self._accepted and self._pending:
                return live.continued_heading(self._views[mark[1]])
            return ""

    def _renew(self, *, stop_old: bool) -> None:
        """Carry on in a new stream; the text the old one did not accept goes into it, after
        a "continued" line when it picks a step up in the middle."""
        if stop_old and self.stream_ts is not None:
            try:
                self.client.chat_stopStream(
                    channel=self.channel_id,
                    ts=self.stream_ts,
                    chunks=self._chunks("", self._all_tasks()),
                )
            except Exception as exc:  # noqa: BLE001 - it may have ended already; the new one carries on
                log.info("chat.stopStream of an old stream failed in %s (%s)", self.channel_id, error_code(exc))
        started = self._start_stream(self._lead())
        with self._cond:
            if started is False:
                self._to_update_mode()
            elif started is None:  # a new stream later, from where the old one stopped
                self.stream_ts = None
                self._append_gate.hold_off(RATELIMIT_PAUSE_S)

    def _to_update_mode(self) -> None:
        """Give streaming up for good: the chat.update fallback shows the live text instead."""
        self.mode = "update"
        self._pending = ""
        self._dirty.clear()
        self._dirty_tools.clear()
        self._changed = True
