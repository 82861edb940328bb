"""`/pipebot` end to end: signed requests to the real `/slack/events` served by uvicorn,
Slack played by tests.fakes.slack.FakeSlack, real PostgreSQL and Redis, provider
keys checked against the fake Anthropic/OpenAI servers.

What is asserted is what a user would see: the ack, the ephemeral replies (posts to the
command's response_url), the modals the app opened (views.open / views.update calls,
validated by the fake as Slack validates them) and the inline errors in the answers to
view submissions.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from bot.slack.admin import is_admin
from bot.slack.blocks import agents as agent_blocks
from bot.slack.blocks import common as common_blocks
from bot.slack.blocks import pipelines as pipeline_blocks
from bot.slack.blocks import settings as settings_blocks
from bot.slack.client import client_for, make_client
from bot.web.server import build_app
from core.budget import unpriced_models
from core.context import AppContext
from storage.db import transaction
from storage.repos import agents as agent_repo
from storage.repos import audit
from storage.repos import credentials as credential_repo
from storage.repos import pipelines as pipeline_repo
from tests.fakes.fake_anthropic import FakeAnthropic
from tests.fakes.fake_openai import FakeOpenAI
from tests.fakes.llm_base import Fault
from tests.fakes.slack import ADMIN_ID, OWNER_ID, TEAM_ID, USER_ID, FakeSlack
from tests.support.slack_app import SlackServer, slack_settings
from tests.support.slack_signing import find_element

GOOD_ANTHROPIC = "sk-ant-api03-good-key-AAAA1234"
GOOD_OPENAI = "sk-proj-good-key-BBBB5678"


# ---- fixtures ------------------------------------------------------------------------------


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


def set_key(ctx: AppContext, provider: str, key: str = "sk-test-key-00001234") -> None:
    with transaction(ctx.sessions) as s:
        credential_repo.set_credential(s, TEAM_ID, provider, key, ctx.box, "U0SETUP")


def make_agent(ctx: AppContext, name: str, model: str = "anthropic:claude-haiku-4-5", **kw: Any) -> int:
    with transaction(ctx.sessions) as s:
        return agent_repo.create_agent(s, TEAM_ID, name=name, system_prompt="Be brief.", model=model, **kw).id


def make_pipeline(ctx: AppContext, name: str, agent_ids: list[int]) -> int:
    with transaction(ctx.sessions) as s:
        return pipeline_repo.create_pipeline(s, TEAM_ID, name, agent_ids).id


def agents_in_db(ctx: AppContext) -> dict[str, Any]:
    with transaction(ctx.sessions) as s:
        return {a.name: a for a in agent_repo.list_agents(s, TEAM_ID)}


def submit(slack: SlackServer, view: dict[str, Any], values: dict[str, Any], **kw: Any) -> dict[str, Any]:
    """Submit a modal; the ack's JSON (``{}`` when the modal just closes)."""
    r = slack.post(slack.signer.view_submission(view, values, **kw))
    assert r.status_code == 200, r.text
    return r.json() if r.content else {}


def models_in(view: dict[str, Any]) -> dict[str, list[str]]:
    block = next(b for b in view["blocks"] if b.get("block_id") == "model")
    return {g["label"]["text"]: [o["value"] for o in g["options"]] for g in block["element"]["option_groups"]}


# ---- the endpoint --------------------------------------------------------------------------


@pytest.mark.parametrize("signing", [{"bad_signature": True}, {"stale": True}])
def test_bad_signature_or_stale_timestamp_is_401(ctx: AppContext, slack: SlackServer, signing: dict[str, bool]) -> None:
    hook = slack.fake.new_response_url()
    r = slack.post(slack.signer.slash_command("agents", response_url=hook, **signing))
    assert r.status_code == 401
    time.sleep(0.2)
    assert slack.fake.response_url_posts(hook) == []


def test_ack_is_immediate_and_empty(ctx: AppContext, slack: SlackServer) -> None:
    slack.fake.set_latency("users.info", 1.0)  # a slow Slack must not slow the ack down
    try:
        t0 = time.monotonic()
        r, hook = slack.command("settings")
        elapsed = time.monotonic() - t0
    finally:
        slack.fake.set_latency("users.info", 0.0)
    assert r.status_code == 200 and r.content == b""
    assert elapsed < 0.5
    slack.replies(hook)  # the refusal arrives afterwards


