"""The web app's base: a Starlette app with /healthz, to which the server adds its routes.

Starlette because the pages are few and small; uvicorn serves it. bot/web/server.py
composes it with the artifact routes (bot/web/routes.py) and Slack's endpoint.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.context import AppContext
from storage.db import ping

log = logging.getLogger(__name__)


def _check(fn: Callable[[], object]) -> dict[str, str]:
    try:
        fn()
        return {"status": "ok"}
    except Exception as exc:  # noqa: BLE001 - health reports, never raises
        return {"status": "error", "error": type(exc).__name__}


def create_web_app(ctx: AppContext, *, extra_routes: list[Route] | None = None) -> Starlette:
    async def healthz(request: Request) -> Response:
        db, rd = await asyncio.gather(
            asyncio.to_thread(_check, lambda: ping(ctx.engine)),
            asyncio.to_thread(_check, ctx.redis.ping),
        )
        ok = db["status"] == "ok" and rd["status"] == "ok"
        return JSONResponse(
            {"status": "ok" if ok else "error", "database": db, "redis": rd}, status_code=200 if ok else 503
        )

    routes = [Route("/healthz", healthz, methods=["GET", "HEAD"])]
    routes.extend(extra_routes or [])
    app = Starlette(routes=routes)
    app.state.ctx = ctx
    return app
