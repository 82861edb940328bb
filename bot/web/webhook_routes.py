"""``POST /hooks/{id}`` and ``GET /hooks/{id}/runs/{run_id}``: webhook triggers over HTTP
(DESIGN §13). The rules live in core/triggers/webhooks.py and the body's in
bot/web/webhook_body.py; this module only reads headers and turns outcomes into answers.

Every answer is JSON. ``202 {"run_id", "status_url"}`` for a run started (or replayed by its
Idempotency-Key); errors are ``{"error": code, "message": text}``: 400 a bad header or body,
401 an unknown webhook or wrong secret (the same answer for both), 404 a run this webhook did
not start, 409 a paused trigger or a pipeline that cannot run, 413 a body over 1 MiB or an
input over what a run takes, 415 a type other than JSON or plain text, 422 an empty input,
429 the workspace's limits (with Retry-After), 503 when pipebot's database cannot answer.
The secret is checked before the body is read, so nobody without it can make pipebot read
a megabyte. These paths are for machines and stay reachable from anywhere (the loopback
guard of bot/web/access.py covers the viewer's paths only).
"""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.web.webhook_body import BodyRefused, read_input
from core.context import AppContext
from core.triggers import webhook_texts as texts
from core.triggers.webhooks import (
    IDEMPOTENCY_KEY_MAX,
    HookRefused,
    Refusal,
    authenticate,
    run_status,
    start,
)

__all__ = ["webhook_routes"]

log = logging.getLogger(__name__)

_STATUS: dict[Refusal, int] = {
    Refusal.UNAUTHORIZED: 401,
    Refusal.NOT_FOUND: 404,
    Refusal.PAUSED: 409,
    Refusal.PIPELINE_GONE: 409,
    Refusal.CANNOT_RUN: 409,
    Refusal.INPUT_TOO_LONG: 413,
    Refusal.EMPTY_INPUT: 422,
    Refusal.BAD_INPUT: 422,
    Refusal.LIMITED: 429,
}

_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


def _answer(status: int, body: dict[str, object], headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(body, status_code=status, headers=dict(_HEADERS, **(headers or {})))


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return _answer(status, {"error": code, "message": message}, headers)


def _refused(exc: HookRefused) -> Response:
    headers: dict[str, str] = {}
    if exc.kind is Refusal.UNAUTHORIZED:
        headers["WWW-Authenticate"] = 'Bearer realm="pipebot"'
    if exc.retry_after_s is not None:
        headers["Retry-After"] = str(exc.retry_after_s)
    return _error(_STATUS[exc.kind], exc.kind.value, exc.message, headers)


def _bearer(request: Request) -> str:
    """The token of ``Authorization: Bearer TOKEN`` (the scheme in any case), else ""."""
    scheme, _, token = request.headers.get("authorization", "").strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _idempotency_key(request: Request) -> str | None:
    raw = request.headers.get("idempotency-key")
    if raw is None:
        return None
    key = raw.strip()
    if not key or len(key) > IDEMPOTENCY_KEY_MAX:
        raise BodyRefused(400, "bad_idempotency_key", texts.IDEMPOTENCY_KEY_BAD)
    return key


def webhook_routes(ctx: AppContext) -> list[Route]:
    async def post_hook(request: Request) -> Response:
        try:
            trigger = await run_in_threadpool(authenticate, ctx, request.path_params["id"], _bearer(request))
            key = _idempotency_key(request)
            text = await read_input(request)
            accepted = await run_in_threadpool(start, ctx, trigger, text, key)
        except HookRefused as exc:
            return _refused(exc)
        except BodyRefused as exc:
            return _error(exc.status, exc.code, exc.message)
        except Exception:  # noqa: BLE001 - the database is down or the client went away: never a 500
            log.exception("webhook %s could not be answered", request.path_params.get("id"))
            return _error(503, "unavailable", texts.UNAVAILABLE)
        headers = {"Location": accepted.status_url}
        if accepted.replayed:
            headers["Idempotent-Replayed"] = "true"
        return _answer(202, {"run_id": accepted.run_id, "status_url": accepted.status_url}, headers)

    async def get_run(request: Request) -> Response:
        try:
            trigger = await run_in_threadpool(authenticate, ctx, request.path_params["id"], _bearer(request))
            found = await run_in_threadpool(run_status, ctx, trigger, request.path_params["run_id"])
        except HookRefused as exc:
            return _refused(exc)
        except Exception:  # noqa: BLE001 - the database is down: never a 500
            log.exception("webhook %s could not answer a run's status", request.path_params.get("id"))
            return _error(503, "unavailable", texts.UNAVAILABLE)
        body: dict[str, object] = {"run_id": found.run_id, "status": found.status}
        if found.ended:
            body.update(output=found.output, permalink=found.permalink)
            if found.error is not None:
                body["error"] = found.error
        return _answer(200, body)

    return [
        Route("/hooks/{id}", post_hook, methods=["POST"]),
        Route("/hooks/{id}/runs/{run_id}", get_run, methods=["GET"]),
    ]