def test_lists_come_in_the_ack_or_after_it_when_the_database_is_slow(
    ctx: AppContext, slack: SlackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    agent_id = make_agent(ctx, "Quick")
    make_pipeline(ctx, "Flow", [agent_id])
    sent = slack.command("agents")
    assert sent.response.json()["response_type"] == "ephemeral" and "*Quick*" in sent.text()
    # The agents list reads through bot/slack_ack_reads.py, bounded by PostgreSQL's
    # statement_timeout: with the table locked, the ack goes out empty and the list
    # follows through the response_url once the lock is gone.
    with ctx.engine.connect() as locker:
        locker.execute(text("LOCK TABLE agents IN ACCESS EXCLUSIVE MODE"))
        sent = slack.command("agents")
        assert sent.response.status_code == 200 and sent.response.content == b""
        locker.rollback()
    assert "*Quick*" in slack.reply_text(sent.hook)
    from bot.slack.listeners import commands as slack_commands

    # other lists: a time budget in a thread; the locked table holds the read past it
    monkeypatch.setattr(slack_commands, "ACK_BUDGET", 0.2)
    with ctx.engine.connect() as locker:
        locker.execute(text("LOCK TABLE pipelines IN ACCESS EXCLUSIVE MODE"))
        sent = slack.command("pipelines")
        assert sent.response.status_code == 200 and sent.response.content == b""
        locker.rollback()
    assert "*Flow*" in slack.reply_text(sent.hook)


def test_app_home_opened_is_acked_before_slack_is_called(ctx: AppContext, slack: SlackServer) -> None:
    make_agent(ctx, "Homely")
    before = len(slack.fake.calls("views.publish"))
    with slack.fake.hold("views.publish"):
        r = slack.post(slack.signer.app_home_opened(USER_ID))
        assert r.status_code == 200
        assert len(slack.fake.calls("views.publish")) == before  # still unanswered: the ack came first
    call = slack.fake.wait_for("views.publish", count=before + 1)
    assert call.ok and "Homely" in json.dumps(call.params["view"])


def test_unconfigured_slack_answers_503_with_the_fix(_session_ctx: AppContext, fake_slack: FakeSlack) -> None:
    from starlette.testclient import TestClient

    ctx = dataclasses.replace(
        _session_ctx,
        settings=slack_settings(_session_ctx.settings, fake_slack, SLACK_SIGNING_SECRET=None, SLACK_BOT_TOKEN=None),
    )
    with TestClient(build_app(ctx)) as client:
        r = client.post("/slack/events", content=b"x")
    assert r.status_code == 503
    assert "SLACK_SIGNING_SECRET" in r.text and "SLACK_BOT_TOKEN" in r.text


def test_url_verification_and_socket_mode_configuration(ctx: AppContext, slack: SlackServer) -> None:
    r = slack.post(slack.signer.url_verification("challenge-123"))
    assert r.status_code == 200 and r.json() == {"challenge": "challenge-123"}
    from bot.slack.app import build_bolt_app
    from bot.slack.socket_mode import start_socket_mode

    with pytest.raises(RuntimeError, match="SLACK_APP_TOKEN"):
        start_socket_mode(slack.ctx)
    assert build_bolt_app(slack.ctx, socket_mode=True) is not None


def test_event_retries_are_deduplicated(ctx: AppContext, slack: SlackServer) -> None:
    event = {"type": "pipebot_test_event", "user": USER_ID}
    seen, unseen = (f"Ev{uuid.uuid4().hex[:10].upper()}" for _ in range(2))  # unique across test sessions
    first = slack.post(slack.signer.event(event, event_id=seen))
    assert first.status_code < 500
    retry = slack.post(slack.signer.event(event, event_id=seen, retry_num=1))
    assert retry.status_code == 200 and retry.headers.get("x-slack-no-retry") == "1"
    assert ctx.redis.exists(f"pipebot:slack:event:{seen}")
    other = slack.post(slack.signer.event(event, event_id=unseen, retry_num=1))
    assert other.headers.get("x-slack-no-retry") is None  # a retry of an event never seen is handled


# ---- help ----------------------------------------------------------------------------------


def test_help_lists_subcommands(ctx: AppContext, slack: SlackServer) -> None:
    reply = slack.command("").text()
    for usage in ("agent new", "agent edit NAME", "pipelines", "settings", "run NAME INPUT"):
        assert usage in reply


def test_unknown_subcommand_suggests(ctx: AppContext, slack: SlackServer) -> None:
    reply = slack.command("agnet new").text()
    assert "Did you mean `/pipebot agent new`" in reply
    assert "I don't know `frobnicate`" in slack.command("frobnicate").text()


def test_run_usage_error(ctx: AppContext, slack: SlackServer) -> None:
    assert "Which pipeline" in slack.command("run").text()


# ---- agents --------------------------------------------------------------------------------


def test_agents_list(ctx: AppContext, slack: SlackServer) -> None:
    make_agent(ctx, "Summariser", "openai:gpt-4o", temperature=0.3, max_output_tokens=2000)
    make_agent(ctx, "<b>Bold</b>")
    reply = slack.command("agents").text()
    assert "*Summariser* — GPT-4o · temperature 0.3 · max 2,000 tokens" in reply
    assert "&lt;b&gt;Bold&lt;/b&gt;" in reply and "Claude Haiku 4.5" in reply


def test_agent_new_without_provider_points_to_settings(ctx: AppContext, slack: SlackServer) -> None:
    view = slack.open_modal("agent new")
    assert view["submit"] is None
    assert "/pipebot settings" in json.dumps(view["blocks"])


def test_agent_menu_one_and_two_providers(ctx: AppContext, slack: SlackServer) -> None:
    set_key(ctx, "anthropic")
    one = models_in(slack.open_modal("agent new"))
    assert list(one) == ["Anthropic"] and "anthropic:claude-haiku-4-5" in one["Anthropic"]
    set_key(ctx, "openai")
    two = models_in(slack.open_modal("agent new"))
    assert list(two) == ["Anthropic", "OpenAI"]
    assert sum(len(v) for v in two.values()) <= 100 and "openai:gpt-4o" in two["OpenAI"]


def test_agent_create_and_confirm(ctx: AppContext, slack: SlackServer) -> None:
    set_key(ctx, "openai")
    view = slack.open_modal('agent new "Release notes"')
    name_input = next(b for b in view["blocks"] if b.get("block_id") == "name")
    assert name_input["element"]["initial_value"] == "Release notes"
    answer = submit(
        slack,
        view,
        {
            "Name": "Release notes",
            "System prompt": "Write release notes.",
            "Model": "openai:gpt-4o",
            "Temperature": "0.2",
            "Max output tokens": "800",
        },
    )
    assert answer == {}
    agent = agents_in_db(ctx)["Release notes"]
    assert (agent.model, agent.temperature, agent.max_output_tokens) == ("openai:gpt-4o", 0.2, 800)
    assert agent.created_by == USER_ID
    assert "Created the agent *Release notes*" in slack.reply_text(view["_response_url"])


@pytest.mark.parametrize(
    "values, block, words",
    [
        ({"Name": "writer"}, "name", "already exists"),
        ({"Name": "x" * 81}, "name", "80 characters"),
        ({"System prompt": "p" * 3001}, "system_prompt", "3000"),
        (
            {"Model": "anthropic:claude-haiku-4-5", "Temperature": "0.5"},
            "temperature",
            "Claude Haiku 4.5 does not accept",
        ),
        ({"Temperature": "3"}, "temperature", "between 0 and 2"),
        ({"Temperature": "warm"}, "temperature", "must be a number"),
        ({"Max output tokens": "0"}, "max_output_tokens", "at least 1"),
        ({"Max output tokens": "many"}, "max_output_tokens", "whole number"),
        ({"Max output tokens": "999999"}, "max_output_tokens", "at most 16,384"),
    ],
)
def test_agent_validation_errors_inline(
    ctx: AppContext, slack: SlackServer, values: dict[str, Any], block: str, words: str
) -> None:
    set_key(ctx, "anthropic")
    set_key(ctx, "openai")
    make_agent(ctx, "Writer")
    view = slack.open_modal("agent new")
    form = {"Name": "New one", "System prompt": "Hi.", "Model": "openai:gpt-4o", **values}
    answer = submit(slack, view, form)
    assert answer["response_action"] == "errors"
    assert words in answer["errors"][block], answer
    assert set(answer["errors"]) <= set(agent_blocks.AGENT_FIELDS)
    assert "New one" not in agents_in_db(ctx)


def test_agent_edit_prefills_and_saves(ctx: AppContext, slack: SlackServer) -> None:
    set_key(ctx, "openai")
    make_agent(ctx, "Weekly digest", "openai:gpt-4o", temperature=1.0, max_output_tokens=500)
    view = slack.open_modal("agent edit “weekly DIGEST”")  # smart quotes, any case
    by_id = {b.get("block_id"): b for b in view["blocks"]}
    assert by_id["name"]["element"]["initial_value"] == "Weekly digest"
    assert by_id["model"]["element"]["initial_option"]["value"] == "openai:gpt-4o"
    assert by_id["temperature"]["element"]["initial_value"] == "1"
    answer = submit(
        slack,
        view,
        {
            "Name": "Weekly digest v2",
            "System prompt": "New prompt.",
            "Model": "openai:gpt-4o-mini",
            "Temperature": "",
            "Max output tokens": "500",
        },
    )
    assert answer == {}
    agents = agents_in_db(ctx)
    assert list(agents) == ["Weekly digest v2"]
    assert agents["Weekly digest v2"].model == "openai:gpt-4o-mini" and agents["Weekly digest v2"].temperature is None
    assert "Updated the agent" in slack.reply_text(view["_response_url"])


def test_agent_edit_unknown_name_suggests(ctx: AppContext, slack: SlackServer) -> None:
    make_agent(ctx, "Summariser")
    calls = len(slack.fake.calls("views.open"))
    reply = slack.command("agent edit Sumariser").text()
    assert "No agent named “Sumariser” in this workspace. Did you mean *Summariser*?" in reply
    assert len(slack.fake.calls("views.open")) == calls


def test_agent_delete_confirms_and_warns(ctx: AppContext, slack: SlackServer) -> None:
    writer = make_agent(ctx, "Writer")
    make_pipeline(ctx, "Digest", [writer])
    ask = slack.command("agent delete writer").message()
    assert "Digest" in json.dumps(ask["blocks"]) and "writer" not in agents_in_db(ctx)
    assert "Writer" in agents_in_db(ctx)  # nothing deleted yet
    cancel_hook = slack.fake.new_response_url()
    slack.post(slack.signer.block_actions(message=ask, action_id=common_blocks.DELETE_CANCEL, response_url=cancel_hook))
    assert "nothing was deleted" in slack.reply_text(cancel_hook) and "Writer" in agents_in_db(ctx)
    click_hook = slack.fake.new_response_url()
    r = slack.post(
        slack.signer.block_actions(message=ask, action_id=common_blocks.DELETE_AGENT, response_url=click_hook)
    )
    assert r.status_code == 200
    done = slack.replies(click_hook)[-1]
    assert done["replace_original"] is True and "Deleted the agent *Writer*" in done["text"]
    assert agents_in_db(ctx) == {}
    # a second click (or a stale message) does no harm
    again = slack.fake.new_response_url()
    slack.post(slack.signer.block_actions(message=ask, action_id=common_blocks.DELETE_AGENT, response_url=again))
    assert "already deleted" in slack.reply_text(again)


def test_list_menu_edits_and_deletes(ctx: AppContext, slack: SlackServer) -> None:
    set_key(ctx, "anthropic")
    agent_id = make_agent(ctx, "Helper")
    listing = slack.command("agents").message()
    calls = len(slack.fake.calls("views.open"))
    edit = json.dumps({"do": "edit", "id": agent_id})
    slack.post(
        slack.signer.block_actions(
            message=listing, action_id=agent_blocks.AGENT_MENU, value=edit, trigger_id=slack.fake.new_trigger_id()
        )
    )
    opened = slack.fake.wait_for("views.open", count=calls + 1)
    assert opened.ok and opened.params["view"]["title"]["text"] == "Edit agent"
    menu_hook = slack.fake.new_response_url()
    slack.post(
        slack.signer.block_actions(
            message=listing,
            action_id=agent_blocks.AGENT_MENU,
            value=json.dumps({"do": "delete", "id": agent_id}),
            response_url=menu_hook,
        )
    )
    assert "Delete the agent *Helper*?" in slack.reply_text(menu_hook)


# ---- pipelines -----------------------------------------------------------------------------


def test_pipeline_builder_add_and_remove_keep_picks(ctx: AppContext, slack: SlackServer) -> None:
    a, b = make_agent(ctx, "Alpha"), make_agent(ctx, "Beta")
    view = slack.open_modal("pipeline new")
    assert [x["label"]["text"] for x in view["blocks"] if x["type"] == "input"] == ["Name", "Step 1", "Budget (USD)"]
    count = len(slack.fake.calls("views.update"))
    slack.post(
        slack.signer.block_actions(
            view=view, action_id=pipeline_blocks.ADD_STEP, values={"Name": "Chain", "Step 1": str(b)}
        )
    )
    updated = slack.fake.wait_for("views.update", count=count + 1)
    assert updated.ok, updated.response
    new = updated.response["view"]
    inputs = {x["label"]["text"]: x for x in new["blocks"] if x["type"] == "input"}
    assert list(inputs) == ["Name", "Step 1", "Step 2", "Budget (USD)"]
    assert inputs["Name"]["element"]["initial_value"] == "Chain"
    assert inputs["Step 1"]["element"]["initial_option"]["value"] == str(b)
    # remove step 1: step 2 (Alpha) moves up, under a new block id so Slack shows the move
    _, remove = find_element(new["blocks"], pipeline_blocks.REMOVE_STEP)
    slack.post(
        slack.signer.block_actions(
            view=new,
            action_id=pipeline_blocks.REMOVE_STEP,
            value="1",
            values={"Name": "Chain", "Step 1": str(b), "Step 2": str(a)},
        )
    )
    final = slack.fake.wait_for("views.update", count=count + 2).response["view"]
    steps = [x for x in final["blocks"] if x["type"] == "input" and x["label"]["text"].startswith("Step")]
    assert [x["label"]["text"] for x in steps] == ["Step 1"]
    assert steps[0]["element"]["initial_option"]["value"] == str(a)
    assert steps[0]["block_id"] != inputs["Step 1"]["block_id"]
    answer = submit(slack, final, {"Name": "Chain", "Step 1": str(a), "Budget (USD)": "0.25"})
    assert answer == {}
    with transaction(ctx.sessions) as s:
        p = pipeline_repo.get_pipeline_by_name(s, TEAM_ID, "chain")
        assert [st.agent_id for st in p.steps] == [a] and str(p.budget_usd).startswith("0.25")


def test_pipeline_validation_errors_inline(ctx: AppContext, slack: SlackServer) -> None:
    a = make_agent(ctx, "Alpha")
    make_pipeline(ctx, "Taken", [a])
    view = slack.open_modal("pipeline new")
    answer = submit(slack, view, {"Name": "Empty"})  # no step picked
    step_block = next(x["block_id"] for x in view["blocks"] if x.get("label", {}).get("text") == "Step 1")
    assert answer["response_action"] == "errors" and "step 1" in answer["errors"][step_block]
    answer = submit(slack, view, {"Name": "TAKEN", "Step 1": str(a), "Budget (USD)": "lots"})
    assert "already exists" in answer["errors"]["name"]
    assert "US dollars" in answer["errors"]["budget_usd"]


def test_pipeline_edit_with_deleted_agent(ctx: AppContext, slack: SlackServer) -> None:
    a, gone = make_agent(ctx, "Alpha"), make_agent(ctx, "Old helper")
    make_pipeline(ctx, "Weekly digest", [a, gone])
    with transaction(ctx.sessions) as s:
        agent_repo.delete_agent(s, TEAM_ID, gone)
    listing = slack.command("pipelines").text()
    assert "⚠️ *Weekly digest*" in listing and "Old helper" in listing
    view = slack.open_modal('pipeline edit "weekly digest"')
    step2 = next(x for x in view["blocks"] if x.get("label", {}).get("text") == "Step 2")
    assert step2["element"]["placeholder"]["text"] == "⚠️ deleted agent: Old helper"
    assert "initial_option" not in step2["element"]
    answer = submit(slack, view, {"Name": "Weekly digest", "Step 1": str(a)})
    assert "Old helper" in answer["errors"][step2["block_id"]] and "deleted" in answer["errors"][step2["block_id"]]
    b = make_agent(ctx, "Beta")
    view = slack.open_modal('pipeline edit "weekly digest"')
    assert submit(slack, view, {"Name": "Weekly digest", "Step 1": str(a), "Step 2": str(b)}) == {}
    assert "⚠️" not in slack.command("pipelines").text()


def test_pipeline_delete(ctx: AppContext, slack: SlackServer) -> None:
    make_pipeline(ctx, "Digest", [make_agent(ctx, "Alpha")])
    assert "Did you mean *Digest*?" in slack.command("pipeline delete digets").text()
    ask = slack.command("pipeline delete digest").message()
    click = slack.fake.new_response_url()
    slack.post(slack.signer.block_actions(message=ask, action_id=common_blocks.DELETE_PIPELINE, response_url=click))
    assert "Deleted the pipeline *Digest*" in slack.reply_text(click)
    with transaction(ctx.sessions) as s:
        assert pipeline_repo.list_pipelines(s, TEAM_ID) == []


def test_pipeline_new_without_agents(ctx: AppContext, slack: SlackServer) -> None:
    view = slack.open_modal("pipeline new")
    assert view["submit"] is None and "/pipebot agent new" in json.dumps(view["blocks"])


# ---- trigger ids ---------------------------------------------------------------------------


def test_modal_opens_with_little_of_the_trigger_left(ctx: AppContext, slack: SlackServer) -> None:
    set_key(ctx, "anthropic")
    view = slack.open_modal("agent new", trigger_age=2.3)  # 0.7 s of its 3 s left
    assert view["title"]["text"] == "New agent"


def test_expired_trigger_is_explained(ctx: AppContext, slack: SlackServer) -> None:
    set_key(ctx, "anthropic")
    reply = slack.command("agent new", trigger_age=3.5).text()
    assert "3 seconds" in reply and "run the command again" in reply


# ---- settings ------------------------------------------------------------------------------


def test_settings_refused_for_non_admin(ctx: AppContext, slack: SlackServer) -> None:
    calls = len(slack.fake.calls("views.open"))
    assert "Only workspace admins and owners" in slack.command("settings", user_id=USER_ID).text()
    assert slack.fake.last("users.info").params["user"] == USER_ID
    time.sleep(0.1)
    assert len(slack.fake.calls("views.open")) == calls


def test_settings_modal_for_admin_never_shows_keys(ctx: AppContext, slack: SlackServer) -> None:
    set_key(ctx, "anthropic", "sk-ant-secret-value-9876")
    view = slack.open_modal("settings", user_id=OWNER_ID)
    dump = json.dumps(view, ensure_ascii=False)
    assert "secret-value" not in dump and "configured, ends in …9876" in dump
    labels = [b["label"]["text"] for b in view["blocks"] if b["type"] == "input"]
    assert labels == [
        "Anthropic API key",
        "Remove the Anthropic key",
        "OpenAI API key",
        "Daily limit (USD)",
        "Runs per person per hour",
        "Links to runs",
        "Shortest schedule interval (minutes)",
    ]


def test_settings_submission_by_non_admin_is_refused(ctx: AppContext, slack: SlackServer) -> None:
    view = slack.open_modal("settings", user_id=ADMIN_ID)
    answer = submit(slack, view, {"OpenAI API key": GOOD_OPENAI}, user_id=USER_ID)
    assert "Only workspace admins" in answer["errors"]["anthropic_key"]
    with transaction(ctx.sessions) as s:
        assert credential_repo.credential_hints(s, TEAM_ID) == {}


def test_settings_save_check_and_remove(ctx: AppContext, slack: SlackServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    set_key(ctx, "anthropic", "sk-ant-old-key-0000")
    view = slack.open_modal("settings", user_id=ADMIN_ID)
    # a key the provider refuses: inline error, nothing saved
    answer = submit(slack, view, {"OpenAI API key": "sk-bad-key-123456789"}, user_id=ADMIN_ID)
    assert answer["response_action"] == "errors" and "OpenAI rejected this key" in answer["errors"]["openai_key"]
    # both a new key and Remove for one provider is ambiguous
    answer = submit(
        slack, view, {"Anthropic API key": GOOD_ANTHROPIC, "anthropic_remove": ["remove"]}, user_id=ADMIN_ID
    )
    assert "not both" in answer["errors"]["anthropic_key"]
    # a good OpenAI key is saved; the blank Anthropic field keeps the stored key
    assert submit(slack, view, {"OpenAI API key": f"  {GOOD_OPENAI} "}, user_id=ADMIN_ID) == {}
    with transaction(ctx.sessions) as s:
        assert credential_repo.get_credential(s, TEAM_ID, "openai", ctx.box) == GOOD_OPENAI
        assert credential_repo.get_credential(s, TEAM_ID, "anthropic", ctx.box) == "sk-ant-old-key-0000"
    assert "Saved the OpenAI key (ends in …5678)" in slack.reply_text(view["_response_url"])
    # Remove deletes the stored key
    view = slack.open_modal("settings", user_id=ADMIN_ID)
    assert submit(slack, view, {"anthropic_remove": ["remove"]}, user_id=ADMIN_ID) == {}
    with transaction(ctx.sessions) as s:
        assert set(credential_repo.credential_hints(s, TEAM_ID)) == {"openai"}
        events = [(e.actor, e.action, e.subject, e.detail) for e in audit.latest(s, TEAM_ID)]
    assert events == [  # the audit trail names the provider, never the key
        (ADMIN_ID, "key_removed", "Anthropic", {"provider": "anthropic"}),
        (ADMIN_ID, "key_saved", "OpenAI", {"provider": "openai"}),
    ]
    for secret in (GOOD_OPENAI, "sk-bad-key-123456789", GOOD_ANTHROPIC):
        assert secret not in caplog.text
        assert secret[6:] not in caplog.text


def test_settings_slow_provider_finishes_after_ack(
    ctx: AppContext, slack: SlackServer, fake_anthropic: FakeAnthropic
) -> None:
    view = slack.open_modal("settings", user_id=OWNER_ID)
    fake_anthropic.enqueue(
        Fault(200, {"data": [], "has_more": False, "first_id": None, "last_id": None}, delay=2.5), path="/v1/models"
    )
    count = len(slack.fake.calls("views.update"))
    t0 = time.monotonic()
    answer = submit(slack, view, {"Anthropic API key": GOOD_ANTHROPIC}, user_id=OWNER_ID)
    assert time.monotonic() - t0 < 2.8  # acked within Slack's 3 s
    assert answer["response_action"] == "update" and "Checking" in json.dumps(answer["view"])
    done = slack.fake.wait_for("views.update", count=count + 1, timeout=10)
    assert done.params["view_id"] == view["id"] and "Saved the Anthropic key" in json.dumps(done.params["view"])
    with transaction(ctx.sessions) as s:
        assert credential_repo.get_credential(s, TEAM_ID, "anthropic", ctx.box) == GOOD_ANTHROPIC
    # a slow refusal: the form comes back with the reason under the field, nothing saved
    view = slack.open_modal("settings", user_id=OWNER_ID)
    fake_anthropic.enqueue(
        Fault(401, fake_anthropic.error_body(401, message="invalid x-api-key"), delay=2.5), path="/v1/models"
    )
    answer = submit(slack, view, {"Anthropic API key": "sk-ant-api03-revoked-key-9999"}, user_id=OWNER_ID)
    assert answer["response_action"] == "update"
    again = slack.fake.wait_for("views.update", count=count + 2, timeout=10).params["view"]
    text = json.dumps(again, ensure_ascii=False)
    assert "Anthropic rejected this key" in text and "Nothing was saved" in text
    assert again["callback_id"] == settings_blocks.SETTINGS_CALLBACK and "revoked-key" not in text
    with transaction(ctx.sessions) as s:
        assert credential_repo.get_credential(s, TEAM_ID, "anthropic", ctx.box) == GOOD_ANTHROPIC


def test_pipebot_admins_need_no_users_info(_session_ctx: AppContext, fake_slack: FakeSlack) -> None:
    ctx = dataclasses.replace(
        _session_ctx, settings=slack_settings(_session_ctx.settings, fake_slack, PIPEBOT_ADMINS=USER_ID)
    )
    client = make_client(ctx, fake_slack.token)
    calls = len(fake_slack.calls("users.info"))
    assert is_admin(ctx, client, USER_ID) is True
    assert len(fake_slack.calls("users.info")) == calls
    assert is_admin(ctx, client, ADMIN_ID) is True and is_admin(ctx, client, "U0PIPEBOT") is False


# ---- the Slack client and its tables -------------------------------------------------------


def test_client_for_uses_slack_api_url_and_retries_429(ctx: AppContext, slack: SlackServer) -> None:
    client = client_for(slack.ctx, TEAM_ID)
    assert client.base_url == slack.fake.url and client.token == slack.fake.token
    slack.fake.fail_next("auth.test", status=429, retry_after=0)
    assert client.auth_test()["team_id"] == TEAM_ID


UNPRICED = "anthropic:claude-pipebot-no-price-9"  # a model id no price data will ever list


def test_pipeline_budget_over_a_model_without_a_price_is_refused_inline(ctx: AppContext, slack: SlackServer) -> None:
    assert unpriced_models([UNPRICED, "anthropic:claude-haiku-4-5"]) == [UNPRICED]  # the premise
    priced, unpriced = make_agent(ctx, "Priced"), make_agent(ctx, "Unpriced", model=UNPRICED)
    view = slack.open_modal("pipeline new")
    answer = submit(slack, view, {"Name": "Capped", "Step 1": str(unpriced), "Budget (USD)": "0.50"})
    assert answer["response_action"] == "errors"
    assert set(answer["errors"]) == {"budget_usd"} and UNPRICED in answer["errors"]["budget_usd"]
    assert "no price" in answer["errors"]["budget_usd"]
    assert submit(slack, view, {"Name": "Capped", "Step 1": str(priced), "Budget (USD)": "0.50"}) == {}
    assert submit(slack, view, {"Name": "Uncapped", "Step 1": str(unpriced)}) == {}  # no budget: fine
    with transaction(ctx.sessions) as s:
        assert pipeline_repo.get_pipeline_by_name(s, TEAM_ID, "capped").budget_usd is not None
        assert pipeline_repo.get_pipeline_by_name(s, TEAM_ID, "uncapped").budget_usd is None


@pytest.mark.parametrize(
    "fields",
    [
        {"is_restricted": True},  # a multi-channel guest
        {"is_ultra_restricted": True},  # a single-channel guest
        {"team_id": "T0OTHERORG"},  # an admin of another organisation in a Slack Connect channel
    ],
    ids=["guest", "single-channel-guest", "other-organisation"],
)
def test_settings_refused_for_an_admin_who_is_a_guest_or_of_another_org(
    ctx: AppContext, slack: SlackServer, fields: dict[str, Any]
) -> None:
    before = {k: slack.fake.users[ADMIN_ID].get(k) for k in fields}
    slack.fake.set_user(ADMIN_ID, **fields)  # still is_admin in their own profile
    try:
        calls = len(slack.fake.calls("views.open"))
        assert "Only workspace admins and owners" in slack.command("settings", user_id=ADMIN_ID).text()
        assert len(slack.fake.calls("views.open")) == calls
    finally:
        slack.fake.set_user(ADMIN_ID, **before)
