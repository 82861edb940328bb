"""May the person who clicked, typed or opened something see the run it concerns? The Slack
side of the one visibility rule (core/visibility.Sight), for listeners (DESIGN §10).

Why one module: every surface that shows or acts on a run (lists, the View modal, App Home,
Re-run, Edit, Compare, Cancel, Feedback, the run modal's channel) asks the same question the
same way: the person's Sight from Slack's membership (bot/slack/membership.py, cached
briefly), and, before saying no, once more with ``fresh=True`` (at most once per
:data:`RECHECK_EVERY_S` per person and conversation), so someone who has just joined a
conversation does not wait for the cache to expire. The answer is "yes", "no"
(:data:`NOT_YOURS`), or Slack's refusal to say (``MembershipUnknown``, whose message says
what to fix).
"""

from __future__ import annotations

import logging

from slack_sdk import WebClient

from bot.slack.membership import MembershipUnknown, SlackSight
from core.context import AppContext
from core.visibility import Sight
from storage.db import transaction
from storage.repos import artifacts as artifact_repo

log = logging.getLogger(__name__)

__all__ = [
    "NOT_YOURS",
    "MembershipUnknown",
    "artifact_refusal",
    "recheck_allowed",
    "refusal",
    "sees",
    "sight_of",
    "warm",
]

#: The one answer to an action on a run whose conversation the clicker cannot see (whoever
#: they are: a colleague outside a private channel, a guest, someone of another organisation).
NOT_YOURS = "You can only do that on results of conversations you are in."
#: How often a refusal may ask Slack afresh for one person and conversation.
RECHECK_EVERY_S = 30


def source(ctx: AppContext, client: WebClient) -> SlackSight:
    """The SightSource of a listener: the workspace's client it was given (Bolt's, which in
    OAuth mode carries that workspace's token)."""
    return SlackSight(ctx, lambda _team_id: client)


def sight_of(ctx: AppContext, client: WebClient, team_id: str, user_id: str, *, fresh: bool = False) -> Sight:
    """What ``user_id`` may see of ``team_id`` (raises MembershipUnknown)."""
    return source(ctx, client).sight(team_id, user_id, fresh=fresh)


def warm(ctx: AppContext, client: WebClient, team_id: str, user_id: str) -> None:
    """Ask Slack now, after a modal opened, so that its submission (answered in the 3 s ack)
    finds the person's Sight cached. A failure is for the submission to report."""
    try:
        sight_of(ctx, client, team_id, user_id)
    except MembershipUnknown as exc:
        log.info("could not warm the Sight of %s: %s", user_id, exc)


def sees(ctx: AppContext, client: WebClient, team_id: str, user_id: str, channel_id: str | None) -> bool:
    """Whether ``user_id`` may see a run of ``team_id`` that ran in ``channel_id`` (None: it
    posted nowhere): from the cache, and when that says no, once more from Slack (at most
    once per :data:`RECHECK_EVERY_S` for one person and conversation, so repeated clicks on
    what they cannot see do not spend the workspace's Slack budget)."""
    found = source(ctx, client)
    if found.sight(team_id, user_id).sees(team_id, channel_id):
        return True
    return recheck_allowed(ctx, team_id, user_id, channel_id) and found.sight(team_id, user_id, fresh=True).sees(
        team_id, channel_id
    )


def recheck_allowed(ctx: AppContext, team_id: str, user_id: str, channel_id: str | None) -> bool:
    """True at most once per :data:`RECHECK_EVERY_S` for one person and conversation: the
    turn to ask Slack afresh before refusing."""
    try:
        key = f"pipebot:sight-recheck:{team_id}:{user_id}:{channel_id}"
        return bool(ctx.redis.set(key, 1, nx=True, ex=RECHECK_EVERY_S))
    except Exception:  # noqa: BLE001 - without Redis, ask Slack again
        return True


def refusal(ctx: AppContext, client: WebClient, team_id: str, user_id: str, channel_id: str | None) -> str | None:
    """None when ``user_id`` may act on a run of ``channel_id``; else what to tell them."""
    if not user_id:
        return NOT_YOURS
    try:
        return None if sees(ctx, client, team_id, user_id, channel_id) else NOT_YOURS
    except MembershipUnknown as exc:
        return str(exc)


def artifact_refusal(ctx: AppContext, client: WebClient, team_id: str, user_id: str, *artifact_ids: str) -> str | None:
    """:func:`refusal` for the runs of these artifacts (all must be visible). An id that
    names no artifact of the workspace is left to the surface, which says it is gone."""
    channels: list[str | None] = []
    with transaction(ctx.sessions) as s:
        for artifact_id in artifact_ids:
            artifact = artifact_repo.get_artifact(s, team_id, artifact_id)
            if artifact is not None:
                channels.append(artifact.channel_id)
    for channel_id in dict.fromkeys(channels):
        if (why := refusal(ctx, client, team_id, user_id, channel_id)) is not None:
            return why
    return None
