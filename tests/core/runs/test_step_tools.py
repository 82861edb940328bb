"""A step's tools (DESIGN §12, issue 18 items 1–3): the tools an agent chose reach its model,
the calls it makes run in the worker against a REAL MCP server (tests/support/mcp_server.py)
or at the provider (web search, played by the fake Anthropic API in its wire format), each
is shown to the reporters while it runs and recorded in the step; a server that asks before
every call pauses the run for Allow / Deny, which a worker picks up after a SIGKILL and a
Redis flush, and no model round is paid for twice."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import update

from core.mcp import servers
from core.mcp.tools import server_selector
from core.reporter import ToolCallView
from core.runs.approvals import DecisionResult, decide
from core.runs.executor import execute
from core.runs.intake import start_run
from storage.db import transaction
from storage.models import Agent
from tests.core.mcp.conftest import with_settings
from tests.fakes.llm_base import ServerToolSpec, ToolCallSpec
from tests.support.approvals import Recorder, approvals_of
from tests.support.mcp_server import TOKEN, serve_mcp
from tests.support.runs import (
    HAIKU,
    drain,
    kill_hard,
    make_agent,
    make_pipeline,
    read_run,
    read_steps,
    start_worker,
    with_keys,
)
from tests.support.waiting import wait_until

TOOL = "tickets__lookup_ticket"


@pytest.fixture
def mctx(ctx, fake_anthropic):
    """The test context as a worker in this process: the fake Anthropic API, the loopback
    MCP server's host allowed."""
    return with_settings(ctx, PIPEBOT_MCP_ALLOWED_HOSTS="127.0.0.1", ANTHROPIC_BASE_URL=fake_anthropic.url)


class ToolRecorder(Recorder):
    """Keeps the tool call events too."""

    def tool_call(self, info: Any, step: Any, call: ToolCallView) -> None:
        self.events.append(("tool_call", call))

    def views(self) -> list[ToolCallView]:
        return [v for name, v in self.events if name == "tool_call"]


def _agent_with_tools(ctx, team: str, tools: list[str], name: str = "Helper") -> int:
    """An agent whose tools are set as the agent modal saves them."""
    aid = make_agent(ctx, team, name, HAIKU)
    with transaction(ctx.sessions) as s:
        s.execute(update(Agent).where(Agent.id == aid).values(tools=tools))
    return aid


def _setup(ctx, url: str, *, ask: str = "never", tools: list[str] | None = None) -> None:
    with_keys(ctx, "T1", "anthropic")
    servers.add_server(ctx, "T1", name="Tickets", url=url, token=TOKEN, ask=ask, user_id="U1")
    aid = _agent_with_tools(ctx, "T1", tools or ["current_time", server_selector("Tickets")])
    make_pipeline(ctx, "T1", "Support", [aid])


def _tool_results(request_json: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        block
        for m in request_json["messages"]
        if isinstance(m["content"], list)
        for block in m["content"]
        if block.get("type") == "tool_result"
    ]


def test_an_mcp_tool_is_offered_called_shown_and_recorded(mctx, fake_anthropic):
    with serve_mcp() as server:
        _setup(mctx, server.url)
        fake_anthropic.reply_tool_calls([(TOOL, {"ticket_id": "T-1"}), ("current_time", {})])
        fake_anthropic.reply("The printer is on fire.")
        run = start_run(mctx, "T1", "Support", "what about T-1?", requested_by="U1")
        seen = ToolRecorder()
        outcome = execute(mctx, "T1", run.id, seen)
        assert server.seen.calls == ["lookup_ticket:T-1"]

    assert outcome is not None and outcome.status == "succeeded", outcome
    first, second = fake_anthropic.requests
    offered = {t["name"] for t in first.json["tools"]}
    assert {"current_time", TOOL, "tickets__slow"} <= offered
    results = _tool_results(second.json)
    assert len(results) == 2 and "Printer on fire" in json.dumps(results[0])
    assert not results[0].get("is_error")

    (step,) = read_steps(mctx, run.id)
    mcp_rec, time_rec = step.tool_calls
    assert (mcp_rec["kind"], mcp_rec["label"], mcp_rec["server"], mcp_rec["tool"]) == (
        "mcp",
        "Tickets · lookup_ticket",
        "Tickets",
        "lookup_ticket",
    )
    assert mcp_rec["arguments"] == {"ticket_id": "T-1"} and "Printer on fire" in mcp_rec["result_excerpt"]
    assert mcp_rec["error"] is None and isinstance(mcp_rec["duration_ms"], int)
    assert (time_rec["kind"], time_rec["label"]) == ("builtin", "Current time")

    views = seen.views()
    assert [(v.call_id, v.status) for v in views][:2] == [(views[0].call_id, "running"), (views[0].call_id, "done")]
    assert {v.label for v in views} == {"Tickets · lookup_ticket", "Current time"}
    assert views[0].detail == "" or views[0].detail == "T-1"


