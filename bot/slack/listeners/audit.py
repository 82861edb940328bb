"""`/pipebot audit`: the workspace's latest 50 audit events, for admins only (DESIGN §10).

Everyone else, guests and people of other organisations included, gets the same refusal as
`/pipebot settings` (bot/slack/admin.py decides, asking Slack who the person is). The events
are read from storage/repos/audit.latest and shown ephemerally, to the admin alone.
"""

from __future__ import annotations

from slack_sdk import WebClient

from bot.slack.admin import REFUSED, AdminCheckFailed, is_admin
from bot.slack.blocks.audit import audit_message
from bot.slack.listeners.support import Reply, tell
from bot.slack.payloads import Actor
from core.context import AppContext
from storage.db import transaction
from storage.repos import audit

#: How many events the command shows.
LATEST = 50


def show_audit(ctx: AppContext, client: WebClient, to: Actor) -> None:
    """Check the person is an admin of this workspace, then answer with the events."""
    try:
        allowed = is_admin(ctx, client, to.user_id, to.team_id)
    except AdminCheckFailed as exc:
        raise Reply(str(exc)) from None
    if not allowed:
        raise Reply(REFUSED)
    with transaction(ctx.sessions) as s:
        events = list(audit.latest(s, to.team_id, limit=LATEST))
    text, blocks = audit_message(events)
    tell(client, to, text, blocks)
