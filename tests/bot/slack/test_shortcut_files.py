"""The message shortcut on a message with files, through the real `/slack/events` endpoint
against the fake Slack and real PostgreSQL/Redis: the modal lists the files (the input may
be empty), takes Extra instructions and Include the thread, and on submission completes the
files with files.info; a file gone meanwhile is an inline error.

Needs the core branch (intake recording files and the thread): the ``run_files`` and
``runs.thread`` assertions.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.slack.blocks.runs import EXTRA_LABEL, INCLUDE_THREAD
from storage.db import transaction
from storage.repos import run_files as file_repo
from tests.fakes.slack import GENERAL, RANDOM, TEAM_ID
from tests.fakes.slack.files import stub_of
from tests.support.runs import all_runs, make_agent, make_pipeline, with_keys
from tests.support.slack_app import SlackServer


@pytest.fixture
def digest(ctx) -> int:
    with_keys(ctx, TEAM_ID, "anthropic")
    return make_pipeline(ctx, TEAM_ID, "Digest", [make_agent(ctx, TEAM_ID, "Summariser")])


def _shortcut(slack: SlackServer, message: dict[str, Any]) -> tuple[dict[str, Any], str]:
    count = len(slack.fake.calls("views.open"))
    hook = slack.fake.new_response_url(GENERAL)
    signed = slack.signer.message_action(
        "run_on_message", message, channel_id=GENERAL, trigger_id=slack.fake.new_trigger_id(), response_url=hook
    )
    assert slack.post(signed).status_code == 200
    call = slack.fake.wait_for("views.open", count=count + 1)
    assert call.ok, call.response
    return call.response["view"], hook


def test_a_message_of_files_alone_runs_with_extra_instructions_and_the_thread(ctx, slack, digest):
    fake = slack.fake
    root = fake.post_as_user(GENERAL, "Launch review")
    fake.post_as_user(GENERAL, "looks good to me", thread_ts=root["ts"])
    png = fake.add_file(b"\x89PNG....", "mockup.png", mimetype="image/png", filetype="png")
    pdf = fake.add_file(b"%PDF-1.7", "spec.pdf", mimetype="application/pdf", filetype="pdf")
    message = fake.post_as_user(GENERAL, "", thread_ts=root["ts"], files=[png, stub_of(pdf)])
    view, _ = _shortcut(slack, message)
    shown = json.dumps(view["blocks"])
    assert "mockup.png" in shown and "*Files:*" in shown
    assert json.loads(view["private_metadata"])["file_ids"] == [png["id"], pdf["id"]]
    response = slack.post(
        slack.signer.view_submission(
            view, {"Pipeline": str(digest), "Extra instructions": "Only the risks", "Thread": [INCLUDE_THREAD]}
        )
    )
    assert response.status_code == 200 and response.text in ("", "null"), response.text
    [run] = all_runs(ctx, TEAM_ID)
    assert run.input == f"{EXTRA_LABEL}:\nOnly the risks"
    assert (run.channel_id, run.thread_ts) == (GENERAL, root["ts"])
    assert {c.params["file"] for c in fake.calls("files.info")} >= {png["id"], pdf["id"]}
    # needs core: intake records the files and the thread
    with transaction(ctx.sessions) as s:
        assert [f.name for f in file_repo.files_of(s, run.id)] == ["mockup.png", "spec.pdf"]
    assert run.thread == {"ref": {"channel_id": GENERAL, "thread_ts": root["ts"], "before_ts": message["ts"]}}


def test_extra_instructions_are_appended_to_the_message_text(ctx, slack, digest):
    message = slack.fake.post_as_user(GENERAL, "The quarterly numbers are in")
    view, _ = _shortcut(slack, message)
    response = slack.post(
        slack.signer.view_submission(
            view,
            {"Pipeline": str(digest), "Input": "The quarterly numbers are in", "Extra instructions": "Be brief"},
        )
    )
    assert response.status_code == 200, response.text
    [run] = all_runs(ctx, TEAM_ID)
    assert run.input == f"The quarterly numbers are in\n\n{EXTRA_LABEL}:\nBe brief" and run.thread is None


def test_a_file_deleted_before_submission_is_an_inline_error(ctx, slack, digest):
    fake = slack.fake
    doc = fake.add_file(b"text", "draft.txt")
    view, _ = _shortcut(slack, fake.post_as_user(GENERAL, "", files=[doc]))
    fake.delete_file(doc["id"])
    body = slack.post(slack.signer.view_submission(view, {"Pipeline": str(digest)})).json()
    assert body["response_action"] == "errors" and "invite @pipebot" in body["errors"]["pipeline"]
    assert all_runs(ctx, TEAM_ID) == []


def test_a_message_without_text_or_files_is_refused(ctx, slack, digest):
    message = slack.fake.post_as_user(GENERAL, "")
    count = len(slack.fake.calls("views.open"))
    hook = slack.fake.new_response_url(GENERAL)
    signed = slack.signer.message_action("run_on_message", message, channel_id=GENERAL, response_url=hook)
    assert slack.post(signed).status_code == 200
    [reply] = slack.replies(hook)
    assert reply["text"] == "That message has no text or files to run a pipeline on."
    assert len(slack.fake.calls("views.open")) == count


def test_include_the_thread_is_offered_only_for_a_message_in_a_thread(ctx, slack, digest):
    lone = slack.fake.post_as_user(GENERAL, "A message of its own")
    view, _ = _shortcut(slack, lone)
    labels = [b["label"]["text"] for b in view["blocks"] if b["type"] == "input"]
    assert labels == ["Pipeline", "Input", "Extra instructions"]
    slack.fake.post_as_user(GENERAL, "a reply", thread_ts=lone["ts"])
    view, _ = _shortcut(slack, slack.fake.message(GENERAL, lone["ts"]))  # now the first message of a thread
    assert [b["label"]["text"] for b in view["blocks"] if b["type"] == "input"][-1] == "Thread"


def test_files_in_a_channel_pipebot_is_not_in_say_invite(ctx, slack, digest):
    fake = slack.fake
    doc = fake.add_file(b"numbers", "q3.csv", mimetype="text/csv", filetype="csv", channel=RANDOM)
    message = fake.post_as_user(RANDOM, "", files=[doc])
    count = len(fake.calls("views.open"))
    signed = slack.signer.message_action(
        "run_on_message",
        message,
        channel_id=RANDOM,
        trigger_id=fake.new_trigger_id(),
        response_url=fake.new_response_url(RANDOM),
    )
    assert slack.post(signed).status_code == 200
    view = fake.wait_for("views.open", count=count + 1).response["view"]
    body = slack.post(slack.signer.view_submission(view, {"Pipeline": str(digest)})).json()
    assert body["response_action"] == "errors"
    assert body["errors"]["pipeline"].startswith("pipebot can't see a file of that message: invite @pipebot")
    assert all_runs(ctx, TEAM_ID) == [] and not fake.downloads(doc["id"])
