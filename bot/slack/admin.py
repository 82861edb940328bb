"""Who may change pipebot's settings (provider keys): workspace admins and owners, plus
the user ids in PIPEBOT_ADMINS.

Why ask Slack each time: admin status changes in Slack, not here, and settings are
opened rarely; ``users.info`` is Tier 4 (100+/min). PIPEBOT_ADMINS is checked first so
a listed user costs no API call and works even where users:read is missing.
"""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.ratelimit.budget import patience
from core.context import AppContext
from core.messages import COMMAND

REFUSED = (
    "Only workspace admins and owners can change pipebot's settings (and people listed in "
    f"PIPEBOT_ADMINS by whoever runs pipebot). Ask one of them to run `{COMMAND} settings`."
)


# How long the check waits for Slack's budget (a 429's Retry-After included) before it says
# "Slack is busy": settings open a modal, whose trigger_id lives 3 s.
ADMIN_CHECK_PATIENCE_S = 1.5


class AdminCheckFailed(Exception):
    """Slack would not tell us who the user is; the message says what to fix."""


def is_admin(ctx: AppContext, client: WebClient, user_id: str, team_id: str | None = None) -> bool:
    """True for PIPEBOT_ADMINS and for Slack admins, owners and primary owners who are full
    members of ``team_id`` (the workspace the request is for): a guest is never an admin
    here, nor is an admin of another organisation in a Slack Connect channel."""
    if user_id in ctx.settings.admin_ids:
        return True
    try:
        with patience(ADMIN_CHECK_PATIENCE_S):  # an answer must beat the 3 s trigger of the modal it guards
            user = client.users_info(user=user_id)["user"]
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response is not None else "unknown_error"
        if error == "missing_scope":
            hint = " The app needs the users:read scope: reinstall it from the manifest."
        elif error in (
            "ratelimited",
            "rate_limited",
            "internal_error",
            "fatal_error",
            "service_unavailable",
            "request_timeout",
        ):
            hint = " Slack is busy right now; please try again in a minute."
        else:
            hint = ""
        raise AdminCheckFailed(
            f"I couldn't check whether you are a workspace admin (Slack said `{error}`).{hint}"
        ) from None
    if user.get("deleted") or user.get("is_bot") or user.get("is_restricted") or user.get("is_ultra_restricted"):
        return False
    if team_id and user.get("team_id") and user.get("team_id") != team_id:
        return False
    return bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))
