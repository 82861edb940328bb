"""Which reporter a run gets: the Slack thread's, built for the run from what PostgreSQL and
Redis know of it (its channel, thread, requester, status message), with the client of its
workspace. Kept apart from the reporter itself (bot/slack/reporter.py), which only talks to
Slack.

A run that started itself (a schedule: DESIGN §13) has a channel but no thread: nobody posted
its first message. The worker posts it here, naming the run's origin, once: its ts is recorded
on the run only where none is (storage/repos/runs.set_thread_ts_once), so a retried or resumed
attempt finds the thread and reports there; a message that lost that race is deleted."""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Mapping
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack import parent_status
from bot.slack.blocks import runs as msgs
from bot.slack.blocks.origin import origin_line
from bot.slack.people import PersonUnknown, person
from bot.slack.reporter import SlackRunReporter
from bot.slack.run_post import CannotPost, delete_quietly, post_run_message
from core.context import AppContext
from core.reporter import Reporter, RunInfo
from core.runs.approvals import record_message
from core.schedules import store as schedule_store
from core.schedules import texts
from storage.db import transaction
from storage.repos import artifacts as artifact_repo
from storage.repos import runs as run_repo

log = logging.getLogger(__name__)


def slack_reporter_for(ctx: AppContext, team_id: str, run_id: str) -> Reporter | None:
    """The reporter for a run that has a Slack thread, or None (CLI runs, Slack not configured)."""
    with transaction(ctx.sessions) as s:
        run = run_repo.get_run(s, team_id, run_id)
        if run is None:
            return None
        channel_id, thread_ts, requested_by, recipient_team = (
            run.channel_id,
            run.thread_ts,
            run.requested_by,
            run.recipient_team_id,
        )
        origin, pipeline_name, input_text = run.origin, run.pipeline_name, run.input
    return _reporter(
        ctx, team_id, run_id, channel_id, thread_ts, requested_by, recipient_team, (origin, pipeline_name, input_text)
    )


def slack_reporter_from_info(ctx: AppContext, info: RunInfo) -> Reporter | None:
    """The same, from the run as the executor read it when it claimed the run: the RQ job
    (core/runs/job.py) builds its reporter this way, without another database round trip."""
    return _reporter(
        ctx,
        info.team_id,
        info.run_id,
        info.channel_id,
        info.thread_ts,
        info.requested_by,
        info.recipient_team_id,
        (info.origin, info.pipeline_name, info.input),
    )


def _reporter(
    ctx: AppContext,
    team_id: str,
    run_id: str,
    channel_id: str | None,
    thread_ts: str | None,
    requested_by: str | None,
    recipient_team: str | None,
    started_by: tuple[dict[str, Any] | None, str, str] = (None, "", ""),
) -> Reporter | None:
    """Called in the work horse; the client comes from bot.slack.client.client_for, so
    multi-workspace installs use each workspace's token. ``started_by``: the run's origin,
    pipeline name and input, for a self-started run's first message."""
    origin, pipeline_name, input_text = started_by
    line = origin_line(origin)
    if not channel_id or (not thread_ts and line is None):
        return None
    recipient_team = recipient_team or team_id
    try:
        from bot.slack.client import client_for

        client = client_for(ctx, team_id)
    except Exception as exc:  # noqa: BLE001 - Slack not configured here: the run still runs
        log.warning("run %s has a Slack thread but no Slack client: %s", run_id, exc)
        return None
    if not thread_ts:
        if _creator_gone(ctx, client, team_id, requested_by, origin, pipeline_name):
            return None
        thread_ts = _open_thread(
            ctx, client, team_id, run_id, channel_id, requested_by, pipeline_name, input_text, origin
        )
        if thread_ts is None:
            return None
    status_ts = None
    try:
        status_ts = parent_status.status_ts(ctx.redis, run_id)
    except Exception:  # noqa: BLE001 - without it the parent message is updated, which is the usual case
        log.warning("could not read the status message of run %s", run_id)
    return SlackRunReporter(
        client,
        channel_id=channel_id,
        thread_ts=thread_ts,
        status_ts=status_ts,
        recipient_user_id=requested_by,
        recipient_team_id=recipient_team,
        redis=ctx.redis,
        run_id=str(run_id),
        on_undelivered=functools.partial(_note_undelivered, ctx, team_id, str(run_id)),
        on_approval_shown=functools.partial(_remember_approval, ctx, team_id),
        origin=origin,
    )


