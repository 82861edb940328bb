"""Who may change a workspace's agents and pipelines: its full members (DESIGN §10). Guests
and people of other organisations (Slack Connect) run them where they are members, but
never create, edit or delete them.

Why every step asks: opening a modal or a "delete?" question is checked so nobody is shown
a form they cannot submit, and the submission or button is checked again because a payload
can be forged; both ask here, so the rule and its words are one.
"""

from __future__ import annotations

from slack_sdk import WebClient

from bot.slack.listeners.support import Reply
from bot.slack.people import PersonUnknown, person
from core.context import AppContext

MEMBERS_ONLY = (
    "Only full members of this workspace can create, edit or delete agents and pipelines. "
    "Guests and people from other organisations can still run them in conversations they are in."
)


def member_problem(ctx: AppContext, client: WebClient, team_id: str, user_id: str) -> str | None:
    """Why ``user_id`` may not change ``team_id``'s agents and pipelines, or None."""
    try:
        who = person(ctx, client, team_id, user_id)
    except PersonUnknown as exc:
        return str(exc)
    return None if who.full_member_of(team_id) else MEMBERS_ONLY


def require_full_member(ctx: AppContext, client: WebClient, team_id: str, user_id: str) -> None:
    """Raise Reply (said to the person alone) unless ``user_id`` is a full member."""
    if (problem := member_problem(ctx, client, team_id, user_id)) is not None:
        raise Reply(problem)
