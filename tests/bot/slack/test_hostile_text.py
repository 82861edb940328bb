"""Hostile text at the Slack edge: NUL bytes and lone surrogates in every kind of input.

PostgreSQL refuses NUL in text (``psycopg.DataError``) and lone surrogates cannot be
encoded as UTF-8, so such text must be cleaned before any listener reaches the database.
Each case sends a signed request through the real `/slack/events` endpoint and checks the
user gets the usual answer, no listener error is logged, and what was saved is clean.

A lone surrogate arrives two ways: as a JSON ``\\ud800`` escape in interactivity payloads,
and as the raw bytes a broken client would form-encode in a slash command.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from bot.slack.blocks import common as common_blocks
from bot.slack.blocks import runs as run_blocks
from core.context import AppContext
from storage.db import transaction
from storage.repos import agents as agent_repo
from storage.repos import credentials as credential_repo
from storage.repos import pipelines as pipeline_repo
from tests.fakes.fake_anthropic import FakeAnthropic
from tests.fakes.fake_openai import FakeOpenAI
from tests.fakes.slack import ADMIN_ID, GENERAL, TEAM_ID, USER_ID
from tests.support.runs import all_runs, make_agent, make_pipeline, with_keys
from tests.support.slack_app import SlackServer
from tests.support.waiting import wait_until

NUL = "\x00"
SURROGATE = "\ud800"
HOSTILE = [pytest.param(NUL, id="nul"), pytest.param(SURROGATE, id="lone-surrogate")]
GOOD_OPENAI = "sk-proj-good-key-BBBB5678"


@pytest.fixture(scope="module")
def fake_anthropic() -> Iterator[FakeAnthropic]:
    fake = FakeAnthropic().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def fake_openai() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def slack_overrides(fake_anthropic: FakeAnthropic, fake_openai: FakeOpenAI) -> dict[str, Any]:
    return {"ANTHROPIC_BASE_URL": fake_anthropic.url, "OPENAI_BASE_URL": fake_openai.url}


@pytest.fixture()
def errors(caplog: pytest.LogCaptureFixture) -> Iterator[list[logging.LogRecord]]:
    """Records at ERROR or above from any logger; the test asserts the list stays empty."""
    caplog.set_level(logging.WARNING)
    found: list[logging.LogRecord] = []
    yield found
    found.extend(r for r in caplog.records if r.levelno >= logging.ERROR)
    assert found == [], [r.getMessage() for r in found]


def _storable(text: str) -> bool:
    return NUL not in text and not any(0xD800 <= ord(c) <= 0xDFFF for c in text)


def _agents(ctx: AppContext) -> dict[str, Any]:
    with transaction(ctx.sessions) as s:
        return {a.name: (a.id, a.system_prompt) for a in agent_repo.list_agents(s, TEAM_ID)}


def _pipelines(ctx: AppContext) -> list[str]:
    with transaction(ctx.sessions) as s:
        return [p.name for p in pipeline_repo.list_pipelines(s, TEAM_ID)]


def _seed(ctx: AppContext) -> None:
    with_keys(ctx, TEAM_ID, "anthropic")
    make_pipeline(ctx, TEAM_ID, "AB", [make_agent(ctx, TEAM_ID, "AB")])


# ---- slash command arguments ----------------------------------------------------------------


@pytest.mark.parametrize("bad", HOSTILE)
@pytest.mark.parametrize("kind", ["agent", "pipeline"])
def test_delete_with_hostile_name(ctx: AppContext, slack: SlackServer, errors: list[Any], bad: str, kind: str) -> None:
    _seed(ctx)
    sent = slack.command(f"{kind} delete A{bad}B")
    assert sent.response.status_code == 200
    reply = sent.text()
    if bad == NUL:  # removed: the name is the one that exists
        assert f"Delete the {kind} *AB*?" in reply
    else:  # replaced: no such name, and the usual hint
        assert f"No {kind} named" in reply and f"/pipebot {kind}s" in reply


@pytest.mark.parametrize("bad", HOSTILE)
@pytest.mark.parametrize("kind", ["agent", "pipeline"])
def test_edit_with_hostile_name(ctx: AppContext, slack: SlackServer, errors: list[Any], bad: str, kind: str) -> None:
    _seed(ctx)
    if bad == NUL:
        view = slack.open_modal(f"{kind} edit A{bad}B")
        assert view["title"]["text"] == f"Edit {kind}"
        assert _storable(json.dumps(view, ensure_ascii=False))
    else:
        sent = slack.command(f"{kind} edit A{bad}B")
        assert sent.response.status_code == 200
        assert f"No {kind} named" in slack.reply_text(sent.hook)


@pytest.mark.parametrize("bad", HOSTILE)
def test_run_with_hostile_input(ctx: AppContext, slack: SlackServer, errors: list[Any], bad: str) -> None:
    _seed(ctx)
    sent = slack.command(f"run AB summarise{bad} this{bad}")
    assert sent.response.status_code == 200
    wait_until(lambda: len(all_runs(ctx, TEAM_ID)) == 1, 10, "the run to be queued")
    run = all_runs(ctx, TEAM_ID)[0]
    assert run.input.startswith("summarise") and run.input.rstrip("\ufffd").endswith("this")
    assert _storable(run.input)


@pytest.mark.parametrize("bad", HOSTILE)
def test_artifacts_with_hostile_pipeline_and_search(
    ctx: AppContext, slack: SlackServer, errors: list[Any], bad: str
) -> None:
    _seed(ctx)
    sent = slack.command(f"artifacts AB search ot{bad}ters")
    assert sent.response.status_code == 200
    assert "No artifacts of *AB* that you can see match" in slack.reply_text(sent.hook)
    sent = slack.command(f"artifacts A{bad}B")
    reply = slack.reply_text(sent.hook)
    assert ("No artifacts for *AB* that you can see yet" in reply) if bad == NUL else ("No pipeline named" in reply)


# ---- modal submissions ------------------------------------------------------------------------


@pytest.mark.parametrize("bad", HOSTILE)
def test_agent_modal_with_hostile_values(ctx: AppContext, slack: SlackServer, errors: list[Any], bad: str) -> None:
    with_keys(ctx, TEAM_ID, "anthropic")
    view = slack.open_modal("agent new")
    r = slack.post(
        slack.signer.view_submission(
            view, {"Name": f"Wri{bad}ter", "System prompt": f"Be{bad} brief.", "Model": "anthropic:claude-haiku-4-5"}
        )
    )
    assert r.status_code == 200
    assert not r.content  # saved: the modal closes
    expected = "Writer" if bad == NUL else "Wri\ufffdter"  # NUL removed, a lone surrogate replaced
    assert _agents(ctx)[expected][1] == ("Be brief." if bad == NUL else "Be\ufffd brief.")
    assert "Created the agent *" in slack.reply_text(view["_response_url"])


@pytest.mark.parametrize("bad", HOSTILE)
def test_pipeline_modal_with_hostile_name(ctx: AppContext, slack: SlackServer, errors: list[Any], bad: str) -> None:
    agent = make_agent(ctx, TEAM_ID, "Alpha")
    view = slack.open_modal("pipeline new")
    r = slack.post(slack.signer.view_submission(view, {"Name": f"Ch{bad}ain", "Step 1": str(agent)}))
    assert r.status_code == 200
    assert not r.content
    assert _pipelines(ctx) == ["Chain" if bad == NUL else "Ch\ufffdain"]


@pytest.mark.parametrize("bad", HOSTILE)
def test_settings_with_hostile_key(ctx: AppContext, slack: SlackServer, errors: list[Any], bad: str) -> None:
    view = slack.open_modal("settings", user_id=ADMIN_ID)
    key = GOOD_OPENAI[:8] + bad + GOOD_OPENAI[8:]
    r = slack.post(slack.signer.view_submission(view, {"OpenAI API key": key}, user_id=ADMIN_ID))
    assert r.status_code == 200
    with transaction(ctx.sessions) as s:
        stored = credential_repo.get_credential(s, TEAM_ID, "openai", ctx.box)
    if bad == NUL:  # the NUL goes, the key is the good one and is saved
        assert not r.content and stored == GOOD_OPENAI
    else:  # the provider is asked with the replaced character; whatever it says, nothing raw is stored
        assert stored is None or _storable(stored)


# ---- block action values and private_metadata -----------------------------------------------


@pytest.mark.parametrize("bad", HOSTILE)
def test_button_value_with_hostile_text(ctx: AppContext, slack: SlackServer, errors: list[Any], bad: str) -> None:
    agent_id = make_agent(ctx, TEAM_ID, "Writer")
    ask = slack.command("agent delete writer").message()
    hook = slack.fake.new_response_url()
    # the raw character and, inside the button's JSON, its escape
    value = json.dumps({"id": agent_id}).replace("}", f"{bad}}}") + bad
    r = slack.post(
        slack.signer.block_actions(message=ask, action_id=common_blocks.DELETE_AGENT, value=value, response_url=hook)
    )
    assert r.status_code == 200
    reply = slack.reply_text(hook)
    if bad == NUL:
        assert "Deleted the agent *Writer*" in reply and _agents(ctx) == {}
    else:
        assert "out of date" in reply and "Writer" in _agents(ctx)


@pytest.mark.parametrize("bad", HOSTILE)
def test_private_metadata_with_hostile_text(ctx: AppContext, slack: SlackServer, errors: list[Any], bad: str) -> None:
    _seed(ctx)
    count = len(slack.fake.calls("views.open"))
    r = slack.post(
        slack.signer.message_action(
            run_blocks.MESSAGE_SHORTCUT,
            {"type": "message", "ts": "1700000000.000100", "text": "otters", "user": USER_ID},
            trigger_id=slack.fake.new_trigger_id(),
        )
    )
    assert r.status_code == 200
    opened = slack.fake.wait_for("views.open", count=count + 1)
    view = opened.response["view"]
    meta = json.loads(view["private_metadata"])
    meta["thread_ts"] = meta["thread_ts"] + bad  # the thread ts, which the run stores
    view["private_metadata"] = json.dumps(meta)  # the character as a JSON escape inside the metadata
    pipeline_id = next(
        o["value"]
        for b in view["blocks"]
        if b.get("block_id") == run_blocks.PIPELINE_BLOCK
        for o in b["element"]["options"]
    )
    r = slack.post(slack.signer.view_submission(view, {"Pipeline": pipeline_id, "Input": "otters"}))
    assert r.status_code == 200
    assert not r.content or r.json().get("response_action") != "errors", r.text
    wait_until(lambda: len(all_runs(ctx, TEAM_ID)) == 1, 10, "the run to be queued")
    run = all_runs(ctx, TEAM_ID)[0]
    assert run.thread_ts.startswith("1700000000.000100") and _storable(run.thread_ts)
    assert run.channel_id == GENERAL


def test_clean_payload_reaches_every_string() -> None:
    from bot.slack.hostile_text import clean_payload

    body = {
        "text": f"a{NUL}b",
        "view": {
            "private_metadata": json.dumps({"c": f"C{NUL}1"}),
            "state": {"values": {"x": {"y": {"value": f"v{SURROGATE}"}}}},
        },
        "actions": [{"value": f"1{NUL}"}],
        "n": 3,
        "k": None,
    }
    cleaned = clean_payload(body)
    assert cleaned["text"] == "ab" and json.loads(cleaned["view"]["private_metadata"]) == {"c": "C1"}
    assert cleaned["view"]["state"]["values"]["x"]["y"]["value"] == "v\ufffd"
    assert cleaned["actions"] == [{"value": "1"}] and cleaned["n"] == 3 and cleaned["k"] is None
