"""Multi-workspace installs (SLACK_CLIENT_ID / SLACK_CLIENT_SECRET): Bolt's OAuth flow wired
to our stores.

``/slack/install`` sends an admin to Slack; ``/slack/oauth_redirect`` finishes the
install and saves the workspace's bot token in the encrypted installation store
(bot/slack/client.py), where the worker's reporter finds it too. The OAuth ``state``
values live in PostgreSQL so any web process can finish an install another one started.
"""

from __future__ import annotations

from slack_bolt.oauth.oauth_settings import OAuthSettings

from bot.slack.client import installation_store, oauth_state_store
from core.context import AppContext

INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
# What the app asks for when installed through /slack/install; keep in step with manifest.yml.
BOT_SCOPES = ("commands", "chat:write", "channels:join", "users:read", "links:read", "links:write")


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
