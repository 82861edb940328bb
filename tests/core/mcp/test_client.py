"""pipebot's MCP client (core/mcp/client.py) against a REAL `mcp` SDK server on loopback
(tests/support/mcp_server.py): listing and calling with the bearer token, and each way a
server can fail coming back as a sentence, never an exception."""

from __future__ import annotations

import logging
import threading

from core.mcp.client import Endpoint, McpLimits, call_tool, list_tools
from tests.support.mcp_server import TOKEN, serve_mcp

LOOPBACK = frozenset({"127.0.0.1"})
LIMITS = McpLimits(timeout_s=20)


def _endpoint(url: str, token: str | None = TOKEN, **kw) -> Endpoint:
    return Endpoint("Tickets", url, token, kw.pop("allowed", LOOPBACK), **kw)


def test_lists_and_calls_tools_with_the_bearer_token(mcp_server, caplog):
    caplog.set_level(logging.DEBUG)
    listing = list_tools(_endpoint(mcp_server.url), LIMITS)
    assert listing.error is None
    tools = {t.name: t for t in listing.tools}
    assert {"lookup_ticket", "slow", "huge", "broken"} <= set(tools)
    assert tools["lookup_ticket"].input_schema["required"] == ["ticket_id"]
    assert "support ticket" in tools["lookup_ticket"].description

    result = call_tool(_endpoint(mcp_server.url), "lookup_ticket", {"ticket_id": "T-1"}, LIMITS)
    assert not result.is_error and not result.truncated
    assert '"title": "Printer on fire"' in result.text
    assert result.duration_ms >= 0
    assert mcp_server.seen.calls == ["lookup_ticket:T-1"]
    assert mcp_server.seen.authorizations and set(mcp_server.seen.authorizations) == {f"Bearer {TOKEN}"}
    assert TOKEN not in caplog.text


def test_a_worker_thread_calls_with_an_event_loop_of_its_own(mcp_server):
    """RQ runs each job in a plain thread: one asyncio.run per operation works there, twice."""
    results = []

    def job() -> None:
        for ticket in ("T-1", "T-2"):
            results.append(call_tool(_endpoint(mcp_server.url), "lookup_ticket", {"ticket_id": ticket}, LIMITS))

    thread = threading.Thread(target=job)
    thread.start()
    thread.join()
    assert [r.is_error for r in results] == [False, False]
    assert "VPN slow" in results[1].text


def test_a_wrong_token_is_said_as_such(mcp_server, caplog):
    caplog.set_level(logging.DEBUG)
    listing = list_tools(_endpoint(mcp_server.url, "not-the-token"), LIMITS)
    assert listing.tools == () and listing.error is not None
    assert "Tickets refused pipebot's token (HTTP 401)" in listing.error
    result = call_tool(_endpoint(mcp_server.url, None), "lookup_ticket", {"ticket_id": "T-1"}, LIMITS)
    assert result.is_error and "HTTP 401" in result.text
    assert mcp_server.seen.calls == []
    assert "not-the-token" not in caplog.text


def test_a_tool_slower_than_the_timeout_is_a_timeout(mcp_server):
    result = call_tool(_endpoint(mcp_server.url), "slow", {"seconds": 30}, McpLimits(timeout_s=0.5))
    assert result.is_error
    assert result.text == "Tickets did not answer within 0.5 s."


def test_a_web_page_instead_of_mcp_is_said_as_such():
    with serve_mcp(html=True) as site:
        listing = list_tools(_endpoint(site.url), LIMITS)
    assert listing.error is not None and "answered with a web page (HTML), not MCP" in listing.error


def test_a_server_that_is_gone_is_unreachable():
    with serve_mcp() as gone:
        url = gone.url
    listing = list_tools(_endpoint(url), LIMITS)
    assert listing.error == "Tickets could not be reached (no connection to its address)."


def test_a_5_mb_result_is_cut_to_the_cap_and_says_so(mcp_server):
    result = call_tool(_endpoint(mcp_server.url), "huge", {"size": 5_000_000}, McpLimits(timeout_s=60))
    assert not result.is_error and result.truncated
    assert result.total_chars == 5_000_000
    assert result.text.startswith("x" * 20_000)
    assert result.text.endswith("[truncated: the tool returned 5,000,000 characters; the first 20,000 are shown]")
    assert len(result.text) < 20_100


def test_an_answer_past_the_byte_ceiling_is_not_read_further(mcp_server):
    result = call_tool(
        _endpoint(mcp_server.url), "huge", {"size": 5_000_000}, McpLimits(timeout_s=60, max_answer_bytes=1_000_000)
    )
    assert result.is_error
    assert result.text == "Tickets's answer was larger than 1 MB; pipebot stopped reading it. Ask the tool for less."


def test_the_result_cap_is_a_setting(mcp_server):
    result = call_tool(_endpoint(mcp_server.url), "huge", {"size": 500}, McpLimits(timeout_s=20, result_chars=100))
    assert result.truncated and result.text.startswith("x" * 100 + "\n[truncated: the tool returned 500 characters")


def test_the_tools_own_errors_come_back_as_error_results(mcp_server):
    broken = call_tool(_endpoint(mcp_server.url), "broken", {}, LIMITS)
    assert broken.is_error and "Error executing tool broken" in broken.text
    unknown = call_tool(_endpoint(mcp_server.url), "no_such_tool", {}, LIMITS)
    assert unknown.is_error and "Unknown tool" in unknown.text
    wrong_args = call_tool(_endpoint(mcp_server.url), "lookup_ticket", {"id": 1}, LIMITS)
    assert wrong_args.is_error and "ticket_id" in wrong_args.text


def test_the_rule_is_applied_again_before_each_operation(mcp_server):
    """A server saved while its host was allowed is refused once it no longer is, before
    any connection is made."""
    result = call_tool(_endpoint(mcp_server.url, allowed=frozenset()), "lookup_ticket", {"ticket_id": "T-1"}, LIMITS)
    assert result.is_error and "must start with https://" in result.text
    assert mcp_server.seen.authorizations == []


def test_the_connection_goes_to_the_address_that_was_checked(mcp_server):
    """The name below exists in no DNS: the call can only succeed by connecting to the address
    the rule approved, with the name kept in the URL (and so in the Host header)."""
    url = mcp_server.url.replace("127.0.0.1", "tickets.internal")
    resolved: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        resolved.append(host)
        return ["127.0.0.1"]

    ep = Endpoint("Tickets", url, TOKEN, frozenset({"tickets.internal"}), resolve)
    result = call_tool(ep, "lookup_ticket", {"ticket_id": "T-2"}, LIMITS)
    assert not result.is_error and "VPN slow" in result.text
    assert resolved == ["tickets.internal"]


def test_a_name_answering_a_private_address_is_never_connected_to(mcp_server):
    """Rebinding: the same name, answered with loopback, outside the allowed hosts."""
    url = mcp_server.url.replace("127.0.0.1", "tickets.example.com").replace("http://", "https://")
    ep = Endpoint("Tickets", url, TOKEN, frozenset(), lambda host, port: ["127.0.0.1"])
    result = call_tool(ep, "lookup_ticket", {"ticket_id": "T-1"}, LIMITS)
    assert result.is_error and "loopback" in result.text
    assert mcp_server.seen.authorizations == []
