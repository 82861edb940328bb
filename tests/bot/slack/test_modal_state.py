"""Typed modal state (bot/slack/modal_state.py): each modal's private_metadata round-trips
through the size-checked codec with real field names, and hostile or truncated metadata
gives a clear message, never an exception; through the real endpoint, the run modal and the
re-run modal answer a forged state with an inline error and start nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.slack.blocks import rerun as rerun_blocks
from bot.slack.blocks import runs as run_blocks
from bot.slack.modal_state import (
    STATE_UNREADABLE,
    AgentModalState,
    CompareState,
    EditState,
    ModalState,
    PipelineModalState,
    RerunState,
    RunModalState,
    SettingsState,
    StateUnreadable,
)
from tests.fakes.slack import GENERAL, TEAM_ID, USER_ID
from tests.support.runs import all_runs, make_agent, make_pipeline, with_keys
from tests.support.slack_app import SlackServer

STATES: list[ModalState] = [
    RunModalState(from_message=True, channel_id="C1", thread_ts="1.2", message_ts="1.3", channel_name="general"),
    RunModalState(),
    RerunState("0b6f", 2, 3, "C1", None),
    EditState("0b6f", 4, "C1", "1.2"),
    CompareState("0b6f"),
    AgentModalState(7, "C1", "https://hooks.slack.com/x"),
    PipelineModalState(3, 2, "C1", None, ("Deleted agent", None)),
    SettingsState("C1", "https://hooks.slack.com/x"),
]


@pytest.mark.parametrize("state", STATES, ids=lambda s: type(s).__name__)
def test_each_state_round_trips_with_named_fields(state: ModalState) -> None:
    text = state.encode()
    assert type(state).decode(text) == state
    assert all(len(key) > 2 for key in json.loads(text))  # real names, not one-letter keys


HOSTILE_METADATA = [
    None,
    "",
    '{"artifact_id": "0b6f", "vers',  # truncated
    "[1, 2]",
    '"0b6f"',
    '{"artifact_id": 7}',
    '{"artifact_id": "0b6f", "version": "2"}',
    '{"artifact_id": "0b6f", "version": true}',
    '{"artifact_id": "0b6f", "step_shown": {"$gt": 1}}',
    "\x00\ud800",
]


@pytest.mark.parametrize("text", HOSTILE_METADATA)
def test_hostile_or_truncated_metadata_is_a_clear_message(text: str | None) -> None:
    with pytest.raises(StateUnreadable) as err:
        RerunState.decode(text)
    assert str(err.value) == STATE_UNREADABLE and err.value.detail.startswith("RerunState")


def test_a_list_field_holds_text_only() -> None:
    with pytest.raises(StateUnreadable):
        PipelineModalState.decode('{"deleted_agents": [{"x": 1}]}')


def test_the_response_url_goes_first_when_the_limit_is_near() -> None:
    text = AgentModalState(1, "C" * 1_500, "https://hooks.slack.com/" + "x" * 1_500).encode()
    assert AgentModalState.decode(text) == AgentModalState(1, "C" * 1_500, None)


def test_a_state_past_slacks_limit_is_refused_when_written() -> None:
    with pytest.raises(ValueError):
        RunModalState(channel_name="x" * 3_001).encode()


def _run_modal(slack: SlackServer) -> dict[str, Any]:
    count = len(slack.fake.calls("views.open"))
    r = slack.post(
        slack.signer.message_action(
            run_blocks.MESSAGE_SHORTCUT,
            {"type": "message", "ts": "1700000000.000100", "text": "otters", "user": USER_ID},
            trigger_id=slack.fake.new_trigger_id(),
        )
    )
    assert r.status_code == 200
    return slack.fake.wait_for("views.open", count=count + 1).response["view"]


@pytest.mark.parametrize("metadata", ['{"from_message": "yes"}', '{"from_mess', "null"])
def test_the_run_modal_answers_a_forged_state_inline_and_starts_nothing(ctx, slack: SlackServer, metadata) -> None:
    with_keys(ctx, TEAM_ID, "anthropic")
    make_pipeline(ctx, TEAM_ID, "Essay", [make_agent(ctx, TEAM_ID, "Drafter")])
    view = _run_modal(slack)
    assert json.loads(view["private_metadata"])["channel_id"] == GENERAL
    pipeline_id = next(
        o["value"]
        for b in view["blocks"]
        if b.get("block_id") == run_blocks.PIPELINE_BLOCK
        for o in b["element"]["options"]
    )
    forged = dict(view, private_metadata=metadata)
    r = slack.post(slack.signer.view_submission(forged, {"Pipeline": pipeline_id, "Input": "otters"}))
    assert r.status_code == 200
    assert r.json() == {"response_action": "errors", "errors": {run_blocks.PIPELINE_BLOCK: STATE_UNREADABLE}}
    assert all_runs(ctx, TEAM_ID) == [] and not slack.fake.calls("chat.postMessage")


def test_the_rerun_modal_answers_a_forged_state_inline(ctx, slack: SlackServer) -> None:
    view = {
        "id": "V0FORGED",
        "type": "modal",
        "callback_id": rerun_blocks.RERUN_CALLBACK,
        "private_metadata": '{"artifact_id": ["x"]}',
        "blocks": [],
        "state": {"values": {}},
    }
    r = slack.post(slack.signer.view_submission(view, {}))
    assert r.status_code == 200
    assert r.json() == {"response_action": "errors", "errors": {rerun_blocks.STEP_BLOCK: STATE_UNREADABLE}}
