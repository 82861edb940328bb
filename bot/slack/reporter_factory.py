"""Which reporter a run gets: the Slack thread's, built for the run from what PostgreSQL and
Redis know of it (its channel, thread, requester, status message), with the client of its
workspace. Kept apart from the reporter itself (bot/slack/reporter.py), which only talks to
Slack."""

from __future__ import annotations

import functools
import logging

from bot.slack import parent_status
from bot.slack.reporter import SlackRunReporter
from core.context import AppContext
from core.reporter import Reporter, RunInfo
from core.runs.approvals import record_message
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
    return _reporter(ctx, team_id, run_id, channel_id, thread_ts, requested_by, recipient_team)


def slack_reporter_from_info(ctx: AppContext, info: RunInfo) -> Reporter | None:
    """The same, from the run as the executor read it when it claimed the run: the RQ job
    (core/runs/job.py) builds its reporter this way, without another database round trip."""
    return _reporter(
        ctx, info.team_id, info.run_id, info.channel_id, info.thread_ts, info.requested_by, info.recipient_team_id
    )


def _reporter(
    ctx: AppContext,
    team_id: str,
    run_id: str,
    channel_id: str | None,
    thread_ts: str | None,
    requested_by: str | None,
    recipient_team: str | None,
) -> Reporter | None:
    """Called in the work horse; the client comes from bot.slack.client.client_for, so
    multi-workspace installs use each workspace's token."""
    if not channel_id or not thread_ts:
        return None
    recipient_team = recipient_team or team_id
    try:
        from bot.slack.client import client_for

        client = client_for(ctx, team_id)
    except Exception as exc:  # noqa: BLE001 - Slack not configured here: the run still runs
        log.warning("run %s has a Slack thread but no Slack client: %s", run_id, exc)
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
    )


def _remember_approval(ctx: AppContext, team_id: str, approval_id: str, channel_id: str, ts: str) -> None:
    """Where the request's buttons are, so whoever decides it can update them."""
    if not record_message(ctx, team_id, approval_id, channel_id, ts):
        log.info("approval %s was gone before its message could be remembered", approval_id)


def _note_undelivered(ctx: AppContext, team_id: str, run_id: str, what: str) -> None:
    with transaction(ctx.sessions) as s:
        artifact_repo.note_undelivered(s, team_id, run_id, what)