def test_an_invented_tool_and_malformed_arguments_go_back_to_the_model_as_errors(mctx, fake_anthropic):
    with serve_mcp() as server:
        _setup(mctx, server.url)
        fake_anthropic.reply_tool_calls([("tickets__drop_tables", {}), ToolCallSpec(TOOL, '{"ticket_id": ')])
        fake_anthropic.reply("Sorry, I could not look it up.")
        run = start_run(mctx, "T1", "Support", "T-1?", requested_by="U1")
        outcome = execute(mctx, "T1", run.id, ToolRecorder())
        assert server.seen.calls == []  # neither reached the server

    assert outcome is not None and outcome.status == "succeeded"
    results = _tool_results(fake_anthropic.requests[1].json)
    assert [r.get("is_error") for r in results] == [True, True]
    assert "no tool called" in json.dumps(results[0])
    (step,) = read_steps(mctx, run.id)
    assert all(rec["error"] for rec in step.tool_calls)


def test_a_removed_server_fails_its_agents_runs_naming_it_before_any_model_call(mctx, fake_anthropic):
    ctx = mctx
    with_keys(ctx, "T1", "anthropic")
    aid = _agent_with_tools(ctx, "T1", [server_selector("Gone")])
    make_pipeline(ctx, "T1", "Support", [aid])
    run = start_run(ctx, "T1", "Support", "hello", requested_by="U1")
    outcome = execute(ctx, "T1", run.id, ToolRecorder())
    assert outcome is not None and outcome.status == "failed"
    assert outcome.error_kind == "tool_unavailable" and "Gone" in (outcome.error_message or "")
    assert fake_anthropic.requests == []


def test_web_search_is_asked_for_recorded_and_its_fee_counted(mctx, fake_anthropic):
    ctx = mctx
    with_keys(ctx, "T1", "anthropic")
    aid = _agent_with_tools(ctx, "T1", ["web_search"])
    make_pipeline(ctx, "T1", "Research", [aid])
    fake_anthropic.reply(
        "Pipebot chains agents.", server_tools=[ServerToolSpec("web_search", {"query": "what is pipebot"})]
    )
    run = start_run(ctx, "T1", "Research", "what is pipebot?", requested_by="U1")
    seen = ToolRecorder()
    outcome = execute(ctx, "T1", run.id, seen)
    assert outcome is not None and outcome.status == "succeeded", outcome

    (req,) = fake_anthropic.requests
    assert [t["name"] for t in req.json["tools"]] == ["web_search"]
    (step,) = read_steps(ctx, run.id)
    (rec,) = step.tool_calls
    assert (rec["kind"], rec["label"], rec["arguments"]) == ("web", "Web search", {"query": "what is pipebot"})
    assert Decimal(rec["fee_usd"]) == Decimal("0.01")
    assert step.usage["web_searches"] == 1
    assert step.cost_usd is not None and step.cost_usd >= Decimal("0.01")  # the fee is in the step's cost
    assert any(v.label == "Web search" and v.detail == "what is pipebot" for v in seen.views())


