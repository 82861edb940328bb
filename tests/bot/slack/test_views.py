"""Block Kit builders (bot/slack/blocks/): pure, so no server, database or Slack needed.

Every view is rendered with ``to_dict()`` (slack_sdk validates Slack's limits there) and
also run through the fake Slack's validator, which checks what the SDK does not
(options summed over groups, plain_text_input max_length, blocks per message).
"""

from __future__ import annotations

import json
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from bot.slack.blocks import agents as agent_blocks
from bot.slack.blocks import common as common_blocks
from bot.slack.blocks import pipelines as pipeline_blocks
from bot.slack.blocks import settings as settings_blocks
from bot.slack.modal_state import AgentModalState
from providers import catalog
from storage.repos.workspaces import Limits
from tests.fakes.slack.blocks import validate_blocks, validate_view
from tests.fakes.slack.limits import MSG_BLOCKS_JSON_LIMIT, MSG_BLOCKS_LIMIT, OPTIONS_LIMIT
from tests.support.slack_signing import state_from_view


def assert_valid_view(view: Any) -> dict[str, Any]:
    data = view.to_dict()
    errs = validate_view(data, OPTIONS_LIMIT)
    assert not errs, errs
    return data


def assert_valid_message(blocks: list[Any]) -> list[dict[str, Any]]:
    """Blocks as models or as dicts (the list messages are built as dicts for the ack path):
    dicts go through slack_sdk's models too, so its limit checks run, and must come back equal."""
    data = [b if isinstance(b, dict) else b.to_dict() for b in blocks]
    for b in data:
        assert Block.parse(b).to_dict() == b  # type: ignore[union-attr]
    errs: list[str] = []
    validate_blocks(data, "/blocks", MSG_BLOCKS_LIMIT, errs, OPTIONS_LIMIT)
    assert not errs, errs
    assert len(json.dumps(data, ensure_ascii=False)) <= MSG_BLOCKS_JSON_LIMIT
    return data


def labels(view: dict[str, Any]) -> list[str]:
    return [b["label"]["text"] for b in view["blocks"] if b["type"] == "input"]


def block(view: dict[str, Any], block_id: str) -> dict[str, Any]:
    return next(b for b in view["blocks"] if b.get("block_id") == block_id)


def options_of(select: dict[str, Any]) -> list[dict[str, Any]]:
    return [o for g in select.get("option_groups", []) for o in g["options"]] + list(select.get("options", []))


def agent(**kw: Any) -> SimpleNamespace:
    base = dict(
        id=1,
        name="Summariser",
        system_prompt="Summarise.",
        model="openai:gpt-4o",
        temperature=0.7,
        max_output_tokens=1024,
    )
    base.update(kw)
    return SimpleNamespace(**base)


# ---- agent modal ---------------------------------------------------------------------------


def test_agent_modal_fields_and_ids() -> None:
    data = assert_valid_view(agent_blocks.agent_modal(["anthropic"], state=AgentModalState(None, "C1", "https://x")))
    assert labels(data) == ["Name", "System prompt", "Model", "Temperature", "Max output tokens", "Tools", "Files"]
    assert [b["block_id"] for b in data["blocks"] if b["type"] == "input"] == list(agent_blocks.AGENT_FIELDS)
    prompt = block(data, "system_prompt")["element"]
    assert prompt["multiline"] is True and prompt["max_length"] == 3000
    assert block(data, "temperature")["optional"] is True
    assert block(data, "max_output_tokens")["element"]["type"] == "number_input"
    assert data["submit"]["text"] == "Save" and data["title"]["text"] == "New agent"
    assert AgentModalState.decode(data["private_metadata"]) == AgentModalState(None, "C1", "https://x")


def test_model_menu_one_provider() -> None:
    data = assert_valid_view(agent_blocks.agent_modal(["anthropic"]))
    select = block(data, "model")["element"]
    assert select["type"] == "static_select" and "options" not in select
    assert [g["label"]["text"] for g in select["option_groups"]] == ["Anthropic"]
    values = [o["value"] for o in options_of(select)]
    assert values and all(v.startswith("anthropic:") for v in values)
    assert "anthropic:claude-haiku-4-5" in values


