"""The agent modal's **Tools** (DESIGN §12 "Tools per agent"), through the real
`/slack/events` endpoint against the fake Slack, with real PostgreSQL and Redis: the menu's
groups as views.open receives them, what a save stores, the inline error for a web tool the
model lacks, an edit prefilled with a removed server named and dropped, and a hostile server
name shown as literal text."""

from __future__ import annotations

import json
from typing import Any

from bot.slack.blocks import agents as agent_blocks
from core.agent_tools import ServerChoice
from core.mcp import cache
from core.mcp.client import RemoteTool, ToolListing
from storage.db import transaction
from storage.repos import agents as agent_repo
from storage.repos import mcp_servers as mcp_repo
from tests.fakes.slack import TEAM_ID
from tests.support.runs import make_agent, with_keys
from tests.support.slack_app import SlackServer

GPT_MINI = "openai:gpt-4.1-mini"
HAIKU = "anthropic:claude-haiku-4-5"


def _server(ctx, name: str) -> int:
    """A registered server, stored directly: the modal reads the registry, never the server."""
    with transaction(ctx.sessions) as s:
        row = mcp_repo.add_server(
            s, TEAM_ID, name=name, url="https://tools.example.com/mcp", token=None, ask="never", box=ctx.box
        )
        return row.id


def _remove_server(ctx, name: str) -> None:
    with transaction(ctx.sessions) as s:
        assert mcp_repo.remove_server(s, TEAM_ID, name) is not None


def _cache_tools(ctx, server_id: int, names: list[str]) -> None:
    """A listing in the cache, as a run's step or the admin's *Test* leaves it."""
    listing = ToolListing(tuple(RemoteTool(n, f"{n}.", {"type": "object"}) for n in names))
    cache.cached_listing(ctx, TEAM_ID, server_id, lambda: listing)


def _block(view: dict[str, Any], block_id: str) -> dict[str, Any]:
    return next(b for b in view["blocks"] if b.get("block_id") == block_id)


def _groups(view: dict[str, Any]) -> list[dict[str, Any]]:
    return _block(view, agent_blocks.TOOLS_BLOCK)["element"]["option_groups"]


def _stored_tools(ctx, name: str) -> list[str]:
    with transaction(ctx.sessions) as s:
        return list(agent_repo.get_agent_by_name(s, TEAM_ID, name).tools)


def _submit(slack: SlackServer, view: dict[str, Any], model: str, tools: list[str], name: str = "Scout") -> Any:
    values = {"Name": name, "System prompt": "Look things up.", "Model": model, "Tools": tools}
    return slack.post(slack.signer.view_submission(view, values))


def test_the_menu_groups_built_in_web_and_each_server_without_asking_a_server(ctx, slack: SlackServer):
    with_keys(ctx, TEAM_ID, "anthropic", "openai")
    _cache_tools(ctx, _server(ctx, "Tickets"), ["lookup_ticket", "close_ticket"])
    _server(ctx, "Wiki")  # nothing cached: the modal shows no count rather than connect
    view = slack.open_modal("agent new")  # the fake refuses a view over Slack's limits
    block = _block(view, agent_blocks.TOOLS_BLOCK)
    assert block["optional"] is True and block["label"]["text"] == "Tools"
    assert block["element"]["type"] == "multi_static_select" and "initial_options" not in block["element"]
    menu = {
        g["label"]["text"]: [
            (o["value"], o["text"]["text"], (o.get("description") or {}).get("text")) for o in g["options"]
        ]
        for g in _groups(view)
    }
    assert menu == {
        "Built in": [("current_time", "Current time", None), ("read_artifact", "Read an earlier artifact", None)],
        "The web": [("web_search", "Web search", None), ("web_fetch", "Fetch a web page", "Anthropic models only")],
        "Tickets": [("mcp:Tickets", "All tools of Tickets", "2 tools")],
        "Wiki": [("mcp:Wiki", "All tools of Wiki", None)],
    }
    hint = _block(view, "model")["hint"]["text"]
    assert "Only providers with an API key" in hint  # nothing chosen yet: no model's line


def test_saved_tools_are_stored_and_listed_by_label(ctx, slack: SlackServer):
    with_keys(ctx, TEAM_ID, "anthropic")
    _server(ctx, "Tickets")
    view = slack.open_modal("agent new")
    r = _submit(slack, view, HAIKU, ["current_time", "web_search", "mcp:Tickets"])
    assert r.status_code == 200 and not r.content, r.text
    assert _stored_tools(ctx, "Scout") == ["current_time", "web_search", "mcp:Tickets"]
    assert "tools: Current time, Web search, Tickets (MCP)" in slack.reply_text(view["_response_url"])
    assert "*Scout* — Claude Haiku 4.5 · default temperature · default max tokens · tools: Current time, " in (
        slack.command("agents").text()
    )


