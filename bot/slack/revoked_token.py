"""A single SLACK_BOT_TOKEN that Slack revoked (the app uninstalled, or its tokens revoked):
remembered, and every later command answered with what to do instead of failing on it.

With one token from the environment there is nothing to delete (multi-workspace installs
forget theirs: bot/slack/client.py), and Bolt checks that token once per process, so without
this a command after the revocation would be handled and its first call to Slack refused.
The mark lives in Redis, keyed by a hash of the token (never the token itself), so every
process sees it and a new SLACK_BOT_TOKEN is never mistaken for the revoked one. At start
the CLI asks Slack about the token anyway (bot/slack/token_check.py).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable

from slack_bolt import BoltRequest, BoltResponse

from core.context import AppContext

log = logging.getLogger(__name__)

REVOKED_TTL = 30 * 24 * 3600  # seconds; long after anyone would still run the old token
TOKEN_REVOKED = (
    "pipebot's bot token was revoked in this workspace (the app was uninstalled or its tokens "
    "revoked): ask an admin to reinstall the app and set its new SLACK_BOT_TOKEN."
)


def _key(token: str) -> str:
    return "pipebot:revoked-token:" + hashlib.sha256(token.encode()).hexdigest()[:32]


def mark_revoked(ctx: AppContext, token: str) -> None:
    """Remember that Slack revoked ``token`` (a failure is logged: commands then fail as before)."""
    try:
        ctx.redis.set(_key(token), "1", ex=REVOKED_TTL)
    except Exception:  # noqa: BLE001 - Redis away: the warning already logged says what to do
        log.warning("could not record the revoked SLACK_BOT_TOKEN in Redis", exc_info=True)


def is_revoked(ctx: AppContext, token: str) -> bool:
    try:
        return bool(ctx.redis.exists(_key(token)))
    except Exception:  # noqa: BLE001 - Redis away: handle the command as usual
        return False


def answer_commands_when_revoked(ctx: AppContext, token: str) -> Callable[..., BoltResponse | None]:
    """Global middleware: a slash command once ``token`` is revoked is answered with
    TOKEN_REVOKED in its own response (the ack; no token can post)."""

    def middleware(req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]) -> BoltResponse | None:  # noqa: A002
        if req.body.get("command") and is_revoked(ctx, token):
            return BoltResponse(status=200, body=TOKEN_REVOKED)
        return next()

    return middleware
