"""The one ASGI app: health and the artifact viewer (bot/web), and Slack's endpoint (bot/slack).

The viewer's paths sit behind :class:`bot.web.access.LoopbackGuard`: without Sign in with
Slack they answer this computer only (DESIGN §10).
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware

from bot.slack.http import slack_routes
from bot.web.access import LoopbackGuard
from bot.web.app import create_web_app
from bot.web.routes import artifact_routes
from bot.web.signin_routes import signin_routes
from bot.web.webhook_routes import webhook_routes
from core.context import AppContext


def build_app(ctx: AppContext) -> Starlette:
    return create_web_app(
        ctx,
        extra_routes=[*artifact_routes(ctx), *signin_routes(ctx), *webhook_routes(ctx), *slack_routes(ctx)],
        middleware=[Middleware(LoopbackGuard, settings=ctx.settings)],
    )