def test_a_web_tool_the_model_lacks_is_an_inline_error_naming_the_model(ctx, slack: SlackServer):
    with_keys(ctx, TEAM_ID, "openai")
    view = slack.open_modal("agent new")
    r = _submit(slack, view, GPT_MINI, ["web_search", "web_fetch"])
    assert r.status_code == 200
    assert r.json() == {
        "response_action": "errors",
        "errors": {"tools": "GPT-4.1 mini has no web fetch; pick another model or remove Fetch a web page."},
    }
    with transaction(ctx.sessions) as s:
        assert agent_repo.get_agent_by_name(s, TEAM_ID, "Scout") is None
    r = _submit(slack, view, GPT_MINI, ["web_search"])  # search alone: OpenAI has it
    assert r.status_code == 200 and not r.content, r.text
    assert _stored_tools(ctx, "Scout") == ["web_search"]


def test_the_model_hint_says_whether_it_has_web_search_and_fetch(ctx, slack: SlackServer):
    with_keys(ctx, TEAM_ID, "openai")
    make_agent(ctx, TEAM_ID, "Scout", model=GPT_MINI)
    view = slack.open_modal("agent edit Scout")
    assert _block(view, "model")["hint"]["text"].startswith(
        "Takes text, images and PDFs. Has web search, no web fetch. "
    )


def test_an_edit_is_prefilled_and_a_removed_server_is_named_then_dropped(ctx, slack: SlackServer):
    with_keys(ctx, TEAM_ID, "anthropic")
    _server(ctx, "Tickets")
    _server(ctx, "Gone")
    make_agent(ctx, TEAM_ID, "Scout", tools=["current_time", "mcp:Tickets", "web_fetch", "mcp:Gone"])
    _remove_server(ctx, "Gone")
    view = slack.open_modal("agent edit Scout")
    element = _block(view, agent_blocks.TOOLS_BLOCK)["element"]
    offered = [o for g in element["option_groups"] for o in g["options"]]
    initial = element["initial_options"]
    assert [o["value"] for o in initial] == ["current_time", "mcp:Tickets", "web_fetch"]
    assert all(o in offered for o in initial)  # Slack wants the very option objects
    notes = [e["text"] for b in view["blocks"] if b["type"] == "context" for e in b["elements"]]
    assert any(n.startswith("⚠️ removed: Gone. Its tools are dropped when you save") for n in notes), notes
    r = _submit(slack, view, HAIKU, [o["value"] for o in initial])  # saved as Slack sends it, unchanged
    assert r.status_code == 200 and not r.content, r.text
    assert _stored_tools(ctx, "Scout") == ["current_time", "mcp:Tickets", "web_fetch"]


def test_a_server_removed_while_the_form_was_open_is_an_inline_error(ctx, slack: SlackServer):
    with_keys(ctx, TEAM_ID, "anthropic")
    _server(ctx, "Tickets")
    view = slack.open_modal("agent new")
    _remove_server(ctx, "Tickets")
    r = _submit(slack, view, HAIKU, ["mcp:Tickets"])
    errors = r.json()["errors"]
    assert list(errors) == ["tools"] and "There is no MCP server called “Tickets”" in errors["tools"]


def test_a_hostile_server_name_is_literal_text(ctx, slack: SlackServer):
    with_keys(ctx, TEAM_ID, "anthropic")
    hostile = "<!channel> *Ops* & <b>Co</b>"  # the column holds 40 characters
    _server(ctx, hostile)
    agent_id = make_agent(ctx, TEAM_ID, "Scout")
    with transaction(ctx.sessions) as s:  # an agent naming a server that is gone, hostile too
        agent_repo.update_agent(s, TEAM_ID, agent_id, tools=["mcp:<!here> Old"])
    view = slack.open_modal("agent edit Scout")  # the fake refuses anything over Slack's limits
    options = {o["value"]: o for g in _groups(view) for o in g["options"]}
    shown = options[f"mcp:{hostile}"]["text"]
    assert shown == {"type": "plain_text", "text": f"All tools of {hostile}", "emoji": True}  # never parsed
    assert hostile in [g["label"]["text"] for g in _groups(view)]
    note = json.dumps([b for b in view["blocks"] if b["type"] == "context"], ensure_ascii=False)
    assert "&lt;!here&gt; Old" in note and "<!here>" not in note
    listing = slack.command("agents").text()
    assert "tools: &lt;!here&gt; Old (MCP)" in listing and "<!here>" not in listing


def test_long_names_are_cut_to_slacks_limits_and_the_value_kept_whole():
    long_name = "Tickets " + "x" * 120
    too_long = "y" * 160  # its value would pass 150 characters: not offered rather than cut
    select, missing = agent_blocks.tools_select(
        ["anthropic"], [f"mcp:{long_name}"], [ServerChoice(long_name, 3), ServerChoice(too_long)]
    )
    groups = select.to_dict()["option_groups"]
    (option,) = groups[2]["options"]
    assert option["value"] == f"mcp:{long_name}" and missing == []
    assert len(option["text"]["text"]) <= 75 and option["text"]["text"].endswith("…")
    assert len(groups[2]["label"]["text"]) <= 75 and len(groups) == 3


def test_servers_past_the_100_options_keep_the_agents_own_first():
    servers = [ServerChoice(f"S{i:03}") for i in range(120)]
    select, missing = agent_blocks.tools_select(["anthropic"], ["mcp:S119"], servers)
    groups = select.to_dict()["option_groups"]
    assert sum(len(g["options"]) for g in groups) == 100 and len(groups) == 98
    assert missing == [] and [o["value"] for o in select.to_dict()["initial_options"]] == ["mcp:S119"]
