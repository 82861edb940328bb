"""The tools one step may use, and answering the calls its model makes (DESIGN §12).

Three kinds meet here, so core/runs/steps.py's loop stays about rounds: the built-in tools
(core/tools.py) and the tools of MCP servers (core/mcp/tools.py) run in the worker, one
call at a time, each shown to the reporters while it runs and recorded for the step
(core/tool_calls.py); the provider's server tools (web search, web fetch) run inside the
model call, so they are only asked for here and recorded from the response.

A call to a server marked "Ask before calling: every call" is not run here: ``approval_for``
names it, and the step pauses for a person (core/runs/steps.py, ToolApprovalNeeded).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from core.mcp import texts
from core.mcp.client import McpLimits
from core.mcp.servers import ASK_EVERY_CALL
from core.mcp.sessions import StepSessions
from core.mcp.tools import McpTool, McpToolset, load_toolset, run_mcp_tool, selected_servers
from core.reporter import StepPlan, ToolCallView
from core.runs.run_context import RunContext
from core.tool_calls import BUILTIN, MCP, RECORD_ARGUMENTS_CHARS, RECORD_RESULT_CHARS, WEB, ToolCallRecord, excerpt
from core.tools import TOOLS, run_tool
from providers import server_tools as web
from providers.catalog import ModelInfo
from providers.types import ServerToolCall, ToolCall, ToolResult, ToolSpec

#: How much of a built-in call's arguments and result the record keeps (as MCP's do).
#: What the model reads when a person denied its call (DESIGN §12: a refusal as the result).
DENIED = "The person asked to allow this tool call denied it. Do not call it again; go on without it."


@dataclass
class StepTools:
    """What one step's model is offered: function tools (built-in and MCP, ``specs``) and the
    provider's server tools (``server_tools``)."""

    specs: list[ToolSpec] = field(default_factory=list)
    server_tools: tuple[str, ...] = ()
    mcp: McpToolset | None = None
    sessions: StepSessions | None = None  # open while the step runs; ``close`` ends them

    def close(self) -> None:
        if self.sessions is not None:
            self.sessions.close()

    def problem(self) -> str | None:
        """Why the step cannot run at all: a selected MCP server was removed."""
        return self.mcp.problem() if self.mcp is not None else None


def step_tools(run: RunContext, names: list[str], model: ModelInfo) -> StepTools:
    """The tools the agent chose that its model can use. A web tool the model lacks (the
    agent's model changed after the tool was chosen) is left out rather than failing the
    step: the agent modal refuses that combination when it is saved."""
    if not names:
        return StepTools()
    server = tuple(n for n in web.SERVER_TOOL_NAMES if n in names and web.supports(model, n))
    if not model.supports_tools:
        return StepTools(server_tools=server)
    specs = [TOOLS[n].spec for n in names if n in TOOLS]
    servers = selected_servers(names)
    mcp = load_toolset(run.app, run.team_id, servers) if servers else None
    sessions = None
    if mcp is not None and mcp.tools:
        specs += mcp.specs()
        sessions = StepSessions(McpLimits.from_settings(run.app.settings))
    return StepTools(specs, server, mcp, sessions)


def approval_for(tools: StepTools, tc: ToolCall) -> McpTool | None:
    """The MCP tool of a server that asks before every call, when ``tc`` calls one."""
    tool = tools.mcp.tools.get(tc.name) if tools.mcp is not None else None
    return tool if tool is not None and tool.ask == ASK_EVERY_CALL and not tc.arguments_error else None


def label_of(tools: StepTools, name: str) -> str:
    if name in TOOLS:
        return TOOLS[name].label
    tool = tools.mcp.tools.get(name) if tools.mcp is not None else None
    return tool.label if tool is not None else name[:100]


def answer(
    run: RunContext, plan: StepPlan, tools: StepTools, tc: ToolCall, *, denied_by: str | None = None
) -> tuple[ToolResult, ToolCallRecord]:
    """Run one call the model made (or refuse it: ``denied_by`` said no) and say so to the
    reporters as it starts and ends. Never raises for what the model asked: an unknown tool,
    arguments that are not a JSON object, a tool's own failure all become an error result."""
    label = label_of(tools, tc.name)
    view = ToolCallView(tc.id, plan.position, label, _detail(tc.arguments))
    run.reporter.tool_call(run.info, plan, view)
    started = time.monotonic()
    record: ToolCallRecord
    if denied_by is not None:
        content, is_error = DENIED, True
        record = _record(MCP, tc, label, content, is_error, 0)
        if (tool := tools.mcp.tools.get(tc.name) if tools.mcp is not None else None) is not None:
            record["server"], record["tool"] = tool.server, tool.tool
        record["approval"] = {"verdict": "denied", "by": denied_by}
    elif tc.arguments_error:
        content, is_error = f"invalid arguments: {tc.arguments_error}", True
        record = _record(_kind(tools, tc.name), tc, label, content, True, 0)
    elif tools.mcp is not None and tools.mcp.owns(tc.name):
        mcp = run_mcp_tool(run.app, run.team_id, tools.mcp, tc.name, tc.arguments, sessions=tools.sessions)
        content, is_error = mcp.content, mcp.is_error
        record = {"kind": MCP, "label": label, **mcp.record}  # type: ignore[typeddict-item]
    elif tc.name not in TOOLS:  # one the model made up
        content, is_error = texts.unknown_tool(tc.name[:100]), True
        record = _record(BUILTIN, tc, label, content, is_error, 0)
    else:
        content, is_error = run_tool(run.tools, tc.name, tc.arguments)
        record = _record(_kind(tools, tc.name), tc, label, content, is_error, _ms(started))
    done = ToolCallView(tc.id, plan.position, label, view.detail, "error" if is_error else "done", record.get("error"))
    run.reporter.tool_call(run.info, plan, done)
    return ToolResult(tc.id, content, is_error), record


def server_view(call: ServerToolCall, position: int) -> ToolCallView:
    """A provider's server tool use as a plan task ("Web search: <query>")."""
    status = {"running": "running", "error": "error"}.get(call.status, "done")
    return ToolCallView(call.id, position, web.LABELS.get(call.name, call.name), call.query[:200], status, call.error)


def server_record(call: ServerToolCall) -> ToolCallRecord:
    return {
        "kind": WEB,
        "name": call.name,
        "label": web.LABELS.get(call.name, call.name),
        "server": None,
        "tool": call.name,
        "arguments": call.input,
        "result_excerpt": call.result_excerpt,
        "duration_ms": None,
        "error": call.error,
        "fee_usd": None if call.fee_usd is None else str(call.fee_usd),
    }


def _kind(tools: StepTools, name: str) -> str:
    return MCP if tools.mcp is not None and tools.mcp.owns(name) else BUILTIN


def _detail(arguments: dict[str, Any]) -> str:
    for key in ("query", "url", "q", "id"):
        value = arguments.get(key)
        if isinstance(value, str | int) and str(value):
            return str(value)[:200]
    return ""


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _record(kind: str, tc: ToolCall, label: str, content: str, is_error: bool, ms: int) -> ToolCallRecord:
    return {
        "kind": kind,
        "name": tc.name[:100],
        "label": label,
        "server": None,
        "tool": tc.name[:100],
        "arguments": excerpt(
            tc.arguments if not tc.arguments_error else (tc.raw_arguments or ""), RECORD_ARGUMENTS_CHARS
        ),
        "result_excerpt": content[:RECORD_RESULT_CHARS],
        "duration_ms": ms,
        "error": content[:RECORD_RESULT_CHARS] if is_error else None,
        "fee_usd": None,
    }