def test_a_call_that_must_be_allowed_pauses_the_run_and_goes_on_after_a_kill_and_a_redis_flush(
    mctx, fake_anthropic, worker_env
):
    """Allow: the paused step goes on from its kept conversation (one more model round, not
    two), the tool runs once, the cost of both rounds is the step's."""
    env = dict(worker_env, PIPEBOT_MCP_ALLOWED_HOSTS="127.0.0.1")
    with serve_mcp() as server:
        _setup(mctx, server.url, ask="every_call", tools=[server_selector("Tickets")])
        fake_anthropic.reply_tool_calls([(TOOL, {"ticket_id": "T-2"})], text="Let me check.")
        run = start_run(mctx, "T1", "Support", "and T-2?", requested_by="U1")
        drain(env)
        assert read_run(mctx, "T1", run.id).status == "waiting"
        assert server.seen.calls == [] and len(fake_anthropic.requests) == 1
        (approval,) = approvals_of(mctx, run.id)
        assert approval.kind == "tool_call"
        assert approval.payload["label"] == "Tickets · lookup_ticket"
        assert approval.payload["arguments"] == {"ticket_id": "T-2"}
        (step,) = read_steps(mctx, run.id)
        assert step.status == "waiting" and step.cost_usd and step.cost_usd > 0  # the first round, counted

        # someone else may not allow it; whoever started the run may
        assert decide(mctx, "T1", approval.id, "U2", "approve").result == DecisionResult.NOT_ALLOWED
        kill_hard(start_worker(env))  # every worker gone, and Redis with them
        mctx.redis.flushdb()
        fake_anthropic.reply("T-2 is closed.")
        assert decide(mctx, "T1", approval.id, "U1", "approve").result == DecisionResult.APPROVED
        drain(env)
        wait_until(lambda: read_run(mctx, "T1", run.id).status == "succeeded", timeout=30)
        assert server.seen.calls == ["lookup_ticket:T-2"]

    assert len(fake_anthropic.requests) == 2  # nothing asked twice
    resumed = fake_anthropic.requests[1].json
    assert "VPN slow" in json.dumps(_tool_results(resumed))
    assert "and T-2?" in json.dumps(resumed["messages"][0]) and len(resumed["messages"]) == 3
    (step,) = read_steps(mctx, run.id)
    assert step.status == "succeeded" and step.output == "T-2 is closed."
    (rec,) = step.tool_calls
    assert rec["approval"] == {"verdict": "allowed", "by": "U1"}
    assert step.usage["input_tokens"] > 0 and len(step.raw_usage) == 2  # both rounds, once each


def test_a_denied_call_gives_the_model_a_refusal_and_the_run_goes_on(mctx, fake_anthropic, worker_env):
    env = dict(worker_env, PIPEBOT_MCP_ALLOWED_HOSTS="127.0.0.1")
    with serve_mcp() as server:
        _setup(mctx, server.url, ask="every_call", tools=[server_selector("Tickets")])
        fake_anthropic.reply_tool_calls([(TOOL, {"ticket_id": "T-1"})])
        run = start_run(mctx, "T1", "Support", "T-1?", requested_by="U1")
        drain(env)
        (approval,) = approvals_of(mctx, run.id)
        fake_anthropic.reply("I was not allowed to look.")
        assert decide(mctx, "T1", approval.id, "U9", "reject", is_admin=True).result == DecisionResult.REJECTED
        drain(env)
        assert server.seen.calls == []

    assert read_run(mctx, "T1", run.id).status == "succeeded"
    (result,) = _tool_results(fake_anthropic.requests[1].json)
    assert result.get("is_error") and "denied" in json.dumps(result)
    (step,) = read_steps(mctx, run.id)
    assert step.tool_calls[0]["approval"] == {"verdict": "denied", "by": "U9"}


def test_the_last_round_keeps_the_tools_defined_but_lets_the_model_call_none(mctx, fake_anthropic):
    """A model that keeps calling tools gets MAX_TOOL_ROUNDS rounds of them; the next request
    still defines the tools (its history holds tool calls) with tool_choice none."""
    from core.tools import MAX_TOOL_ROUNDS

    with_keys(mctx, "T1", "anthropic")
    make_pipeline(mctx, "T1", "Clock", [_agent_with_tools(mctx, "T1", ["current_time"])])
    for _ in range(MAX_TOOL_ROUNDS):
        fake_anthropic.reply_tool_calls([("current_time", {})])
    fake_anthropic.reply("It is late.")
    run = start_run(mctx, "T1", "Clock", "what time is it?", requested_by="U1")
    outcome = execute(mctx, "T1", run.id, ToolRecorder())
    assert outcome is not None and outcome.status == "succeeded" and outcome.output == "It is late."
    requests = fake_anthropic.requests
    assert len(requests) == MAX_TOOL_ROUNDS + 1
    assert all("tool_choice" not in r.json for r in requests[:-1])
    last = requests[-1].json
    assert last["tool_choice"] == {"type": "none"} and [t["name"] for t in last["tools"]] == ["current_time"]
    (step,) = read_steps(mctx, run.id)
    assert len(step.tool_calls) == MAX_TOOL_ROUNDS
