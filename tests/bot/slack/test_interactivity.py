"""Interactivity payloads as Slack sends them from messages, modals and App Home, with
values that point at another workspace's objects, stale trigger ids and odd states."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.slack.blocks import artifacts as artifact_blocks
from bot.slack.blocks import common as common_blocks
from bot.slack.blocks import home as home_blocks
from bot.slack.blocks import pipelines as pipeline_blocks
from bot.slack.blocks import runs as run_blocks
from core.context import AppContext
from storage.db import transaction
from storage.repos import agents as agent_repo
from storage.repos import runs as run_repo
from tests.fakes.slack import GENERAL, TEAM_ID, USER_ID
from tests.support.runs import make_agent, make_pipeline, with_keys
from tests.support.slack_app import SlackServer

OTHER = "T0OTHERWS"


def _agent(ctx: AppContext, team: str, agent_id: int) -> Any:
    with transaction(ctx.sessions) as s:
        a = agent_repo.get_agent(s, team, agent_id)
        if a is not None:
            s.expunge(a)
        return a


@pytest.fixture
def foreign(ctx: AppContext) -> dict[str, int]:
    """Another workspace's agent and pipeline."""
    with_keys(ctx, OTHER, "anthropic")
    agent = make_agent(ctx, OTHER, "Secret agent")
    return {"agent": agent, "pipeline": make_pipeline(ctx, OTHER, "Secret plan", [agent])}


def _button(action_id: str, value: str) -> list[dict[str, Any]]:
    return [
        {
            "type": "button",
            "action_id": action_id,
            "block_id": "b",
            "value": value,
            "text": {"type": "plain_text", "text": "x"},
        }
    ]


def test_delete_button_for_another_workspaces_agent_is_refused(
    ctx: AppContext, slack: SlackServer, foreign: dict[str, int]
) -> None:
    hook = slack.fake.new_response_url()
    r = slack.post(
        slack.signer.block_actions(
            _button(common_blocks.DELETE_AGENT, json.dumps({"id": foreign["agent"]})), response_url=hook
        )
    )
    assert r.status_code == 200
    assert "already deleted" in slack.reply_text(hook)
    assert _agent(ctx, OTHER, foreign["agent"]) is not None


def test_home_buttons_for_another_workspaces_pipeline_show_nothing_of_it(
    ctx: AppContext, slack: SlackServer, foreign: dict[str, int]
) -> None:
    for action in (home_blocks.HOME_EDIT_PIPELINE, home_blocks.HOME_RUN_PIPELINE):
        count = len(slack.fake.calls("views.open"))
        trigger = slack.fake.new_trigger_id()
        r = slack.post(
            slack.signer.block_actions(
                _button(action, str(foreign["pipeline"])),
                trigger_id=trigger,
                view={"id": "VHOME", "type": "home", "blocks": []},
            )
        )
        assert r.status_code == 200
        call = slack.fake.wait_for("views.open", count=count + 1)
        assert "Secret" not in json.dumps(call.params["view"])


def test_agent_modal_submission_cannot_edit_another_workspaces_agent(
    ctx: AppContext, slack: SlackServer, foreign: dict[str, int]
) -> None:
    with_keys(ctx, TEAM_ID, "anthropic")
    view = slack.open_modal("agent new")
    view["private_metadata"] = json.dumps({"channel_id": GENERAL, "agent_id": foreign["agent"]})
    r = slack.post(
        slack.signer.view_submission(
            view, {"Name": "Hijacked", "System prompt": "x", "Model": "anthropic:claude-haiku-4-5"}
        )
    )
    assert r.status_code == 200
    assert r.json()["response_action"] == "errors"
    assert _agent(ctx, OTHER, foreign["agent"]).name == "Secret agent"


def test_run_modal_submission_with_another_workspaces_pipeline_is_refused(
    ctx: AppContext, slack: SlackServer, foreign: dict[str, int]
) -> None:
    view = {
        "id": "VRUN1",
        "type": "modal",
        "callback_id": run_blocks.RUN_MODAL_CALLBACK,
        "private_metadata": "{}",
        "blocks": [],
        "team_id": TEAM_ID,
    }
    state = {
        "values": {
            run_blocks.PIPELINE_BLOCK: {
                run_blocks.FIELD: {"type": "static_select", "selected_option": {"value": str(foreign["pipeline"])}}
            },
            run_blocks.INPUT_BLOCK: {run_blocks.FIELD: {"type": "plain_text_input", "value": "go"}},
        }
    }
    r = slack.post(slack.signer.view_submission(view, state=state))
    assert r.status_code == 200 and r.json()["response_action"] == "errors"
    with transaction(ctx.sessions) as s:
        assert list(run_repo.latest_runs(s, OTHER, limit=5)) == []


