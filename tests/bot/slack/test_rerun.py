""" "Re-run from…" in Slack, through the real `/slack/events` endpoint against the fake Slack:
the button opens the modal (Step, Agent, Model, Input), picking a step rebuilds it, a bad
step or another workspace's agent is an inline error, and a good submission starts the
branch in the source run's thread."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from slack_sdk import WebClient

from bot.slack.blocks.rerun import RERUN_ACTION, RERUN_STEP_ACTION
from bot.slack.blocks.runs import final_message, parent_message
from bot.slack.reporter import SlackRunReporter
from core.reporter import RunInfo, RunOutcome, StepPlan, StepResult
from core.runs.branch_spec import BranchSpec
from storage.db import transaction
from storage.repos import artifacts as artifact_repo
from storage.repos import pipelines as pipeline_repo
from storage.repos import runs as run_repo
from tests.fakes.slack import GENERAL, TEAM_ID, USER_ID, FakeSlack
from tests.support.runs import HAIKU, make_agent, make_pipeline, with_keys
from tests.support.slack_app import SlackServer

LONG = "x" * 3500


@pytest.fixture
def source(ctx, slack: SlackServer) -> dict[str, Any]:
    """A finished 3-step run posted in a thread of #general, its artifact, and its agents."""
    with_keys(ctx, TEAM_ID, "anthropic")
    agents = [make_agent(ctx, TEAM_ID, f"Agent {n}", HAIKU) for n in (1, 2, 3)]
    pipeline_id = make_pipeline(ctx, TEAM_ID, "Trio", agents)
    root = WebClient(token=slack.fake.token, base_url=slack.fake.url).chat_postMessage(channel=GENERAL, text="run")
    outputs = ["first output", LONG, "third output"]
    with transaction(ctx.sessions) as s:
        pipeline = pipeline_repo.get_pipeline(s, TEAM_ID, pipeline_id)
        run = run_repo.create_run(
            s,
            TEAM_ID,
            pipeline,
            "the input",
            requested_by=USER_ID,
            source="slack",
            channel_id=GENERAL,
            thread_ts=root["ts"],
        )
        run.status, run.output = "succeeded", outputs[-1]
        content = {
            "pipeline": {"id": pipeline_id, "name": "Trio"},
            "input": "the input",
            "output": outputs[-1],
            "status": "succeeded",
            "slack": {"channel_id": GENERAL, "thread_ts": root["ts"]},
            "steps": [
                {
                    "position": n,
                    "status": "succeeded",
                    "agent": {"id": agents[n - 1], "name": f"Agent {n}"},
                    "model": HAIKU,
                    "input": "the input" if n == 1 else outputs[n - 2],
                    "output": outputs[n - 1],
                    "cost_usd": "0.001",
                }
                for n in (1, 2, 3)
            ],
        }
        artifact_id = artifact_repo.insert_for_run(s, TEAM_ID, run, content, models=[HAIKU], cost_usd=Decimal("0.003"))
    return {"agents": agents, "artifact": str(artifact_id), "thread": root["ts"]}


def _open(slack: SlackServer, value: str) -> dict[str, Any]:
    fake = slack.fake
    count = len(fake.calls("views.open"))
    r = slack.post(
        slack.signer.block_actions(
            actions=[{"type": "button", "action_id": RERUN_ACTION, "block_id": "result", "value": value}],
            trigger_id=fake.new_trigger_id(),
        )
    )
    assert r.status_code == 200, r.text
    call = fake.wait_for("views.open", count=count + 1)
    assert call.ok, (call.error, call.response)
    return call.response["view"]


