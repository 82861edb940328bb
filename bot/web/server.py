"""The one ASGI app: health and the artifact viewer (bot/web), and Slack's endpoint (bot/slack)."""

from __future__ import annotations

from starlette.applications import Starlette

from bot.slack.http import slack_routes
from bot.web.app import create_web_app
from bot.web.routes import artifact_routes
from core.context import AppContext


def build_app(ctx: AppContext) -> Starlette:
    return create_web_app(ctx, extra_routes=[*artifact_routes(ctx), *slack_routes(ctx)])