@pytest.mark.parametrize("value", ["00000000-0000-0000-0000-000000000000", "not-a-uuid", "", "' OR 1=1 --"])
def test_artifact_view_of_unknown_or_garbage_id_says_so(ctx: AppContext, slack: SlackServer, value: str) -> None:
    count = len(slack.fake.calls("views.open"))
    r = slack.post(
        slack.signer.block_actions(
            _button(artifact_blocks.VIEW_ARTIFACT, value), trigger_id=slack.fake.new_trigger_id()
        )
    )
    assert r.status_code == 200
    call = slack.fake.wait_for("views.open", count=count + 1)
    assert call.ok and "doesn't exist" in json.dumps(call.params["view"])


@pytest.mark.parametrize(
    "action", [home_blocks.HOME_NEW_AGENT, home_blocks.HOME_RUN_PIPELINE, home_blocks.HOME_EDIT_PIPELINE]
)
def test_home_button_with_an_expired_trigger_tells_the_user(ctx: AppContext, slack: SlackServer, action: str) -> None:
    with_keys(ctx, TEAM_ID, "anthropic")
    agent = make_agent(ctx, TEAM_ID, "Drafter")
    pipeline = make_pipeline(ctx, TEAM_ID, "Essay", [agent])
    before = len(slack.fake.calls("chat.postMessage"))
    trigger = slack.fake.new_trigger_id(age=3.5)
    r = slack.post(
        slack.signer.block_actions(
            _button(action, str(pipeline)), trigger_id=trigger, view={"id": "VHOME", "type": "home", "blocks": []}
        )
    )
    assert r.status_code == 200
    call = slack.fake.wait_for("chat.postMessage", count=before + 1)
    assert call.params["channel"] == USER_ID and "3 seconds" in call.params["text"]


def test_message_shortcut_with_an_expired_trigger_tells_the_user(ctx: AppContext, slack: SlackServer) -> None:
    with_keys(ctx, TEAM_ID, "anthropic")
    make_pipeline(ctx, TEAM_ID, "Essay", [make_agent(ctx, TEAM_ID, "Drafter")])
    hook = slack.fake.new_response_url()
    r = slack.post(
        slack.signer.message_action(
            run_blocks.MESSAGE_SHORTCUT,
            {"type": "message", "ts": "1.1", "text": "hello", "user": USER_ID},
            trigger_id=slack.fake.new_trigger_id(age=3.5),
            response_url=hook,
        )
    )
    assert r.status_code == 200
    assert "3 seconds" in slack.reply_text(hook)


def test_view_submission_with_missing_and_extra_state(ctx: AppContext, slack: SlackServer) -> None:
    with_keys(ctx, TEAM_ID, "anthropic")
    view = slack.open_modal("agent new")
    for state in (
        {"values": {}},
        {},
        {"values": {"name": {}, "junk": {"x": {"type": "plain_text_input", "value": "y"}}}},
    ):
        r = slack.post(slack.signer.view_submission(view, state=state))
        assert r.status_code == 200 and r.content and r.json()["response_action"] == "errors", (state, r.text)
    make_agent(ctx, TEAM_ID, "Drafter")
    view = slack.open_modal("pipeline new")
    assert view["callback_id"] == pipeline_blocks.PIPELINE_CALLBACK
    for state in ({"values": {}}, {}):
        r = slack.post(slack.signer.view_submission(view, state=state))
        assert r.status_code == 200 and r.content and r.json()["response_action"] == "errors", (state, r.text)


def test_values_at_the_limits_are_saved(ctx: AppContext, slack: SlackServer) -> None:
    with_keys(ctx, TEAM_ID, "anthropic")
    view = slack.open_modal("agent new")
    prompt_el = next(b for b in view["blocks"] if b.get("block_id") == "system_prompt")["element"]
    assert prompt_el.get("max_length", 3000) >= 3000
    name = ("🦦🚀 " + "Ω" * 100)[:80]
    prompt = ("Be brief & <kind>. " * 200)[:3000]
    r = slack.post(
        slack.signer.view_submission(
            view, {"Name": name, "System prompt": prompt, "Model": "anthropic:claude-haiku-4-5"}
        )
    )
    assert r.status_code == 200 and not r.content, r.text
    with transaction(ctx.sessions) as s:
        [agent] = agent_repo.list_agents(s, TEAM_ID)
        assert agent.name == name and agent.system_prompt == prompt
    assert "Created" in slack.reply_text(view["_response_url"])


def test_artifact_view_with_an_expired_trigger_tells_the_user(ctx: AppContext, slack: SlackServer) -> None:
    hook = slack.fake.new_response_url()
    r = slack.post(
        slack.signer.block_actions(
            _button(artifact_blocks.VIEW_ARTIFACT, "00000000-0000-0000-0000-000000000000"),
            trigger_id=slack.fake.new_trigger_id(age=3.5),
            response_url=hook,
        )
    )
    assert r.status_code == 200
    assert "3 seconds" in slack.reply_text(hook)
