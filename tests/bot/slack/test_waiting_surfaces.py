"""`waiting` (a run paused for a person, DESIGN §12) where Slack shows a run's status: the
message that opens its thread and App Home's recent runs, each with Cancel (Cancel works
while waiting)."""

from __future__ import annotations

import json

from slack_sdk import WebClient

from bot.slack.blocks.runs import RUN_CANCEL, parent_message
from core.messages import status_words
from storage.db import transaction
from storage.repos import pipelines as pipeline_repo
from storage.repos import runs as run_repo
from tests.fakes.slack import GENERAL, TEAM_ID, USER_ID
from tests.support.runs import make_agent, make_pipeline, with_keys


def test_status_words_name_waiting_for_people() -> None:
    assert status_words("waiting") == "waiting for approval"
    assert [status_words(s) for s in ("queued", "running", "succeeded", "failed")] == [
        "queued",
        "running",
        "succeeded",
        "failed",
    ]
    assert status_words(None) == "unknown" and status_words("odd") == "odd"


def test_the_parent_message_of_a_waiting_run_says_so_and_keeps_cancel(slack) -> None:
    text, blocks = parent_message("Essay <b>", USER_ID, "write about otters", status="waiting", run_id="r-1")
    rendered = [b.to_dict() for b in blocks]
    assert rendered[0]["text"]["text"] == f"⏸️ *Essay &lt;b&gt;* for <@{USER_ID}> is waiting for approval"
    assert "The approval and what it waits on are in the thread" in rendered[1]["elements"][0]["text"]
    [cancel] = rendered[2]["elements"]
    assert cancel["action_id"] == RUN_CANCEL and cancel["value"] == "r-1"
    assert text.startswith("⏸️ *Essay &lt;b&gt;*") and "waiting for approval" in text
    client = WebClient(token=slack.fake.token, base_url=slack.fake.url)
    posted = client.chat_postMessage(channel=GENERAL, text=text, blocks=rendered)
    assert posted["ok"]  # blocks Slack accepts


def test_app_home_lists_a_waiting_run_with_cancel(ctx, slack) -> None:
    with_keys(ctx, TEAM_ID, "anthropic")
    pid = make_pipeline(ctx, TEAM_ID, "Reviewed", [make_agent(ctx, TEAM_ID, "Drafter")])
    with transaction(ctx.sessions) as s:
        pipeline = pipeline_repo.get_pipeline(s, TEAM_ID, pid)
        run = run_repo.create_run(s, TEAM_ID, pipeline, "write about otters", requested_by=USER_ID, source="slack")
        run.status = "waiting"
        run_id = str(run.id)
    count = len(slack.fake.calls("views.publish"))
    assert slack.post(slack.signer.app_home_opened(USER_ID)).status_code == 200
    call = slack.fake.wait_for("views.publish", count=count + 1)
    assert call.ok, call.response
    blocks = call.response["view"]["blocks"]
    [line] = [b for b in blocks if b["type"] == "section" and b["text"]["text"].startswith("⏸️")]
    assert line["text"]["text"].startswith("⏸️ *Reviewed* · ") and " · waiting for approval · " in line["text"]["text"]
    assert line["accessory"]["action_id"] == RUN_CANCEL and line["accessory"]["value"] == run_id
    assert "artifact_view" not in json.dumps(line)  # nothing to view yet
