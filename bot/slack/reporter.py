"""The run's Slack thread, written from the RQ worker: a `core.reporter.Reporter`.

What a person sees in the thread under the run's parent message:

1. a progress reply (bot/slack/progress.py): one task per pipeline step (pending → in
   progress → complete/error, with tokens, cost and time once done) and, as each step's
   model writes, its words, streamed with Slack's chat streaming API. Streaming in a
   channel needs the requester's user and team ids, which the run keeps
   (``requested_by``, ``recipient_team_id``). Where streaming is refused the same
   progress goes into an ordinary reply edited with ``chat.update`` about once a second;
2. the final reply: the output (Slack renders the model's Markdown), cut at a clean
   boundary to fit Slack's limits with "full output:" and the artifact permalink, then
   time, cost and models; or, for a failed run, the reason (already written for people);
3. the parent message edited to ✅ or ❌. A run whose message said "Queued: N runs ahead"
   (bot/slack/parent_status.py) has it switched back to running when it starts.

A run that reaches an approval step (DESIGN §12) ends its progress reply there, posts the
request with its buttons (bot/slack/approval_thread.py) and marks the parent message
waiting; when the request is decided its message loses its buttons and says how, and an
approved run's parent message says running again (its next worker posts a new progress reply).

Slack's rate limits: every call draws on the workspace's shared budget (bot/slack/
ratelimit/). The result, the ✅/❌ and the switch back to running are delivered through
bot/slack/delivery.py (they wait their turn and are retried, bounded); the progress reply
yields to them and coalesces (bot/slack/progress.py).

A reporter must never fail a run: every public method catches and logs, even though
core also wraps reporters in ``SafeReporter``. Model output is untrusted and goes out
escaped (see bot/slack/blocks/common.py).
"""

from __future__ import annotations

import functools
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any, TypeVar, cast

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack import approval_thread, parent_status
from bot.slack.blocks import runs as msgs
from bot.slack.delivery import deliver
from bot.slack.progress import APPEND_INTERVAL_S, STREAM_RENEW_AFTER_S, UPDATE_INTERVAL_S, ProgressReply
from bot.slack.tool_tasks import tool_task
from core.context import AppContext
from core.messages import reused_step
from core.reporter import ApprovalView, RunInfo, RunOutcome, StepPlan, StepResult, ToolCallView
from storage.states import ApprovalStatus, RunStatus

log = logging.getLogger(__name__)

# chat.postMessage is about one a second per channel; the shared budget paces that for every
# run in the channel, so a run adds no spacing of its own by default.
POST_INTERVAL_S = 0.0
RUNNING_MARK_PATIENCE_S = 10.0  # under the message's lock (parent_status.LOCK_TTL_S is 15 s)
STATUS_TS_TTL_S = 2 * 86400  # how long the ts of a run's status message is remembered
WAITING_NOTE = "waiting for approval"
# Errors after which a retry with plain text (no blocks) is worth it.
_BLOCK_ERRORS = ("msg_blocks_too_long", "invalid_blocks", "invalid_blocks_format", "msg_too_long")

F = TypeVar("F", bound=Callable[..., Any])


def remember_status_message(ctx: AppContext, run_id: uuid.UUID | str, ts: str) -> None:
    """Say which message shows the run's ✅/❌ when it is not the thread's parent.

    A run started from a message shortcut replies in someone else's thread; the bot
    can only edit its own "running…" reply, whose ts is kept here (Redis, with a TTL).
    """
    ctx.redis.set(parent_status.status_key(run_id), ts, ex=STATUS_TS_TTL_S)


