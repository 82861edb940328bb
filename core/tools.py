"""Built-in tools an agent may call. Few and safe: none reaches outside the workspace."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from providers.types import ToolSpec

MAX_TOOL_ROUNDS = 5
MAX_TOOL_OUTPUT = 20_000


@dataclass(frozen=True)
class ToolContext:
    team_id: str
    load_artifact: Callable[[str], dict[str, Any] | None]


@dataclass(frozen=True)
class Tool:
    spec: ToolSpec
    label: str
    run: Callable[[ToolContext, dict[str, Any]], str]


def _current_time(ctx: ToolContext, args: dict[str, Any]) -> str:
    return json.dumps({"utc": datetime.now(UTC).isoformat(timespec="seconds")})


def _read_artifact(ctx: ToolContext, args: dict[str, Any]) -> str:
    artifact_id = str(args.get("artifact_id", "")).strip()
    if not artifact_id:
        raise ValueError("artifact_id is required")
    content = ctx.load_artifact(artifact_id)
    if content is None:
        raise ValueError(f"no artifact {artifact_id} in this workspace")
    slim = {k: content.get(k) for k in ("pipeline", "created_at", "input", "output", "status")}
    return json.dumps(slim, default=str)[:MAX_TOOL_OUTPUT]


TOOLS: dict[str, Tool] = {
    "current_time": Tool(
        ToolSpec(
            "current_time",
            "The current date and time in UTC.",
            {"type": "object", "properties": {}, "additionalProperties": False},
        ),
        "Current time",
        _current_time,
    ),
    "read_artifact": Tool(
        ToolSpec(
            "read_artifact",
            "Read the input and output of an earlier pipeline run (artifact) of this workspace by its id.",
            {
                "type": "object",
                "properties": {"artifact_id": {"type": "string", "description": "the artifact's UUID"}},
                "required": ["artifact_id"],
                "additionalProperties": False,
            },
        ),
        "Read an earlier artifact",
        _read_artifact,
    ),
}


def run_tool(ctx: ToolContext, name: str, args: dict[str, Any]) -> tuple[str, bool]:
    """(content, is_error): errors go back to the model as tool results, not up the stack."""
    tool = TOOLS.get(name)
    if tool is None:
        return f"unknown tool {name!r}", True
    try:
        return tool.run(ctx, args), False
    except Exception as exc:  # noqa: BLE001 - the model gets to see what went wrong
        return f"{type(exc).__name__}: {exc}", True
