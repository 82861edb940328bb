"""Built-in tools an agent may call. Few and safe: none reaches outside the workspace."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from core.messages import TOOL_RESULT_DELETED
from providers.types import ToolSpec

log = logging.getLogger(__name__)

MAX_TOOL_ROUNDS = 5
MAX_TOOL_OUTPUT = 20_000


@dataclass(frozen=True)
class ToolContext:
    """What a tool may reach: the run's workspace, and the run's id for the log.
    ``load_artifact`` answers None for an artifact that is missing and for one this run may
    not read (core/visibility.may_carry), alike, so the model cannot tell them apart."""

    team_id: str
    load_artifact: Callable[[str], dict[str, Any] | None]
    run_id: str = ""


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
        raise ValueError(f"no artifact {artifact_id} in this workspace that this run may read")
    if content.get("deleted"):  # a tombstone: nothing of the run's text is left to read
        return json.dumps({"deleted": True, "message": TOOL_RESULT_DELETED})
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
    """(content, is_error): errors go back to the model as tool results, not up the stack,
    and into the log (the tool and the run, never the arguments: they may hold secrets,
    and so may the exception's message, which the model alone sees)."""
    tool = TOOLS.get(name)
    if tool is None:
        log.warning("run %s asked for an unknown tool %r", ctx.run_id, name[:100])
        return f"unknown tool {name!r}", True
    try:
        return tool.run(ctx, args), False
    except Exception as exc:  # noqa: BLE001 - the model gets to see what went wrong
        log.warning("tool %s failed in run %s: %s", name, ctx.run_id, type(exc).__name__)
        return f"{type(exc).__name__}: {exc}", True