def _remember_approval(ctx: AppContext, team_id: str, approval_id: str, channel_id: str, ts: str) -> None:
    """Where the request's buttons are, so whoever decides it can update them."""
    if not record_message(ctx, team_id, approval_id, channel_id, ts):
        log.info("approval %s was gone before its message could be remembered", approval_id)


def _open_thread(
    ctx: AppContext,
    client: WebClient,
    team_id: str,
    run_id: str,
    channel_id: str,
    requested_by: str | None,
    pipeline_name: str,
    input_text: str,
    origin: Mapping[str, Any] | None,
) -> str | None:
    """Post a self-started run's first message and record its ts as the run's thread; the
    thread to report in (None: Slack would not take the message; the run runs, unreported,
    and the artifact keeps its result)."""
    text, blocks = msgs.parent_message(
        pipeline_name, requested_by, input_text, run_id=str(run_id), origin=origin, in_thread=True
    )
    try:
        posted = post_run_message(client, channel_id, text, [b.to_dict() for b in blocks])
    except CannotPost as exc:
        log.warning("run %s cannot post its first message in %s: %s", run_id, channel_id, exc)
        told = texts.cannot_post_run(pipeline_name, channel_id, str(exc))
        if origin is not None and origin.get("kind") == "schedule" and origin.get("id"):
            paused = texts.paused_cannot_post(pipeline_name, channel_id, str(exc))
            if schedule_store.pause_itself(ctx, team_id, str(origin["id"]), paused):
                told = paused
        _tell_starter(client, requested_by, told)
        return None
    with transaction(ctx.sessions) as s:
        thread_ts = run_repo.set_thread_ts_once(s, team_id, uuid.UUID(str(run_id)), posted.ts)
    if thread_ts != posted.ts:  # another attempt opened the thread first: report there
        delete_quietly(client, posted.channel, posted.ts)
    return thread_ts


def _creator_gone(
    ctx: AppContext,
    client: WebClient,
    team_id: str,
    requested_by: str | None,
    origin: Mapping[str, Any] | None,
    pipeline_name: str,
) -> bool:
    """A schedule whose creator left the workspace (deactivated) pauses itself rather than
    post in their name: True then (nothing is posted; an admin sees why in the list). Slack
    not answering who they are is not a reason to stop."""
    if origin is None or origin.get("kind") != "schedule" or not origin.get("id") or not requested_by:
        return False
    try:
        gone = person(ctx, client, team_id, requested_by).gone
    except PersonUnknown:
        return False
    if gone:
        log.info("schedule %s pauses: its creator %s is no longer in the workspace", origin["id"], requested_by)
        schedule_store.pause_itself(ctx, team_id, str(origin["id"]), texts.paused_creator_gone(pipeline_name))
    return gone


def _tell_starter(client: WebClient, user_id: str | None, text: str) -> None:
    """A DM to whoever the run runs for (a schedule's creator): nobody else would hear of it."""
    if not user_id:
        return
    try:
        client.chat_postMessage(channel=user_id, text=text)
    except SlackApiError as exc:
        log.info("could not tell %s that a run could not post: %s", user_id, exc.response.get("error"))


def _note_undelivered(ctx: AppContext, team_id: str, run_id: str, what: str) -> None:
    with transaction(ctx.sessions) as s:
        artifact_repo.note_undelivered(s, team_id, run_id, what)
