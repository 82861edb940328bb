"""What the reaction and message triggers share (DESIGN §13): the active triggers of a
workspace, cheaply; a message claimed once per trigger; the exact per-hour cap; reading the
reacted message; and turning a message into a run through the one way runs start from Slack
(bot/slack/run_start.start_from_slack), answering in the message's thread.

Why each piece:

* **The active triggers** are read on the ack path of every channel message, so they are kept
  per process for :data:`CACHE_S` and tagged with a per-workspace version in Redis that every
  change made in Slack bumps (:func:`changed`): a pause or delete counts at once in every
  process, anything else within a few seconds.
* **Once per message and trigger**: however many people react, and whatever Slack retries,
  a Redis ``SET NX`` on the run's dedupe key lets one handler through before any Slack call
  (no second ``conversations.history``, no second message); the run's ``dedupe_key`` holds
  the same line in PostgreSQL past the claim.
* **Runs per hour** is a fixed one-hour window counted with ``INCR`` in Redis, shared by every
  process: ``INCR`` is atomic, so a burst of any size starts exactly the cap.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.file_refs import FileNotUsable, file_refs
from bot.slack.run_start import Started, start_from_slack
from bot.slack.text import decode_slack_text
from core.context import AppContext
from core.runs.request import Origin, ReportTo, RunRequest
from core.triggers import store, texts
from core.triggers.store import TriggerView

log = logging.getLogger(__name__)

CACHE_S = 5.0  # how long a process trusts its list of a workspace's active triggers
CLAIM_TTL_S = 86_400  # a message claimed for a trigger stays claimed a day (Slack retries within minutes)
WINDOW_S = 3600  # Runs per hour: a fixed window of one hour
_CANNOT_READ = ("not_in_channel", "channel_not_found", "missing_scope")

_cache: dict[tuple[str, str], tuple[float, str | None, list[TriggerView]]] = {}
_cache_lock = threading.Lock()


def _version_key(team_id: str) -> str:
    return f"pipebot:triggers:version:{team_id}"


def _version(ctx: AppContext, team_id: str) -> str | None:
    try:
        raw = ctx.redis.get(_version_key(team_id))
    except Exception:  # noqa: BLE001 - without Redis the time limit alone refreshes the list
        return None
    return raw.decode() if isinstance(raw, bytes) else (str(raw) if raw is not None else "0")


def changed(ctx: AppContext, team_id: str) -> None:
    """A trigger of ``team_id`` was made, paused, resumed or deleted: every process reads the
    list again on its next event."""
    with _cache_lock:
        for key in [k for k in _cache if k[0] == team_id]:
            del _cache[key]
    try:
        ctx.redis.incr(_version_key(team_id))
    except Exception:  # noqa: BLE001 - other processes catch up within CACHE_S
        log.warning("could not tell other processes that triggers of %s changed", team_id)


def active_triggers(ctx: AppContext, team_id: str, kind: str) -> list[TriggerView]:
    """The workspace's unpaused triggers of ``kind`` (with a pipeline), from the cache when fresh."""
    version = _version(ctx, team_id)
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get((team_id, kind))
    if hit is not None and hit[0] > now and hit[1] == version:
        return hit[2]
    views = [v for v in store.active(ctx, team_id, kind) if v.pipeline_id is not None]
    with _cache_lock:
        _cache[(team_id, kind)] = (now + CACHE_S, version, views)
    return views


def claim(ctx: AppContext, key: str) -> bool:
    """True for the first handler of ``key`` (a trigger and a message); False for a repeat."""
    try:
        return bool(ctx.redis.set(f"pipebot:trigger:claim:{key}", "1", nx=True, ex=CLAIM_TTL_S))
    except Exception:  # noqa: BLE001 - Redis away: the run's dedupe_key still holds
        return True


def release(ctx: AppContext, key: str) -> None:
    """Forget a claim whose run could not start, so a later reaction can try again."""
    try:
        ctx.redis.delete(f"pipebot:trigger:claim:{key}")
    except Exception:  # noqa: BLE001
        pass


