"""Slack Web API clients for a workspace, and where their tokens live.

Why one place: the Bolt app (HTTP or Socket Mode) and the RQ worker's reporter both
need "a WebClient that can post in team T". With ``SLACK_BOT_TOKEN`` that is the one
token; with ``SLACK_CLIENT_ID``/``SLACK_CLIENT_SECRET`` (multi-workspace OAuth) each
workspace's bot token comes from slack_sdk's SQLAlchemy installation store on our
PostgreSQL (tables from Alembic migration 0002). Every client points at
``SLACK_API_URL`` (a fake in tests) and draws on the workspace's shared rate-limit budget
(bot/slack/ratelimit/: a token before each call, 429s held for every process).

Bot tokens at rest: slack_sdk's store keeps them in plain text, so this subclass
encrypts every token column with the same Fernet keys as provider keys
(``PIPEBOT_SECRET_KEY``) before it reaches the database.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import sqlalchemy
from slack_sdk import WebClient
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore

from bot.slack.ratelimit.budget import budget_for
from bot.slack.ratelimit.paced import PacedWebClient
from core.context import AppContext
from storage.repos.stored_secrets import SEALED_PREFIX
from storage.secrets import SecretBox

log = logging.getLogger(__name__)

CLIENT_TIMEOUT = 15  # seconds per Web API call; Slack answers in well under a second
OAUTH_STATE_TTL = 600  # seconds a /slack/install link stays usable

_ENC = SEALED_PREFIX  # marks an encrypted token, so rows written before encryption still read
_TOKEN_FIELDS = ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token")


class SlackNotConfigured(RuntimeError):
    """No way to get a token for this workspace; the message says which variables to set."""


def make_client(ctx: AppContext, token: str | None = None) -> WebClient:
    """A WebClient on ``SLACK_API_URL`` that takes its turn from the workspace's shared budget
    and waits out 429s (bot/slack/ratelimit/paced.py)."""
    return PacedWebClient(
        token=token, base_url=ctx.settings.SLACK_API_URL, timeout=CLIENT_TIMEOUT, budget=budget_for(ctx.redis)
    )


def paced_request_client(ctx: AppContext) -> Callable[..., Any]:
    """Bolt global middleware: the client Bolt hands each listener draws on the shared budget.

    Bolt builds a plain ``WebClient`` per request (slack_bolt's ``App._init_context``),
    copying the app client's settings but not its class, so without this a listener's
    calls would bypass the budget. Runs after Bolt's authorization, which set the token.
    """

    def middleware(req: Any, resp: Any, next: Callable[[], Any]) -> Any:  # noqa: A002 - Bolt's name
        client = req.context.client
        if client is not None and not isinstance(client, PacedWebClient):
            req.context["client"] = make_client(ctx, client.token)
        return next()

    return middleware


def client_for(ctx: AppContext, team_id: str) -> WebClient:
    """The bot's client for workspace ``team_id``.

    OAuth mode reads the latest installation's bot token (ignoring enterprise ids, so an
    Enterprise Grid workspace is found by its team id alone), and only that; otherwise
    SLACK_BOT_TOKEN.
    """
    settings = ctx.settings
    if settings.slack_oauth_enabled:
        # No fallback to SLACK_BOT_TOKEN here: that token belongs to one workspace, and a
        # workspace that uninstalled the app must not get posts made with another's token.
        token = installation_store(ctx).bot_token_for_team(team_id)
        if token:
            return make_client(ctx, token)
        raise SlackNotConfigured(
            f"pipebot is not installed in Slack workspace {team_id}; install it from /slack/install"
        )
    if settings.SLACK_BOT_TOKEN:
        return make_client(ctx, settings.SLACK_BOT_TOKEN)
    raise SlackNotConfigured(
        "Slack is not configured: set SLACK_BOT_TOKEN (OAuth & Permissions, xoxb-...) "
        "or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET for multi-workspace installs"
    )


# ---- installation store -------------------------------------------------------------------


class EncryptedInstallationStore(SQLAlchemyInstallationStore):
    """slack_sdk's SQLAlchemy store with every token encrypted under PIPEBOT_SECRET_KEY."""

    def __init__(self, client_id: str, engine: sqlalchemy.Engine, box: SecretBox) -> None:
        super().__init__(client_id=client_id, engine=engine, logger=logging.getLogger(__name__))
        self._box = box

    def _seal(self, value: str | None) -> str | None:
        if not value or value.startswith(_ENC):
            return value
        return _ENC + self._box.encrypt(value).decode("ascii")

    def _open(self, value: str | None) -> str | None:
        if not value or not value.startswith(_ENC):
            return value
        return self._box.decrypt(value[len(_ENC) :].encode("ascii"))

    def _sealed(self, obj: Any) -> Any:
        copy = obj.__class__.__new__(obj.__class__)
        copy.__dict__.update(obj.__dict__)
        for name in _TOKEN_FIELDS:
            if hasattr(copy, name):
                setattr(copy, name, self._seal(getattr(copy, name)))
        return copy

    def _opened(self, obj: Any) -> Any:
        if obj is not None:
            for name in _TOKEN_FIELDS:
                if hasattr(obj, name):
                    setattr(obj, name, self._open(getattr(obj, name)))
        return obj

    def save(self, installation: Installation) -> None:
        super().save(self._sealed(installation))

    def save_bot(self, bot: Bot) -> None:
        super().save_bot(self._sealed(bot))

    def delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        """Forget a revoked bot token everywhere it is kept. slack_sdk deletes only the bot
        row, but each installation row carries the same token, and Bolt reads installations
        first: a revoked token left there is what the next command would be tried with."""
        super().delete_bot(enterprise_id=enterprise_id, team_id=team_id)
        c = self.installations.c
        forget = (
            sqlalchemy.update(self.installations)
            .where(c.client_id == self.client_id, c.enterprise_id == enterprise_id, c.team_id == team_id)
            .values(bot_token=None, bot_refresh_token=None, bot_token_expires_at=None)
        )
        with self.engine.begin() as conn:
            conn.execute(forget)

    def find_bot(
        self, *, enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None = False
    ) -> Bot | None:
        return self._opened(
            super().find_bot(enterprise_id=enterprise_id, team_id=team_id, is_enterprise_install=is_enterprise_install)
        )

    def find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        return self._opened(
            super().find_installation(
                enterprise_id=enterprise_id,
                team_id=team_id,
                user_id=user_id,
                is_enterprise_install=is_enterprise_install,
            )
        )

    def bot_token_for_team(self, team_id: str) -> str | None:
        """The newest bot token installed for ``team_id`` (any enterprise), decrypted."""
        c = self.bots.c
        query = (
            sqlalchemy.select(c.bot_token)
            .where(c.client_id == self.client_id, c.team_id == team_id, c.bot_token.is_not(None))
            .order_by(c.installed_at.desc())
            .limit(1)
        )
        with self.engine.connect() as conn:
            token = conn.execute(query).scalar()
        return self._open(token)


_stores: dict[int, tuple[AppContext, EncryptedInstallationStore]] = {}
_stores_lock = threading.Lock()


def installation_store(ctx: AppContext) -> EncryptedInstallationStore:
    """One store per process context (it holds table metadata, not connections)."""
    client_id = ctx.settings.SLACK_CLIENT_ID
    if not client_id:
        raise SlackNotConfigured("SLACK_CLIENT_ID is not set; multi-workspace installs need it")
    with _stores_lock:
        hit = _stores.get(id(ctx))
        if hit is None or hit[0] is not ctx or hit[1].client_id != client_id:
            hit = (ctx, EncryptedInstallationStore(client_id, ctx.engine, ctx.box))
            _stores[id(ctx)] = hit
        return hit[1]


def oauth_state_store(ctx: AppContext) -> SQLAlchemyOAuthStateStore:
    """OAuth ``state`` values (CSRF protection for /slack/install), kept in PostgreSQL so any
    web process can finish an install another one started."""
    return SQLAlchemyOAuthStateStore(
        expiration_seconds=OAUTH_STATE_TTL, engine=ctx.engine, logger=logging.getLogger(__name__)
    )
