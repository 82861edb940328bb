"""Socket Mode: Slack reaches pipebot over a websocket the app opens (SLACK_APP_TOKEN), so
no public URL is needed. The same Bolt app as HTTP, without request signatures (Slack
authenticates the websocket)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from slack_bolt.adapter.socket_mode import SocketModeHandler

from bot.slack.app import BOLT_LOGGER, build_bolt_app, missing_configuration
from core.context import AppContext


def start_socket_mode(ctx: AppContext) -> SocketModeHandler:
    """Connect to Slack over Socket Mode (SLACK_APP_TOKEN) and return the handler.

    ``connect()`` returns once the websocket is open; the SDK's own threads keep it
    alive and reconnect. Call ``handler.close()`` to stop. Raises RuntimeError naming
    the missing variable when Socket Mode cannot start.
    """
    missing = missing_configuration(ctx, socket_mode=True)
    if missing:
        raise RuntimeError(f"Socket Mode needs {missing}")
    logger = logging.getLogger(BOLT_LOGGER)
    with _quiet_start(logger):
        app = build_bolt_app(ctx, socket_mode=True)
        handler = SocketModeHandler(app, app_token=ctx.settings.SLACK_APP_TOKEN, logger=logger)
        handler.connect()
    return handler


# What Bolt and slack_sdk log while Socket Mode starts that the caller says better in one
# line of its own (a refused app token), or that is not so (the bot token is in the client
# on purpose, and Bolt only saw SLACK_BOT_TOKEN in the environment as well).
_START_NOISE = ("Failed to retrieve WSS URL", "As you gave `client` as well")


def _not_start_noise(record: logging.LogRecord) -> bool:
    return not record.getMessage().startswith(_START_NOISE)


@contextlib.contextmanager
def _quiet_start(logger: logging.Logger) -> Iterator[None]:
    """Hold back ``_START_NOISE`` on ``logger`` while Socket Mode starts, and only then."""
    logger.addFilter(_not_start_noise)
    try:
        yield
    finally:
        logger.removeFilter(_not_start_noise)
