"""👍/👎 on a run's final message (Slack's feedback buttons): one vote per person per version.

Slack's buttons toggle on the person's screen: a click on the chosen one clears it, a click
on the other switches. Each click arrives as a ``block_actions`` carrying the value of the
button clicked, nothing about its state, so the stored vote decides: the same button again
clears it, the other replaces it (storage/repos/feedback.toggle, applied in turn when clicks
arrive at once). Counts show in `/pipebot artifacts` and on the artifact page.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import partial
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.slack.blocks import artifact_buttons as buttons
from bot.slack.listeners.support import action_value, after_ack
from bot.slack.payloads import actor_of
from bot.slack.seeing import artifact_refusal
from core.context import AppContext
from storage.db import transaction
from storage.repos import feedback

log = logging.getLogger(__name__)


def record_vote(ctx: AppContext, client: WebClient, body: Mapping[str, Any]) -> int | None:
    """Apply one click; the vote now stored (None: cleared, or nothing to vote on). Only
    whoever may see the run's conversation votes (bot/slack/seeing.py)."""
    click = actor_of(body)
    parsed = buttons.parse_feedback(action_value(body))
    if parsed is None or not click.user_id:
        log.info("ignored a feedback click (stale value)")
        return None
    value, artifact_id, version = parsed
    if (why := artifact_refusal(ctx, client, click.team_id, click.user_id, artifact_id)) is not None:
        log.info("ignored a feedback click by %s: %s", click.user_id, why)
        return None
    with transaction(ctx.sessions) as s:
        return feedback.toggle(s, click.team_id, artifact_id, version, click.user_id, value)


def clicked(ctx: AppContext, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
    """👍/👎: acked at once, the vote stored after the ack (a failure is logged)."""
    ack()
    after_ack(record_vote, ctx, client, body)


def register(app: App, ctx: AppContext) -> None:
    """The feedback buttons' clicks."""
    app.action(buttons.FEEDBACK)(partial(clicked, ctx))
