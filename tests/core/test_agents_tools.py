"""An agent's Tools checked on save (core/agents.validate with core/agent_tools, DESIGN §12):
built-in and web tools by name, web tools only for models that have them, tools only for
models that call tools, and ``mcp:<server>`` only for a server registered in the workspace.
Real PostgreSQL for the agents and servers."""

from __future__ import annotations

import pytest

from core import agent_tools, agents
from core.agents import AgentDraft
from core.errors import ValidationFailed
from providers import catalog
from providers.catalog import ModelInfo
from storage.db import transaction
from storage.repos import agents as agent_repo
from storage.repos import mcp_servers as mcp_repo

HAIKU = "anthropic:claude-haiku-4-5"
GPT_MINI = "openai:gpt-4.1-mini"


def _server(ctx, team: str, name: str) -> None:
    with transaction(ctx.sessions) as s:
        mcp_repo.add_server(
            s, team, name=name, url="https://tools.example.com/mcp", token=None, ask="never", box=ctx.box
        )


def _save(ctx, tools: list[str], model: str = HAIKU, team: str = "T1"):
    with transaction(ctx.sessions) as s:
        agent = agents.create(s, team, AgentDraft(name="Scout", system_prompt="Look.", model=model, tools=tools), "U1")
        return list(agent.tools)


def _tools_error(ctx, tools: list[str], model: str = HAIKU, team: str = "T1") -> str:
    with pytest.raises(ValidationFailed) as caught:
        _save(ctx, tools, model, team)
    assert "tools" in caught.value.errors, caught.value.errors
    return caught.value.errors["tools"]


def test_built_in_web_and_mcp_tools_are_saved_once_each_in_order(ctx):
    _server(ctx, "T1", "Tickets")
    saved = _save(ctx, ["web_search", "current_time", "mcp:tickets", "web_fetch", "current_time", "read_artifact"])
    # the server as it is registered, whatever the case it was chosen in
    assert saved == ["web_search", "current_time", "mcp:Tickets", "web_fetch", "read_artifact"]
    with transaction(ctx.sessions) as s:
        assert agent_repo.get_agent_by_name(s, "T1", "Scout").tools == saved


def test_unknown_names_are_named(ctx):
    error = _tools_error(ctx, ["current_time", "shell", "rm_rf"])
    assert error == "Unknown tool(s): shell, rm_rf. Pick tools from the menu."


def test_web_fetch_for_a_model_without_it_names_the_model_and_the_tool(ctx):
    assert _tools_error(ctx, ["web_search", "web_fetch"], model=GPT_MINI) == (
        "GPT-4.1 mini has no web fetch; pick another model or remove Fetch a web page."
    )
    assert _save(ctx, ["web_search"], model=GPT_MINI) == ["web_search"]  # OpenAI has search


def test_a_server_not_registered_in_this_workspace_is_named(ctx):
    _server(ctx, "T2", "Tickets")  # another workspace's server is not this one's
    error = _tools_error(ctx, ["mcp:Tickets"])
    assert "There is no MCP server called “Tickets” in this workspace" in error
    assert "/pipebot mcp add" in error


def test_an_edit_is_checked_too_and_a_removed_server_fails_it(ctx):
    _server(ctx, "T1", "Tickets")
    with transaction(ctx.sessions) as s:
        agent = agents.create(s, "T1", AgentDraft(name="Scout", system_prompt="", model=HAIKU, tools=["mcp:Tickets"]))
        agent_id = agent.id
    with transaction(ctx.sessions) as s:
        mcp_repo.remove_server(s, "T1", "Tickets")
    with pytest.raises(ValidationFailed) as caught, transaction(ctx.sessions) as s:
        agents.update(s, "T1", agent_id, AgentDraft(name="Scout", system_prompt="", model=HAIKU, tools=["mcp:Tickets"]))
    assert "“Tickets”" in caught.value.errors["tools"]


def test_a_wrong_model_is_reported_once_and_the_names_still_checked(ctx):
    with pytest.raises(ValidationFailed) as caught:
        _save(ctx, ["web_fetch", "nope"], model="openai:no-such-model")
    assert set(caught.value.errors) == {"model", "tools"}
    assert caught.value.errors["tools"] == "Unknown tool(s): nope. Pick tools from the menu."


def test_a_model_without_tool_calls_gets_no_tools():
    tiny = ModelInfo(provider="openai", id="tiny", display_name="Tiny 1", supports_tools=False)
    cleaned, problems = agent_tools.check(["current_time"], tiny, {})
    assert cleaned == ["current_time"]
    assert problems == ["Tiny 1 cannot call tools; pick another model or remove the tools."]
    assert agent_tools.check([], tiny, {}) == ([], [])  # no tools: nothing to say


def test_labels_are_what_people_read():
    assert (
        agent_tools.labels(["current_time", "web_search", "mcp:Tickets"]) == "Current time, Web search, Tickets (MCP)"
    )
    assert agent_tools.label("read_artifact") == "Read an earlier artifact"
    assert agent_tools.label("web_fetch") == "Fetch a web page"


def test_the_web_line_follows_the_catalog():
    assert agent_tools.web_line(catalog.lookup(HAIKU)) == "Has web search and web fetch"  # type: ignore[arg-type]
    assert agent_tools.web_line(catalog.lookup(GPT_MINI)) == "Has web search, no web fetch"  # type: ignore[arg-type]
    bare = ModelInfo(provider="openai", id="bare", display_name="Bare")
    assert agent_tools.web_line(bare) == "No web search or web fetch"
    assert agent_tools.web_tag(bare) is None
