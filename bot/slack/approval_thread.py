"""An approval request in the run's Slack thread (DESIGN §12): posted when the run starts
waiting, edited with ``chat.update`` when it is decided, times out or is cancelled.

Kept apart from bot/slack/reporter.py, which calls it: the reporter knows the thread, this
module knows the request's message. Both calls go through bot/slack/delivery.py, like the
run's result: they wait their turn in the workspace's Slack budget and are retried, bounded.
The message's place (channel and ts) is remembered in PostgreSQL by the caller
(core.runs.approvals.record_message), so whichever process decides the approval, a web
server's listener or a worker's maintenance round, finds the message to update.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.blocks import approvals as msgs
from bot.slack.delivery import deliver
from core.context import AppContext
from core.reporter import ApprovalView
from core.runs.approval_request import view_of
from storage.db import transaction
from storage.repos import approvals as approval_repo
from storage.states import ApprovalStatus

log = logging.getLogger(__name__)


def post_request(
    post: Callable[..., Any], pipeline_name: str, approval: ApprovalView, *, run_id: str | None = None
) -> str | None:
    """Post the request with its buttons through ``post`` (the reporter's chat.postMessage in
    the thread); the message's ts, None when Slack never took it."""
    text, blocks = msgs.approval_message(pipeline_name, approval)
    try:
        resp = deliver(
            lambda: post(text=text, blocks=[b.to_dict() for b in blocks]), what="the approval", run_id=run_id
        )
    except SlackApiError as exc:
        log.warning("could not post approval %s: %s", approval.approval_id, exc.response.get("error"))
        return None
    return str(resp["ts"]) if resp is not None and resp.get("ts") else None


def show_decision(client: WebClient, pipeline_name: str, approval: ApprovalView, *, run_id: str | None = None) -> bool:
    """The request's message without its buttons, saying how it ended; False when there is no
    message to update (never posted, or deleted)."""
    if not approval.channel_id or not approval.message_ts:
        return False
    text, blocks = msgs.approval_message(pipeline_name, approval)
    channel, ts = approval.channel_id, approval.message_ts
    try:
        deliver(
            lambda: client.chat_update(channel=channel, ts=ts, text=text, blocks=[b.to_dict() for b in blocks]),
            what="the approval's decision",
            run_id=run_id,
        )
    except SlackApiError as exc:
        log.info("could not update approval %s: %s", approval.approval_id, exc.response.get("error"))
        return False
    return True


def show_cancelled(ctx: AppContext, client: WebClient, team_id: str, run_id: uuid.UUID, pipeline_name: str) -> int:
    """A waiting run was cancelled (bot/slack/listeners/cancel.py): no reporter hears of it, so
    its request's message is updated here ("Cancelled by @x", buttons gone). How many were."""
    with transaction(ctx.sessions) as s:
        views = [
            view_of(row)
            for row in approval_repo.of_run(s, run_id)
            if row.team_id == team_id and row.status == ApprovalStatus.CANCELLED and row.message_ts
        ]
    return sum(show_decision(client, pipeline_name, v, run_id=str(run_id)) for v in views)
