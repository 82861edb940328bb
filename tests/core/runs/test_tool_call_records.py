"""A step's tool calls reach its artifact (DESIGN §12 "Live and recorded"): the executor's
one writer (core/runs/outcome.py) copies ``run_steps.tool_calls`` into each step's content,
and the artifact model reads them back; a step without any keeps the old shape."""

from __future__ import annotations

import copy
from typing import Any

from core.runs.artifact import Artifact
from core.runs.executor import write_outcome
from storage.db import transaction
from storage.repos import agents as agent_repo
from storage.repos import artifacts as artifact_repo
from storage.repos import pipelines as pipeline_repo
from storage.repos import runs as run_repo
from tests.support.artifact_data import make_artifact
from tests.support.tool_call_data import SCRIPT, mcp_call, web_search

HAIKU = "anthropic:claude-haiku-4-5"


def _two_step_run(ctx: Any, calls: list[dict[str, Any]] | None) -> str:
    """A finished two-step run whose first step stored ``calls``; its artifact id."""
    with transaction(ctx.sessions) as s:
        agent = agent_repo.create_agent(s, "T1", name="Researcher", model=HAIKU, system_prompt="Look it up.")
        pipeline = pipeline_repo.create_pipeline(s, "T1", "Research", [agent.id, agent.id])
        run = run_repo.create_run(s, "T1", pipeline, "pizza?", requested_by="U1")
        for position, tool_calls in ((1, calls), (2, None)):
            step_id = run_repo.start_step(
                s,
                run.id,
                position,
                agent_id=agent.id,
                model=HAIKU,
                agent_snapshot={"name": "Researcher", "model": HAIKU},
                step_input="pizza?",
            )
            run_repo.finish_step(s, step_id, status="succeeded", output=f"out {position}", tool_calls=tool_calls)
        run_id = run.id
    return write_outcome(ctx, "T1", run_id, status="succeeded", output="out 2").artifact_id or ""


def test_the_artifact_lists_each_steps_tool_calls_in_order(ctx: Any) -> None:
    calls = [web_search(), mcp_call(arguments={"q": SCRIPT}, result=SCRIPT), mcp_call("close_ticket", error="boom")]
    aid = _two_step_run(ctx, calls)
    with transaction(ctx.sessions) as s:
        stored = dict(artifact_repo.get_artifact(s, "T1", aid).content)
    first, second = stored["steps"]
    assert first["tool_calls"] == calls  # stored as recorded: every reader escapes
    assert "tool_calls" not in second  # none made: the old shape
    art = Artifact.from_content(stored)
    assert [c["label"] for c in art.steps[0].tool_calls] == [
        "Web search",
        "Tickets · lookup_ticket",
        "Tickets · close_ticket",
    ]
    assert art.steps[1].tool_calls == []
    assert art.to_content() == stored


def test_odd_tool_call_values_read_as_missing() -> None:
    content = make_artifact()
    content["steps"][0]["tool_calls"] = [web_search(), "not a record", 7, None]
    content["steps"][1]["tool_calls"] = "a string"
    art = Artifact.from_content(copy.deepcopy(content))
    assert [c["label"] for c in art.steps[0].tool_calls] == ["Web search"]
    assert art.steps[1].tool_calls == []
