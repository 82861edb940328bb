"""The bot token checked once at start (``auth.test``), so a token Slack refuses stops
``pipebot dev`` / ``serve`` with one line instead of every command failing later.

The Bolt app itself is built with ``token_verification_enabled=False`` (bot/slack/app.py)
so that it starts without Slack; this check is the CLI's, and it tells the two cases
apart: Slack answering "no" to the token is a configuration error that stops the process,
while Slack being unreachable (network, an outage, a rate limit) is only a warning, since
the token may well be right and the server should come up for when Slack is back.
"""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from core.settings import ConfigError, Settings

log = logging.getLogger(__name__)

CHECK_TIMEOUT = 10  # seconds; a slower Slack is a warning, not a stop

# auth.test's answers that mean the token itself is no good (docs.slack.dev/reference/methods/auth.test)
REFUSED = frozenset(
    {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired", "no_permission"}
)


def check_bot_token(settings: Settings) -> None:
    """Ask Slack about SLACK_BOT_TOKEN (if set); raise ConfigError in one line if refused."""
    token = settings.SLACK_BOT_TOKEN
    if not token:
        return
    client = WebClient(token=token, base_url=settings.SLACK_API_URL, timeout=CHECK_TIMEOUT)
    try:
        client.auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error")
        if error in REFUSED:
            raise ConfigError(
                f"Slack refused SLACK_BOT_TOKEN ({error}): copy the Bot User OAuth Token (xoxb-...) "
                "from OAuth & Permissions, reinstalling the app to the workspace if it was removed"
            ) from None
        log.warning("could not check SLACK_BOT_TOKEN with Slack (%s); starting anyway", error)
    except Exception as exc:  # noqa: BLE001 - network or Slack down: the token may be fine
        log.warning("could not reach Slack to check SLACK_BOT_TOKEN (%s); starting anyway", type(exc).__name__)
