"""👍/👎 on a run's result (Slack's feedback buttons), through the real `/slack/events`
endpoint against the fake Slack: one vote per person per version, a second click of the same
button clears it, the last click wins, counts show in `/pipebot artifacts`; the fake checks
the buttons' Block Kit as Slack does."""

from __future__ import annotations

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.blocks import artifact_buttons
from bot.slack.listeners.feedback import record_vote
from storage.db import transaction
from storage.repos import feedback
from tests.fakes.slack import ADMIN_ID, GENERAL, OWNER_ID, TEAM_ID, USER_ID
from tests.support.finished_runs import finished_run
from tests.support.people import OTHER_ORG, trust_world
from tests.support.runs import make_agent, make_pipeline
from tests.support.slack_app import SlackServer
from tests.support.waiting import wait_until


@pytest.fixture
def essay(ctx) -> int:
    return make_pipeline(ctx, TEAM_ID, "Essay", [make_agent(ctx, TEAM_ID, "Drafter")])


def _vote(ctx, artifact_id: str, user_id: str = USER_ID) -> int | None:
    with transaction(ctx.sessions) as s:
        return feedback.vote_of(s, TEAM_ID, artifact_id, 1, user_id)


def _press(slack: SlackServer, message: dict, which: str, user_id: str = USER_ID) -> None:
    button = next(b for b in message["blocks"] if b["type"] == "context_actions")["elements"][0][f"{which}_button"]
    r = slack.post(
        slack.signer.block_actions(
            action_id=artifact_buttons.FEEDBACK,
            message=message,
            channel_id=GENERAL,
            value=button["value"],
            user_id=user_id,
        )
    )
    assert r.status_code == 200 and r.text in ("", "null"), r.text


def test_votes_toggle_and_the_last_click_wins(ctx, slack, essay):
    done = finished_run(ctx, TEAM_ID, essay, "An essay.", fake=slack.fake)
    message = done.final
    _press(slack, message, "positive")
    wait_until(lambda: _vote(ctx, done.artifact_id) == 1, 5, "the 👍 to be stored")
    _press(slack, message, "positive")  # the same again: Slack shows it cleared
    wait_until(lambda: _vote(ctx, done.artifact_id) is None, 5, "the vote to be cleared")
    _press(slack, message, "negative")
    wait_until(lambda: _vote(ctx, done.artifact_id) == -1, 5, "the 👎 to be stored")
    _press(slack, message, "positive")  # switching: the last click wins
    wait_until(lambda: _vote(ctx, done.artifact_id) == 1, 5, "the 👍 to replace it")
    with transaction(ctx.sessions) as s:
        assert feedback.counts(s, TEAM_ID, done.artifact_id, 1) == feedback.VoteCounts(up=1, down=0)


def test_counts_show_in_the_artifact_list(ctx, slack, essay):
    voted = finished_run(ctx, TEAM_ID, essay, "Voted on.", fake=slack.fake)
    finished_run(ctx, TEAM_ID, essay, "Nobody voted.", minutes_ago=1)
    for user, which in ((USER_ID, "positive"), (ADMIN_ID, "positive"), (OWNER_ID, "negative")):
        _press(slack, voted.final, which, user_id=user)
    wait_until(lambda: _counts(ctx, voted.artifact_id) == feedback.VoteCounts(2, 1), 5, "three votes")
    sent = slack.command("artifacts")
    rows = [b["text"]["text"] for b in slack.replies(sent.hook)[0]["blocks"] if b["type"] == "section"][1:]
    assert "👍 2 · 👎 1" in rows[0] and "👍" not in rows[1]


def _counts(ctx, artifact_id: str) -> feedback.VoteCounts:
    with transaction(ctx.sessions) as s:
        return feedback.counts(s, TEAM_ID, artifact_id, 1)


def test_a_forged_or_foreign_vote_writes_nothing(ctx, essay, fake_slack):
    world = trust_world(fake_slack)
    client = WebClient(token=fake_slack.token, base_url=fake_slack.url)
    mine = finished_run(ctx, TEAM_ID, essay, "Ours.")
    private = finished_run(
        ctx, TEAM_ID, essay, "Back room.", fake=fake_slack, channel=world.private, user_id=world.member
    )
    other = make_pipeline(ctx, "T0OTHER", "Theirs", [make_agent(ctx, "T0OTHER", "A")])
    theirs = finished_run(ctx, "T0OTHER", other, "Theirs.")

    def body(value: str, user: dict) -> dict:
        return {
            "type": "block_actions",
            "team": {"id": TEAM_ID},
            "user": user,
            "container": {"type": "message"},
            "channel": {"id": GENERAL},
            "actions": [{"type": "feedback_buttons", "action_id": "artifact_feedback", "value": value}],
        }

    member = {"id": USER_ID, "team_id": TEAM_ID}
    assert record_vote(ctx, client, body(f"up:{theirs.artifact_id}:1", member)) is None  # another workspace's
    assert record_vote(ctx, client, body(f"up:{mine.artifact_id}:7", member)) is None  # no such version
    assert record_vote(ctx, client, body("sideways:x:1", member)) is None
    outsider = {"id": world.outsider, "team_id": OTHER_ORG}
    assert record_vote(ctx, client, body(f"up:{mine.artifact_id}:1", outsider)) is None
    # a run of a private channel: only its members vote on it
    colleague = {"id": world.colleague, "team_id": TEAM_ID}
    assert record_vote(ctx, client, body(f"up:{private.artifact_id}:1", colleague)) is None
    with transaction(ctx.sessions) as s:
        assert feedback.counts(s, "T0OTHER", theirs.artifact_id, 1) == feedback.VoteCounts()
        assert feedback.counts_for_artifacts(s, TEAM_ID, [mine.artifact_id, private.artifact_id]) == {}
    assert record_vote(ctx, client, body(f"down:{mine.artifact_id}:1", member)) == -1
    assert record_vote(ctx, client, body(f"up:{private.artifact_id}:1", {"id": world.member, "team_id": TEAM_ID})) == 1


def test_the_fake_checks_feedback_buttons_as_slack_does(fake_slack):
    client = WebClient(token=fake_slack.token, base_url=fake_slack.url)
    good = artifact_buttons.feedback_block("a", 1).to_dict()
    client.chat_postMessage(channel=GENERAL, text="ok", blocks=[good])
    misplaced = {"type": "actions", "elements": good["elements"]}
    too_many = {"type": "context_actions", "elements": good["elements"] * 6}
    no_negative = {"type": "context_actions", "elements": [dict(good["elements"][0], negative_button=None)]}
    for block in (misplaced, too_many, no_negative):
        with pytest.raises(SlackApiError) as err:
            client.chat_postMessage(channel=GENERAL, text="bad", blocks=[block])
        assert err.value.response["error"] == "invalid_blocks"