def test_model_menu_two_providers_within_limits() -> None:
    data = assert_valid_view(agent_blocks.agent_modal(["anthropic", "openai"]))
    select = block(data, "model")["element"]
    assert [g["label"]["text"] for g in select["option_groups"]] == ["Anthropic", "OpenAI"]
    opts = options_of(select)
    assert len(opts) <= 100
    assert all(len(o["text"]["text"]) <= 75 and len(o["value"]) <= 150 for o in opts)
    assert {o["value"].split(":")[0] for o in opts} == {"anthropic", "openai"}
    # display names, not ids, are what people pick from
    assert any(o["text"]["text"] == "GPT-4o" for o in opts)


def test_menu_trims_to_limit_keeping_current_model() -> None:
    current = "openai:gpt-4o-mini"  # deprecated: first to go when trimming, unless it is current
    lists = agent_blocks.menu_models(["anthropic", "openai"], current=current, limit=10)
    flat = [m.ref for ms in lists.values() for m in ms]
    assert len(flat) == 10 and current in flat
    assert all(not m.deprecated for ms in lists.values() for m in ms if m.ref != current)


def test_temperature_hint_names_the_models_that_accept_it() -> None:
    assert "GPT-4o" in agent_blocks.temperature_hint(["openai"])
    assert "None of the models" in agent_blocks.temperature_hint(["anthropic"])


def test_edit_prefills_every_field() -> None:
    a = agent(name="Weekly <digest> & co", model="openai:gpt-4o-2024-11-20")  # a dated alias
    data = assert_valid_view(agent_blocks.agent_modal(["anthropic", "openai"], agent=a, state=AgentModalState(1)))
    assert data["title"]["text"] == "Edit agent"
    assert block(data, "name")["element"]["initial_value"] == "Weekly <digest> & co"
    assert block(data, "system_prompt")["element"]["initial_value"] == "Summarise."
    initial = block(data, "model")["element"]["initial_option"]
    assert initial["value"] == "openai:gpt-4o" and initial in options_of(block(data, "model")["element"])
    assert block(data, "temperature")["element"]["initial_value"] == "0.7"
    assert block(data, "max_output_tokens")["element"]["initial_value"] == "1024"


def test_edit_with_model_of_a_provider_without_key_warns() -> None:
    data = assert_valid_view(agent_blocks.agent_modal(["anthropic"], agent=agent(model="openai:gpt-4o")))
    assert "initial_option" not in block(data, "model")["element"]
    assert any("GPT-4o" in json.dumps(b) and "not available" in json.dumps(b) for b in data["blocks"])


def test_no_provider_modal_points_to_settings() -> None:
    data = assert_valid_view(agent_blocks.agent_modal([]))
    assert "submit" not in data and not labels(data)
    assert "/pipebot settings" in json.dumps(data)


def test_submission_state_reads_back() -> None:
    data = agent_blocks.agent_modal(["anthropic"]).to_dict()
    state = state_from_view(data, {"Name": "X", "Model": "anthropic:claude-haiku-4-5", "Max output tokens": 5})
    assert state["values"]["model"]["value"]["selected_option"]["value"] == "anthropic:claude-haiku-4-5"
    assert state["values"]["max_output_tokens"]["value"]["value"] == "5"


# ---- pipeline modal ------------------------------------------------------------------------

AGENTS = [SimpleNamespace(id=i, name=f"Agent {i}", model="anthropic:claude-haiku-4-5") for i in range(1, 4)]


