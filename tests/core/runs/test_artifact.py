"""core.runs.artifact: the artifact content as an explicit model that old content still fits."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from core.runs.artifact import Artifact, TokenUsage
from core.runs.executor import write_outcome
from storage.db import transaction
from storage.repos import agents as agent_repo
from storage.repos import artifacts as artifact_repo
from storage.repos import pipelines as pipeline_repo
from storage.repos import runs as run_repo
from tests.support.artifact_data import make_artifact


def test_current_content_round_trips_exactly() -> None:
    content = make_artifact()
    art = Artifact.from_content(copy.deepcopy(content))
    assert art.to_content() == content
    assert art.cost_usd == Decimal("0.001234") and art.steps[1].cost_usd is None
    assert art.created_at == datetime(2026, 11, 24, 10, tzinfo=UTC)
    assert art.pipeline is not None and art.pipeline.id == 12 and art.pipeline_name == "Weekly digest"
    assert art.steps[0].agent is not None and art.steps[0].agent.max_output_tokens == 1024
    assert art.slack is not None and art.slack.thread_ts == "1700000000.000100"
    assert json.loads(json.dumps(art.to_content())) == content  # JSON-ready: no Decimal, no datetime


def test_content_the_executor_writes_round_trips(ctx: Any) -> None:
    with transaction(ctx.sessions) as s:
        agent = agent_repo.create_agent(
            s, "T1", name="Writer", model="anthropic:claude-haiku-4-5", system_prompt="Be brief."
        )
        pipeline = pipeline_repo.create_pipeline(s, "T1", "Digest", [agent.id])
        run = run_repo.create_run(s, "T1", pipeline, "the input", requested_by="U1")
        step_id = run_repo.start_step(
            s,
            run.id,
            1,
            agent_id=agent.id,
            model="anthropic:claude-haiku-4-5",
            agent_snapshot={"name": "Writer", "model": "anthropic:claude-haiku-4-5"},
            step_input="the input",
        )
        run_repo.finish_step(s, step_id, status="succeeded", output="done")
        run_id = run.id
    aid = write_outcome(ctx, "T1", run_id, status="succeeded", output="done").artifact_id
    with transaction(ctx.sessions) as s:
        stored = dict(artifact_repo.get_artifact(s, "T1", aid).content)
    art = Artifact.from_content(stored)
    assert art.to_content() == stored
    assert art.status == "succeeded" and art.output == "done" and art.requested_by == "U1"
    assert [(st.position, st.agent_name, st.output) for st in art.steps] == [(1, "Writer", "done")]
    assert art.models_used() == [("anthropic:claude-haiku-4-5", "Claude Haiku 4.5")]
    assert art.model_extra == {}  # every key the executor writes is a field of the model


def test_old_content_with_missing_keys_parses_with_defaults() -> None:
    old = {
        "status": "succeeded",
        "pipeline": {"name": "Digest"},
        "output": "hi",
        "steps": [{"position": 1, "output": "hi", "agent": {"name": "Writer"}}],
    }
    art = Artifact.from_content(old)
    assert art.version == 1 and art.run_id is None and art.cost_usd is None and art.models == []
    assert art.usage is None and art.slack is None and art.error is None and art.created_at is None
    step = art.steps[0]
    assert step.usage is None and step.latency_ms is None and step.error is None and step.model_ref == ""
    assert step.agent is not None and step.agent.temperature is None and step.agent.tools == []
    # nothing was invented: the export shows what was stored
    assert art.to_content() == old


def test_unknown_keys_are_kept_at_every_level() -> None:
    content = make_artifact(review={"by": "U1", "step": 2}, tags=["x"])
    content["steps"][0]["pinned"] = True
    content["steps"][0]["agent"]["persona"] = {"tone": "dry"}
    content["usage"]["reasoning_tokens"] = 9
    content["pipeline"]["color"] = "blue"
    art = Artifact.from_content(copy.deepcopy(content))
    assert art.model_extra == {"review": {"by": "U1", "step": 2}, "tags": ["x"]}
    assert art.steps[0].model_extra == {"pinned": True}
    assert art.to_content() == content


def test_a_branch_artifact_reads_its_lineage_and_reused_steps() -> None:
    changes = {"agent": {"from": "Summariser", "to": "Critic"}}
    content = make_artifact(
        branch={"parent_artifact_id": "a1", "parent_version": 2, "from_step": 2, "changes": changes}
    )
    content["steps"][0].update(reused=True, original_cost_usd="0.0008")
    art = Artifact.from_content(copy.deepcopy(content))
    assert art.branch is not None and art.branch.from_step == 2 and art.branch.changes == changes
    assert art.steps[0].reused is True and art.steps[0].original_cost_usd == Decimal("0.0008")
    assert art.steps[1].reused is None
    assert art.model_extra == {} and art.to_content() == content


def test_the_write_path_refuses_a_field_the_model_does_not_name() -> None:
    content = make_artifact()
    assert Artifact.for_write(**copy.deepcopy(content)).to_content() == content
    with pytest.raises(ValidationError, match="tags"):
        Artifact.for_write(**make_artifact(tags=["x"]))
    nested = make_artifact()
    nested["steps"][1]["retries"] = []
    with pytest.raises(ValidationError, match="retries"):
        Artifact.for_write(**nested)
    nested = make_artifact()
    nested["slack"]["permalink"] = "https://x"
    with pytest.raises(ValidationError, match="permalink"):
        Artifact.for_write(**nested)
    # an agent snapshot is copied, not named: a branch of an old artifact keeps its keys
    old_agent = make_artifact()
    old_agent["steps"][0]["agent"]["persona"] = "dry"
    assert Artifact.for_write(**copy.deepcopy(old_agent)).to_content() == old_agent


def test_odd_values_read_as_missing_not_as_errors() -> None:
    art = Artifact.from_content(
        {
            "version": "x",
            "pipeline": "Old style name",
            "models": "not-a-list",
            "created_at": "not a date",
            "duration_ms": "n/a",
            "cost_usd": "abc",
            "usage": "bad",
            "error": "plain string error",
            "steps": [
                {
                    "agent": "Bare name",
                    "usage": "bad",
                    "cost_usd": "abc",
                    "latency_ms": "n/a",
                    "position": "x",
                    "error": {"type": "timeout", "detail": "took too long"},
                },
                "junk",
                None,
            ],
        }
    )
    assert art.version == 1 and art.pipeline_name == "Old style name" and art.models == []
    assert art.created_at is None and art.duration_ms is None and art.cost_usd is None and art.usage is None
    assert art.error is not None and (art.error.kind, art.error.message) == ("error", "plain string error")
    assert len(art.steps) == 1
    step = art.steps[0]
    assert step.agent_name == "Bare name" and step.position is None and step.cost_usd is None
    assert step.error is not None and (step.error.kind, step.error.message) == ("timeout", "took too long")
    assert Artifact.from_content(None).steps == [] and Artifact.from_content("junk").status is None
    assert Artifact.from_content({"error": {}}).error is None and Artifact.from_content({"error": ""}).error is None


def test_derived_values_for_artifacts_that_lack_them() -> None:
    content = make_artifact()
    del content["usage"], content["models"], content["duration_ms"]
    art = Artifact.from_content(content)
    assert art.elapsed_ms() == 3400  # from started_at / finished_at
    usage = art.total_usage()
    assert usage is not None and (usage.input_tokens, usage.output_tokens, usage.cache_read_tokens) == (1520, 812, None)
    assert art.models_used() == [
        ("anthropic:claude-haiku-4-5", "Claude Haiku 4.5"),
        ("openai:gpt-5-mini", "GPT-5 mini"),
    ]
    assert Artifact.from_content({}).total_usage() is None and Artifact.from_content({}).elapsed_ms() is None
    assert Artifact.from_content({"created_at": None, "finished_at": "2026-11-24T10:00:00Z"}).when == datetime(
        2026, 11, 24, 10, tzinfo=UTC
    )
    assert art.step_at(2) is not None and art.step_at(2).agent_name == "Editor" and art.step_at(9) is None


@pytest.mark.parametrize(
    "left, right, total",
    [
        (TokenUsage(input_tokens=1), TokenUsage(output_tokens=2), (1, 2, None, None)),
        (TokenUsage(), TokenUsage(), (None, None, None, None)),
        (TokenUsage(input_tokens=1, cache_read_tokens=3), TokenUsage(input_tokens=4), (5, None, 3, None)),
    ],
)
def test_usage_adds_up_and_keeps_unknown_apart_from_zero(
    left: TokenUsage, right: TokenUsage, total: tuple[int | None, ...]
) -> None:
    s = left + right
    assert (s.input_tokens, s.output_tokens, s.cache_read_tokens, s.cache_write_tokens) == total
