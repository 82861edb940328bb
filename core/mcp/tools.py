"""MCP servers' tools as a model's function tools, and running a call the model makes.

How an agent names them: its ``tools`` list holds ``"mcp:<server name>"`` for every tool of
that server (``server_selector``), beside the built-in tool names of core/tools.py. A step
builds one ``McpToolset`` (``load_toolset``) and hands ``toolset.specs()`` to the provider
next to the built-in specs; a call whose name ``toolset.owns`` goes to ``run_mcp_tool``,
which answers like core/tools.run_tool (content, is_error) plus the record the step stores
in ``run_steps.tool_calls``. This is the seam core/runs/steps.py plugs into.

Why a cap on tools offered: a server may list hundreds of tools, and each costs the model
prompt tokens and attention; the first ``MAX_OFFERED_TOOLS`` are offered and the toolset
says so (``notes``). Why the server's existence is asked again before each call: an admin
may remove a server while a run is using it, and then its calls must stop, naming it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from core.context import AppContext
from core.mcp import cache, servers, texts
from core.mcp.client import CallResult, Endpoint, McpLimits, call_tool, list_tools
from core.mcp.names import display_name, model_tool_name
from core.mcp.sessions import StepSessions
from core.mcp.urls import Resolver, system_resolver
from core.tool_calls import RECORD_ARGUMENTS_CHARS, RECORD_RESULT_CHARS, excerpt
from providers.types import ToolSpec
from storage.secrets import SecretError

MCP_PREFIX = "mcp:"
MAX_OFFERED_TOOLS = 100
MAX_DESCRIPTION_CHARS = 1000


def server_selector(server_name: str) -> str:
    """The entry in an agent's ``tools`` that gives it every tool of ``server_name``."""
    return f"{MCP_PREFIX}{server_name}"


def selected_servers(agent_tools: Iterable[str]) -> list[str]:
    """The server names an agent's ``tools`` list selects, in order, without repeats."""
    names: list[str] = []
    for entry in agent_tools:
        if entry.startswith(MCP_PREFIX):
            name = entry[len(MCP_PREFIX) :].strip()
            if name and name.lower() not in {n.lower() for n in names}:
                names.append(name)
    return names


@dataclass(frozen=True)
class McpTool:
    """One tool offered to the model: its name there, where it lives, how people see it."""

    model_name: str
    server: str
    server_id: int
    tool: str
    label: str  # "Tickets · lookup_ticket"
    ask: str  # the server's "Ask before calling": never / every_call
    spec: ToolSpec


@dataclass
class McpToolset:
    """The MCP tools one step may call. ``missing``: selected servers that no longer exist (the
    run should stop naming them: ``problem``); ``notes``: what the model was not offered and
    why (a capped list, a server that could not list its tools)."""

    tools: dict[str, McpTool] = field(default_factory=dict)
    endpoints: dict[int, Endpoint] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def specs(self) -> list[ToolSpec]:
        return [t.spec for t in self.tools.values()]

    def owns(self, model_name: str) -> bool:
        return model_name in self.tools

    def problem(self) -> str | None:
        """The sentence a run stops with when a selected server was removed."""
        return texts.removed_server(self.missing[0]) if self.missing else None