def test_pipeline_modal_steps_and_controls() -> None:
    form = pipeline_blocks.PipelineForm(name="Digest", steps=[pipeline_blocks.StepPick(1), pipeline_blocks.StepPick(2)])
    data = assert_valid_view(pipeline_blocks.pipeline_modal(AGENTS, form))
    assert labels(data) == ["Name", "Step 1", "Step 2", "Budget (USD)"]
    step2 = block(data, "step_2-r0")["element"]
    assert step2["initial_option"]["value"] == "2"
    controls = next(b for b in data["blocks"] if b["type"] == "actions")
    assert [e["action_id"] for e in controls["elements"]] == [
        pipeline_blocks.ADD_STEP,
        pipeline_blocks.ADD_APPROVAL,
        pipeline_blocks.REMOVE_STEP,
    ]


def test_one_step_has_no_remove_and_ten_have_no_add() -> None:
    one = assert_valid_view(pipeline_blocks.pipeline_modal(AGENTS, pipeline_blocks.PipelineForm()))
    controls = next(b for b in one["blocks"] if b["type"] == "actions")
    assert [e["action_id"] for e in controls["elements"]] == [pipeline_blocks.ADD_STEP, pipeline_blocks.ADD_APPROVAL]
    ten = assert_valid_view(
        pipeline_blocks.pipeline_modal(AGENTS, pipeline_blocks.PipelineForm(steps=[pipeline_blocks.StepPick(1)] * 10))
    )
    controls = next(b for b in ten["blocks"] if b["type"] == "actions")
    assert [e["action_id"] for e in controls["elements"]] == [pipeline_blocks.REMOVE_STEP]


def test_orphaned_step_shows_deleted_agent() -> None:
    form = pipeline_blocks.PipelineForm(
        name="P", steps=[pipeline_blocks.StepPick(1), pipeline_blocks.StepPick(None, "Old <bot>")], pipeline_id=7
    )
    data = assert_valid_view(pipeline_blocks.pipeline_modal(AGENTS, form))
    step = block(data, "step_2-r0")
    assert step["element"]["placeholder"]["text"] == "⚠️ deleted agent: Old <bot>"
    assert "initial_option" not in step["element"] and "deleted" in step["hint"]["text"]
    assert data["title"]["text"] == "Edit pipeline"


def test_form_round_trips_through_view_state() -> None:
    form = pipeline_blocks.PipelineForm(
        name="P",
        budget="0.5",
        steps=[pipeline_blocks.StepPick(1), pipeline_blocks.StepPick(None, "Gone")],
        pipeline_id=9,
        rev=3,
        channel_id="C1",
        response_url="https://r",
    )
    data = pipeline_blocks.pipeline_modal(AGENTS, form).to_dict()
    data["state"] = state_from_view(data, {"Name": "P2", "Step 1": "3", "Budget (USD)": "1.25"})
    back = pipeline_blocks.PipelineForm.from_view(data)
    assert (back.name, back.budget, back.pipeline_id, back.rev) == ("P2", "1.25", 9, 3)
    assert [(s.agent_id, s.deleted_name) for s in back.steps] == [(3, None), (None, "Gone")]
    assert back.error_block("step_2") == "step_2-r3" and back.error_block("name") == "name"
    assert back.error_block("step_11") == "step_2-r3"  # beyond the rows: the last row


def test_pipeline_without_agents_explains() -> None:
    data = assert_valid_view(pipeline_blocks.pipeline_modal([], pipeline_blocks.PipelineForm()))
    assert "submit" not in data and "/pipebot agent new" in json.dumps(data)


def test_step_select_caps_at_100_agents_keeping_used_ones() -> None:
    many = [SimpleNamespace(id=i, name=f"A{i:03d}", model="openai:gpt-4o") for i in range(1, 151)]
    form = pipeline_blocks.PipelineForm(steps=[pipeline_blocks.StepPick(150)])
    data = assert_valid_view(pipeline_blocks.pipeline_modal(many, form))
    select = block(data, "step_1-r0")["element"]
    assert len(select["options"]) == 100 and select["initial_option"]["value"] == "150"


# ---- settings modal ------------------------------------------------------------------------


