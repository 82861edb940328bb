"""Fit a request's optional parameters to what the model accepts.

A parameter the model rejects (temperature on a reasoning model, or on any Claude
model under API version 2026-10-21) is dropped with a logged note, and values out of
range are clamped, so capability differences never surface as API errors. The
notes travel back on the Response so the app can show them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from . import server_tools
from .catalog import ModelInfo
from .types import ChatRequest, ToolSpec

log = logging.getLogger("providers.params")

#: Output budget when the agent sets none (Anthropic requires max_tokens on every call).
DEFAULT_MAX_OUTPUT_TOKENS = 8_192


@dataclass(slots=True)
class Prepared:
    temperature: float | None
    max_output_tokens: int | None
    tools: list[ToolSpec]
    notes: list[str] = field(default_factory=list)
    #: The server tools asked for, checked against the model (providers/server_tools.py).
    server_tools: tuple[str, ...] = ()


def prepare(
    req: ChatRequest,
    info: ModelInfo,
    *,
    require_max_tokens: bool,
    min_output_tokens: int = 1,
) -> Prepared:
    notes: list[str] = []
    temperature = req.temperature
    if temperature is not None:
        if not info.supports_temperature:
            notes.append(f"temperature {temperature:g} dropped: {info.display_name} does not accept a temperature")
            temperature = None
        elif info.temperature_range is not None:
            low, high = info.temperature_range
            if not low <= temperature <= high:
                clamped = min(max(temperature, low), high)
                notes.append(
                    f"temperature {temperature:g} clamped to {clamped:g} ({info.display_name} accepts {low:g}-{high:g})"
                )
                temperature = clamped

    max_out = req.max_output_tokens
    if max_out is not None and max_out <= 0:
        notes.append(f"max output tokens {max_out} ignored: must be positive")
        max_out = None
    if max_out is None and require_max_tokens:
        max_out = min(DEFAULT_MAX_OUTPUT_TOKENS, info.max_output_tokens)
    if max_out is not None:
        if max_out > info.max_output_tokens:
            notes.append(
                f"max output tokens {max_out} lowered to {info.max_output_tokens}, the most {info.display_name} produces"
            )
            max_out = info.max_output_tokens
        if max_out < min_output_tokens:
            notes.append(f"max output tokens {max_out} raised to {min_output_tokens}, the provider's minimum")
            max_out = min_output_tokens

    tools = req.tools
    if tools and not info.supports_tools:
        notes.append(f"{len(tools)} tool(s) dropped: {info.display_name} does not accept tools")
        tools = []

    # Unlike a parameter, a server tool the model lacks is not dropped with a note: the
    # agent was built to look things up, and a quiet answer without looking is wrong.
    wanted = server_tools.check(req.server_tools, info)

    for note in notes:
        log.info("%s: %s", info.ref, note)
    return Prepared(
        temperature=temperature, max_output_tokens=max_out, tools=list(tools), notes=notes, server_tools=wanted
    )