def _inputs(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {b["label"]["text"]: b for b in view["blocks"] if b["type"] == "input"}


def _option_texts(element: dict[str, Any]) -> list[str]:
    opts = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        opts += group["options"]
    return [o["text"]["text"] for o in opts]


def test_the_button_opens_the_modal_and_picking_a_step_rebuilds_it(ctx, slack, source):
    view = _open(slack, f"{source['artifact']}:1")
    inputs = _inputs(view)
    assert list(inputs) == ["Step", "Agent", "Model", "Input"]
    step = inputs["Step"]["element"]
    assert _option_texts(step) == ["Step 1 · Agent 1", "Step 2 · Agent 2", "Step 3 · Agent 3"]
    assert step["initial_option"]["value"] == "3"
    assert inputs["Agent"]["element"]["initial_option"]["text"]["text"] == "Agent 3"
    assert (
        inputs["Model"]["optional"] and inputs["Model"]["element"]["option_groups"][0]["label"]["text"] == "Anthropic"
    )
    # what reached step 3 is longer than a Slack input holds: blank, and the hint says so
    assert "initial_value" not in inputs["Input"]["element"]
    assert "3,500 characters" in inputs["Input"]["hint"]["text"]
    assert len(view["private_metadata"]) <= 3000

    fake = slack.fake
    updates = len(fake.calls("views.update"))
    stored = fake.view(view["id"])
    r = slack.post(slack.signer.block_actions(action_id=RERUN_STEP_ACTION, view=stored, value="2"))
    assert r.status_code == 200
    call = fake.wait_for("views.update", count=updates + 1)
    assert call.ok, call.error
    inputs = _inputs(call.response["view"])
    assert inputs["Agent"]["element"]["initial_option"]["text"]["text"] == "Agent 2"
    assert inputs["Input"]["element"]["initial_value"] == "first output"  # what reached step 2
    assert json.loads(call.response["view"]["private_metadata"])["step_shown"] == 2


def test_bad_step_and_another_workspaces_agent_are_inline_errors(ctx, slack, source):
    stranger = make_agent(ctx, "T0OTHER", "Stranger", HAIKU)
    view = _open(slack, f"{source['artifact']}:1")
    agent_block = _inputs(view)["Agent"]["block_id"]

    forged = dict(view, private_metadata=json.dumps(dict(json.loads(view["private_metadata"]), step_shown=9)))
    state = {
        "values": {
            "step": {
                RERUN_STEP_ACTION: {
                    "type": "static_select",
                    "selected_option": {"value": "9", "text": {"type": "plain_text", "text": "Step 9"}},
                }
            },
            "agent-9": {
                "value": {
                    "type": "static_select",
                    "selected_option": {
                        "value": str(source["agents"][0]),
                        "text": {"type": "plain_text", "text": "Agent 1"},
                    },
                }
            },
        }
    }
    r = slack.post(slack.signer.view_submission(forged, state=state))
    assert r.status_code == 200
    assert r.json()["response_action"] == "errors" and "out of range" in r.json()["errors"]["step"]

    r = slack.post(
        slack.signer.view_submission(
            view, {"Step": "3", "Agent": {"value": str(stranger), "text": {"type": "plain_text", "text": "Stranger"}}}
        )
    )
    errors = r.json()["errors"]
    assert list(errors) == [agent_block] and "not in this workspace" in errors[agent_block]
    with transaction(ctx.sessions) as s:
        assert [r.branch for r in run_repo.latest_runs(s, TEAM_ID)] == [None]  # nothing started


def test_a_good_submission_starts_the_branch_in_the_source_thread(ctx, slack, source):
    fake = slack.fake
    view = _open(slack, f"{source['artifact']}:1")
    before = len(fake.replies(GENERAL, source["thread"]))
    r = slack.post(
        slack.signer.view_submission(view, {"Step": "3", "Agent": str(source["agents"][0]), "Input": "a shorter input"})
    )
    assert r.status_code == 200 and r.text in ("", "null"), r.text
    with transaction(ctx.sessions) as s:
        run = run_repo.latest_runs(s, TEAM_ID)[0]
        spec = BranchSpec.from_json(run.branch)
        assert (run.channel_id, run.thread_ts, run.status, run.requested_by) == (
            GENERAL,
            source["thread"],
            "queued",
            USER_ID,
        )
        steps = [(st.position, st.status, st.cost_usd) for st in run.steps]
    assert spec is not None and (spec.artifact_id, spec.version, spec.from_step) == (source["artifact"], 1, 3)
    assert spec.agent_id == source["agents"][0] and spec.input == "a shorter input"
    assert steps == [(1, "succeeded", Decimal(0)), (2, "succeeded", Decimal(0))]
    replies = fake.replies(GENERAL, source["thread"])
    assert len(replies) == before + 1 and "Re-run from step 3" in json.dumps(replies[-1])

    # the same form submitted again starts nothing more
    r = slack.post(slack.signer.view_submission(view, {"Step": "3", "Agent": str(source["agents"][0])}))
    assert r.status_code == 200 and r.text in ("", "null"), r.text
    with transaction(ctx.sessions) as s:
        assert len([r for r in run_repo.latest_runs(s, TEAM_ID) if r.branch]) == 1
    assert len(fake.replies(GENERAL, source["thread"])) == before + 1


def test_a_stale_button_or_another_workspaces_artifact_says_so(ctx, slack, source):
    for value in ("not-an-artifact:1", "00000000-0000-0000-0000-000000000000:1", f"{source['artifact']}:x"):
        view = _open(slack, value)
        text = json.dumps(view["blocks"])
        assert "out of date" in text or "no longer exists" in text, text
    view = _open(slack, f"{source['artifact']}:5")
    assert "no version 5" in json.dumps(view["blocks"])


def _outcome(status: str = "succeeded") -> RunOutcome:
    return RunOutcome(
        run_id="00000000-0000-0000-0000-000000000001",
        status=status,
        output="final" if status == "succeeded" else None,
        error_kind=None,
        error_message="boom" if status == "failed" else None,
        cost_usd=Decimal("0.001"),
        models=[HAIKU],
        duration_ms=1000,
        artifact_id="0b6f",
        permalink="http://pipebot.test/a/0b6f",
    )


def test_a_branch_thread_shows_reused_steps_with_their_original_cost():
    steps = [StepPlan(n, f"Agent {n}", HAIKU, "Claude Haiku 4.5") for n in (1, 2, 3)]
    with FakeSlack() as fake:
        client = WebClient(token=fake.token, base_url=fake.url, timeout=10)
        text, blocks = parent_message("Trio", USER_ID, "the input")
        parent = client.chat_postMessage(channel=GENERAL, text=text, blocks=[b.to_dict() for b in blocks])["ts"]
        info = RunInfo(
            run_id="00000000-0000-0000-0000-000000000001",
            team_id=TEAM_ID,
            pipeline_name="Trio",
            input="the input",
            requested_by=USER_ID,
            source="slack",
            channel_id=GENERAL,
            thread_ts=parent,
            recipient_team_id=TEAM_ID,
            steps=steps,
            resumed_from=2,
            reused={1: Decimal("0.0123"), 2: None},
        )
        rep = SlackRunReporter(
            client,
            channel_id=GENERAL,
            thread_ts=parent,
            recipient_user_id=USER_ID,
            recipient_team_id=TEAM_ID,
            post_interval=0.0,
        )
        rep.run_started(info)
        rep.step_started(info, steps[2])
        rep.step_finished(info, StepResult(3, "Agent 3", HAIKU, "new", Decimal("0.001"), 10, 5, 100))
        rep.run_finished(info, _outcome())
        [stream] = fake.streams(GENERAL)
    assert stream["tasks"]["step-1"]["output"] == "reused, $0.0123 originally"
    assert stream["tasks"]["step-2"]["output"] == "reused, cost unknown originally"
    assert [stream["tasks"][f"step-{i}"]["status"] for i in (1, 2, 3)] == ["complete"] * 3


def test_the_final_run_message_carries_the_rerun_button():
    for status in ("succeeded", "failed"):
        _, blocks = final_message("Trio", _outcome(status))
        buttons = [el for b in blocks if b.to_dict()["type"] == "actions" for el in b.to_dict()["elements"]]
        rerun = [b for b in buttons if b["action_id"] == RERUN_ACTION]
        assert [b["value"] for b in rerun] == ["0b6f:1"] and rerun[0]["text"]["text"] == "Re-run from…"


def test_the_modal_stays_valid_without_keys_or_agents():
    from bot.slack.blocks.rerun import RerunForm, rerun_modal
    from bot.slack.modal_state import RerunState

    view = rerun_modal(RerunForm("Trio", 2, [(1, "Gone")], 1, [], None, [], "the input"), RerunState("x", 2))
    data = view.to_dict()  # slack_sdk validates the limits here
    assert [b["label"]["text"] for b in data["blocks"] if b["type"] == "input"] == ["Step", "Input"]
    assert json.loads(data["private_metadata"]) == {"artifact_id": "x", "version": 2, "step_shown": 1}
