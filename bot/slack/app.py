"""The Bolt app and the two ways Slack reaches it: HTTP (`POST /slack/events`) and Socket Mode.

Choices, and why:

* ``process_before_response=True``: Bolt's default runner waits for ``ack()`` in 10 ms
  sleeps (NOTES); this way Slack gets its answer as soon as the listener returns. So
  listeners must return fast: quick answers go in the ack, anything that calls Slack or
  a provider runs after it (bot/slack_commands.after_ack).
* ``token_verification_enabled=False``: no ``auth.test`` at start, so the process starts
  without Slack being reachable (the first request makes that call instead).
* Dispatch runs in a worker thread, not on the event loop: view submissions validate
  against PostgreSQL and settings check keys with a provider before they ack, and that
  must not stall health checks or other requests.
* Slack not configured (no signing secret / no token): `/slack/events` answers 503 with a
  line saying which variable to set, rather than 404 — whoever pastes the Request URL
  into Slack's settings sees why it fails.
* Event retries (``X-Slack-Retry-Num``) are deduplicated by ``event_id`` in Redis, so a
  retry of an event we already took does nothing, while a retry of one that never
  reached us is still processed.
* The endpoint checks the signature on the raw bytes and screens the body before Bolt
  parses it: a missing/malformed/stale signature is 401 and a signed body Bolt would
  crash on (not UTF-8, not a JSON object) is 400, never 500. ``ssl_check=1`` passes
  unsigned (Bolt answers it without running a listener).
* Catch-all listeners (registered last) ack events, actions, view_closed and shortcuts no
  other listener takes: Bolt's 404 would make Slack retry events (and eventually disable
  the subscription) and show an error on a clicked button.
* Bolt's and slack_sdk's loggers are held at INFO: at DEBUG they log request bodies, and
  a settings submission's body contains the API keys someone just pasted.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import importlib.util
import json
import logging
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qsl

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_bolt.oauth.oauth_settings import OAuthSettings
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from bot.slack.listeners import commands as slack_commands
from bot.slack.client import installation_store, make_client, oauth_state_store
from core.context import AppContext

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
# What the app asks for when installed through /slack/install; keep in step with manifest.yml.
BOT_SCOPES = ("commands", "chat:write", "channels:join", "users:read")
EVENT_SEEN_TTL = 3600  # seconds an event_id is remembered (Slack retries within minutes)
LISTENER_THREADS = 8  # Bolt's pool, for any peer listener that uses lazy=[...] (its default is 5)
BOLT_LOGGER = "pipebot.bolt"
# Bolt configures a logger named after the app from its base logger; "pipebot" would
# reconfigure the CLI's own logger, hence the distinct name.
BOLT_APP_NAME = "pipebot-slack"

# Modules of the run/artifacts/App Home surface; each exposes register(app, ctx).
PEER_MODULES = ("bot.slack.listeners.runs", "bot.slack.listeners.artifacts", "bot.slack.listeners.home", "bot.slack.reporter")

NOT_CONFIGURED = ("Slack is not configured on this pipebot server: set {missing} (see manifest.yml and the "
                  "README), then restart. Health: /healthz.")


def _quiet_loggers() -> logging.Logger:
    """Bolt and slack_sdk log whole request bodies at DEBUG, and a settings submission's body
    holds the API keys someone just pasted: hold them at INFO even under `pipebot -v`."""
    for name in ("slack_bolt", "slack_sdk", BOLT_LOGGER, BOLT_APP_NAME):
        logger = logging.getLogger(name)
        if logger.level < logging.INFO:  # NOTSET included: do not inherit a DEBUG root
            logger.setLevel(logging.INFO)
    return logging.getLogger(BOLT_LOGGER)


def missing_configuration(ctx: AppContext, *, socket_mode: bool = False) -> str | None:
    """The variables still needed before Slack can reach this server, or None."""
    s = ctx.settings
    missing = []
    if socket_mode:
        if not s.SLACK_APP_TOKEN:
            missing.append("SLACK_APP_TOKEN")
    elif not s.SLACK_SIGNING_SECRET:
        missing.append("SLACK_SIGNING_SECRET")
    if not (s.SLACK_BOT_TOKEN or s.slack_oauth_enabled):
        missing.append("SLACK_BOT_TOKEN")
    return " and ".join(missing) or None


def _event_key(body: Any) -> str | None:
    if isinstance(body, dict) and body.get("type") == "event_callback" and body.get("event_id"):
        return f"pipebot:slack:event:{body['event_id']}"
    return None


def _dedupe_events(ctx: AppContext) -> Callable[..., BoltResponse | None]:
    """Global middleware: an Events API delivery whose event_id was already taken is acked
    and dropped (``_release_event`` forgets the id when handling failed, so a retry works)."""

    def middleware(req: BoltRequest, resp: BoltResponse, next: Callable[[], None]) -> BoltResponse | None:  # noqa: A002
        key = _event_key(req.body)
        if key is None:
            return next()
        try:
            first = ctx.redis.set(key, "1", nx=True, ex=EVENT_SEEN_TTL)
        except Exception:  # noqa: BLE001 - Redis down: better a possible duplicate than a lost event
            log.warning("could not record Slack event %s; handling it without dedupe", key)
            return next()
        if first:
            return next()
        retry = (req.headers.get("x-slack-retry-num") or ["?"])[0]
        log.info("ignoring Slack delivery (retry %s) of an event already taken: %s", retry, key)
        return BoltResponse(status=200, body="", headers={"X-Slack-No-Retry": "1"})

    return middleware


def _error_handler(ctx: AppContext) -> Callable[..., None]:
    """Log a failed listener without its payload (it may hold keys) and release its event id."""

    def handle(error: Exception, body: dict[str, Any]) -> None:
        log.error("Slack listener failed: %s", type(error).__name__, exc_info=error)
        key = _event_key(body)
        if key is not None:
            try:
                ctx.redis.delete(key)
            except Exception:  # noqa: BLE001
                pass

    return handle


def register_peers(app: App, ctx: AppContext, modules: tuple[str, ...] = PEER_MODULES) -> list[str]:
    """Let each peer module that exists attach its listeners (their import errors surface)."""
    done = []
    for name in modules:
        if importlib.util.find_spec(name) is None:
            continue
        register = getattr(importlib.import_module(name), "register", None)
        if register is not None:
            register(app, ctx)
            done.append(name)
    return done


def build_bolt_app(ctx: AppContext, *, socket_mode: bool = False) -> App:
    """The pipebot Bolt app: `/pipebot`, its modals, and the peers' listeners."""
    settings = ctx.settings
    logger = _quiet_loggers()
    kwargs: dict[str, Any] = dict(
        name=BOLT_APP_NAME,
        logger=logger,
        signing_secret=settings.SLACK_SIGNING_SECRET or "",
        process_before_response=True,
        token_verification_enabled=False,
        # Bolt ignores `token` when given a client, so the client carries it.
        client=make_client(ctx, None if settings.slack_oauth_enabled else settings.SLACK_BOT_TOKEN),
        listener_executor=ThreadPoolExecutor(max_workers=LISTENER_THREADS, thread_name_prefix="pipebot-bolt"),
        # In Socket Mode Slack authenticates the websocket; there is no signature to check.
        request_verification_enabled=not socket_mode,
    )
    if settings.slack_oauth_enabled:
        kwargs["oauth_settings"] = OAuthSettings(
            client_id=settings.SLACK_CLIENT_ID,
            client_secret=settings.SLACK_CLIENT_SECRET,
            scopes=list(BOT_SCOPES),
            installation_store=installation_store(ctx),
            state_store=oauth_state_store(ctx),
            install_path=INSTALL_PATH,
            redirect_uri_path=REDIRECT_PATH,
            redirect_uri=f"{settings.public_url}{REDIRECT_PATH}",
        )
    app = App(**kwargs)
    app.use(_dedupe_events(ctx))
    app.error(_error_handler(ctx))
    if settings.slack_oauth_enabled:
        app.enable_token_revocation_listeners()
    slack_commands.register(app, ctx)
    register_peers(app, ctx)
    _register_fallbacks(app, ctx)
    return app


