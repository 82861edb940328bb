"""`POST /slack/events`: Slack's HTTP entry point, and the routes the web server mounts.

Choices, and why:

* The endpoint checks the signature on the raw bytes and screens the body before Bolt
  parses it: a missing/malformed/stale signature is 401 and a signed body Bolt would
  crash on (not UTF-8, not a JSON object) is 400, never 500. ``ssl_check=1`` passes
  unsigned (Bolt answers it without running a listener).
* Dispatch runs in a worker thread, not on the event loop: view submissions validate
  against PostgreSQL and settings check keys with a provider before they ack, and that
  must not stall health checks or other requests.
* Slack not configured (no signing secret / no token): `/slack/events` answers 503 with a
  line saying which variable to set, rather than 404 — whoever pastes the Request URL
  into Slack's settings sees why it fails.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from slack_bolt import App
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from bot.slack.app import build_bolt_app, missing_configuration
from bot.slack.oauth import INSTALL_PATH, REDIRECT_PATH, answer_without_installation
from bot.web.bodies import BodyTooLarge, capped_body
from core.context import AppContext

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
NOT_CONFIGURED = (
    "Slack is not configured on this pipebot server: set {missing} (see manifest.yml and the "
    "README), then restart. Health: /healthz."
)


SIGNATURE_MAX_AGE = 300  # seconds; Slack's own rule (and Bolt's) for X-Slack-Request-Timestamp
# The largest body /slack/events reads, checked before the signature or anything parses it.
# Slack's biggest payloads are view submissions, which carry the whole view back (blocks and
# state). pipebot's largest modal is the edit form: 3,000 characters of text shown and typed,
# plus a 500-character note; even all 4-byte characters, form-encoded (3 bytes per byte)
# twice over (initial value and state), that is about 100 KB. The pipeline form (10 steps) and
# the agent form (a 3,000-character prompt) are smaller. 1 MiB leaves room for Slack's own
# fields and stays far from the 300 MiB a client once streamed unsigned.
BODY_MAX_BYTES = 1024 * 1024
BODY_TOO_LARGE = "Request body too large: /slack/events reads at most 1 MiB."


def _signature_ok(secret: str, headers: Any, raw: bytes) -> bool:
    """Slack's request signature over the raw bytes, checked before anything parses them.

    Bolt checks too, but only after decoding and parsing the body: a malformed timestamp
    header, a body that is not UTF-8 or not the JSON it claims to be made it raise (500)
    instead of refusing the request (401). slack_sdk's SignatureVerifier is not used for the
    same reason: it decodes the body as UTF-8 and int()s the timestamp, and raises on both."""
    timestamp = headers.get("x-slack-request-timestamp") or ""
    given = headers.get("x-slack-signature") or ""
    if not secret or not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12 or not given:
        return False
    if abs(time.time() - int(timestamp)) > SIGNATURE_MAX_AGE:
        return False
    base = b"v0:" + timestamp.encode("ascii") + b":" + raw
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))


def _is_ssl_check(raw: bytes) -> bool:
    """Slack's certificate probe (``ssl_check=1``): Bolt answers it with an empty 200 and runs
    no listener, so it needs no signature (Slack may send it unsigned)."""
    if len(raw) > 1000 or b"ssl_check=" not in raw:
        return False
    fields = dict(parse_qsl(raw.decode("ascii", "replace"), keep_blank_values=True))
    return fields.get("ssl_check") == "1" and not ({"command", "payload", "type"} & set(fields))


def malformed_body(text: str, content_type: str | None) -> str | None:
    """Why a signed body is not something Slack sends (so Bolt would crash on it), or None.

    Mirrors Bolt's parser (slack_bolt.request.internals.parse_body): JSON when the type
    says so or the body starts with ``{``; else form fields, with ``payload=`` holding JSON.
    """
    if not text:
        return None
    try:
        if content_type == "application/json" or text.startswith("{"):
            parsed: Any = json.loads(text)
        elif "payload" in text:
            payload = dict(parse_qsl(text, keep_blank_values=True)).get("payload")
            parsed = {} if payload is None else json.loads(payload)
        else:
            return None  # plain form fields (slash commands, ssl_check): any text parses
    except ValueError:
        return "body is not valid JSON"
    if not isinstance(parsed, dict):
        return "body is not a JSON object"
    if parsed.get("type") == "event_callback" and not isinstance(parsed.get("event"), dict):
        return "event_callback without an event object"
    for key in ("user", "team", "channel", "view", "container", "enterprise"):
        if key in parsed and parsed[key] is not None and not isinstance(parsed[key], (dict, str)):
            return f"{key} has the wrong type"
    if "actions" in parsed and not (
        isinstance(parsed["actions"], list) and all(isinstance(a, dict) for a in parsed["actions"])
    ):
        return "actions is not a list of objects"
    if "authorizations" in parsed and not (
        isinstance(parsed["authorizations"], list) and all(isinstance(a, dict) for a in parsed["authorizations"])
    ):
        return "authorizations is not a list of objects"
    return None


def bolt_endpoint(
    app: App, signing_secret: str | None = None, answer_first: Callable[[bytes], str | None] | None = None
) -> Callable[[Request], Any]:
    """A Starlette endpoint that hands Slack's request to Bolt in a worker thread.

    With ``signing_secret``, the signature and timestamp are checked on the raw bytes first
    (401 for a missing, malformed, wrong or older-than-5-minutes one), and a signed body
    Bolt could not parse is answered 400: never a 500 for what a client sent.
    ``answer_first`` may answer a verified request itself (a text for the HTTP response)
    before Bolt sees it: a command from a workspace with no installation.
    """

    async def endpoint(request: Request) -> Response:
        try:
            body = await capped_body(request, BODY_MAX_BYTES)
        except BodyTooLarge:
            return PlainTextResponse(BODY_TOO_LARGE, status_code=413)
        if request.method == "GET":
            bolt_request = to_bolt_request(request, b"")
            flow = app.oauth_flow
            if flow is not None and request.url.path == flow.install_path:
                return to_starlette_response(await run_in_threadpool(flow.handle_installation, bolt_request))
            if flow is not None and request.url.path == flow.redirect_uri_path:
                return to_starlette_response(await run_in_threadpool(flow.handle_callback, bolt_request))
            return PlainTextResponse("Not found", status_code=404)
        if (
            signing_secret is not None
            and not _is_ssl_check(body)
            and not _signature_ok(signing_secret, request.headers, body)
        ):
            return PlainTextResponse("Invalid request signature", status_code=401)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return PlainTextResponse("Bad request: the body is not UTF-8", status_code=400)
        content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower() or None
        problem = malformed_body(text, content_type)
        if problem:
            log.info("refusing a signed Slack request: %s", problem)
            return PlainTextResponse(f"Bad request: {problem}", status_code=400)
        early = await run_in_threadpool(answer_first, body) if answer_first is not None else None
        if early:
            return PlainTextResponse(early)
        try:
            bolt_request = to_bolt_request(request, body)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            log.info("refusing a Slack request Bolt cannot read: %s", type(exc).__name__)
            return PlainTextResponse("Bad request", status_code=400)
        return to_starlette_response(await run_in_threadpool(app.dispatch, bolt_request))

    return endpoint


def slack_routes(ctx: AppContext) -> list[Route]:
    """`POST /slack/events`, plus `GET /slack/install` and `/slack/oauth_redirect` in OAuth mode.

    Unconfigured: one route that answers 503 naming the missing variables.
    """
    missing = missing_configuration(ctx)
    if missing:
        message = NOT_CONFIGURED.format(missing=missing)

        async def not_configured(request: Request) -> Response:
            return PlainTextResponse(message, status_code=503)

        return [Route(EVENTS_PATH, not_configured, methods=["POST", "GET"])]
    app = build_bolt_app(ctx)
    endpoint = bolt_endpoint(
        app, ctx.settings.SLACK_SIGNING_SECRET or "", functools.partial(answer_without_installation, ctx)
    )
    routes = [Route(EVENTS_PATH, endpoint, methods=["POST"])]
    if app.oauth_flow is not None:
        routes += [Route(INSTALL_PATH, endpoint, methods=["GET"]), Route(REDIRECT_PATH, endpoint, methods=["GET"])]
    return routes
