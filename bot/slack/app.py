"""The Bolt app: its settings, its middleware, and every listener module registered in one place.

Choices, and why:

* ``process_before_response=True``: Bolt's default runner waits for ``ack()`` in 10 ms
  sleeps; this way Slack gets its answer as soon as the listener returns. So listeners
  must return fast: quick answers go in the ack, anything that calls Slack or a provider
  runs after it (bot/slack/listeners/support.after_ack).
* ``token_verification_enabled=False``: no ``auth.test`` at start, so the process starts
  without Slack being reachable (the first request makes that call instead).
* Hostile text is cleaned by the first middleware (bot/slack/hostile_text.py), before any
  listener can take it to PostgreSQL.
* Event retries (``X-Slack-Retry-Num``) are deduplicated by ``event_id`` in Redis, so a
  retry of an event we already took does nothing, while a retry of one that never
  reached us is still processed.
* Catch-all listeners (registered last) ack events, actions, view_closed and shortcuts no
  other listener takes: Bolt's 404 would make Slack retry events (and eventually disable
  the subscription) and show an error on a clicked button.
* Bolt's and slack_sdk's loggers are held at INFO: at DEBUG they log request bodies, and
  a settings submission's body contains the API keys someone just pasted.

The two ways Slack reaches the app live beside it: bot/slack/http.py (`POST /slack/events`)
and bot/slack/socket_mode.py.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slack_bolt import Ack, App, BoltRequest, BoltResponse, Respond
from slack_sdk import WebClient

from bot.slack.allowed_teams import refuse_other_teams
from bot.slack.client import make_client, paced_request_client
from bot.slack.hostile_text import clean_request_body
from bot.slack.listeners import (
    agents,
    approvals,
    artifact_delete,
    artifacts,
    cancel,
    commands,
    compare,
    dm,
    edit,
    feedback,
    home,
    mcp_servers,
    mentions,
    pipelines,
    rerun,
    runs,
    schedules,
    settings,
    shortcut,
    trigger_events,
    triggers,
    unfurl,
)
from bot.slack.oauth import not_installed_text, oauth_flow
from bot.slack.revoked_token import answer_commands_when_revoked, mark_revoked
from core.context import AppContext

log = logging.getLogger(__name__)

EVENT_SEEN_TTL = 3600  # seconds an event_id is remembered (Slack retries within minutes)
LISTENER_THREADS = 8  # Bolt's pool, for any peer listener that uses lazy=[...] (its default is 5)
BOLT_LOGGER = "pipebot.bolt"
# Bolt configures a logger named after the app from its base logger; "pipebot" would
# reconfigure the CLI's own logger, hence the distinct name.
BOLT_APP_NAME = "pipebot-slack"


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

    def middleware(req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]) -> BoltResponse | None:  # noqa: A002
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


def register_listeners(app: App, ctx: AppContext) -> None:
    """Every surface's listeners, in one place; the catch-alls come last (Bolt runs the
    first listener that matches)."""
    commands.register(app, ctx)
    agents.register(app, ctx)
    pipelines.register(app, ctx)
    settings.register(app, ctx)
    mcp_servers.register(app, ctx)
    runs.register(app, ctx)
    rerun.register(app, ctx)
    shortcut.register(app, ctx)
    mentions.register(app, ctx)
    trigger_events.register(app, ctx)  # before dm: both take `message` events (channels here)
    dm.register(app, ctx)
    artifacts.register(app, ctx)
    artifact_delete.register(app, ctx)
    edit.register(app, ctx)
    compare.register(app, ctx)
    feedback.register(app, ctx)
    unfurl.register(app, ctx)
    home.register(app, ctx)
    cancel.register(app, ctx)
    approvals.register(app, ctx)
    schedules.register(app, ctx)
    triggers.register(app, ctx)
    _register_fallbacks(app, ctx)


def build_bolt_app(ctx: AppContext, *, socket_mode: bool = False) -> App:
    """The pipebot Bolt app: `/pipebot`, its modals, buttons, shortcut, App Home and events."""
    settings_ = ctx.settings
    logger = _quiet_loggers()
    oauth = oauth_flow(ctx)
    kwargs: dict[str, Any] = dict(
        name=BOLT_APP_NAME,
        logger=logger,
        signing_secret=settings_.SLACK_SIGNING_SECRET or "",
        process_before_response=True,
        token_verification_enabled=False,
        # Bolt ignores `token` when given a client, so the client carries it.
        client=make_client(ctx, None if settings_.slack_oauth_enabled else settings_.SLACK_BOT_TOKEN),
        listener_executor=ThreadPoolExecutor(max_workers=LISTENER_THREADS, thread_name_prefix="pipebot-bolt"),
        # In Socket Mode Slack authenticates the websocket; there is no signature to check.
        request_verification_enabled=not socket_mode,
    )
    if oauth is not None:
        kwargs["oauth_flow"] = oauth
        kwargs["user_facing_authorize_error_message"] = not_installed_text(ctx)
    app = App(**kwargs)
    app.use(clean_request_body)  # first: no listener or middleware of ours sees NUL bytes
    app.use(_dedupe_events(ctx))
    if settings_.allowed_teams:
        app.use(refuse_other_teams(ctx))  # PIPEBOT_ALLOWED_TEAMS: other teams get no service
    if oauth is None and settings_.SLACK_BOT_TOKEN:
        app.use(answer_commands_when_revoked(ctx, settings_.SLACK_BOT_TOKEN))
    app.use(paced_request_client(ctx))  # listeners' clients draw on the shared Slack budget
    app.error(_error_handler(ctx))
    if oauth is not None:
        app.enable_token_revocation_listeners()
    register_listeners(app, ctx)
    return app


def _bot_tokens_revoked(body: dict[str, Any]) -> bool:
    """Whether a tokens_revoked event names bot tokens (not only users' tokens)."""
    tokens = (body.get("event") or {}).get("tokens")
    return isinstance(tokens, dict) and bool(tokens.get("bot"))


def _register_fallbacks(app: App, ctx: AppContext) -> None:
    """Registered last (Bolt runs the first listener that matches): acks for what no other
    listener takes. Without them Bolt answers 404, and Slack retries an event (and disables
    the subscription if that keeps up), shows a warning on a clicked button, or says
    "dispatch_failed" for a second slash command name pointed at this app."""
    anything = re.compile(".*")
    single_token = not ctx.settings.slack_oauth_enabled

    def any_event(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        kind = (body.get("event") or {}).get("type")
        if single_token and kind in ("app_uninstalled", "tokens_revoked"):
            if ctx.settings.SLACK_BOT_TOKEN and (kind == "app_uninstalled" or _bot_tokens_revoked(body)):
                mark_revoked(ctx, ctx.settings.SLACK_BOT_TOKEN)
            log.warning(
                "Slack says pipebot was uninstalled or its tokens revoked in workspace %s (%s): "
                "SLACK_BOT_TOKEN no longer works there; runs cannot post until the app is reinstalled "
                "and SLACK_BOT_TOKEN updated",
                body.get("team_id"),
                kind,
            )
        else:
            log.debug("no listener for Slack event %s", kind)

    def ack_only(ack: Ack) -> None:
        ack()

    def any_command(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        commands.handle_command(ctx, ack, body, client, respond)

    app.event(anything)(any_event)
    app.action(anything)(ack_only)
    app.view_closed(anything)(ack_only)
    app.view_submission(anything)(ack_only)
    app.shortcut(anything)(ack_only)
    app.command(anything)(any_command)
