"""One run's progress reply in its thread: the task plan and the words each step is writing.

Where Slack allows it, the reply is a chat stream (``chat.startStream`` /
``appendStream`` / ``stopStream``, ``task_display_mode="plan"``): markdown chunks carry
the text beside task-update chunks. Why a thread of its own (the *pacer*): the model's
words arrive far more often than Slack takes calls, and a slow or rate-limited Slack must
not slow the model's reply down. So the caller only queues text and task changes; the
pacer sends what accumulated, a burst of ``append_burst`` calls and then one per
``append_interval`` on average (appendStream is Tier 4, about 100 a minute), at most
12,000 characters of markdown per call.

A stream lives about 5 minutes; the reply renews it before then (``renew_after``) or when
told so: a new stream in the same thread picks up with the whole plan and the text the old
one did not accept. The stream calls themselves are in bot/slack/progress_stream.py; this
module is what the reporter calls, the pacer thread and the ``chat.update`` fallback.

Where streaming is refused (the method errors, ``not_allowed``, a workspace without it, no
recipient ids) or breaks for good, the same progress goes into an ordinary reply edited
with ``chat.update`` at most once per ``update_interval``, showing the running step's text
so far (its tail, within Slack's message limit).

Slack's limits are the workspace's, not the stream's (bot/slack/ratelimit/): every call here
also takes a token from the workspace's shared budget, as *progress*, so it yields to
parent messages, results and status marks and never waits for its turn: when the budget
is tight the call is not made, the text keeps accumulating, and the next call carries all
of it (fewer, larger appends). A stream that cannot start yet starts later with what
accumulated (its first words as early as the budget allows). Closing is not progress: the
last words and the final plan wait their turn (``CLOSE_PATIENCE_S`` per call).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.blocks import stream as live
from bot.slack.blocks.runs import StepView, ToolTaskView
from bot.slack.progress_gate import RATELIMIT_PAUSE_S, Bucket, error_code, kind_of
from bot.slack.progress_stream import StreamCalls
from bot.slack.ratelimit.budget import as_progress, patience
from bot.slack.ratelimit.paced import is_rate_limited
from bot.slack.ratelimit.paced import retry_after as _retry_after
from core.text import clean_text

log = logging.getLogger(__name__)

APPEND_INTERVAL_S = 0.75  # one appendStream per stream per 0.75 s on average (80/min)
APPEND_BURST = 2  # ...after a burst of two (a task update and the first words)
UPDATE_INTERVAL_S = 1.0  # chat.update fallback: about one edit per second
STREAM_RENEW_AFTER_S = 240.0  # streams end after about 5 minutes: start a new one at 4
CLOSE_JOIN_S = 60.0
PACER_IDLE_S = 600.0  # the pacer thread ends after this long with nothing to send
CLOSE_CALLS_MAX = 50  # calls that may finish a stream (pieces of text, renewals)
CLOSE_PATIENCE_S = 30.0  # each closing call waits this long for its turn in the shared budget
TOOL_TASKS_MAX = 40  # tool calls shown as tasks of one plan; later ones only update the step's own


class ProgressReply(StreamCalls):
    """The progress reply of one run (see the module docstring). Thread-safe; never raises
    from :meth:`text`, :meth:`update`, :meth:`step_done` or :meth:`retrying`."""

    def __init__(
        self,
        client: WebClient,
        *,
        channel_id: str,
        thread_ts: str,
        recipient_user_id: str | None,
        recipient_team_id: str | None,
        post: Callable[..., Any],
        streaming: bool = True,
        append_interval: float = APPEND_INTERVAL_S,
        append_burst: int = APPEND_BURST,
        update_interval: float = UPDATE_INTERVAL_S,
        renew_after: float = STREAM_RENEW_AFTER_S,
    ) -> None:
        self.client = client
        self.channel_id, self.thread_ts = channel_id, thread_ts
        self.recipient_user_id, self.recipient_team_id = recipient_user_id, recipient_team_id
        self._post = post
        self.streaming = streaming
        self.renew_after = renew_after
        self.update_interval = update_interval
        self.mode: str | None = None  # None | "stream" | "update"
        self.stream_ts: str | None = None  # the live stream's message
        self.stream_ts_history: list[str] = []
        self.progress_ts: str | None = None  # the reply edited with chat.update
        self._append_gate = Bucket(append_interval, append_burst)
        self._update_gate = Bucket(update_interval, 1)
        self._cond = threading.Condition(threading.RLock())
        self._pipeline = ""
        self._views: dict[int, StepView] = {}
        self._dirty: dict[int, StepView] = {}  # task changes not yet sent
        self._tools: dict[str, ToolTaskView] = {}  # tool calls by call_id, in the order made
        self._dirty_tools: dict[str, ToolTaskView] = {}  # ...their changes not yet sent
        self._changed = False  # update mode: something to render
        self._pending = ""  # escaped markdown not yet accepted by Slack
        self._queued = 0  # characters ever queued
        self._accepted = 0  # ...of which Slack accepted this many
        self._marks: list[tuple[int, int]] = []  # (offset in the queued text, step position)
        self._carry: dict[int, str] = {}
        self._live: dict[int, list[str]] = {}  # each step's escaped text so far, in pieces
        self._live_step: int | None = None
        self._stream_started = 0.0
        self._failures = 0
        self._closing = False
        self._pacer: threading.Thread | None = None

    # ---- what the reporter tells it --------------------------------------------------------
    def open(self, pipeline_name: str, steps: Sequence[StepView]) -> None:
        """Show the plan (one startStream carrying every task), else post the fallback reply;
        then start the pacer."""
        with self._cond:
            self._pipeline = pipeline_name
            for v in steps:
                self._views[v.position] = dataclasses.replace(v)
            if self.streaming and self.recipient_user_id:
                self.mode = "stream"
                with as_progress():
                    started = self._start_stream("")
                if started is False:
                    self._to_update_mode()
            else:
                self._to_update_mode()
            if self.mode == "update":
                try:
                    with as_progress():
                        self._send_update(None)
                except Exception as exc:  # noqa: BLE001 - the pacer tries again
                    log.info("posting the progress reply in %s failed (%s)", self.channel_id, error_code(exc))
            self._wake()

    def _wake(self) -> None:
        """Notify the pacer, starting it if it is not running (it ends after a quiet spell,
        so a run abandoned without run_finished leaves no thread behind)."""
        self._cond.notify_all()
        if self._pacer is None and self.mode is not None and not self._closing:
            self._pacer = threading.Thread(target=self._run, name=f"slack-progress-{self.channel_id}", daemon=True)
            self._pacer.start()

    def update(self, *views: StepView) -> None:
        """Task changes (status, stats) to show."""
        with self._cond:
            for v in views:
                copy = dataclasses.replace(v)
                self._views[v.position] = self._dirty[v.position] = copy
            self._changed = True
            self._wake()

    def tool(self, task: ToolTaskView) -> None:
        """A tool call started or ended: its task, updated in place by ``call_id``. Like any
        task change it waits for the next call the pacer makes (no call of its own)."""
        with self._cond:
            if task.call_id not in self._tools and len(self._tools) >= TOOL_TASKS_MAX:
                return
            self._tools[task.call_id] = self._dirty_tools[task.call_id] = dataclasses.replace(task)
            self._changed = True
            self._wake()

    def text(self, step: StepView, delta: str) -> None:
        """Words the model just wrote for ``step``."""
        if not delta:
            return
        with self._cond:
            pos = step.position
            safe, self._carry[pos] = live.escape_live(self._carry.get(pos, ""), clean_text(delta))
            if pos not in self._live:
                self._live[pos] = []
                self._queue(live.step_heading(self._views.get(pos, step)), pos)
            self._live_step = pos
            self._live[pos].append(safe)
            self._queue(safe, pos)

    def step_done(self, step: StepView) -> None:
        """The step's last words (a held-back ``<``) and a gap before the next step's text."""
        with self._cond:
            pos = step.position
            carry = self._carry.pop(pos, "")
            if pos in self._live:
                self._live[pos].append(carry)
                self._queue(carry + live.STEP_SEPARATOR, pos)
        self.update(step)

    def retrying(self, step: StepView) -> None:
        """The step's reply broke off and is asked again: what it showed so far is void."""
        with self._cond:
            pos = step.position
            self._carry.pop(pos, None)
            if self._live.get(pos):
                self._live[pos] = []
                self._queue(live.RETRY_NOTE, pos)

    def close(self, steps: Sequence[StepView], finished: str) -> None:
        """Stop the pacer, then send everything left and end the stream (or the final edit)."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._pacer is not None:
            self._pacer.join(CLOSE_JOIN_S)
        with self._cond:
            for v in steps:
                self._views[v.position] = self._dirty[v.position] = dataclasses.replace(v)
            for t in list(self._tools.values()):  # a call whose end was never told ended with the run
                if t.status in ("in_progress", "pending"):
                    ended = dataclasses.replace(t, status="complete" if finished == "succeeded" else "error")
                    self._tools[t.call_id] = self._dirty_tools[t.call_id] = ended
            for pos, carry in list(self._carry.items()):
                self._queue(carry, pos)
            self._carry.clear()
            if self.mode == "stream" and not self.stream_ts_history:
                return  # the budget never let a stream start: the final reply carries the output
            with patience(CLOSE_PATIENCE_S):  # not progress: the reply's last words are whole
                for _ in range(CLOSE_CALLS_MAX):
                    if self.mode != "stream":
                        break
                    time.sleep(self._append_gate.wait())
                    if self._deliver(stop=True):
                        return
                time.sleep(self._update_gate.wait())
                self._send_update(finished)

    # ---- the pacer -----------------------------------------------------------------------------
    def _queue(self, text: str, pos: int) -> None:
        self._changed = True
        self._wake()
        if not text or self.mode != "stream":  # the chat.update fallback shows the live text instead
            return
        if not self._marks or self._marks[-1][1] != pos:
            self._marks.append((self._queued, pos))
        self._pending += text
        self._queued += len(text)

    def _has_work(self) -> bool:
        if self.mode == "stream":
            return bool(self._pending or self._dirty or self._dirty_tools or self.stream_ts is None)
        return self._changed

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._closing:
                        return
                    if self._has_work():
                        gate = self._append_gate if self.mode == "stream" else self._update_gate
                        wait = gate.wait()
                        if wait <= 0:
                            break
                        self._cond.wait(wait)
                    elif not self._cond.wait(PACER_IDLE_S) and not self._has_work():
                        self._pacer = None
                        return
                streaming = self.mode == "stream"
            try:  # Slack is called without the lock: the model's words keep being queued meanwhile
                with as_progress():
                    if streaming:
                        self._deliver()
                    else:
                        self._send_update(None)
            except Exception as exc:  # noqa: BLE001 - the progress reply must never take the run down
                if not is_rate_limited(exc):
                    log.exception("progress reply in %s failed", self.channel_id)
                    continue
                with self._cond:  # the budget is tight: the text accumulates for a later, larger call
                    self._update_gate.hold_off(max(RATELIMIT_PAUSE_S, _retry_after(exc) or 0.0))

    # ---- the chat.update fallback ------------------------------------------------------------
    def _send_update(self, finished: str | None) -> None:
        with self._cond:
            self._update_gate.take()
            self._changed = False
            steps = [self._views[k] for k in sorted(self._views)]
            pos = self._live_step
            view = self._views.get(pos) if pos is not None else None
            if view is not None and view.status != "in_progress":
                view = None
            text, blocks = live.live_progress_message(
                self._pipeline,
                steps,
                view,
                "".join(self._live.get(pos or 0, [])),
                finished=finished,
                tools=list(self._tools.values()),
            )
            progress_ts = self.progress_ts
        payload = [b.to_dict() for b in blocks]
        try:
            if progress_ts is not None:
                try:
                    self.client.chat_update(channel=self.channel_id, ts=progress_ts, text=text, blocks=payload)
                    return
                except SlackApiError as exc:
                    if kind_of(exc) in ("transient", "ratelimited"):
                        raise
                    log.info("chat.update of the progress reply failed (%s); posting a new one", error_code(exc))
            resp = self._post(text=text, blocks=payload)
        except Exception:
            with self._cond:
                self._changed = True  # shown at the next turn
            raise
        with self._cond:
            self.progress_ts = resp.get("ts")