def test_settings_never_prefill_keys() -> None:
    status = {"anthropic": "configured, ends in …1234", "openai": "not configured"}
    data = assert_valid_view(settings_blocks.settings_modal(status, {"anthropic"}))
    assert labels(data)[:3] == ["Anthropic API key", "Remove the Anthropic key", "OpenAI API key"]
    for provider in ("anthropic", "openai"):
        el = block(data, settings_blocks.key_block(provider))["element"]
        assert "initial_value" not in el
    assert "configured, ends in …1234" in block(data, "anthropic_key")["hint"]["text"]
    assert block(data, "anthropic_remove")["element"]["type"] == "checkboxes"
    assert not any(b.get("block_id") == "openai_remove" for b in data["blocks"])


def test_settings_limits_show_as_they_are() -> None:
    data = assert_valid_view(
        settings_blocks.settings_modal({}, set(), limits=Limits(Decimal("12.5"), 7, public_links=True))
    )
    assert labels(data)[-4:] == [
        "Daily limit (USD)",
        "Runs per person per hour",
        "Links to runs",
        "Shortest schedule interval (minutes)",
    ]
    assert block(data, settings_blocks.DAILY_LIMIT_BLOCK)["element"]["initial_value"] == "12.50"
    assert block(data, settings_blocks.PER_HOUR_BLOCK)["element"]["initial_value"] == "7"
    assert block(data, settings_blocks.PUBLIC_LINKS_BLOCK)["element"]["initial_options"][0]["value"] == "on"
    empty = assert_valid_view(settings_blocks.settings_modal({}, set()))
    assert "initial_value" not in block(empty, settings_blocks.DAILY_LIMIT_BLOCK)["element"]
    assert "initial_options" not in block(empty, settings_blocks.PUBLIC_LINKS_BLOCK)["element"]


def test_settings_notes_show_under_field() -> None:
    data = assert_valid_view(
        settings_blocks.settings_modal({}, set(), notes={"openai_key": "OpenAI rejected <this> key."})
    )
    i = next(i for i, b in enumerate(data["blocks"]) if b.get("block_id") == "openai_key")
    assert "OpenAI rejected &lt;this&gt; key." in json.dumps(data["blocks"][i + 1])


# ---- messages ------------------------------------------------------------------------------


def test_agents_message_escapes_and_shows_parameters() -> None:
    text, blocks = agent_blocks.agents_message(
        [
            agent(name="<!channel> & me", temperature=None, max_output_tokens=None),
            agent(id=2, name="B", model="anthropic:claude-haiku-4-5-20251001"),
        ]
    )
    data = assert_valid_message(blocks)
    dump = json.dumps(data, ensure_ascii=False)
    assert "&lt;!channel&gt; &amp; me" in dump and "<!channel>" not in dump
    assert "GPT-4o" in dump and "Claude Haiku 4.5" in dump and "default temperature" in dump
    assert "temperature 0.7" in dump and "max 1,024 tokens" in dump


def test_long_lists_fit_a_message() -> None:
    many = [agent(id=i, name=f"Agent number {i} " + "x" * 60) for i in range(300)]
    _, blocks = agent_blocks.agents_message(many)
    data = assert_valid_message(blocks)
    assert "more." in json.dumps(data)


