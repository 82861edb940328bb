"""What the admins' MCP surface does with the registry (DESIGN §12, `/pipebot mcp`): list each
server with its tools, check a new server answers before saving it, test one, and remove one
naming the agents it leaves without tools.

Why listing before saving: a wrong token, a URL that serves a web page or a server that does
not answer is found while the admin is still at the form, not by the next run. Every outcome
is a value with a sentence (core/mcp/client.py never raises), so a surface only shows it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

from core.context import AppContext
from core.mcp import cache, servers, texts
from core.mcp.client import Endpoint, McpLimits, ToolListing, list_tools
from core.mcp.servers import ServerDraft, ServerInfo
from core.mcp.tools import MAX_OFFERED_TOOLS, selected_servers
from core.mcp.urls import Resolver, system_resolver
from storage.db import transaction
from storage.repos import agents as agent_repo
from storage.secrets import SecretError

#: How many servers are listed at once for the overview (each may take the whole timeout).
_LISTERS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="pipebot-mcp-list")

TOKEN_FIELD, URL_FIELD = "token", "url"


@dataclass(frozen=True)
class ServerView:
    """A server as the list shows it: what may be shown of it, and its tools or why not."""

    info: ServerInfo
    listing: ToolListing


@dataclass(frozen=True)
class Ping:
    """A fresh listing of a server (the cache bypassed) and how long it took."""

    info: ServerInfo
    listing: ToolListing
    ms: int


def _limits(ctx: AppContext) -> McpLimits:
    return McpLimits.from_settings(ctx.settings)


def probe(ctx: AppContext, draft: ServerDraft, resolve: Resolver = system_resolver) -> ToolListing:
    """List the tools of a server not saved yet, with its token (the URL rule runs again)."""
    endpoint = Endpoint(draft.name, draft.checked.url, draft.token, ctx.settings.mcp_allowed_hosts, resolve)
    return list_tools(endpoint, _limits(ctx))


def failed_field(draft: ServerDraft, listing: ToolListing) -> str:
    """The form field a failed listing belongs under: Token when the server refused the
    token, URL for everything else (a web page, a timeout, no connection)."""
    refused = {texts.unauthorized(draft.name, status) for status in (401, 403)}
    return TOKEN_FIELD if listing.error in refused else URL_FIELD


def save_probed(ctx: AppContext, team_id: str, draft: ServerDraft, listing: ToolListing, user_id: str) -> ServerInfo:
    """Save a server whose listing succeeded, and keep that listing in the cache. The checks
    run again (ValidationFailed): another admin may have taken the name meanwhile."""
    info = servers.add_server(
        ctx,
        team_id,
        name=draft.name,
        url=draft.checked.url,
        token=draft.token,
        ask=draft.ask,
        user_id=user_id,
        resolve=lambda _host, _port: [draft.checked.address],
    )
    cache.cached_listing(ctx, team_id, info.id, lambda: listing)
    return info


def added_text(info: ServerInfo, listing: ToolListing) -> str:
    """ "Added Tickets: 3 tools (lookup_ticket, …)." and, past the cap, how many are offered."""
    said = texts.added(info.name, [t.name for t in listing.tools])
    if len(listing.tools) > MAX_OFFERED_TOOLS:
        said += " " + texts.tools_capped(info.name, len(listing.tools), MAX_OFFERED_TOOLS)
    return said


def _listing(ctx: AppContext, team_id: str, name: str, *, fresh: bool, resolve: Resolver) -> ToolListing:
    try:
        found = servers.endpoint(ctx, team_id, name, resolve)
    except SecretError:
        return ToolListing(error=texts.token_unreadable(name))
    if found is None:
        return ToolListing(error=texts.no_server(name))
    info, endpoint = found
    fetch: Callable[[], ToolListing] = partial(list_tools, endpoint, _limits(ctx))
    if fresh:
        cache.forget(ctx, team_id, info.id)
    return cache.cached_listing(ctx, team_id, info.id, fetch)


def overview(ctx: AppContext, team_id: str, resolve: Resolver = system_resolver) -> list[ServerView]:
    """Every server of the workspace with its tools (cached, else listed, all at once)."""
    infos = servers.list_servers(ctx, team_id)
    futures = [_LISTERS.submit(_listing, ctx, team_id, i.name, fresh=False, resolve=resolve) for i in infos]
    return [ServerView(info, future.result()) for info, future in zip(infos, futures, strict=True)]


def find(ctx: AppContext, team_id: str, *, name: str | None = None, server_id: int | None = None) -> ServerInfo | None:
    """The server by name (any case) or by id, of this workspace only."""
    for info in servers.list_servers(ctx, team_id):
        if (server_id is not None and info.id == server_id) or (
            name is not None and info.name.lower() == " ".join(name.split()).lower()
        ):
            return info
    return None


def ping(ctx: AppContext, team_id: str, info: ServerInfo, resolve: Resolver = system_resolver) -> Ping:
    """List the server's tools again, bypassing the cache (the fresh list is kept)."""
    started = time.monotonic()
    listing = _listing(ctx, team_id, info.name, fresh=True, resolve=resolve)
    return Ping(info, listing, int((time.monotonic() - started) * 1000))


def agents_using(ctx: AppContext, team_id: str, server_name: str) -> list[str]:
    """The names of the agents whose Tools select the server (``mcp:<name>``, any case)."""
    return agents_by_server(ctx, team_id).get(server_name.lower(), [])


def agents_by_server(ctx: AppContext, team_id: str) -> dict[str, list[str]]:
    """Per server name (lower case), the names of the agents whose Tools select it: one read
    for the whole list."""
    out: dict[str, list[str]] = {}
    with transaction(ctx.sessions) as s:
        for agent in agent_repo.list_agents(s, team_id):
            for server in selected_servers(agent.tools or []):
                out.setdefault(server.lower(), []).append(agent.name)
    return out


def remove(ctx: AppContext, team_id: str, name: str, user_id: str) -> tuple[ServerInfo, list[str]]:
    """Remove the server (NotFound with the sentence if there is none) and name the agents
    that selected it: their runs now fail naming it until someone edits their Tools."""
    info = servers.remove_server(ctx, team_id, name, user_id)
    return info, agents_using(ctx, team_id, info.name)