def take_hourly_slot(ctx: AppContext, trigger: TriggerView, now: float | None = None) -> bool:
    """One of ``trigger``'s runs this hour, if any is left. Exact across processes (INCR)."""
    window = int((time.time() if now is None else now) // WINDOW_S)
    key = f"pipebot:trigger:runs:{trigger.id}:{window}"
    pipe = ctx.redis.pipeline()
    pipe.incr(key)
    pipe.expire(key, WINDOW_S + 60)
    count = int(pipe.execute()[0])
    return count <= trigger.runs_per_hour


def first_skip_this_hour(ctx: AppContext, trigger: TriggerView, now: float | None = None) -> bool:
    """True once per trigger and window: the first message skipped past the cap is said."""
    window = int((time.time() if now is None else now) // WINDOW_S)
    try:
        return bool(ctx.redis.set(f"pipebot:trigger:skipped:{trigger.id}:{window}", "1", nx=True, ex=WINDOW_S + 60))
    except Exception:  # noqa: BLE001
        return False


class CannotRead(Exception):
    """pipebot may not read the conversation (not in it, or a private one it was not invited to)."""


def fetch_message(client: WebClient, channel_id: str, ts: str) -> dict[str, Any] | None:
    """The message at ``ts`` (its text and files): ``conversations.history`` for a top-level
    message, ``conversations.replies`` for a reply in a thread. None when it is gone. Both are
    Tier 3 methods: the paced client takes their turn from the shared budget."""
    try:
        found = client.conversations_history(channel=channel_id, latest=ts, oldest=ts, inclusive=True, limit=1)
    except SlackApiError as exc:
        if exc.response.get("error") in _CANNOT_READ:
            raise CannotRead(str(exc.response.get("error"))) from None
        raise
    for message in found.get("messages") or []:
        if message.get("ts") == ts:
            return dict(message)
    try:  # not at the top of the channel: a reply in a thread
        found = client.conversations_replies(channel=channel_id, ts=ts, latest=ts, oldest=ts, inclusive=True, limit=2)
    except SlackApiError as exc:
        if exc.response.get("error") in ("thread_not_found", "message_not_found"):
            return None
        raise
    return next((dict(m) for m in found.get("messages") or [] if m.get("ts") == ts), None)


@dataclass(frozen=True)
class TriggeredMessage:
    """The message a trigger runs on: where it is, who wrote it, what it holds."""

    team_id: str
    channel_id: str
    ts: str
    text: str
    thread_ts: str | None = None
    author_id: str | None = None
    author_team_id: str | None = None
    files: Sequence[Mapping[str, Any]] = field(default_factory=tuple)

    @property
    def reply_thread(self) -> str:
        """The thread the run answers in: the message's own, or the one it opens."""
        return self.thread_ts or self.ts


def _shown(input_text: str, request: RunRequest) -> str:
    if input_text:
        return input_text
    return "(files: " + ", ".join(f.name for f in request.files) + ")"


def start_triggered_run(
    ctx: AppContext,
    client: WebClient,
    trigger: TriggerView,
    msg: TriggeredMessage,
    *,
    origin: Origin,
    detail: dict[str, object],
    requested_by: str,
    dedupe_key: str,
    tell: Callable[[str], None],
) -> Started | None:
    """Run ``trigger``'s pipeline on ``msg``, answering in its thread; a problem (a file
    pipebot cannot take, nothing to run on, a refusal) goes to ``tell`` (mrkdwn)."""
    try:
        files = file_refs(client, msg.files)
    except FileNotUsable as exc:
        tell(str(exc))
        return None
    input_text = decode_slack_text(msg.text or "").strip()
    if not input_text and not files:
        tell(texts.NOTHING_TO_RUN)
        return None
    request = RunRequest(
        msg.team_id,
        origin,
        pipeline_name=trigger.pipeline_name,
        pipeline_id=trigger.pipeline_id,
        input_text=input_text,
        requested_by=requested_by,
        requester_team_id=msg.author_team_id if requested_by == msg.author_id else None,
        report_to=ReportTo(msg.channel_id, msg.reply_thread),
        dedupe_key=dedupe_key,
        files=files,
        origin_detail=detail,
    )
    return start_from_slack(ctx, client, request, shown_input=_shown(input_text, request), tell=lambda r: tell(r.text))
