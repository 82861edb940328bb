"""Who may change pipebot's settings (provider keys): workspace admins and owners, plus
the user ids in PIPEBOT_ADMINS.

Why ask Slack: admin status changes in Slack, not here (bot/slack/people.py caches the
answer for a minute). PIPEBOT_ADMINS is checked first so
a listed user costs no API call and works even where users:read is missing.
"""

from __future__ import annotations

from slack_sdk import WebClient

from bot.slack.people import PersonUnknown, person
from core.context import AppContext
from core.messages import COMMAND

REFUSED = (
    "Only workspace admins and owners can change pipebot's settings (and people listed in "
    f"PIPEBOT_ADMINS by whoever runs pipebot). Ask one of them to run `{COMMAND} settings`."
)


#: The name the callers know; the lookup itself lives in bot/slack/people.py.
AdminCheckFailed = PersonUnknown


def is_admin(ctx: AppContext, client: WebClient, user_id: str, team_id: str | None = None) -> bool:
    """True for PIPEBOT_ADMINS and for Slack admins, owners and primary owners who are full
    members of ``team_id`` (the workspace the request is for): a guest is never an admin
    here, nor is an admin of another organisation in a Slack Connect channel."""
    if user_id in ctx.settings.admin_ids:
        return True
    who = person(ctx, client, team_id or "", user_id)
    return who.admin_of(team_id) if team_id else who.slack_admin and not who.guest and not who.gone
