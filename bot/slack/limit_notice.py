"""Telling a workspace's admins that 80 % of its daily limit is spent: a DM from the bot to
each user in PIPEBOT_ADMINS and each workspace admin or owner (``users.list``, skipping
bots, deactivated users, guests and people of other organisations).

core decides when (core/spend_notice.py, once a day per workspace); this only says it.
Best effort: a failed lookup or DM is logged, never raised into the run that triggered it.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from slack_sdk import WebClient

from core import messages
from core.context import AppContext

log = logging.getLogger(__name__)

USERS_PAGE = 200  # users.list's recommended page size
USERS_PAGES_MAX = 50  # 10,000 people: enough to find a workspace's admins, bounded


def workspace_admins(client: WebClient, team_id: str) -> set[str]:
    """The full members of ``team_id`` who are Slack admins or owners (``users.list``, Tier 2,
    paged by cursor)."""
    found: set[str] = set()
    cursor: str | None = None
    for _ in range(USERS_PAGES_MAX):
        page = client.users_list(limit=USERS_PAGE, cursor=cursor, team_id=team_id)
        for member in page.get("members") or []:
            if _is_admin_member(member, team_id):
                found.add(str(member["id"]))
        cursor = ((page.get("response_metadata") or {}).get("next_cursor")) or None
        if not cursor:
            break
    return found


def _is_admin_member(member: dict[str, Any], team_id: str) -> bool:
    if member.get("deleted") or member.get("is_bot") or member.get("id") == "USLACKBOT":
        return False
    if member.get("is_restricted") or member.get("is_ultra_restricted"):
        return False
    if member.get("team_id") not in (None, team_id):
        return False
    return bool(member.get("is_admin") or member.get("is_owner") or member.get("is_primary_owner"))


def notify_admins(ctx: AppContext, team_id: str, spent: Decimal, limit: Decimal) -> set[str]:
    """DM the workspace's admins; who was told."""
    from bot.slack.client import client_for

    try:
        client = client_for(ctx, team_id)
    except Exception as exc:  # noqa: BLE001 - Slack not configured for this workspace: nobody to tell
        log.warning("no Slack client to tell %s's admins about the daily limit: %s", team_id, exc)
        return set()
    admins = set(ctx.settings.admin_ids)
    try:
        admins |= workspace_admins(client, team_id)
    except Exception:  # noqa: BLE001 - PIPEBOT_ADMINS are still told
        log.exception("could not list the admins of %s", team_id)
    text = messages.daily_limit_near(limit, spent)
    told = set()
    for user_id in sorted(admins):
        try:
            client.chat_postMessage(channel=user_id, text=text)
            told.add(user_id)
        except Exception:  # noqa: BLE001 - one admin's DM failing must not stop the others
            log.exception("could not tell %s about the daily limit of %s", user_id, team_id)
    return told