def test_list_blocks_respect_limits_the_sdk_checks() -> None:
    """Built as dicts, so the SDK's to_dict() limits must hold by construction."""
    from slack_sdk.errors import SlackObjectFormationError

    with pytest.raises(SlackObjectFormationError):  # the check used below does fire on a bad block
        Block.parse({"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}).to_dict()
    long = agent(id=7, name="N" * 80, model="openai:" + "m" * 140)
    _, blocks = agent_blocks.agents_message([long])
    data = assert_valid_message(blocks)
    menu = data[1]["accessory"]
    assert menu["type"] == "overflow" and json.loads(menu["options"][1]["value"]) == {"do": "delete", "id": 7}
    text, empty = agent_blocks.agents_message([])
    assert "agent new" in text and assert_valid_message(empty)[0]["type"] == "section"


def test_pipelines_message_marks_orphans() -> None:
    ok = SimpleNamespace(
        id=1,
        name="Fine",
        budget_usd=None,
        steps=[SimpleNamespace(position=1, agent_id=1, agent_name="A", kind="agent")],
    )
    bad = SimpleNamespace(
        id=2,
        name="Broken",
        budget_usd="0.50",
        steps=[
            SimpleNamespace(position=1, agent_id=1, agent_name="A", kind="agent"),
            SimpleNamespace(position=2, agent_id=None, agent_name="Gone", kind="agent"),
        ],
    )
    _, blocks = pipeline_blocks.pipelines_message([ok, bad])
    sections = [b["text"]["text"] for b in assert_valid_message(blocks) if b["type"] == "section"]
    assert not sections[0].startswith("⚠️") and "A" in sections[0]
    assert sections[1].startswith("⚠️ *Broken*") and "Gone" in sections[1] and "$0.5" in sections[1]


def test_confirm_delete_lists_pipelines_using_agent() -> None:
    _, blocks = common_blocks.confirm_delete_message("agent", 5, "Writer", ["Digest", "Report"])
    data = assert_valid_message(blocks)
    assert "*Digest* and *Report*" in data[0]["text"]["text"]
    buttons = data[1]["elements"]
    assert buttons[0]["style"] == "danger" and json.loads(buttons[0]["value"]) == {"id": 5}


def test_metadata_limits() -> None:
    meta = {"c": "C1", "r": "https://hooks.slack.com/" + "x" * 2990}
    assert "r" not in json.loads(common_blocks.encode_metadata(meta))
    with pytest.raises(ValueError):
        common_blocks.encode_metadata({"x": "y" * 3000})


def test_model_label_handles_unknown() -> None:
    assert common_blocks.model_label("anthropic:claude-haiku-4-5-20251001") == "Claude Haiku 4.5"
    assert common_blocks.model_label("openai:some-new-model") == "openai:some-new-model"
    assert catalog.lookup("openai:gpt-4o") is not None


# ---- manifest ------------------------------------------------------------------------------


def test_manifest_matches_the_app() -> None:
    """The scopes requested at OAuth install are the manifest's, and its ids are the app's."""
    from pathlib import Path

    from bot.slack.oauth import BOT_SCOPES

    text = (Path(__file__).resolve().parents[3] / "manifest.yml").read_text()
    section = text.split("    bot:\n", 1)[1].split("\nsettings:", 1)[0]
    listed = [line.split("#")[0].strip()[2:].strip() for line in section.splitlines() if line.strip().startswith("- ")]
    assert sorted(listed) == sorted(BOT_SCOPES)
    for needle in (
        "command: /pipebot",
        "callback_id: run_on_message",
        "home_tab_enabled: true",
        "socket_mode_enabled: true",
        "- app_home_opened",
        "usage_hint:",
    ):
        assert needle in text


def _artifact_row(n: int) -> SimpleNamespace:
    from datetime import UTC, datetime
    from decimal import Decimal

    return SimpleNamespace(
        id=f"a{n}",
        pipeline_name="Essay",
        status="succeeded",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        cost_usd=Decimal("0.001"),
    )


@pytest.mark.parametrize("prev,next_", [(None, "n"), ("p", "n"), ("p", None), (None, None)])
def test_every_actions_block_of_every_artifacts_page_has_unique_action_ids(prev, next_):
    """Slack refuses (invalid_blocks) an actions block whose elements share an action_id: the
    middle page of `/pipebot artifacts` carries both Previous and Next."""
    from bot.slack.blocks import artifacts as artifact_blocks

    _, blocks = artifact_blocks.artifact_list_message(
        [_artifact_row(n) for n in range(3)], lambda row: None, title="*Latest*", next_value=next_, prev_value=prev
    )
    data = assert_valid_message(blocks)
    actions = [b for b in data if b["type"] == "actions"]
    assert len(actions) == (1 if prev or next_ else 0)
    for block in actions:
        ids = [e["action_id"] for e in block["elements"]]
        assert len(ids) == len(set(ids)), ids
        assert len(ids) == (prev is not None) + (next_ is not None)
