"""The agent modal says which inputs a model takes and has **Sees the run's files**
(DESIGN §11), through the real `/slack/events` endpoint against the fake Slack and real
PostgreSQL. Saving the checkbox needs the core branch (``AgentDraft.sees_files``)."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

from bot.slack.blocks import agents as agent_blocks
from providers import catalog
from storage.db import transaction
from storage.repos import agents as agent_repo
from tests.fakes.slack import TEAM_ID
from tests.support.runs import make_agent, with_keys
from tests.support.slack_app import SlackServer


def _block(view: dict[str, Any], block_id: str) -> dict[str, Any]:
    return next(b for b in view["blocks"] if b.get("block_id") == block_id)


def test_inputs_line_follows_the_catalog():
    assert agent_blocks.inputs_line(catalog.lookup("anthropic:claude-haiku-4-5")) == "Takes text, images and PDFs"
    assert agent_blocks.inputs_line(None) == agent_blocks.TAKES_TEXT_ONLY
    text_only = SimpleNamespace(supports_images=False, supports_pdf=False)
    assert agent_blocks.inputs_line(text_only) == "Takes text only: files are sent as text where possible"  # type: ignore[arg-type]


def test_the_modal_says_what_the_model_takes_and_shows_the_checkbox():
    agent = SimpleNamespace(
        name="Reader",
        system_prompt="Read.",
        model="anthropic:claude-haiku-4-5",
        temperature=None,
        max_output_tokens=None,
        sees_files=True,
    )
    view = agent_blocks.agent_modal(["anthropic"], agent=agent).to_dict()
    assert _block(view, "model")["hint"]["text"].startswith("Takes text, images and PDFs.")
    options = [o for g in _block(view, "model")["element"]["option_groups"] for o in g["options"]]
    assert all("images, PDFs" in o["description"]["text"] for o in options if "claude" in o["value"])
    box = _block(view, agent_blocks.SEES_FILES_BLOCK)["element"]
    assert box["type"] == "checkboxes" and box["initial_options"][0]["value"] == agent_blocks.SEES_FILES
    off = agent_blocks.agent_modal(["anthropic"], agent=SimpleNamespace(**{**vars(agent), "sees_files": False}))
    assert "initial_options" not in _block(off.to_dict(), agent_blocks.SEES_FILES_BLOCK)["element"]


def test_saving_the_checkbox_stores_sees_files(ctx, slack: SlackServer):
    with_keys(ctx, TEAM_ID, "anthropic")
    agent_id = make_agent(ctx, TEAM_ID, "Reader")
    view = slack.open_modal("agent edit Reader")
    assert "Takes text, images and PDFs" in json.dumps(_block(view, "model"))
    values = {
        "Name": "Reader",
        "System prompt": "You are Reader.",
        "Model": "anthropic:claude-haiku-4-5",
        "Files": [agent_blocks.SEES_FILES],
    }
    r = slack.post(slack.signer.view_submission(view, values))
    assert r.status_code == 200 and not r.content, r.text
    with transaction(ctx.sessions) as s:  # needs core: AgentDraft.sees_files
        assert agent_repo.get_agent(s, TEAM_ID, agent_id).sees_files is True