def _error(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error"))
    return type(exc).__name__


def _never_raises(fn: F) -> F:
    """A Slack outage or a bug here must not fail a run someone paid for."""

    @functools.wraps(fn)
    def wrapper(self: SlackRunReporter, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(self, *args, **kwargs)
        except Exception:  # noqa: BLE001
            log.exception(
                "Slack reporter %s failed for channel %s thread %s", fn.__name__, self.channel_id, self.thread_ts
            )
            return None

    return cast(F, wrapper)


class SlackRunReporter:
    """Posts one run's progress and result into its Slack thread (see the module docstring)."""

    def __init__(
        self,
        client: WebClient,
        *,
        channel_id: str,
        thread_ts: str,
        status_ts: str | None = None,
        recipient_user_id: str | None = None,
        recipient_team_id: str | None = None,
        streaming: bool = True,
        update_interval: float = UPDATE_INTERVAL_S,
        append_interval: float = APPEND_INTERVAL_S,
        stream_renew_after: float = STREAM_RENEW_AFTER_S,
        post_interval: float = POST_INTERVAL_S,
        redis: Any = None,
        run_id: str | None = None,
        on_undelivered: Callable[[str], None] | None = None,
        on_approval_shown: Callable[[str, str, str], None] | None = None,
        origin: Mapping[str, Any] | None = None,
    ) -> None:
        self.client = client
        self.channel_id = channel_id
        self.thread_ts = thread_ts
        self.status_ts = status_ts or thread_ts
        self.recipient_user_id = recipient_user_id
        self.recipient_team_id = recipient_team_id
        self.post_interval = post_interval
        self._redis, self._run_id = redis, run_id  # for the parent message's queued state
        self.on_undelivered = on_undelivered
        self.on_approval_shown = on_approval_shown  # (approval id, channel, ts): remember the message
        self.progress = ProgressReply(
            client,
            channel_id=channel_id,
            thread_ts=thread_ts,
            recipient_user_id=recipient_user_id,
            recipient_team_id=recipient_team_id,
            post=self._post,
            streaming=streaming,
            append_interval=append_interval,
            update_interval=update_interval,
            renew_after=stream_renew_after,
        )
        self._lock = threading.RLock()
        self._post_lock = threading.Lock()
        self._steps: dict[int, msgs.StepView] = {}
        self._pipeline = ""
        self._requested_by: str | None = None
        self._input = ""
        self._origin: Mapping[str, Any] | None = origin  # runs.origin: named in every parent update
        self._last_post = 0.0
        self._running_mark: threading.Thread | None = None

    # ---- Reporter ----------------------------------------------------------------------------
    @_never_raises
    def run_started(self, info: RunInfo) -> None:
        """Remember the plan; nothing is posted until a step starts, so a run that fails its
        preflight (orphaned step, missing key) shows just the reason."""
        with self._lock:
            self._pipeline = info.pipeline_name
            self._requested_by = info.requested_by
            self._input = info.input
            self._origin = info.origin or self._origin
            for sp in info.steps:
                view = msgs.StepView(sp.position, sp.agent_name, sp.model_display or msgs.model_label(sp.model))
                if sp.position in info.reused:
                    view.status, view.note = "complete", reused_step(info.reused[sp.position])
                elif sp.position <= info.resumed_from:
                    view.status, view.note = "complete", "done in an earlier attempt"
                self._steps[sp.position] = view
        # in the background: the mark may wait for chat.update's budget, the run must not
        self._running_mark = threading.Thread(target=self._show_running, name="slack-running-mark", daemon=True)
        self._running_mark.start()

    def _show_running(self) -> None:
        """A message that said "Queued" says running now (under the message's lock, so the
        queue-position updater cannot write "Queued" back over it)."""
        if self._redis is None or not self._run_id:
            return
        with parent_status.message_lock(self._redis, self._run_id):
            try:
                if not parent_status.take_queued(self._redis, self._run_id):
                    return
            except Exception:  # noqa: BLE001 - only a hint: the ✅/❌ comes anyway
                log.warning("could not read whether run %s shows queued", self._run_id)
                return
            text, blocks = msgs.parent_message(
                self._pipeline,
                self._requested_by,
                self._input,
                status=RunStatus.RUNNING,
                run_id=self._run_id,
                in_thread=self.status_ts == self.thread_ts,
                origin=self._origin,
            )
            try:
                deliver(
                    lambda: self.client.chat_update(
                        channel=self.channel_id, ts=self.status_ts, text=text, blocks=[b.to_dict() for b in blocks]
                    ),
                    what="the running mark",
                    run_id=self._run_id,
                    patience_s=RUNNING_MARK_PATIENCE_S,
                )
            except SlackApiError as exc:
                log.info("could not mark the run's message %s running: %s", self.status_ts, _error(exc))

    @_never_raises
    def step_started(self, info: RunInfo, step: StepPlan) -> None:
        with self._lock:
            view = self._step(step.position, step.agent_name, step.model_display or msgs.model_label(step.model))
            view.status, view.note = "in_progress", ""
            if self.progress.mode is None:
                self.progress.open(self._pipeline or info.pipeline_name, self._ordered())
            else:
                self.progress.update(view)

    @_never_raises
    def text_delta(self, info: RunInfo, step: StepPlan, text: str) -> None:
        """The step's words, queued for the thread (sent in batches, see bot/slack/progress.py)."""
        if self.progress.mode is not None:
            self.progress.text(
                self._steps.get(step.position) or msgs.StepView(step.position, step.agent_name, step.model_display),
                text,
            )

    @_never_raises
    def step_retrying(self, info: RunInfo, step: StepPlan, reason: str) -> None:
        with self._lock:
            view = self._steps.get(step.position)
            if view is not None and self.progress.mode is not None:
                self.progress.retrying(view)

    @_never_raises
    def tool_call(self, info: RunInfo, step: StepPlan, call: ToolCallView) -> None:
        """A tool call started or ended: a task of the plan, updated in place by its call_id,
        sent with the next progress call (no Slack call of its own, bot/slack/progress.py)."""
        if self.progress.mode is not None:
            self.progress.tool(tool_task(call))

    @_never_raises
    def step_finished(self, info: RunInfo, result: StepResult) -> None:
        with self._lock:
            view = self._step(result.position, result.agent_name, msgs.model_label(result.model))
            view.status = "complete"
            view.note = msgs.step_stats(result.input_tokens, result.output_tokens, result.cost_usd, result.latency_ms)
            if self.progress.mode is not None:
                self.progress.step_done(view)

    @_never_raises
    def run_finished(self, info: RunInfo, outcome: RunOutcome) -> None:
        """The result, then ✅/❌, then the progress reply's last words and plan: closing a
        stream may wait for Slack's budget (chat.stopStream is Tier 2), and the result must
        not wait behind it."""
        with self._lock:
            self._pipeline = self._pipeline or info.pipeline_name
            self._requested_by = self._requested_by or info.requested_by
            self._input = self._input or info.input
        try:
            self._post_final(outcome)
        except Exception:
            self._undelivered("its result")
            raise
        finally:
            try:
                self._update_status(outcome)
            finally:
                with self._lock:
                    try:
                        if self.progress.mode is not None:
                            self._finish_progress(outcome)
                    except Exception:  # noqa: BLE001 - the result and the ✅/❌ matter more than the plan
                        log.exception("finishing the progress reply failed in %s", self.channel_id)

    # ---- approvals (optional reporter events, core/reporter.py) -------------------------------
    @_never_raises
    def approval_requested(self, info: RunInfo, approval: ApprovalView) -> None:
        """The run waits: its progress reply ends with the approval step waiting, the request
        goes into the thread with its buttons, the parent message says waiting."""
        with self._lock:
            pipeline = self._pipeline = self._pipeline or info.pipeline_name
            view = self._steps.get(approval.position)
            if view is not None:
                view.status, view.note = "in_progress", WAITING_NOTE
            try:
                if self.progress.mode is not None:
                    self.progress.close(self._ordered(), RunStatus.WAITING)
            except Exception:  # noqa: BLE001 - the request matters more than the plan
                log.exception("closing the progress reply before an approval failed in %s", self.channel_id)
        ts = approval_thread.post_request(self._post, pipeline, approval, run_id=self._run_id)
        if ts is None:
            self._undelivered("its approval request")
        elif self.on_approval_shown is not None:
            self.on_approval_shown(approval.approval_id, self.channel_id, ts)
        self._show_parent(info, RunStatus.WAITING)

    @_never_raises
    def approval_decided(self, info: RunInfo, approval: ApprovalView) -> None:
        """The request's message says how it ended (no buttons); an approved run is queued again,
        so its parent message no longer says waiting. A rejected or timed-out run gets
        run_finished next (❌); a cancelled one was marked by the Cancel button."""
        approval_thread.show_decision(self.client, info.pipeline_name, approval, run_id=self._run_id)
        if approval.status == ApprovalStatus.APPROVED:
            self._show_parent(info, RunStatus.RUNNING)

    def _show_parent(self, info: RunInfo, status: str) -> None:
        """The parent (status) message as ``status`` says, under the message's lock."""
        text, blocks = msgs.parent_message(
            info.pipeline_name,
            info.requested_by,
            info.input,
            status=status,
            run_id=info.run_id,
            in_thread=self.status_ts == self.thread_ts,
        )
        held: AbstractContextManager[Any] = (
            parent_status.message_lock(self._redis, info.run_id) if self._redis is not None else nullcontext()
        )
        with held:
            try:
                deliver(
                    lambda: self.client.chat_update(
                        channel=self.channel_id, ts=self.status_ts, text=text, blocks=[b.to_dict() for b in blocks]
                    ),
                    **self._what(f"the {status} mark"),
                )
            except SlackApiError as exc:
                log.info("could not mark the run's message %s %s: %s", self.status_ts, status, _error(exc))

    # ---- progress ------------------------------------------------------------------------------
    def _step(self, position: int, agent_name: str, model_display: str) -> msgs.StepView:
        view = self._steps.get(position)
        if view is None:
            view = self._steps[position] = msgs.StepView(position, agent_name, model_display)
        else:  # the agent as it is now (live link), not as it was when the run was queued
            view.agent_name, view.model_display = agent_name or view.agent_name, model_display or view.model_display
        return view

    def _ordered(self) -> list[msgs.StepView]:
        return [self._steps[k] for k in sorted(self._steps)]

    def _finish_progress(self, outcome: RunOutcome) -> None:
        if outcome.status != RunStatus.SUCCEEDED:
            reason = outcome.error_message or "failed"
            running = [v for v in self._ordered() if v.status == "in_progress"]
            pending = [v for v in self._ordered() if v.status == "pending"]
            target = running[0] if running else (pending[0] if pending else None)
            if target is not None:
                target.status, target.note = "error", reason
        self.progress.close(self._ordered(), outcome.status)

    # ---- result ----------------------------------------------------------------------------------
    def _post(self, **kwargs: Any) -> Any:
        """chat.postMessage in the thread, spaced from our previous post (about 1/s per channel)."""
        with self._post_lock:  # the progress reply's pacer posts too
            wait = self.post_interval - (time.monotonic() - self._last_post)
            if wait > 0:
                time.sleep(wait)
            try:
                return self.client.chat_postMessage(
                    channel=self.channel_id, thread_ts=self.thread_ts, unfurl_links=False, unfurl_media=False, **kwargs
                )
            finally:
                self._last_post = time.monotonic()

    def _post_final(self, outcome: RunOutcome) -> None:
        text, blocks = msgs.final_message(self._pipeline, outcome)
        # The mark lets a later run reading this thread keep the result (bot/slack/input_source.py).
        mark = {"event_type": msgs.RESULT_MARK, "event_payload": {"run_id": str(self._run_id or "")}}
        try:
            deliver(
                lambda: self._post(text=text, blocks=[b.to_dict() for b in blocks], metadata=mark),
                **self._what("result"),
            )
        except SlackApiError as exc:
            if _error(exc) not in _BLOCK_ERRORS:
                raise
            log.warning("Slack refused the result blocks (%s); posting plain text", _error(exc))
            deliver(
                lambda: self._post(text=msgs.final_text_only(self._pipeline, outcome), metadata=mark),
                **self._what("result"),
            )

    def _what(self, what: str) -> dict[str, Any]:
        return {"what": what, "run_id": self._run_id}

    def _update_status(self, outcome: RunOutcome) -> None:
        if self._running_mark is not None:  # never "running" written over the ✅/❌
            self._running_mark.join(RUNNING_MARK_PATIENCE_S + parent_status.LOCK_WAIT_S + 1)
        text, blocks = msgs.parent_message(
            self._pipeline,
            self._requested_by,
            self._input,
            status=outcome.status,
            duration_ms=outcome.duration_ms,
            cost=outcome.cost_usd,
            permalink=outcome.permalink,
            reason=outcome.error_message,
            error_kind=outcome.error_kind,
            cancelled_by=outcome.cancelled_by,
            origin=self._origin,
        )
        try:
            deliver(
                lambda: self.client.chat_update(
                    channel=self.channel_id, ts=self.status_ts, text=text, blocks=[b.to_dict() for b in blocks]
                ),
                **self._what("the ✅/❌ mark"),
            )
        except SlackApiError as exc:  # e.g. the message was deleted: the thread still has the result
            log.info("could not mark the run's message %s: %s", self.status_ts, _error(exc))
            self._undelivered("its ✅/❌ mark")

    def _undelivered(self, what: str) -> None:
        """Slack never took ``what``: the artifact page says so (the thread is incomplete)."""
        if self.on_undelivered is not None:
            try:
                self.on_undelivered(what)
            except Exception:  # noqa: BLE001 - only a note; the log line above has the facts
                log.warning("could not record that %s of run %s did not reach Slack", what, self._run_id)
