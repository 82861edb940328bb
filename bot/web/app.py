"""The web app's base: a Starlette app with /healthz, to which the server adds its routes.

/healthz also says how Slack's rate limits are treating the app (``slack_rate_limits``).

Starlette because the pages are few and small; uvicorn serves it. bot/web/server.py
composes it with the artifact routes (bot/web/routes.py) and Slack's endpoint.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.slack.ratelimit import stats
from core.context import AppContext
from storage.db import ping

log = logging.getLogger(__name__)


def _check(fn: Callable[[], object]) -> dict[str, str]:
    try:
        fn()
        return {"status": "ok"}
    except Exception as exc:  # noqa: BLE001 - health reports, never raises
        return {"status": "error", "error": type(exc).__name__}


def _slack_limits(ctx: AppContext) -> dict[str, object]:
    """Slack's 429s per method in the last minute and the longest current wait for a turn,
    over every process (bot/slack/ratelimit/stats.py); an error never fails the health check."""
    try:
        return stats.snapshot(ctx.redis)
    except Exception as exc:  # noqa: BLE001 - health reports, never raises
        return {"status": "error", "error": type(exc).__name__}


def create_web_app(
    ctx: AppContext, *, extra_routes: list[Route] | None = None, middleware: list[Middleware] | None = None
) -> Starlette:
    async def healthz(request: Request) -> Response:
        db, rd = await asyncio.gather(
            asyncio.to_thread(_check, lambda: ping(ctx.engine)),
            asyncio.to_thread(_check, ctx.redis.ping),
        )
        ok = db["status"] == "ok" and rd["status"] == "ok"
        body: dict[str, object] = {"status": "ok" if ok else "error", "database": db, "redis": rd}
        if rd["status"] == "ok":
            body["slack_rate_limits"] = await asyncio.to_thread(_slack_limits, ctx)
        return JSONResponse(body, status_code=200 if ok else 503)

    routes = [Route("/healthz", healthz, methods=["GET", "HEAD"])]
    routes.extend(extra_routes or [])
    app = Starlette(routes=routes, middleware=middleware)
    app.state.ctx = ctx
    return app
