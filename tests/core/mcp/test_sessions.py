"""A step's MCP sessions (core/mcp/sessions.py) against the REAL test server: one session per
server serves a step's calls, a call that breaks the session leaves the next one a fresh
session, every failure is an error value, and closing ends the thread."""

from __future__ import annotations

import threading

from core.mcp.client import Endpoint, McpLimits, call_tool
from core.mcp.sessions import StepSessions
from tests.support.mcp_server import TOKEN, serve_mcp

ALLOWED = frozenset({"127.0.0.1"})


def _threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name == "mcp-sessions"}


def test_a_steps_calls_share_one_session_and_answer_like_single_calls():
    with serve_mcp() as server:
        ep = Endpoint("Tickets", server.url, TOKEN, ALLOWED)
        single = call_tool(ep, "lookup_ticket", {"ticket_id": "T-1"}, McpLimits())
        per_call = len(server.seen.authorizations)
        server.seen.authorizations.clear()
        with StepSessions(McpLimits()) as sessions:
            results = [sessions.call(ep, "lookup_ticket", {"ticket_id": t}) for t in ("T-1", "T-2", "T-1")]
            assert _threads() == {"mcp-sessions"}
        assert [r.is_error for r in results] == [False, False, False]
        assert results[0].text == single.text and "VPN slow" in results[1].text
        assert all(r.duration_ms >= 0 for r in results)
        assert server.seen.calls[-3:] == ["lookup_ticket:T-1", "lookup_ticket:T-2", "lookup_ticket:T-1"]
        # three calls on one session cost far fewer requests than three sessions
        assert len(server.seen.authorizations) < 2 * per_call
    assert _threads() == set()


def test_a_call_that_times_out_is_an_error_and_the_next_call_gets_a_fresh_session():
    with serve_mcp() as server:
        ep = Endpoint("Tickets", server.url, TOKEN, ALLOWED)
        with StepSessions(McpLimits(timeout_s=1.0)) as sessions:
            slow = sessions.call(ep, "slow", {"seconds": 5})
            after = sessions.call(ep, "lookup_ticket", {"ticket_id": "T-2"})
        assert slow.is_error and "1" in slow.text
        assert not after.is_error and "VPN slow" in after.text
        assert server.seen.calls.count("slow") == 1  # never sent again


def test_a_wrong_token_and_a_refused_url_are_error_values():
    with serve_mcp() as server:
        wrong = Endpoint("Tickets", server.url, "not-the-token", ALLOWED)
        refused = Endpoint("Tickets", server.url, TOKEN, frozenset())  # loopback, not allowed
        with StepSessions(McpLimits()) as sessions:
            bad = sessions.call(wrong, "lookup_ticket", {"ticket_id": "T-1"})
            no = sessions.call(refused, "lookup_ticket", {"ticket_id": "T-1"})
        assert bad.is_error and ("401" in bad.text or "token" in bad.text.lower())
        assert no.is_error and "PIPEBOT_MCP_ALLOWED_HOSTS" in no.text
        assert server.seen.calls == []


def test_closing_sessions_that_never_started_is_free():
    sessions = StepSessions(McpLimits())
    sessions.close()
    assert _threads() == set()
