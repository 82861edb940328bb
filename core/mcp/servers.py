"""The workspace's MCP server registry (DESIGN §12): add, list, remove, and the endpoint a
worker calls. What `/pipebot mcp` and its form will call.

Why the checks live here and not in the form: the URL rule must hold however a server gets
added (Slack, a script, a future API), and the token must be encrypted and audited the same
way every time. Nothing here returns or logs a token: ``ServerInfo`` says only whether one
is set, and ``endpoint`` (the worker's) is the one place it is decrypted."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from core.audit import AuditAction
from core.context import AppContext
from core.errors import NotFound, ValidationFailed
from core.mcp import cache, texts
from core.mcp.client import Endpoint
from core.mcp.urls import CheckedUrl, Resolver, UrlRefused, check_url, system_resolver
from storage.db import IntegrityError, transaction
from storage.models import MCP_ASK_VALUES, McpServer
from storage.repos import audit
from storage.repos import mcp_servers as repo

ASK_NEVER, ASK_EVERY_CALL = MCP_ASK_VALUES
NAME_MAX = 40
TOKEN_MAX = 4000
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _-]*$")


@dataclass(frozen=True)
class ServerInfo:
    """What may be shown about a server: never its token, only whether it has one."""

    id: int
    name: str
    url: str
    ask: str
    has_token: bool
    created_by: str | None
    created_at: datetime


def _info(row: McpServer) -> ServerInfo:
    return ServerInfo(
        row.id, row.name, row.url, row.ask, row.token_ciphertext is not None, row.created_by, row.created_at
    )


@dataclass(frozen=True)
class ServerDraft:
    """A form's values that passed every check but the connection: the name tidied, the
    token stripped (None: none), the URL as the rule approved it. Its repr leaves the token out."""

    name: str
    checked: CheckedUrl
    token: str | None = field(repr=False)
    ask: str


def check_draft(
    ctx: AppContext,
    team_id: str,
    *,
    name: str,
    url: str,
    token: str | None,
    ask: str,
    resolve: Resolver = system_resolver,
) -> ServerDraft:
    """The form's checks without saving: ValidationFailed keyed by the form's fields (``name``,
    ``url``, ``token``, ``ask``), the URL rule and a name the workspace already uses included.
    Why apart from ``add_server``: the Slack form lists the server's tools between the two,
    and nothing may be connected to before these pass."""
    name = " ".join(name.split())
    token = (token or "").strip() or None
    errors: dict[str, str] = {}
    if not name:
        errors["name"] = texts.NAME_EMPTY
    elif len(name) > NAME_MAX:
        errors["name"] = texts.NAME_TOO_LONG
    elif not _NAME.match(name):
        errors["name"] = texts.NAME_CHARACTERS
    if token is not None and (len(token) > TOKEN_MAX or any(c.isspace() for c in token)):
        errors["token"] = texts.TOKEN_MALFORMED
    if ask not in MCP_ASK_VALUES:
        errors["ask"] = texts.ASK_UNKNOWN
    checked: CheckedUrl | None = None
    try:
        checked = check_url(url, ctx.settings.mcp_allowed_hosts, resolve)
    except UrlRefused as exc:
        errors["url"] = str(exc)
    if "name" not in errors:
        with transaction(ctx.sessions) as s:
            if repo.get_server_by_name(s, team_id, name) is not None:
                errors["name"] = texts.name_taken(name)
    if errors or checked is None:
        raise ValidationFailed(errors)
    return ServerDraft(name, checked, token, ask)


def add_server(
    ctx: AppContext,
    team_id: str,
    *,
    name: str,
    url: str,
    token: str | None,
    ask: str,
    user_id: str,
    resolve: Resolver = system_resolver,
) -> ServerInfo:
    """Check and save a server, and record who added it. ValidationFailed keyed by the form's
    fields (``name``, ``url``, ``token``, ``ask``) for anything wrong, the URL rule included;
    nothing is connected to here (the form lists the tools before it saves)."""
    draft = check_draft(ctx, team_id, name=name, url=url, token=token, ask=ask, resolve=resolve)
    name, checked, token = draft.name, draft.checked, draft.token
    try:
        with transaction(ctx.sessions) as s:
            if repo.get_server_by_name(s, team_id, name) is not None:
                raise ValidationFailed({"name": texts.name_taken(name)})
            row = repo.add_server(
                s, team_id, name=name, url=checked.url, token=token, ask=ask, box=ctx.box, created_by=user_id
            )
            audit.record(s, team_id, user_id, AuditAction.MCP_SERVER_ADDED, name, {"host": checked.host, "ask": ask})
            return _info(row)
    except IntegrityError:  # another admin saved the same name a moment earlier
        raise ValidationFailed({"name": texts.name_taken(name)}) from None


def list_servers(ctx: AppContext, team_id: str) -> list[ServerInfo]:
    with transaction(ctx.sessions) as s:
        return [_info(row) for row in repo.list_servers(s, team_id)]


def remove_server(ctx: AppContext, team_id: str, name: str, user_id: str) -> ServerInfo:
    """Remove the server and forget its cached tools; NotFound (with the sentence) if there is
    no such server. Agents that use it keep naming it, so their runs fail naming it."""
    with transaction(ctx.sessions) as s:
        row = repo.remove_server(s, team_id, name)
        if row is None:
            raise NotFound(texts.no_server(name))
        info = _info(row)
        audit.record(s, team_id, user_id, AuditAction.MCP_SERVER_REMOVED, info.name, {"url": info.url})
    cache.forget(ctx, team_id, info.id)
    return info


def endpoint(
    ctx: AppContext, team_id: str, name: str, resolve: Resolver = system_resolver
) -> tuple[ServerInfo, Endpoint] | None:
    """The server named ``name`` and how to reach it (its token decrypted), or None if the
    workspace has no such server."""
    with transaction(ctx.sessions) as s:
        row = repo.get_server_by_name(s, team_id, name)
        if row is None:
            return None
        token = repo.server_token(s, team_id, row.id, ctx.box)
        info = _info(row)
    return info, Endpoint(info.name, info.url, token, ctx.settings.mcp_allowed_hosts, resolve)


def still_registered(ctx: AppContext, team_id: str, server_id: int) -> bool:
    """Whether the server is still there (a run's tool call asks before each call)."""
    with transaction(ctx.sessions) as s:
        return repo.server_exists(s, team_id, server_id)
