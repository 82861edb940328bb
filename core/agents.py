"""Agents: validation with messages a user can act on, and their lifecycle.

Errors are keyed by the modal field they belong to (`name`, `system_prompt`, `model`,
`temperature`, `max_output_tokens`, `tools`), so the Slack layer can show each inline.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Any, TypeVar

from core import agent_tools
from core.errors import NotFound, ValidationFailed
from core.runs.artifact import iso_text
from core.text import clean_text
from providers import catalog
from providers.catalog import ModelInfo
from providers.registry import parse_model_ref
from storage.db import Session
from storage.models import Agent
from storage.repos import agents as agent_repo
from storage.repos import mcp_servers as mcp_repo

NAME_MAX = 80
PROMPT_MAX = 3000


@dataclass
class AgentDraft:
    name: str
    system_prompt: str
    model: str
    temperature: float | str | None = None
    max_output_tokens: int | str | None = None
    tools: list[str] = field(default_factory=list)
    # "Sees the run's files": a later step's agent gets the run's files too (step 1 always does).
    sees_files: bool = False


def clean_name(raw: str | None) -> str:
    return " ".join((raw or "").split())


def name_error(name: str, kind: str) -> str | None:
    if not name:
        return f"Give the {kind} a name."
    if len(name) > NAME_MAX:
        return f"Keep the name to {NAME_MAX} characters or fewer (it has {len(name)})."
    if any(unicodedata.category(c).startswith("C") for c in name):
        return "The name cannot contain control characters."
    return None


_N = TypeVar("_N", int, float)


def _number(raw: Any, kind: type[_N]) -> _N | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    return kind(str(raw).strip()) if isinstance(raw, str) else kind(raw)


def validate(s: Session, team_id: str, draft: AgentDraft, *, agent_id: int | None = None) -> dict[str, Any]:
    """Return the cleaned values, or raise ValidationFailed with one message per bad field."""
    errors: dict[str, str] = {}
    name = _checked_name(s, team_id, draft.name, agent_id, errors)
    prompt = clean_text(draft.system_prompt or "").strip()  # PostgreSQL text rejects NUL
    if len(prompt) > PROMPT_MAX:
        errors["system_prompt"] = f"Keep the system prompt to {PROMPT_MAX} characters or fewer (it has {len(prompt)})."
    model = (draft.model or "").strip()
    info = _checked_model(model, errors)
    temperature = _checked_temperature(draft.temperature, info, errors)
    max_tokens = _checked_max_tokens(draft.max_output_tokens, info, errors)

    tools = _checked_tools(s, team_id, draft.tools, info, errors)
    if errors:
        raise ValidationFailed(errors)
    return {
        "name": name,
        "system_prompt": prompt,
        "model": f"{info.provider}:{info.id}" if info else model,
        "temperature": temperature,
        "max_output_tokens": max_tokens,
        "tools": tools,
        "sees_files": bool(draft.sees_files),
    }


def _checked_name(s: Session, team_id: str, raw: str, agent_id: int | None, errors: dict[str, str]) -> str:
    name = clean_name(raw)
    if err := name_error(name, "agent"):
        errors["name"] = err
    else:
        other = agent_repo.get_agent_by_name(s, team_id, name)
        if other is not None and other.id != agent_id:
            errors["name"] = f"An agent named “{other.name}” already exists in this workspace. Pick another name."
    return name


def _checked_model(model: str, errors: dict[str, str]) -> ModelInfo | None:
    if not model:
        errors["model"] = "Pick a model."
        return None
    try:
        parse_model_ref(model)
        info = catalog.lookup(model)
    except ValueError as exc:
        errors["model"] = str(exc)
        return None
    if info is None:
        errors["model"] = f"“{model}” is not a model pipebot knows. Pick one from the menu."
    return info


def _checked_tools(
    s: Session, team_id: str, raw: list[str], info: ModelInfo | None, errors: dict[str, str]
) -> list[str]:
    """The tools, checked against the workspace's MCP servers and the model (core/agent_tools)."""
    entries = [str(t) for t in raw or []]
    servers: dict[str, str] = {}
    if any(agent_tools.is_mcp(e) for e in entries):
        servers = {row.name.lower(): row.name for row in mcp_repo.list_servers(s, team_id)}
    tools, problems = agent_tools.check(entries, info, servers)
    if problems:
        errors["tools"] = " ".join(problems)
    return tools


def _checked_temperature(raw: Any, info: ModelInfo | None, errors: dict[str, str]) -> float | None:
    try:
        temperature = _number(raw, float)
    except ValueError:
        errors["temperature"] = "Temperature must be a number such as 0.7, or left empty."
        return None
    if temperature is not None and info is not None:
        if not info.supports_temperature:
            errors["temperature"] = f"{info.display_name} does not accept a temperature. Leave it empty."
        elif info.temperature_range is not None:
            lo, hi = info.temperature_range
            if not lo <= temperature <= hi:
                errors["temperature"] = f"Temperature for {info.display_name} must be between {lo:g} and {hi:g}."
    return temperature


def _checked_max_tokens(raw: Any, info: ModelInfo | None, errors: dict[str, str]) -> int | None:
    try:
        max_tokens = _number(raw, int)
    except ValueError:
        errors["max_output_tokens"] = "Max output tokens must be a whole number such as 1024, or left empty."
        return None
    if max_tokens is not None:
        limit = info.max_output_tokens if info is not None else None
        if max_tokens < 1:
            errors["max_output_tokens"] = "Max output tokens must be at least 1."
        elif info is not None and limit and max_tokens > limit:
            errors["max_output_tokens"] = f"{info.display_name} writes at most {limit:,} tokens per reply."
    return max_tokens


def create(s: Session, team_id: str, draft: AgentDraft, user_id: str | None = None) -> Agent:
    values = validate(s, team_id, draft)
    return agent_repo.create_agent(s, team_id, created_by=user_id, **values)


def update(s: Session, team_id: str, agent_id: int, draft: AgentDraft) -> Agent:
    values = validate(s, team_id, draft, agent_id=agent_id)
    agent = agent_repo.update_agent(s, team_id, agent_id, **values)
    if agent is None:
        raise NotFound("That agent no longer exists; it may have been deleted.")
    return agent


def find(s: Session, team_id: str, name: str) -> Agent:
    agent = agent_repo.get_agent_by_name(s, team_id, clean_name(name))
    if agent is None:
        raise NotFound(f"No agent named “{clean_name(name)}” in this workspace.")
    return agent


def snapshot(agent: Agent) -> dict[str, Any]:
    """The agent as a run step used it: kept with the step so a result can be explained later."""
    return {
        "id": agent.id,
        "name": agent.name,
        "system_prompt": agent.system_prompt,
        "model": agent.model,
        "temperature": agent.temperature,
        "max_output_tokens": agent.max_output_tokens,
        "tools": list(agent.tools or []),
        "sees_files": bool(agent.sees_files),
        "updated_at": iso_text(agent.updated_at),
    }
