"""Socket Mode: Slack reaches pipebot over a websocket the app opens (SLACK_APP_TOKEN), so
no public URL is needed. The same Bolt app as HTTP, without request signatures (Slack
authenticates the websocket)."""

from __future__ import annotations

import logging

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
    app = build_bolt_app(ctx, socket_mode=True)
    handler = SocketModeHandler(app, app_token=ctx.settings.SLACK_APP_TOKEN, logger=logging.getLogger(BOLT_LOGGER))
    handler.connect()
    return handler
