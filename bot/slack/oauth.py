"""Multi-workspace installs (SLACK_CLIENT_ID / SLACK_CLIENT_SECRET): Bolt's OAuth flow wired
to our stores.

``/slack/install`` sends an admin to Slack; ``/slack/oauth_redirect`` finishes the
install and saves the workspace's bot token in the encrypted installation store
(bot/slack/client.py), where the worker's reporter finds it too. The OAuth ``state``
values live in PostgreSQL so any web process can finish an install another one started.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from slack_bolt.oauth.oauth_settings import OAuthSettings

from bot.slack.allowed_teams import AllowedTeamsOAuthFlow
from bot.slack.client import installation_store, oauth_state_store
from core.context import AppContext

INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
# What the app asks for when installed through /slack/install; keep in step with manifest.yml.
BOT_SCOPES = (
    "commands",
    "chat:write",
    "channels:join",
    "users:read",
    "links:read",
    "links:write",
    "channels:read",
    "groups:read",
    "im:read",
    "mpim:read",
    "app_mentions:read",
    "files:read",
    "im:history",
    "channels:history",
    "groups:history",
    "mpim:history",
    "reactions:read",
    "emoji:read",
)
NOT_INSTALLED = "pipebot is not installed in this workspace any more: ask an admin to reinstall it at {url}"


def not_installed_text(ctx: AppContext) -> str:
    """What a person in a workspace without a bot token is told (one source for the text)."""
    return NOT_INSTALLED.format(url=f"{ctx.settings.public_url}{INSTALL_PATH}")


def answer_without_installation(ctx: AppContext, body: bytes) -> str | None:
    """The answer to a slash command from a workspace that has no bot token (it uninstalled
    the app, or Slack revoked the token), or None to let Bolt handle the request.

    Given as the HTTP response to the command itself: there is no token to post with, and
    Bolt, finding no installation, would only respond() through the response_url with a
    generic apology, which an uninstalled app's workspace may never show."""
    if not ctx.settings.slack_oauth_enabled or b"command=" not in body:
        return None
    fields = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    team_id = fields.get("team_id")
    if not fields.get("command") or not team_id:
        return None
    if installation_store(ctx).bot_token_for_team(team_id):
        return None
    return not_installed_text(ctx)


def oauth_flow(ctx: AppContext) -> AllowedTeamsOAuthFlow | None:
    """Bolt's OAuth flow in multi-workspace mode, refusing installs from teams not in
    PIPEBOT_ALLOWED_TEAMS (bot/slack/allowed_teams.py); None with a single SLACK_BOT_TOKEN."""
    settings = oauth_settings(ctx)
    return AllowedTeamsOAuthFlow(ctx, settings=settings) if settings is not None else None


def oauth_settings(ctx: AppContext) -> OAuthSettings | None:
    """Bolt's OAuth settings in multi-workspace mode; None with a single SLACK_BOT_TOKEN."""
    settings = ctx.settings
    if not settings.slack_oauth_enabled:
        return None
    return OAuthSettings(
        client_id=settings.SLACK_CLIENT_ID,
        client_secret=settings.SLACK_CLIENT_SECRET,
        scopes=list(BOT_SCOPES),
        installation_store=installation_store(ctx),
        state_store=oauth_state_store(ctx),
        install_path=INSTALL_PATH,
        redirect_uri_path=REDIRECT_PATH,
        redirect_uri=f"{settings.public_url}{REDIRECT_PATH}",
    )
