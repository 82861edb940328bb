"""*Edit* on a result, through the real `/slack/events` endpoint against the fake Slack: the
buttons a run's final message carries (one run through a real worker), the edit modal and its
save (version 2 and a thread reply), inline errors that keep the text (conflict, empty, no
change), the web editor's link for long text (ephemeral, to that user only), and the buttons
in the artifact modal and on App Home."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from bot.slack.blocks import artifact_buttons
from bot.slack.blocks import edit as edit_blocks
from bot.slack.seeing import NOT_YOURS
from core.artifacts import edit_links
from core.artifacts.editing import save_edit
from core.links import signing_keys
from storage.db import transaction
from storage.repos import artifact_versions as versions
from storage.repos import artifacts as artifact_repo
from tests.fakes.slack import GENERAL, TEAM_ID, USER_ID
from tests.support.finished_runs import click, element, finished_run, guest_click
from tests.support.people import OTHER_ORG, trust_world
from tests.support.runs import (
    all_runs,
    drain,
    make_agent,
    make_pipeline,
    with_keys,
)
from tests.support.slack_app import SlackServer
from tests.support.viewer_data import local, site
from tests.support.waiting import wait_until

OTHER_USER = "U0ADMIN"


@pytest.fixture
def essay(ctx) -> dict[str, int]:
    with_keys(ctx, TEAM_ID, "anthropic")
    drafter, critic = make_agent(ctx, TEAM_ID, "Drafter"), make_agent(ctx, TEAM_ID, "Critic")
    return {"essay": make_pipeline(ctx, TEAM_ID, "Essay", [drafter, critic]), "drafter": drafter}


def _open_edit(slack: SlackServer, message: dict[str, Any], **kw: Any) -> dict[str, Any]:
    count = len(slack.fake.calls("views.open"))
    r = slack.post(click(slack.signer, slack.fake, message, artifact_buttons.EDIT_ARTIFACT, **kw))
    assert r.status_code == 200, r.text
    call = slack.fake.wait_for("views.open", count=count + 1)
    assert call.ok, call.response
    return call.response["view"]


def _text_block(view: dict[str, Any]) -> dict[str, Any]:
    return next(b for b in view["blocks"] if str(b.get("block_id", "")).startswith(edit_blocks.EDIT_TEXT_BLOCK))


def _submit(slack: SlackServer, view: dict[str, Any], values: dict[str, Any], user_id: str = USER_ID) -> Any:
    r = slack.post(slack.signer.view_submission(view, values, user_id=user_id))
    assert r.status_code == 200, r.text
    return r.json() if r.content and r.text != "null" else None


def test_final_message_buttons_and_a_saved_edit_through_a_real_run(
    ctx,
    slack,
    essay,
    worker_env,
    fake_anthropic,
):
    fake = slack.fake
    fake_anthropic.reply("a first draft about otters")
    fake_anthropic.reply("**The essay**: otters hold hands while they sleep.")
    r, _hook = slack.command("run Essay write about otters")
    assert r.status_code == 200
    wait_until(lambda: len(all_runs(ctx, TEAM_ID)) == 1, 10, "the run to be queued")
    env = dict(worker_env, SLACK_API_URL=fake.url, SLACK_BOT_TOKEN=fake.token)
    drain(env)
    [run] = all_runs(ctx, TEAM_ID)
    assert run.status == "succeeded", run.error_message
    with transaction(ctx.sessions) as s:
        artifact_id = str(artifact_repo.get_artifact_for_run(s, TEAM_ID, run.id).id)
    replies = [m for m in fake.replies(GENERAL, run.thread_ts) if not m.get("_stream")]
    final = next(m for m in replies if any(b.get("type") == "context_actions" for b in m.get("blocks") or []))

    # the result carries Open artifact, Edit, Re-run from…, Compare (version 1) and 👍/👎
    actions = next(b for b in final["blocks"] if b["type"] == "actions")
    assert [el["text"]["text"] for el in actions["elements"]] == ["Open artifact", "Edit", "Re-run from…", "Compare"]
    assert all(len(el["text"]["text"]) <= 24 for el in actions["elements"])
    assert {el["action_id"]: el.get("value") for el in actions["elements"][1:]} == {
        "artifact_edit": f"{artifact_id}:1",
        "artifact_rerun": f"{artifact_id}:1",
        "artifact_compare": f"{artifact_id}:1",
    }
    feedback = next(b for b in final["blocks"] if b["type"] == "context_actions")["elements"][0]
    assert feedback["type"] == "feedback_buttons"
    assert (feedback["positive_button"]["value"], feedback["negative_button"]["value"]) == (
        f"up:{artifact_id}:1",
        f"down:{artifact_id}:1",
    )

    # Edit opens the modal on the final output, prefilled
    view = _open_edit(slack, final)
    assert view["callback_id"] == "pipebot_artifact_edit" and view["title"]["text"] == "Edit result"
    original = run.output
    assert _text_block(view)["element"]["initial_value"] == original
    labels = [b["label"]["text"] for b in view["blocks"] if b["type"] == "input"]
    assert labels == ["Part", "Text", "Note"]
    part = next(b for b in view["blocks"] if b.get("block_id") == edit_blocks.EDIT_PART_BLOCK)["element"]
    assert [o["text"]["text"] for o in part["options"]] == ["Final output", "Step 1 · Drafter", "Step 2 · Critic"]

    # saving: version 2, the modal closes, the thread says so
    before = len(fake.replies(GENERAL, run.thread_ts))
    answer = _submit(
        slack,
        view,
        {"Part": "output", "Text": "A better essay about <b>otters</b>.", "Note": "tightened the <!channel> intro"},
    )
    assert answer is None  # closes the modal
    with transaction(ctx.sessions) as s:
        latest = versions.latest_version(s, TEAM_ID, artifact_id)
        first = versions.get_version(s, TEAM_ID, artifact_id, 1)
    assert (latest.number, latest.author, latest.note, latest.edited) == (
        2,
        USER_ID,
        "tightened the <!channel> intro",
        "output",
    )
    assert latest.content["output"] == "A better essay about <b>otters</b>."
    assert first.content["output"] == original  # version 1 is never changed
    wait_until(lambda: len(fake.replies(GENERAL, run.thread_ts)) == before + 1, 5, "the thread reply")
    reply = fake.replies(GENERAL, run.thread_ts)[-1]
    assert reply["text"].startswith(f"✏️ <@{USER_ID}> saved version 2: tightened the &lt;!channel&gt; intro")
    assert "<!channel>" not in reply["text"]


def test_a_conflict_keeps_the_text_and_empty_or_unchanged_edits_are_refused(ctx, slack, essay):
    done = finished_run(ctx, TEAM_ID, essay["essay"], "The first draft.", fake=slack.fake)
    view = _open_edit(slack, done.final)
    block = _text_block(view)["block_id"]

    answer = _submit(slack, view, {"Text": "   "})
    assert answer["response_action"] == "errors" and "empty" in answer["errors"][block]
    answer = _submit(slack, view, {"Text": "The first draft."})
    assert answer["errors"][block] == "Nothing changed: the text is the same as in version 1."
    answer = _submit(slack, view, {"Text": "Mine.", "Note": "x" * 501})
    assert "keep it to 500" in answer["errors"][edit_blocks.EDIT_NOTE_BLOCK]

    # someone else saves meanwhile: the second save gets an inline error, nothing is lost
    assert (
        save_edit(ctx, TEAM_ID, done.artifact_id, base_version=1, target="output", text="Theirs.", author=OTHER_USER)
        == 2
    )
    answer = _submit(slack, view, {"Text": "Mine, typed at length."})
    assert answer["response_action"] == "errors"  # Slack keeps the form, with what was typed
    assert answer["errors"][block].startswith("Someone saved version 2 meanwhile. Your text was not saved")
    with transaction(ctx.sessions) as s:
        listed = versions.list_versions(s, TEAM_ID, done.artifact_id)
        latest = versions.latest_version(s, TEAM_ID, done.artifact_id)
    assert [v.number for v in listed] == [2, 1] and latest.content["output"] == "Theirs."


def test_long_output_gets_an_ephemeral_editor_link_for_that_user_only(ctx, slack, essay):
    fake = slack.fake
    long_output = "Otters & beavers. " * 400  # 7,200 characters: more than a Slack input holds
    done = finished_run(ctx, TEAM_ID, essay["essay"], long_output, fake=fake)
    opened = len(fake.calls("views.open"))
    r = slack.post(click(slack.signer, fake, done.final, artifact_buttons.EDIT_ARTIFACT))
    assert r.status_code == 200
    call = fake.wait_for("chat.postEphemeral", lambda c: "web" in (c.params.get("text") or ""))
    assert call.ok, call.response
    assert (call.params["channel"], call.params["user"], call.params.get("thread_ts")) == (
        GENERAL,
        USER_ID,
        done.thread_ts,
    )
    assert "7,200 characters" in call.params["text"]
    url = element(call.params["blocks"], artifact_buttons.OPEN_LINK)["url"]
    assert url.startswith(f"http://pipebot.test/artifacts/{done.artifact_id}/edit?t=")
    token = url.split("?t=", 1)[1].split("&", 1)[0]
    link = edit_links.read(token, signing_keys(ctx), artifact_id=done.artifact_id, user_id=USER_ID)
    assert (link.team_id, link.base_version) == (TEAM_ID, 1)
    with pytest.raises(edit_links.EditLinkError):  # it is that user's alone
        edit_links.read(token, signing_keys(ctx), artifact_id=done.artifact_id, user_id=OTHER_USER)
    assert len(fake.calls("views.open")) == opened  # no form that would cut the text
    assert not [e for e in fake.ephemerals() if e["user"] != USER_ID and "edit" in e.get("text", "")]


def test_picking_a_part_refills_the_text_and_a_long_part_sends_the_link(ctx, slack, essay):
    fake = slack.fake
    steps = [
        ("Drafter", "Short draft.", "0.001", 900),
        ("Critic", "Long critique. " * 300, "0.002", 1200),
        ("Polisher", "Final words.", "0.001", 800),
    ]
    done = finished_run(ctx, TEAM_ID, essay["essay"], "Final words.", steps=steps, fake=fake)
    view = _open_edit(slack, done.final)
    stored = fake.view(view["id"])
    part = next(b for b in stored["blocks"] if b.get("block_id") == edit_blocks.EDIT_PART_BLOCK)["element"]
    assert "web editor" in part["options"][2]["text"]["text"]  # the long step says so in the list

    updates = len(fake.calls("views.update"))
    r = slack.post(
        slack.signer.block_actions(
            action_id=edit_blocks.EDIT_PART_ACTION, value="step:1", view=stored, values={"Note": "kept note"}
        )
    )
    assert r.status_code == 200
    call = fake.wait_for("views.update", count=updates + 1)
    assert call.ok, call.response
    refilled = call.response["view"]
    assert _text_block(refilled)["block_id"] == "edit_text:step:1"
    assert _text_block(refilled)["element"]["initial_value"] == "Short draft."
    note = next(b for b in refilled["blocks"] if b.get("block_id") == edit_blocks.EDIT_NOTE_BLOCK)
    assert note["element"]["initial_value"] == "kept note"

    # saving step 1 makes version 2 with only that step changed
    assert _submit(slack, refilled, {"Part": "step:1", "Text": "A sharper draft."}) is None
    with transaction(ctx.sessions) as s:
        v2 = versions.latest_version(s, TEAM_ID, done.artifact_id)
    assert (v2.number, v2.edited) == (2, "step:1")
    assert [st["output"] for st in v2.content["steps"]][:1] == ["A sharper draft."]
    assert v2.content["output"] == "Final words."

    # the long step: no text field, a link in the thread for this user
    stored = fake.view(view["id"])
    ephemerals = len(fake.calls("chat.postEphemeral"))
    slack.post(slack.signer.block_actions(action_id=edit_blocks.EDIT_PART_ACTION, value="step:2", view=stored))
    call = fake.wait_for("views.update", count=updates + 2)
    assert not [
        b for b in call.response["view"]["blocks"] if str(b.get("block_id", "")).startswith(edit_blocks.EDIT_TEXT_BLOCK)
    ]
    assert "sent you a link" in json.dumps(call.response["view"]["blocks"])
    sent = fake.wait_for("chat.postEphemeral", count=ephemerals + 1)
    assert (sent.params["user"], sent.params["channel"]) == (USER_ID, GENERAL)
    link = element(sent.params["blocks"], artifact_buttons.OPEN_LINK)["url"]
    with site(ctx) as web:  # the link opens step 2's text in the web editor, not the final output
        page = httpx.get(local(link, web))
    assert page.status_code == 200
    assert 'name="target" value="step:2"' in page.text
    editing = page.text.split("<textarea")[1].split("</textarea>")[0]
    assert "Long critique." in editing and "Final words." not in editing
    answer = _submit(slack, call.response["view"], {"Part": "step:2"})
    assert answer["errors"] == {edit_blocks.EDIT_PART_BLOCK: edit_blocks.EDIT_PICK_SHORTER}


def test_another_workspaces_artifact_or_person_cannot_edit(ctx, slack, essay):
    fake = slack.fake
    foreign_pipeline = make_pipeline(ctx, "T0OTHER", "Secret", [make_agent(ctx, "T0OTHER", "A")])
    foreign = finished_run(ctx, "T0OTHER", foreign_pipeline, "their secret")
    mine = finished_run(ctx, TEAM_ID, essay["essay"], "ours", fake=fake)
    forged = json.loads(json.dumps(mine.final).replace(mine.artifact_id, foreign.artifact_id))
    opened = len(fake.calls("views.open"))
    slack.post(click(slack.signer, fake, forged, artifact_buttons.EDIT_ARTIFACT))
    call = fake.wait_for("chat.postEphemeral", lambda c: "another workspace" in (c.params.get("text") or ""))
    assert call.params["user"] == USER_ID and "secret" not in json.dumps(call.params)

    # a person of another organisation clicking our result of #general (not shared with them)
    world = trust_world(fake)
    trigger = fake.new_trigger_id(user_id=world.outsider)
    slack.post(
        guest_click(
            slack.signer,
            mine.final,
            artifact_buttons.EDIT_ARTIFACT,
            trigger,
            user_id=world.outsider,
            guest_team=OTHER_ORG,
        )
    )
    fake.wait_for("chat.postEphemeral", lambda c: NOT_YOURS in (c.params.get("text") or ""))
    assert len(fake.calls("views.open")) == opened


def test_artifact_modal_and_home_carry_the_buttons_and_edit_opens_over_the_modal(ctx, slack, essay):
    fake = slack.fake
    done = finished_run(ctx, TEAM_ID, essay["essay"], "Modal result.", fake=fake)
    failed = finished_run(ctx, TEAM_ID, essay["essay"], "", status="failed", minutes_ago=1)
    listed = [
        {
            "type": "section",
            "block_id": "x",
            "text": {"type": "mrkdwn", "text": "x"},
            "accessory": {
                "type": "button",
                "action_id": "artifact_view",
                "value": done.artifact_id,
                "text": {"type": "plain_text", "text": "View"},
            },
        }
    ]
    opened = len(fake.calls("views.open"))
    slack.post(
        slack.signer.block_actions(
            action_id="artifact_view",
            message={"type": "message", "ts": "1.0", "text": "", "blocks": listed},
            trigger_id=fake.new_trigger_id(),
        )
    )
    modal = fake.wait_for("views.open", count=opened + 1).response["view"]
    actions = [b for b in modal["blocks"] if b["type"] == "actions"][-1]
    assert [el["text"]["text"] for el in actions["elements"]] == [
        "Open full artifact",
        "Edit",
        "Re-run from…",
        "Compare",
        "Delete",  # the viewer started the run
    ]
    pushes = len(fake.calls("views.push"))
    slack.post(
        slack.signer.block_actions(
            action_id=artifact_buttons.EDIT_ARTIFACT, view=fake.view(modal["id"]), trigger_id=fake.new_trigger_id()
        )
    )
    pushed = fake.wait_for("views.push", count=pushes + 1)
    assert pushed.ok and pushed.response["view"]["callback_id"] == "pipebot_artifact_edit"

    # App Home: each recent run with View, and Edit (succeeded only), Re-run from…, Compare
    count = len(fake.calls("views.publish"))
    slack.post(slack.signer.app_home_opened(USER_ID))
    home = fake.wait_for("views.publish", count=count + 1).response["view"]
    rows = {
        b["block_id"]: [el["action_id"] for el in b["elements"]]
        for b in home["blocks"]
        if str(b.get("block_id", "")).startswith("run_")
    }
    assert rows == {
        f"run_{done.run_id}": ["artifact_edit", "artifact_rerun", "artifact_compare"],
        f"run_{failed.run_id}": ["artifact_rerun", "artifact_compare"],
    }
    assert len(home["blocks"]) <= 100
