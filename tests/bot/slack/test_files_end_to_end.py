"""A mention with files inside a thread, all the way through: signed `app_mention` to the real
`/slack/events`, the run recorded, a real RQ worker process (`pipebot worker --burst`)
downloading the files from the fake Slack with the bot token (bot/slack/input_source.py) and
reading the thread, the fake Anthropic server getting the image inline and the thread as
context, the result posted (and marked) in the thread.

Needs the core branch (intake recording files and thread, the worker's gathering, the step's
parts); on the slack branch alone it fails at the run's files.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient

from bot.slack.blocks.runs import RESULT_MARK
from tests.fakes.slack import ADMIN_ID, BOT_USER_ID, GENERAL, TEAM_ID
from tests.support.runs import all_runs, drain, make_agent, make_pipeline, with_keys
from tests.support.slack_app import SlackServer
from tests.support.waiting import wait_until

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 400


@pytest.fixture(scope="module")
def finished(_session_ctx, slack: SlackServer, base_env, _fake_providers) -> Iterator[dict[str, Any]]:
    ctx, fake = _session_ctx, slack.fake
    with ctx.engine.begin() as conn:
        from storage.models import Base

        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        conn.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    anthropic, _ = _fake_providers
    anthropic.reset()
    with_keys(ctx, TEAM_ID, "anthropic")
    make_pipeline(ctx, TEAM_ID, "Look", [make_agent(ctx, TEAM_ID, "Looker")])
    anthropic.reply("Two otters holding hands.")

    root = fake.post_as_user(GENERAL, "Launch plan v2 &amp; mockups", user_id=ADMIN_ID)
    WebClient(token=fake.token, base_url=fake.url).chat_postMessage(
        channel=GENERAL, thread_ts=root["ts"], text="⏳ Running *Other* for someone…"
    )
    png = fake.add_file(PNG, "otters.png", mimetype="image/png", filetype="png")
    notes = fake.add_file(b"otters: 2\nhands: held\n", "notes.txt", mimetype="text/plain", filetype="text")
    event = fake.mention_event(
        f"<@{BOT_USER_ID}> run Look what do you see?", thread_ts=root["ts"], files=[png, notes], stub_files=True
    )
    r = slack.post(slack.signer.event(event))
    assert r.status_code == 200, r.text
    wait_until(lambda: len(all_runs(ctx, TEAM_ID)) == 1, 10, "the run to be recorded")
    env = dict(
        base_env,
        SLACK_API_URL=fake.url,
        SLACK_BOT_TOKEN=fake.token,
        ANTHROPIC_BASE_URL=anthropic.url,
        PIPEBOT_WORKER_CONCURRENCY="1",
    )
    worker = drain(env)
    [run] = all_runs(ctx, TEAM_ID)
    yield {
        "run": run,
        "worker": worker,
        "png": png,
        "notes": notes,
        "root": root,
        "event": event,
        "request": anthropic.calls()[-1].json if anthropic.calls() else None,
    }


def test_the_run_succeeds_with_the_files_downloaded_once_with_the_bot_token(finished, slack):
    run = finished["run"]
    assert run.status == "succeeded", (run.error_kind, run.error_message, finished["worker"].stderr[-2000:])
    for f in (finished["png"], finished["notes"]):
        [got] = slack.fake.downloads(f["id"])
        assert got.headers["authorization"] == f"Bearer {slack.fake.token}" and got.status == 200


def test_the_model_gets_the_image_inline_and_the_thread_as_context(finished):
    request = finished["request"]
    assert request is not None
    content = request["messages"][0]["content"]
    blocks = content if isinstance(content, list) else [{"type": "text", "text": content}]
    images = [b for b in blocks if b.get("type") == "image"]
    assert images and images[0]["source"]["type"] == "base64"
    assert base64.b64decode(images[0]["source"]["data"]) == PNG
    text = json.dumps(request)
    assert "Launch plan v2 & mockups" in text and "alex" in text  # the thread, by display name
    assert "Running *Other*" not in text  # pipebot's own status note is left out
    assert "hands: held" in text  # the text file as text
    assert "what do you see?" in text


def test_the_result_is_posted_in_the_thread_and_marked(finished, slack):
    root = finished["root"]
    results = [
        m for m in slack.fake.replies(GENERAL, root["ts"]) if (m.get("metadata") or {}).get("event_type") == RESULT_MARK
    ]
    assert len(results) == 1 and "Two otters" in json.dumps(results[0]["blocks"])
