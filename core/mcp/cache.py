"""A server's tool list, kept briefly in Redis (DESIGN §12: "tool lists are cached for a few
minutes"), so a run's every step and the agent form do not each open a connection to list
the same tools. Per workspace and server id: a server removed and added again under the same
name is a new id and never sees the old list; removing one forgets its list at once.

Only successful listings are kept, so a server that was down is asked again next time. A
Redis that cannot be reached only costs the listing again (PostgreSQL stays the truth)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import redis

from core.context import AppContext
from core.mcp.client import RemoteTool, ToolListing

log = logging.getLogger(__name__)


def _key(team_id: str, server_id: int) -> str:
    return f"pipebot:mcp:tools:{team_id}:{server_id}"


def cached_listing(ctx: AppContext, team_id: str, server_id: int, fetch: Callable[[], ToolListing]) -> ToolListing:
    """The cached tools of the server, else ``fetch()``'s (kept if it succeeded)."""
    ttl = int(ctx.settings.PIPEBOT_MCP_TOOLS_CACHE_MINUTES * 60)
    key = _key(team_id, server_id)
    if ttl > 0:
        try:
            raw = ctx.redis.get(key)
        except redis.RedisError:
            raw = None
        if isinstance(raw, bytes | str):
            try:
                return ToolListing(tuple(RemoteTool(t["name"], t["description"], t["schema"]) for t in json.loads(raw)))
            except (ValueError, KeyError, TypeError):
                log.warning("an unreadable cached tool list of MCP server %s was ignored", server_id)
    listing = fetch()
    if ttl > 0 and listing.error is None:
        blob = json.dumps(
            [{"name": t.name, "description": t.description, "schema": t.input_schema} for t in listing.tools]
        )
        try:
            ctx.redis.set(key, blob, ex=ttl)
        except redis.RedisError:
            log.warning("could not cache the tool list of MCP server %s", server_id)
    return listing


def forget(ctx: AppContext, team_id: str, server_id: int) -> None:
    try:
        ctx.redis.delete(_key(team_id, server_id))
    except redis.RedisError:
        log.warning("could not forget the cached tool list of MCP server %s", server_id)
