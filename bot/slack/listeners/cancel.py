"""The Cancel button on a run's parent message and on App Home's recent runs.

Only someone who may see the run's conversation (bot/slack/seeing.py) and is the person
who started the run or an admin (bot/slack/admin.py: PIPEBOT_ADMINS and workspace admins)
may cancel it; anyone else is told so, and nothing changes. The rules
of what a cancel does live in core/runs/cancel.py: a queued run ends at once (its message
says so here, since no worker will ever report on it), a running one is stopped by its
worker, which then marks the message ❌ itself. Double clicks are harmless: the request is
recorded once.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import replace
from functools import partial
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack import approval_thread, parent_status
from bot.slack.admin import AdminCheckFailed, is_admin
from bot.slack.blocks import runs as msgs
from bot.slack.blocks.common import name_md
from bot.slack.delivery import deliver
from bot.slack.home_tab import publish_home
from bot.slack.listeners.support import action_value, later, tell
from bot.slack.payloads import actor_of, team_of, user_of
from bot.slack.ratelimit.paced import is_rate_limited
from bot.slack.seeing import refusal
from core.context import AppContext
from core.runs.cancel import KIND, CancelResult, cancel_run, cancelled_message
from storage.db import transaction
from storage.repos import runs as run_repo
from storage.states import FINISHED, RunStatus

log = logging.getLogger(__name__)

LOCKED_PATIENCE_S = 3.0  # the mark's wait under the message's lock (others wait parent_status.LOCK_WAIT_S)


def refused_text(requested_by: str | None) -> str:
    who = msgs.mention(requested_by)
    return f"Only {who} or an admin can cancel this run." if who else "Only an admin can cancel this run."


def finished_text(pipeline_name: str, status: str) -> str:
    how = RunStatus.SUCCEEDED if status == RunStatus.SUCCEEDED else RunStatus.FAILED
    return f"This run of {name_md(pipeline_name)} already finished ({how}): there is nothing to cancel."


def stopping_text(pipeline_name: str) -> str:
    return (
        f"Cancelling {name_md(pipeline_name)}: it stops as soon as the model call in progress is "
        "aborted, and its finished steps stay in its artifact."
    )


ALREADY = "Someone already asked to cancel this run; it is stopping."
NOT_FOUND = "I can't find that run any more."


def cancel_clicked(ctx: AppContext, client: WebClient, body: Mapping[str, Any]) -> None:
    """After the ack: check who clicked, cancel, and say what happened."""
    team_id, user_id = team_of(body), user_of(body)
    to = replace(actor_of(body), response_url=body.get("response_url"))

    def say(text: str) -> None:
        tell(client, to, text)

    try:
        run_id = uuid.UUID(action_value(body))
    except ValueError:
        say(NOT_FOUND)
        return
    with transaction(ctx.sessions) as s:
        run = run_repo.get_run(s, team_id, run_id)
        if run is None:
            say(NOT_FOUND)
            return
        status, requester, name = run.status, run.requested_by, run.pipeline_name
        run_channel, thread_ts, input_text = run.channel_id, run.thread_ts, run.input
    if (why := refusal(ctx, client, team_id, user_id, run_channel)) is not None:
        say(why)
        return
    if status in FINISHED:
        say(finished_text(name, status))
        return
    if user_id != requester:
        try:
            allowed = is_admin(ctx, client, user_id, team_id)
        except AdminCheckFailed as exc:
            say(str(exc))
            return
        if not allowed:
            log.info("user %s may not cancel run %s of %s", user_id, run_id, requester)
            say(refused_text(requester))
            return
    answer = cancel_run(ctx, team_id, run_id, user_id)
    if answer.result is CancelResult.CANCELLED:
        if run_channel and thread_ts:
            mark_cancelled(
                ctx, client, run_id, run_channel, thread_ts, name, requester, input_text, user_id, answer.permalink
            )
        if status == RunStatus.WAITING:  # its approval request loses its buttons
            approval_thread.show_cancelled(ctx, client, team_id, run_id, name)
    elif answer.result is CancelResult.STOPPING:
        say(stopping_text(name))
    elif answer.result is CancelResult.ALREADY_REQUESTED:
        say(ALREADY)
    elif answer.result is CancelResult.FINISHED:
        say(finished_text(name, answer.status or RunStatus.FAILED))
    else:
        say(NOT_FOUND)


def mark_cancelled(
    ctx: AppContext,
    client: WebClient,
    run_id: uuid.UUID,
    channel_id: str,
    thread_ts: str,
    name: str,
    requester: str | None,
    input_text: str,
    by: str,
    permalink: str | None,
) -> None:
    """A queued run ended at once: no worker reports on it, so its message says ❌ here
    (and from `pipebot cancel`)."""
    try:
        ts = parent_status.status_ts(ctx.redis, run_id) or thread_ts
    except Exception:  # noqa: BLE001 - Redis away: the usual case is the thread's parent
        ts = thread_ts
    text, blocks = msgs.parent_message(
        name,
        requester,
        input_text,
        status=RunStatus.FAILED,
        reason=cancelled_message(by),
        error_kind=KIND,
        cancelled_by=by,
        permalink=permalink,
    )

    def mark() -> object:
        return client.chat_update(channel=channel_id, ts=ts, text=text, blocks=[b.to_dict() for b in blocks])

    with parent_status.message_lock(ctx.redis, run_id):
        try:
            parent_status.take_queued(ctx.redis, run_id)
        except Exception:  # noqa: BLE001 - only a hint
            pass
        try:  # the mark waits its turn (bot/slack/delivery.py): briefly under the lock, then outside it
            deliver(mark, what="the cancelled mark", run_id=str(run_id), patience_s=LOCKED_PATIENCE_S)
            return
        except SlackApiError as exc:
            if not is_rate_limited(exc):
                log.info("could not mark cancelled run %s: %s", run_id, exc.response.get("error"))
                return
    try:
        deliver(mark, what="the cancelled mark", run_id=str(run_id))
    except SlackApiError as exc:
        log.info("could not mark cancelled run %s: %s", run_id, exc.response.get("error"))


def cancel_button(ctx: AppContext, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
    """*Cancel* on a run's message or on App Home (which then shows the run's new state)."""
    ack()
    later(client, body, "cancelling a run", _cancel, ctx, body, client)


def _cancel(ctx: AppContext, body: dict[str, Any], client: WebClient) -> None:
    cancel_clicked(ctx, client, body)
    if (body.get("container") or {}).get("type") == "view":  # on Home: show the run's new state
        publish_home(ctx, client, team_of(body), user_of(body))


def register(app: App, ctx: AppContext) -> None:
    """The Cancel button, wherever it is (a run's message, App Home)."""
    app.action(msgs.RUN_CANCEL)(partial(cancel_button, ctx))
