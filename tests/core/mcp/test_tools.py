"""A workspace's MCP tools as a step's function tools (core/mcp/tools.py): names the providers
accept and that map back, the cap on tools offered, the tool list cached in Redis and
forgotten on remove, and each bad call (an invented tool, malformed arguments, a removed
server) answered as an error result naming what is wrong."""

from __future__ import annotations

import dataclasses
import re

from core.mcp import servers
from core.mcp.names import display_name, model_tool_name
from core.mcp.tools import (
    MCP_PREFIX,
    load_toolset,
    run_mcp_tool,
    selected_servers,
    server_selector,
)
from storage.secrets import SecretBox, new_key
from tests.core.mcp.conftest import with_settings
from tests.support.mcp_server import TOKEN, serve_mcp

PROVIDER_NAME_RULE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def _add(ctx, url: str, name: str = "Tickets", token: str | None = TOKEN, ask: str = "never"):
    return servers.add_server(ctx, "T1", name=name, url=url, token=token, ask=ask, user_id="U1")


def test_a_servers_tools_are_offered_under_its_name_and_called_back(mcp_ctx, mcp_server):
    _add(mcp_ctx, mcp_server.url, ask="every_call")
    toolset = load_toolset(mcp_ctx, "T1", selected_servers(["current_time", server_selector("Tickets")]))
    assert toolset.missing == [] and toolset.notes == []
    tool = toolset.tools["tickets__lookup_ticket"]
    assert (tool.server, tool.tool, tool.label, tool.ask) == (
        "Tickets",
        "lookup_ticket",
        "Tickets · lookup_ticket",
        "every_call",
    )
    assert tool.spec.input_schema["properties"]["ticket_id"]["type"] == "string"
    assert all(PROVIDER_NAME_RULE.match(spec.name) for spec in toolset.specs())

    call = run_mcp_tool(mcp_ctx, "T1", toolset, "tickets__lookup_ticket", '{"ticket_id": "T-1"}')
    assert not call.is_error and "Printer on fire" in call.content
    assert call.record["name"] == "tickets__lookup_ticket"
    assert (call.record["server"], call.record["tool"], call.record["arguments"]) == (
        "Tickets",
        "lookup_ticket",
        {"ticket_id": "T-1"},
    )
    assert "Printer on fire" in call.record["result_excerpt"]
    assert call.record["error"] is None and call.record["fee_usd"] is None
    assert isinstance(call.record["duration_ms"], int)
    assert mcp_server.seen.calls == ["lookup_ticket:T-1"]


def test_an_invented_tool_and_malformed_arguments_are_error_results(mcp_ctx, mcp_server):
    _add(mcp_ctx, mcp_server.url)
    toolset = load_toolset(mcp_ctx, "T1", ["Tickets"])
    invented = run_mcp_tool(mcp_ctx, "T1", toolset, "tickets__drop_database", {})
    assert (
        invented.is_error
        and invented.content
        == "There is no tool called 'tickets__drop_database'. Call one of the tools you were given."
    )
    assert invented.record["error"] == invented.content
    malformed = run_mcp_tool(mcp_ctx, "T1", toolset, "tickets__lookup_ticket", '{"ticket_id": "T-1"')
    assert malformed.is_error and malformed.content.startswith(
        "The tool's arguments must be a JSON object: not valid JSON"
    )
    not_object = run_mcp_tool(mcp_ctx, "T1", toolset, "tickets__lookup_ticket", "[1, 2]")
    assert not_object.is_error and "got list" in not_object.content
    assert mcp_server.seen.calls == []  # none of them reached the server


def test_500_tools_are_capped_to_what_a_model_is_offered(mcp_ctx):
    with serve_mcp(many_tools=500) as big:
        _add(mcp_ctx, big.url, name="Big")
        toolset = load_toolset(mcp_ctx, "T1", ["Big"])
        assert len(toolset.tools) == 100
        assert toolset.notes == ["Big lists 504 tools; only the first 100 are offered to the model."]
        assert "big__lookup_ticket" in toolset.tools
        call = run_mcp_tool(mcp_ctx, "T1", toolset, "big__extra_000", {"n": 7})
        assert not call.is_error and call.content == "tool 0: 7"


def test_the_tool_list_is_cached_in_redis_and_forgotten_on_remove(mcp_ctx):
    with serve_mcp() as srv:
        info = _add(mcp_ctx, srv.url)
        first = load_toolset(mcp_ctx, "T1", ["Tickets"])
        key = f"pipebot:mcp:tools:T1:{info.id}"
        assert mcp_ctx.redis.exists(key) and 0 < mcp_ctx.redis.ttl(key) <= 300
    # the server is down now: the list still comes from the cache
    again = load_toolset(mcp_ctx, "T1", ["Tickets"])
    assert set(again.tools) == set(first.tools) and again.notes == []
    servers.remove_server(mcp_ctx, "T1", "Tickets", "U1")
    assert not mcp_ctx.redis.exists(key)


