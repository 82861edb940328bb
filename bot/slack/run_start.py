"""The one way a run starts from Slack: :func:`start_from_slack` takes a RunRequest that a
listener built (a slash command, the run modal, the message shortcut, a re-run; the coming
mentions, schedules, reactions and webhooks only add a builder) and

1. submits it (core/runs/intake.py), which checks it before anything is public and dedupes
   it (a retried request posts nothing and starts nothing);
2. in between, posts the message that opens the run's thread (its Cancel button names the
   run's id before the run exists), joining a public channel when needed;
3. handles a refusal the same way for every surface: the posted message (if any) says "not
   started" and why, and the requester alone is told, through the listener's ``tell``
   (an ephemeral message for a command, an inline error for a modal).

The worker then reports into the thread (bot/slack/reporter.py).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.blocks import runs as msgs
from bot.slack.delivery import deliver
from bot.slack.ratelimit.budget import budget_for, workspace_key
from bot.slack.reporter import remember_status_message
from bot.slack.run_post import CannotPost, Posted, delete_quietly, post_run_message
from bot.slack.text import escape_mrkdwn
from core.context import AppContext
from core.errors import QueueUnavailable, RunRejected
from core.messages import COMMAND
from core.preflight import Orphaned
from core.runs.intake import submit
from core.runs.request import ReportTo, RunRequest
from core.timings import SLACK_LONG_WAIT_NOTICE_S
from storage.models import Run
from storage.states import FailureKind

__all__ = ["CANNOT_POST", "Refusal", "Started", "dedupe_key_for", "refusal_text", "start_from_slack"]

log = logging.getLogger(__name__)

CANNOT_POST = "cannot_post"  # Refusal.kind when Slack would not take the run's first message


@dataclass(frozen=True)
class Refusal:
    """Why a run did not start: ``kind`` is RunRejected's (or CANNOT_POST), ``text`` mrkdwn
    for the requester (``support.inline_error`` makes it plain for a modal)."""

    kind: str
    text: str


@dataclass(frozen=True)
class Started:
    """The run (None: a repeat of a request still being started) and, when the queue was
    unreachable, what to tell the requester (the run is saved and starts later)."""

    run: Run | None
    note: str | None = None


Tell = Callable[[Refusal], None]


def dedupe_key_for(team_id: str, kind: str, value: str | None) -> str | None:
    """Globally unique (the column is), scoped by workspace, at most 200 characters."""
    return f"slack:{team_id}:{kind}:{value}"[:200] if value else None


def refusal_text(exc: RunRejected, pipeline_name: str) -> str:
    """A refusal in Slack's words (mrkdwn): core.preflight decides, this says it."""
    name = escape_mrkdwn(pipeline_name)
    if exc.kind == FailureKind.EMPTY_PIPELINE:
        return f"*{name}* has no steps. Add one with `{COMMAND} pipeline edit {name}`."
    if isinstance(exc, Orphaned):
        return f"*{name}* can't run yet: " + " ".join(escape_mrkdwn(m) for m in exc.messages)
    return escape_mrkdwn(exc.message)


def start_from_slack(
    ctx: AppContext,
    client: WebClient,
    request: RunRequest,
    *,
    shown_input: str,
    tell: Tell,
    channel_name: str | None = None,
    on_long_wait: Callable[[str], None] | None = None,
) -> Started | None:
    """Submit ``request``, posting its first message where ``request.report_to`` says (in
    its thread when it names one, else at the top of the channel, whose ts becomes the
    thread). ``shown_input``: what the message quotes (the input, or a re-run's note).
    ``on_long_wait`` hears, before the message waits its turn, when Slack's budget makes
    that wait long. Returns None when the run was refused (``tell`` was called)."""
    run_id = request.run_id or uuid.uuid4()
    where = request.report_to
    channel, thread = where.channel_id or request.requested_by or "", where.thread_ts
    posted: list[Posted] = []

    def place(req: RunRequest) -> RunRequest:
        text, blocks = msgs.parent_message(
            req.pipeline_name,
            req.requested_by,
            shown_input,
            in_thread=not thread,
            run_id=str(run_id),
            origin=req.origin_detail,
        )
        blocks_json = [b.to_dict() for b in blocks]
        if on_long_wait is not None:
            _warn_if_long(ctx, client, channel, on_long_wait)
        posted.append(post_run_message(client, channel, text, blocks_json, thread_ts=thread, channel_name=channel_name))
        return replace(req, report_to=ReportTo(posted[0].channel, thread or posted[0].ts))

    note = None
    try:
        run = submit(ctx, replace(request, run_id=run_id), place=place).run
    except CannotPost as exc:
        tell(Refusal(CANNOT_POST, str(exc)))
        return None
    except RunRejected as exc:
        if posted:
            _mark_not_started(client, posted[0], request, shown_input, exc.message)
        tell(Refusal(exc.kind, refusal_text(exc, request.pipeline_name)))
        return None
    except QueueUnavailable as exc:  # saved as queued: it starts once the queue is back
        run, note = exc.run, exc.message
    if posted and (run is None or run.id != run_id):  # a concurrent repeat won: remove our extra message
        delete_quietly(client, posted[0].channel, posted[0].ts)
    elif posted and thread and posted[0].ts != thread:
        remember_status_message(ctx, run_id, posted[0].ts)
    if run is not None and run.id == run_id:
        log.info(
            "run %s of %s started from Slack (%s) by %s", run.id, run.pipeline_name, request.origin, run.requested_by
        )
    return Started(run, note)


def long_wait_text(seconds: float) -> str:
    """What a requester reads when the run's first message waits its turn (mrkdwn)."""
    about = f"{round(seconds / 60)} min" if seconds >= 90 else f"{max(1, round(seconds))} s"
    return (
        "Slack lets an app post only about once a second in a channel, and other messages are "
        f"ahead of this run's: it starts in about {about}. Nothing is lost meanwhile."
    )


def _warn_if_long(ctx: AppContext, client: WebClient, channel: str, say: Callable[[str], None]) -> None:
    if not client.token:
        return
    wait = budget_for(ctx.redis).expected_wait(workspace_key(client.token), "chat.postMessage", channel)
    if wait >= SLACK_LONG_WAIT_NOTICE_S:
        say(long_wait_text(wait))


def _mark_not_started(client: WebClient, posted: Posted, request: RunRequest, shown_input: str, reason: str) -> None:
    """The posted message of a run that could not start after all says so, and why."""
    text, blocks = msgs.parent_message(
        request.pipeline_name, request.requested_by, shown_input, status="rejected", reason=reason
    )
    try:
        deliver(
            lambda: client.chat_update(
                channel=posted.channel, ts=posted.ts, text=text, blocks=[b.to_dict() for b in blocks]
            ),
            what="the not-started mark",
            run_id=str(request.run_id) if request.run_id else None,
        )
    except SlackApiError as exc:
        log.info("could not mark run message %s as not started: %s", posted.ts, exc.response.get("error"))
