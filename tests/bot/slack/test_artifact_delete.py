"""*Delete* in the artifact's View modal, through the real `/slack/events` endpoint against the
fake Slack: offered to the requester and admins only, a forged click refused, the modal turned
into the tombstone, and the list, App Home and Re-run saying it was deleted."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.slack.blocks.artifacts import DELETE_ARTIFACT, VIEW_ARTIFACT
from bot.slack.blocks.rerun import RERUN_ACTION
from core.messages import DELETE_REFUSED, RESULT_DELETED
from storage.db import transaction
from storage.repos import artifacts as artifact_repo
from tests.fakes.slack import ADMIN_ID, USER_ID
from tests.support.finished_runs import element, finished_run
from tests.support.runs import make_agent, make_pipeline, with_keys
from tests.support.slack_app import SlackServer
from tests.support.waiting import wait_until

TEAM = "T0PIPEBOT"
MEMBER = "U0MEMBER2"


@pytest.fixture
def done(ctx, slack):
    slack.fake.add_user(MEMBER, "morgan", real_name="Morgan Member")
    with_keys(ctx, TEAM, "anthropic")
    pipeline = make_pipeline(ctx, TEAM, "Essay", [make_agent(ctx, TEAM, "Drafter")])
    return finished_run(ctx, TEAM, pipeline, "the secret output", user_id=USER_ID)


def _button_message(action_id: str, value: str) -> dict[str, Any]:
    """A message holding one button, as a list or a forged payload would."""
    el = {"type": "button", "action_id": action_id, "text": {"type": "plain_text", "text": "x"}, "value": value}
    return {
        "type": "message",
        "ts": "1.0",
        "text": "",
        "blocks": [{"type": "actions", "block_id": "b", "elements": [el]}],
    }


def _view(slack: SlackServer, artifact_id: str, user: str) -> dict[str, Any]:
    """*View* clicked by ``user``: the modal as the fake stored it."""
    count = len(slack.fake.calls("views.open"))
    signed = slack.signer.block_actions(
        action_id=VIEW_ARTIFACT,
        message=_button_message(VIEW_ARTIFACT, artifact_id),
        user_id=user,
        trigger_id=slack.fake.new_trigger_id(user_id=user),
    )
    assert slack.post(signed).status_code == 200
    call = slack.fake.wait_for("views.open", count=count + 1)
    assert call.ok, call.response
    return call.response["view"]


def _deleted(ctx, artifact_id: str) -> Any:
    with transaction(ctx.sessions) as s:
        return artifact_repo.get_artifact(s, TEAM, artifact_id).deleted_at


def _has_delete(view: dict[str, Any]) -> bool:
    return DELETE_ARTIFACT in json.dumps(view["blocks"])


def test_the_requester_deletes_from_the_modal_and_every_surface_says_deleted(ctx, slack, done):
    fake = slack.fake
    view = _view(slack, done.artifact_id, USER_ID)
    button = element(view["blocks"], DELETE_ARTIFACT)
    assert button["style"] == "danger" and button["confirm"]["confirm"]["text"] == "Delete"

    updates = len(fake.calls("views.update"))
    signed = slack.signer.block_actions(
        action_id=DELETE_ARTIFACT, view=fake.view(view["id"]), trigger_id=fake.new_trigger_id(user_id=USER_ID)
    )
    assert slack.post(signed).status_code == 200
    call = fake.wait_for("views.update", count=updates + 1)
    assert call.ok, call.error
    shown = json.dumps(call.response["view"]["blocks"])
    assert f"Deleted by <@{USER_ID}> on <!date^" in shown and "secret" not in shown
    assert DELETE_ARTIFACT not in shown and "artifact_rerun" not in shown
    assert _deleted(ctx, done.artifact_id) is not None

    listed = slack.command("artifacts")
    rows = [b["text"]["text"] for b in slack.replies(listed.hook)[0]["blocks"] if b["type"] == "section"][1:]
    assert len(rows) == 1 and "_deleted_" in rows[0]

    count = len(fake.calls("views.publish"))
    assert slack.post(slack.signer.app_home_opened(USER_ID)).status_code == 200
    home = json.dumps(fake.wait_for("views.publish", count=count + 1).response["view"]["blocks"])
    assert "_deleted_" in home and "input of the secret" not in home

    opened = len(fake.calls("views.open"))
    signed = slack.signer.block_actions(
        action_id=RERUN_ACTION,
        message=_button_message(RERUN_ACTION, f"{done.artifact_id}:1"),
        trigger_id=fake.new_trigger_id(user_id=USER_ID),
    )
    assert slack.post(signed).status_code == 200
    rerun = fake.wait_for("views.open", count=opened + 1)
    assert RESULT_DELETED in json.dumps(rerun.params["view"])

    assert not _has_delete(_view(slack, done.artifact_id, USER_ID))  # the tombstone offers nothing


def test_delete_is_offered_to_admins_not_to_other_members_and_a_forged_click_is_refused(ctx, slack, done):
    fake = slack.fake
    assert not _has_delete(_view(slack, done.artifact_id, MEMBER))

    # a forged click (the button was never shown to them): refused, nothing deleted
    def said() -> list[str]:
        return [c.params.get("text") for c in fake.calls("chat.postEphemeral") + fake.calls("chat.postMessage")]

    forged = slack.signer.block_actions(
        action_id=DELETE_ARTIFACT,
        message=_button_message(DELETE_ARTIFACT, done.artifact_id),
        user_id=MEMBER,
        trigger_id=fake.new_trigger_id(user_id=MEMBER),
    )
    assert slack.post(forged).status_code == 200
    wait_until(lambda: DELETE_REFUSED in said(), 5, "the refusal")
    assert _deleted(ctx, done.artifact_id) is None

    admin_view = _view(slack, done.artifact_id, ADMIN_ID)
    assert _has_delete(admin_view)
    updates = len(fake.calls("views.update"))
    signed = slack.signer.block_actions(
        action_id=DELETE_ARTIFACT,
        view=fake.view(admin_view["id"]),
        user_id=ADMIN_ID,
        trigger_id=fake.new_trigger_id(user_id=ADMIN_ID),
    )
    assert slack.post(signed).status_code == 200
    call = fake.wait_for("views.update", count=updates + 1)
    assert f"Deleted by <@{ADMIN_ID}>" in json.dumps(call.response["view"]["blocks"])
    assert _deleted(ctx, done.artifact_id) is not None