def test_a_listing_that_failed_is_not_cached_and_is_said(mcp_ctx, mcp_server):
    info = _add(mcp_ctx, mcp_server.url, token="wrong-token")
    toolset = load_toolset(mcp_ctx, "T1", ["Tickets"])
    assert toolset.tools == {}
    assert toolset.notes and "refused pipebot's token (HTTP 401)" in toolset.notes[0]
    assert not mcp_ctx.redis.exists(f"pipebot:mcp:tools:T1:{info.id}")


def test_a_removed_server_fails_naming_it(mcp_ctx, mcp_server):
    _add(mcp_ctx, mcp_server.url)
    toolset = load_toolset(mcp_ctx, "T1", ["Tickets", "Jira"])
    assert toolset.missing == ["Jira"]
    assert toolset.problem() is not None and "The MCP server “Jira” was removed" in toolset.problem()
    # removed while a run holds its tools: the next call says so and never reaches it
    servers.remove_server(mcp_ctx, "T1", "Tickets", "U1")
    call = run_mcp_tool(mcp_ctx, "T1", toolset, "tickets__lookup_ticket", {"ticket_id": "T-1"})
    assert call.is_error and "The MCP server “Tickets” was removed" in call.content
    assert mcp_server.seen.calls == []


def test_two_servers_tools_never_clash(mcp_ctx):
    with serve_mcp() as a, serve_mcp() as b:
        _add(mcp_ctx, a.url, name="Tickets")
        _add(mcp_ctx, b.url, name="tickets-")  # the same slug
        toolset = load_toolset(mcp_ctx, "T1", ["Tickets", "tickets-"])
        assert len(toolset.tools) == 8
        other = [t for t in toolset.tools.values() if t.server == "tickets-" and t.tool == "lookup_ticket"][0]
        assert other.model_name != "tickets__lookup_ticket" and PROVIDER_NAME_RULE.match(other.model_name)
        run_mcp_tool(mcp_ctx, "T1", toolset, other.model_name, {"ticket_id": "T-2"})
        assert (a.seen.calls, b.seen.calls) == ([], ["lookup_ticket:T-2"])


def test_names_fit_the_providers_rule_and_people_read_them_whole():
    long = model_tool_name("Customer Support Tickets (EU)", "search_all_the_tickets_by_customer_and_date_range_v2")
    assert PROVIDER_NAME_RULE.match(long) and len(long) == 64
    assert model_tool_name("Tickets", "lookup.ticket/v2") == "tickets__lookup_ticket_v2"
    assert model_tool_name("Tickets", "lookup_ticket", {"tickets__lookup_ticket"}) != "tickets__lookup_ticket"
    assert display_name("Tickets", "lookup_ticket") == "Tickets · lookup_ticket"
    assert selected_servers(["current_time", f"{MCP_PREFIX}Tickets", "mcp:tickets", "mcp: ", "mcp:Wiki"]) == [
        "Tickets",
        "Wiki",
    ]


def test_a_token_the_keys_no_longer_open_is_said_not_raised(mcp_ctx, mcp_server):
    _add(mcp_ctx, mcp_server.url)
    other_keys = dataclasses.replace(mcp_ctx, box=SecretBox([new_key()]))
    toolset = load_toolset(other_keys, "T1", ["Tickets"])
    assert toolset.tools == {} and toolset.missing == []
    assert toolset.notes == [
        "The token saved for the MCP server “Tickets” cannot be decrypted (PIPEBOT_SECRET_KEY changed). "
        "An admin can remove the server and add it again with its token (`/pipebot mcp`)."
    ]
    assert mcp_server.seen.authorizations == []


def test_the_timeout_setting_reaches_a_runs_call(mcp_ctx, mcp_server):
    short = with_settings(mcp_ctx, PIPEBOT_MCP_TIMEOUT_SECONDS=0.5, PIPEBOT_MCP_RESULT_MAX_CHARS=100)
    _add(short, mcp_server.url)
    toolset = load_toolset(short, "T1", ["Tickets"])
    slow = run_mcp_tool(short, "T1", toolset, "tickets__slow", {"seconds": 30})
    assert slow.is_error and slow.content == "Tickets did not answer within 0.5 s."
    assert slow.record["error"] == slow.content
    big = run_mcp_tool(short, "T1", toolset, "tickets__huge", {"size": 1000})
    assert not big.is_error and big.content.startswith("x" * 100 + "\n[truncated: the tool returned 1,000 characters")


def test_several_text_pieces_are_joined_and_cut_within_the_cap():
    from core.mcp.client import _capped_text

    assert _capped_text(["ab", "cd"], 10) == ("ab\ncd", 5)
    text, total = _capped_text(["ab", "cdef"], 4)
    assert total == 7 and text == "ab\nc\n[truncated: the tool returned 7 characters; the first 4 are shown]"