def load_toolset(
    ctx: AppContext,
    team_id: str,
    server_names: Iterable[str],
    *,
    limits: McpLimits | None = None,
    resolve: Resolver = system_resolver,
    max_offered: int = MAX_OFFERED_TOOLS,
) -> McpToolset:
    """The tools of the named servers (tool lists from the cache, else listed), at most
    ``max_offered`` in all."""
    limits = limits or McpLimits.from_settings(ctx.settings)
    toolset = McpToolset()
    for name in server_names:
        try:
            found = servers.endpoint(ctx, team_id, name, resolve)
        except SecretError:
            toolset.notes.append(texts.token_unreadable(name))
            continue
        if found is None:
            toolset.missing.append(name)
            continue
        info, ep = found
        listing = cache.cached_listing(ctx, team_id, info.id, partial(list_tools, ep, limits))
        if listing.error is not None:
            toolset.notes.append(listing.error)
            continue
        toolset.endpoints[info.id] = ep
        room = max_offered - len(toolset.tools)
        if len(listing.tools) > room:
            toolset.notes.append(texts.tools_capped(info.name, len(listing.tools), max(room, 0)))
        for remote in listing.tools[: max(room, 0)]:
            model_name = model_tool_name(info.name, remote.name, frozenset(toolset.tools))
            schema = remote.input_schema if remote.input_schema.get("type") == "object" else {"type": "object"}
            toolset.tools[model_name] = McpTool(
                model_name,
                info.name,
                info.id,
                remote.name,
                display_name(info.name, remote.name),
                info.ask,
                ToolSpec(model_name, (remote.description or remote.name)[:MAX_DESCRIPTION_CHARS], schema),
            )
    return toolset


@dataclass(frozen=True)
class McpCall:
    """A call's answer for the model (``content``, ``is_error``) and the step's record of it."""

    content: str
    is_error: bool
    record: dict[str, Any]


def run_mcp_tool(
    ctx: AppContext,
    team_id: str,
    toolset: McpToolset,
    model_name: str,
    arguments: dict[str, Any] | str | None,
    *,
    limits: McpLimits | None = None,
    sessions: StepSessions | None = None,
) -> McpCall:
    """Run the call the model asked for (on the step's open ``sessions`` when given). Every failure (a tool the model invented, arguments
    that are not a JSON object, a removed server, the server's own errors) is an error result
    the model reads, never an exception."""
    limits = limits or McpLimits.from_settings(ctx.settings)
    tool = toolset.tools.get(model_name)
    if tool is None:
        return _refused(model_name, None, arguments, texts.unknown_tool(model_name[:100]))
    args, problem = _arguments(arguments)
    if problem is not None or args is None:
        return _refused(model_name, tool, arguments, texts.bad_arguments(problem or "missing"))
    if not servers.still_registered(ctx, team_id, tool.server_id):
        return _refused(model_name, tool, args, texts.removed_server(tool.server))
    endpoint = toolset.endpoints[tool.server_id]
    if sessions is not None:
        result = sessions.call(endpoint, tool.tool, args)
    else:
        result = call_tool(endpoint, tool.tool, args, limits)
    return McpCall(result.text, result.is_error, _record(model_name, tool, args, result))


def _arguments(raw: dict[str, Any] | str | None) -> tuple[dict[str, Any] | None, str | None]:
    if raw is None:
        return {}, None
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw.strip() else {}
        except ValueError as exc:
            return None, f"not valid JSON ({exc})"
    if not isinstance(raw, dict):
        return None, f"got {type(raw).__name__}"
    return raw, None


def _record(model_name: str, tool: McpTool, args: Any, result: CallResult) -> dict[str, Any]:
    return {
        "name": model_name,
        "server": tool.server,
        "tool": tool.tool,
        "arguments": excerpt(args, RECORD_ARGUMENTS_CHARS),
        "result_excerpt": result.text[:RECORD_RESULT_CHARS],
        "duration_ms": result.duration_ms,
        "error": result.text[:RECORD_RESULT_CHARS] if result.is_error else None,
        "fee_usd": None,  # an MCP server charges no provider fee
    }


def _refused(model_name: str, tool: McpTool | None, args: Any, sentence: str) -> McpCall:
    record = {
        "name": model_name[:100],
        "server": tool.server if tool else None,
        "tool": tool.tool if tool else None,
        "arguments": excerpt(args, RECORD_ARGUMENTS_CHARS) if args is not None else None,
        "result_excerpt": "",
        "duration_ms": 0,
        "error": sentence,
        "fee_usd": None,
    }
    return McpCall(sentence, True, record)