def _register_fallbacks(app: App, ctx: AppContext) -> None:
    """Registered last (Bolt runs the first listener that matches): acks for what no other
    listener takes. Without them Bolt answers 404, and Slack retries an event (and disables
    the subscription if that keeps up), shows a warning on a clicked button, or says
    "dispatch_failed" for a second slash command name pointed at this app."""
    anything = re.compile(".*")
    single_token = not ctx.settings.slack_oauth_enabled

    def any_event(ack: Callable[..., None], body: dict[str, Any]) -> None:
        ack()
        kind = (body.get("event") or {}).get("type")
        if single_token and kind in ("app_uninstalled", "tokens_revoked"):
            log.warning("Slack says pipebot was uninstalled or its tokens revoked in workspace %s (%s): "
                        "SLACK_BOT_TOKEN no longer works there; runs cannot post until the app is reinstalled "
                        "and SLACK_BOT_TOKEN updated", body.get("team_id"), kind)
        else:
            log.debug("no listener for Slack event %s", kind)

    def ack_only(ack: Callable[..., None]) -> None:
        ack()

    def any_command(ack: Callable[..., None], body: dict[str, Any], client: Any, respond: Callable[..., Any]) -> None:
        slack_commands.handle_command(ctx, ack, body, client, respond)

    app.event(anything)(any_event)
    app.action(anything)(ack_only)
    app.view_closed(anything)(ack_only)
    app.view_submission(anything)(ack_only)
    app.shortcut(anything)(ack_only)
    app.command(anything)(any_command)


