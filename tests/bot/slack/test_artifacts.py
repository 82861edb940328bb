"""`/pipebot artifacts` (latest, paging, full-text search), the artifact modal and the App Home
tab, through the real `/slack/events` endpoint against the fake Slack Web API."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from bot.slack.blocks.limits import VIEW_BLOCKS_LIMIT
from core.links import artifact_permalink
from storage.db import transaction
from storage.repos import agents as agent_repo
from storage.repos import artifacts as artifact_repo
from storage.repos import pipelines as pipeline_repo
from storage.repos import runs as run_repo
from tests.fakes.slack import GENERAL, TEAM_ID, USER_ID
from tests.support.runs import GPT, HAIKU, make_agent, make_pipeline, with_keys
from tests.support.slack_app import SlackServer

NOW = datetime.now(UTC)


def make_artifacts(
    ctx, team: str, pipeline_id: int, outputs: list[str], *, start: int = 0, status: str = "succeeded"
) -> list[str]:
    """Finished runs with their artifacts, newest first, one minute apart from minute ``start``."""
    ids = []
    with transaction(ctx.sessions) as s:
        pipeline = pipeline_repo.get_pipeline(s, team, pipeline_id)
        for i, output in enumerate(outputs):
            run = run_repo.create_run(s, team, pipeline, f"input {start + i}", requested_by=USER_ID, source="slack")
            run.status, run.output, run.cost_usd = status, output, Decimal("0.0012")
            content = {
                "input": run.input,
                "output": output,
                "duration_ms": 1500,
                "status": status,
                "error": {"message": "Anthropic rejected the API key."} if status == "failed" else None,
                "steps": [
                    {
                        "position": 1,
                        "status": status,
                        "agent": {"name": "Drafter"},
                        "model": HAIKU,
                        "cost_usd": "0.0012",
                        "latency_ms": 1500,
                    }
                ],
            }
            art = artifact_repo.get_artifact(
                s, team, artifact_repo.insert_for_run(s, team, run, content, models=[HAIKU], cost_usd=Decimal("0.0012"))
            )
            art.created_at = run.created_at = NOW - timedelta(minutes=start + i)
            s.flush()
            ids.append(str(art.id))
    return ids


def _reply(slack: SlackServer, hook: str, count: int = 1) -> dict[str, Any]:
    return slack.replies(hook, count)[count - 1]


def _command(slack: SlackServer, text: str) -> dict[str, Any]:
    response, hook = slack.command(text)
    assert response.status_code == 200
    post = _reply(slack, hook)
    assert post.get("response_type") == "ephemeral"
    return post


def _sections(post: dict[str, Any]) -> list[str]:
    return [b["text"]["text"] for b in post.get("blocks") or [] if b["type"] == "section"]


@pytest.fixture
def essay(ctx) -> dict[str, int]:
    with_keys(ctx, TEAM_ID, "anthropic")
    drafter = make_agent(ctx, TEAM_ID, "Drafter")
    return {
        "agent": drafter,
        "essay": make_pipeline(ctx, TEAM_ID, "Essay", [drafter]),
        "other": make_pipeline(ctx, TEAM_ID, "Weekly digest", [drafter]),
    }


def test_latest_ten_with_links_and_paging(ctx, slack, essay):
    ids = make_artifacts(ctx, TEAM_ID, essay["essay"], [f"essay {i}" for i in range(12)])
    ids += make_artifacts(ctx, TEAM_ID, essay["other"], ["digest"], start=12)
    make_artifacts(
        ctx,
        "T0OTHER",
        make_pipeline(ctx, "T0OTHER", "Essay", [make_agent(ctx, "T0OTHER", "A")]),
        ["someone else's"],
        start=0,
    )

    post = _command(slack, "artifacts")
    rows = _sections(post)[1:]
    assert len(rows) == 10 and "Latest artifacts" in _sections(post)[0]
    assert all("*Essay*" in r and "succeeded" in r and "$0.0012" in r and "<!date^" in r for r in rows)
    assert artifact_permalink(ctx, TEAM_ID, ids[0]) in rows[0]  # newest first, with its permalink
    buttons = [b for b in post["blocks"] if b["type"] == "actions"][0]["elements"]
    assert [b["text"]["text"] for b in buttons] == ["Next page"]

    hook = slack.fake.new_response_url()
    r = slack.post(slack.signer.block_actions(action_id="artifacts_page", message=post, response_url=hook))
    assert r.status_code == 200
    page2 = _reply(slack, hook)
    assert page2["replace_original"] is True
    rows2 = _sections(page2)[1:]
    assert len(rows2) == 3 and "*Weekly digest*" in rows2[-1] and "(11–13)" in _sections(page2)[0]
    assert artifact_permalink(ctx, TEAM_ID, ids[10]) in rows2[0]
    assert [b["text"]["text"] for b in page2["blocks"][-1]["elements"]] == ["Previous page"]
    assert "someone else" not in json.dumps([post, page2])


def test_for_one_pipeline_search_and_did_you_mean(ctx, slack, essay):
    make_artifacts(ctx, TEAM_ID, essay["essay"], ["Otters hold hands while sleeping.", "Beavers build dams."])
    make_artifacts(ctx, TEAM_ID, essay["other"], ["The otter report for this week."], start=5)

    rows = _sections(_command(slack, "artifacts Weekly digest"))[1:]
    assert len(rows) == 1 and "*Weekly digest*" in rows[0]
    found = _sections(_command(slack, "artifacts search otters"))
    assert "matching “otters”" in found[0] and len(found) == 3
    found = _sections(_command(slack, "artifacts essay search otters"))
    assert len(found) == 2 and "*Essay*" in found[1]
    assert "No artifacts that you can see match “penguins”" in _command(slack, "artifacts search penguins")["text"]
    assert "Did you mean *Essay*?" in _command(slack, "artifacts Esay")["text"]


def test_view_opens_a_modal_with_the_output_cut_to_fit_and_the_link(ctx, slack, essay):
    long_output = "\n\n".join(f"Section {i}: otters & <b>beavers</b> " + "swim. " * 200 for i in range(20))
    [art_id] = make_artifacts(ctx, TEAM_ID, essay["essay"], [long_output])
    post = _command(slack, "artifacts")
    count = len(slack.fake.calls("views.open"))
    r = slack.post(
        slack.signer.block_actions(action_id="artifact_view", message=post, trigger_id=slack.fake.new_trigger_id())
    )
    assert r.status_code == 200
    call = slack.fake.wait_for("views.open", count=count + 1)
    assert call.ok, call.response
    view = call.params["view"]
    assert view["type"] == "modal" and "submit" not in view and len(view["blocks"]) <= VIEW_BLOCKS_LIMIT
    texts = json.dumps(view["blocks"], ensure_ascii=False)
    link = artifact_permalink(ctx, TEAM_ID, art_id)
    assert "full output: <" in texts and link.replace("&", "&amp;") in texts
    assert "&lt;b&gt;beavers&lt;/b&gt;" in texts and "<b>" not in texts
    assert all(len(b["text"]["text"]) <= 3000 for b in view["blocks"] if b["type"] == "section" and "text" in b)

    # a value naming another workspace's artifact shows nothing of it
    [foreign] = make_artifacts(
        ctx, "T0OTHER", make_pipeline(ctx, "T0OTHER", "X", [make_agent(ctx, "T0OTHER", "A")]), ["secret"]
    )
    forged = {
        "type": "message",
        "ts": "1.0",
        "text": "",
        "blocks": [
            {
                "type": "actions",
                "block_id": "b",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "artifact_view",
                        "text": {"type": "plain_text", "text": "View"},
                        "value": foreign,
                    }
                ],
            }
        ],
    }
    slack.post(
        slack.signer.block_actions(action_id="artifact_view", message=forged, trigger_id=slack.fake.new_trigger_id())
    )
    call = slack.fake.wait_for("views.open", count=count + 2)
    assert "doesn't exist" in json.dumps(call.params["view"]) and "secret" not in json.dumps(call.params["view"])


def _open_home(slack: SlackServer) -> dict[str, Any]:
    count = len(slack.fake.calls("views.publish"))
    assert slack.post(slack.signer.app_home_opened(USER_ID)).status_code == 200
    call = slack.fake.wait_for("views.publish", count=count + 1)
    assert call.ok, call.response
    return call.response["view"]


def test_home_tab_lists_pipelines_agents_and_runs_within_100_blocks(ctx, slack, essay):
    agents = [essay["agent"]] + [make_agent(ctx, TEAM_ID, f"Agent {i}", GPT if i % 2 else HAIKU) for i in range(6)]
    for i in range(40):
        make_pipeline(ctx, TEAM_ID, f"Pipeline {i:02d}", [agents[i % len(agents)]])
    gone = make_agent(ctx, TEAM_ID, "Gone")
    make_pipeline(ctx, TEAM_ID, "Aardvark", [essay["agent"], gone])
    with transaction(ctx.sessions) as s:
        agent_repo.delete_agent(s, TEAM_ID, gone)
    ids = make_artifacts(ctx, TEAM_ID, essay["essay"], [f"out {i}" for i in range(12)])

    home = _open_home(slack)
    assert home["type"] == "home" and len(home["blocks"]) <= VIEW_BLOCKS_LIMIT
    text = json.dumps(home["blocks"], ensure_ascii=False)
    assert "⚠️ *Aardvark*" in text and "~Gone~ (deleted)" in text
    assert "more: `/pipebot pipelines`" in text and "Agents (7)" in text and "Claude Haiku 4.5" in text
    views = [
        el
        for b in home["blocks"]
        for el in ([b.get("accessory")] if b.get("accessory") else [])
        if el.get("action_id") == "artifact_view"
    ]
    assert [v["value"] for v in views] == ids[:10]  # recent runs, newest first, each with View
    actions = [el for b in home["blocks"] if b["type"] == "actions" for el in b["elements"]]
    assert {"home_run_pipeline", "home_edit_pipeline", "home_new_agent", "home_new_pipeline"} <= {
        a["action_id"] for a in actions
    }


def test_home_run_button_starts_a_run_where_the_user_says(ctx, slack, essay):
    fake = slack.fake
    home = _open_home(slack)
    count = len(fake.calls("views.open"))
    slack.post(
        slack.signer.block_actions(
            action_id="home_run_pipeline", view=home, value=str(essay["other"]), trigger_id=fake.new_trigger_id()
        )
    )
    modal = fake.wait_for("views.open", count=count + 1).response["view"]
    select = next(b for b in modal["blocks"] if b.get("block_id") == "pipeline")["element"]
    assert select["initial_option"]["text"]["text"] == "Weekly digest"
    before = len(fake.messages(GENERAL))
    r = slack.post(
        slack.signer.view_submission(
            modal, {"Pipeline": str(essay["other"]), "Input": "the week", "Post results in": GENERAL}
        )
    )
    assert r.status_code == 200 and r.text in ("", "null"), r.text
    with transaction(ctx.sessions) as s:
        [run] = run_repo.latest_runs(s, TEAM_ID)
        assert (run.pipeline_name, run.channel_id, run.input) == ("Weekly digest", GENERAL, "the week")
        parent = fake.message(GENERAL, run.thread_ts)
    assert len(fake.messages(GENERAL)) == before + 1 and parent["text"].startswith("⏳ Running *Weekly digest*")

    # no channel picked: the results go to a DM with the user
    slack.post(
        slack.signer.block_actions(
            action_id="home_run_pipeline", view=home, value=str(essay["essay"]), trigger_id=fake.new_trigger_id()
        )
    )
    modal = fake.wait_for("views.open", count=count + 2).response["view"]
    r = slack.post(slack.signer.view_submission(modal, {"Pipeline": str(essay["essay"]), "Input": "in private"}))
    assert r.status_code == 200, r.text
    with transaction(ctx.sessions) as s:
        run = run_repo.latest_runs(s, TEAM_ID)[0]
        assert run.channel_id == fake.dm_channel(USER_ID) and run.input == "in private"


def test_home_edit_button_opens_the_pipeline_builder(ctx, slack, essay):
    home = _open_home(slack)
    count = len(slack.fake.calls("views.open"))
    slack.post(
        slack.signer.block_actions(
            action_id="home_edit_pipeline", view=home, value=str(essay["essay"]), trigger_id=slack.fake.new_trigger_id()
        )
    )
    call = slack.fake.wait_for("views.open", count=count + 1)
    assert call.ok, call.response
    assert call.params["view"]["callback_id"] == "pipebot_pipeline_save"
    assert "Essay" in json.dumps(call.params["view"])