SIGNATURE_MAX_AGE = 300  # seconds; Slack's own rule (and Bolt's) for X-Slack-Request-Timestamp


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
    if "actions" in parsed and not (isinstance(parsed["actions"], list)
                                    and all(isinstance(a, dict) for a in parsed["actions"])):
        return "actions is not a list of objects"
    if "authorizations" in parsed and not (isinstance(parsed["authorizations"], list)
                                           and all(isinstance(a, dict) for a in parsed["authorizations"])):
        return "authorizations is not a list of objects"
    return None


def bolt_endpoint(app: App, signing_secret: str | None = None) -> Callable[[Request], Any]:
    """A Starlette endpoint that hands Slack's request to Bolt in a worker thread.

    With ``signing_secret``, the signature and timestamp are checked on the raw bytes first
    (401 for a missing, malformed, wrong or older-than-5-minutes one), and a signed body
    Bolt could not parse is answered 400: never a 500 for what a client sent.
    """

    async def endpoint(request: Request) -> Response:
        body = await request.body()
        if request.method == "GET":
            bolt_request = to_bolt_request(request, b"")
            flow = app.oauth_flow
            if flow is not None and request.url.path == flow.install_path:
                return to_starlette_response(await run_in_threadpool(flow.handle_installation, bolt_request))
            if flow is not None and request.url.path == flow.redirect_uri_path:
                return to_starlette_response(await run_in_threadpool(flow.handle_callback, bolt_request))
            return PlainTextResponse("Not found", status_code=404)
        if signing_secret is not None and not _is_ssl_check(body) \
                and not _signature_ok(signing_secret, request.headers, body):
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
    endpoint = bolt_endpoint(app, ctx.settings.SLACK_SIGNING_SECRET or "")
    routes = [Route(EVENTS_PATH, endpoint, methods=["POST"])]
    if app.oauth_flow is not None:
        routes += [Route(INSTALL_PATH, endpoint, methods=["GET"]), Route(REDIRECT_PATH, endpoint, methods=["GET"])]
    return routes


def start_socket_mode(ctx: AppContext) -> Any:
    """Connect to Slack over Socket Mode (SLACK_APP_TOKEN) and return the handler.

    ``connect()`` returns once the websocket is open; the SDK's own threads keep it
    alive and reconnect. Call ``handler.close()`` to stop. Raises RuntimeError naming
    the missing variable when Socket Mode cannot start.
    """
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    missing = missing_configuration(ctx, socket_mode=True)
    if missing:
        raise RuntimeError(f"Socket Mode needs {missing}")
    app = build_bolt_app(ctx, socket_mode=True)
    handler = SocketModeHandler(app, app_token=ctx.settings.SLACK_APP_TOKEN, logger=logging.getLogger(BOLT_LOGGER))
    handler.connect()
    return handler
