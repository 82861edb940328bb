"""The one visibility rule (core/visibility.Sight, bot/slack/seeing.py) on every Slack surface,
through the real `/slack/events` endpoint against the fake Slack, for the four people of
tests/support/people.py: the member (in every conversation), the colleague (not in the private
channel nor the member's DM), the guest (in one channel) and the outsider (of another
organisation, in the Slack Connect channel only).

One finished run per conversation, each of its own pipeline so a list names which it shows:
Open (public), Guests (public, with the guest), Backroom (private), Direct (the member's DM),
Partner (shared with the other organisation)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from bot.slack.blocks import artifact_buttons
from bot.slack.blocks import runs as run_blocks
from bot.slack.blocks.artifacts import ARTIFACTS_PAGE, VIEW_ARTIFACT
from bot.slack.blocks.rerun import RERUN_ACTION
from bot.slack.blocks.unfurl import HIDDEN_CARD_TEXT
from bot.slack.listeners.artifacts import ARTIFACT_MISSING, NOTHING_VISIBLE
from bot.slack.listeners.runs import NOT_YOUR_CONVERSATION
from bot.slack.seeing import NOT_YOURS
from core.links import artifact_permalink
from storage.db import transaction
from storage.repos import feedback
from storage.repos import runs as run_repo
from tests.fakes.slack import TEAM_ID
from tests.support.finished_runs import Finished, click, finished_run, guest_click
from tests.support.people import OTHER_ORG, TrustWorld, trust_world
from tests.support.runs import make_agent, make_pipeline
from tests.support.slack_app import SlackServer, message_text
from tests.support.waiting import wait_until

NAMES = ("Open", "Guests", "Backroom", "Direct", "Partner")
SEES = {
    "member": {"Open", "Guests", "Backroom", "Direct", "Partner"},
    "colleague": {"Open", "Guests", "Partner"},  # Partner is public on this side
    "guest": {"Guests"},
    "outsider": {"Partner"},
}
PEOPLE = tuple(SEES)


@dataclass
class Scene:
    world: TrustWorld
    runs: dict[str, Finished]  # pipeline name -> its run

    def who(self, person: str) -> str:
        return str(getattr(self.world, person))


@pytest.fixture
def scene(ctx, slack) -> Scene:
    world = trust_world(slack.fake)
    where = {
        "Open": world.public,
        "Guests": world.guest_channel,
        "Backroom": world.private,
        "Direct": world.dm,
        "Partner": world.shared,
    }
    runs = {}
    for n, name in enumerate(NAMES):
        pipeline = make_pipeline(ctx, TEAM_ID, name, [make_agent(ctx, TEAM_ID, f"{name} drafter")])
        runs[name] = finished_run(
            ctx,
            TEAM_ID,
            pipeline,
            f"{name} otters report",
            fake=slack.fake,
            channel=where[name],
            user_id=world.member,
            minutes_ago=n,
        )
    return Scene(world, runs)


def _listed(text: str) -> set[str]:
    return {name for name in NAMES if f"*{name}*" in text}


def _command_text(slack: SlackServer, text: str, user_id: str) -> str:
    sent = slack.command(text, user_id=user_id)
    return message_text(sent.message())


@pytest.mark.parametrize("person", PEOPLE)
def test_artifacts_and_its_search_list_only_what_the_person_can_see(ctx, slack, scene, person):
    user = scene.who(person)
    assert _listed(_command_text(slack, "artifacts", user)) == SEES[person]
    assert _listed(_command_text(slack, "artifacts search otters", user)) == SEES[person]
    # a page asked for by its button: the same rule
    hook = slack.fake.new_response_url(user_id=user)
    page = {"type": "button", "action_id": ARTIFACTS_PAGE, "block_id": "nav", "value": '{"p":null,"o":0}'}
    slack.post(slack.signer.block_actions([page], user_id=user, response_url=hook))
    assert _listed(message_text(slack.replies(hook)[-1])) == SEES[person]


def test_someone_who_sees_nothing_is_told_so_and_slack_refusing_says_why(ctx, slack, scene):
    slack.fake.add_user("U0LONELY", "lonely", real_name="Lone Guest")
    slack.fake.set_user("U0LONELY", is_restricted=True)
    assert NOTHING_VISIBLE in _command_text(slack, "artifacts", "U0LONELY")
    assert NOTHING_VISIBLE in _command_text(slack, "artifacts search otters", "U0LONELY")
    slack.fake.fail_next("users.conversations", error="missing_scope")
    text = _command_text(slack, "artifacts", scene.world.colleague)
    assert "groups:read" in text and not _listed(text)


def _view(slack: SlackServer, artifact_id: str, user: str) -> str:
    count = len(slack.fake.calls("views.open"))
    button = {"type": "button", "action_id": VIEW_ARTIFACT, "block_id": "row", "value": artifact_id}
    slack.post(slack.signer.block_actions([button], user_id=user, trigger_id=slack.fake.new_trigger_id(user_id=user)))
    call = slack.fake.wait_for("views.open", count=count + 1)
    assert call.ok, call.response
    return json.dumps(call.params["view"], ensure_ascii=False)


@pytest.mark.parametrize("person", PEOPLE)
def test_the_view_modal_shows_a_hidden_run_as_missing(ctx, slack, scene, person):
    for name, run in scene.runs.items():
        shown = _view(slack, run.artifact_id, scene.who(person))
        if name in SEES[person]:
            assert f"{name} otters report" in shown
        else:
            assert ARTIFACT_MISSING in shown and name not in shown and "otters" not in shown


def test_someone_who_just_joined_sees_at_once(ctx, slack, scene):
    world, backroom = scene.world, scene.runs["Backroom"]
    assert "Open otters report" in _view(slack, scene.runs["Open"].artifact_id, world.colleague)  # now cached
    slack.fake.set_members(world.private, {world.member, world.colleague})
    assert "Backroom otters report" in _view(slack, backroom.artifact_id, world.colleague)


@pytest.mark.parametrize("person", PEOPLE)
def test_app_home_lists_only_runs_the_person_can_see(ctx, slack, scene, person):
    user = scene.who(person)
    count = len(slack.fake.calls("views.publish"))
    slack.post(slack.signer.app_home_opened(user_id=user))
    call = slack.fake.wait_for("views.publish", count=count + 1)
    assert call.params["user_id"] == user
    text = json.dumps(call.params["view"], ensure_ascii=False)
    assert {name for name in NAMES if f"input of {name} otters" in text} == SEES[person]


def _unfurl(slack: SlackServer, run: Finished, channel: str, user: str) -> dict[str, Any]:
    link = artifact_permalink(slack.ctx, TEAM_ID, run.artifact_id)
    count = len(slack.fake.calls("chat.unfurl"))
    event = slack.fake.share_links([link], channel=channel, user_id=user)
    slack.post(slack.signer.event(event))
    # Slack paces chat.unfurl (and so does pipebot's budget): a later card may wait its turn
    return dict(slack.fake.wait_for("chat.unfurl", timeout=60, count=count + 1).params["unfurls"][link])


def test_an_unfurl_shows_a_run_only_where_everyone_reading_may_see_it(ctx, slack, scene):
    world, runs = scene.world, scene.runs
    shows = [
        (runs["Backroom"], world.private),  # its own conversation
        (runs["Direct"], world.dm),
        (runs["Open"], world.guest_channel),  # a public run, in a conversation of this organisation
        (runs["Open"], world.public),
        (runs["Partner"], world.private),  # Partner is public on this side; the back room is ours alone
    ]
    hides = [
        (runs["Backroom"], world.public),  # a private run elsewhere
        (runs["Direct"], world.private),
        (runs["Guests"], world.shared),  # a public run, pasted where another organisation reads
        (runs["Open"], world.shared),
    ]
    for run, channel in shows:
        card = json.dumps(_unfurl(slack, run, channel, world.member), ensure_ascii=False)
        assert HIDDEN_CARD_TEXT not in card and artifact_buttons.COMPARE_ARTIFACT in card, (run, channel)
    for run, channel in hides:
        card = _unfurl(slack, run, channel, world.member)
        text = json.dumps(card, ensure_ascii=False)
        assert HIDDEN_CARD_TEXT in text, (run, channel)
        assert not any(name in text for name in NAMES) and "action_id" not in text


def _answer(slack: SlackServer, run: Finished, action: str, user: str) -> str:
    """Click ``action`` on ``run``'s result as ``user``; what they were shown first (a modal
    opened with the click's trigger, an ephemeral, a post to the click's response_url)."""
    fake = slack.fake
    trigger, hook = fake.new_trigger_id(user_id=user), fake.new_response_url(user_id=user)
    where: dict[str, Any] = dict(
        message=run.final, channel_id=run.channel, user_id=user, trigger_id=trigger, response_url=hook
    )
    if action == run_blocks.RUN_CANCEL:
        signed = slack.signer.block_actions(
            [{"type": "button", "action_id": action, "block_id": "b", "value": run.run_id}], **where
        )
    else:
        signed = slack.signer.block_actions(action_id=action, **where)

    def told() -> list[Any]:
        return [c for c in fake.calls("chat.postEphemeral") if c.params.get("user") == user]

    before = len(told())

    def answers() -> list[Any]:
        opened = [c.params["view"] for c in fake.calls("views.open") if c.params.get("trigger_id") == trigger]
        return opened + [c.params for c in told()[before:]] + fake.response_url_posts(hook)

    slack.post(signed)
    wait_until(lambda: answers(), 10, f"an answer to {action}")
    return json.dumps(answers()[0], ensure_ascii=False)


@pytest.mark.parametrize("person", PEOPLE)
def test_actions_on_a_run_need_its_conversation(ctx, slack, scene, person):
    """Re-run, Edit, Compare and Cancel: one clear answer where the person may not see the
    run's conversation, and their usual answer where they may."""
    user = scene.who(person)
    for name, run in scene.runs.items():
        for action in (
            RERUN_ACTION,
            artifact_buttons.EDIT_ARTIFACT,
            artifact_buttons.COMPARE_ARTIFACT,
            run_blocks.RUN_CANCEL,
        ):
            answer = _answer(slack, run, action, user)
            assert (NOT_YOURS in answer) == (name not in SEES[person]), (name, action, answer[:300])
            if name not in SEES[person]:
                assert "otters" not in answer


def test_compare_picker_lists_only_runs_the_clicker_can_see(ctx, slack, scene):
    world, fake = scene.world, slack.fake
    digest = make_pipeline(ctx, TEAM_ID, "Digest", [make_agent(ctx, TEAM_ID, "Digester")])
    runs = {
        where: finished_run(ctx, TEAM_ID, digest, f"digest {where}", fake=fake, channel=where, user_id=world.member)
        for where in (world.public, world.private, world.guest_channel)
    }
    opened = len(fake.calls("views.open"))
    slack.post(
        click(
            slack.signer,
            fake,
            runs[world.public].final or {},
            artifact_buttons.COMPARE_ARTIFACT,
            channel=world.public,
            user_id=world.colleague,
        )
    )
    picker = fake.wait_for("views.open", count=opened + 1).params["view"]
    options = [o["value"] for b in picker["blocks"] for o in (b.get("element") or {}).get("options") or []]
    assert options == [runs[world.guest_channel].artifact_id]  # not the private channel's


def test_feedback_by_someone_outside_the_conversation_is_ignored(ctx, slack, scene):
    world, backroom = scene.world, scene.runs["Backroom"]
    assert backroom.final is not None
    button = next(b for b in backroom.final["blocks"] if b["type"] == "context_actions")["elements"][0]
    for user, counted in ((world.colleague, 0), (world.member, 1)):
        slack.post(
            slack.signer.block_actions(
                action_id=artifact_buttons.FEEDBACK,
                message=backroom.final,
                channel_id=world.private,
                value=button["positive_button"]["value"],
                user_id=user,
            )
        )

        def votes() -> int:
            with transaction(ctx.sessions) as s:
                return feedback.counts(s, TEAM_ID, backroom.artifact_id, 1).up

        if counted:
            wait_until(lambda: votes() == 1, 10, "the member's vote")
    with transaction(ctx.sessions) as s:
        assert feedback.vote_of(s, TEAM_ID, backroom.artifact_id, 1, world.colleague) is None


@pytest.mark.parametrize(
    ("person", "where", "allowed"),
    [
        ("colleague", "private", False),
        ("colleague", "public", True),
        ("guest", "public", False),  # a public channel the guest is not in
        ("guest", "guest_channel", True),
        ("outsider", "public", False),
        ("outsider", "shared", True),
    ],
    ids=["colleague-private", "colleague-public", "guest-public", "guest-own", "outsider-public", "outsider-shared"],
)
def test_the_run_modal_posts_only_where_the_requester_may(ctx, slack, scene, person, where, allowed):
    world, fake = scene.world, slack.fake
    user, channel = scene.who(person), str(getattr(world, where))
    home = {"type": "home", "id": "VHOME", "blocks": []}
    count = len(fake.calls("views.open"))
    button = {"type": "button", "action_id": "home_run_pipeline", "block_id": "p", "value": ""}
    slack.post(
        slack.signer.block_actions([button], view=home, user_id=user, trigger_id=fake.new_trigger_id(user_id=user))
    )
    modal = fake.wait_for("views.open", count=count + 1).response["view"]
    with transaction(ctx.sessions) as s:
        before = len(run_repo.latest_runs(s, TEAM_ID, limit=100))
    pipeline = next(
        o["value"] for b in modal["blocks"] if b.get("block_id") == "pipeline" for o in b["element"]["options"]
    )
    r = slack.post(
        slack.signer.view_submission(
            modal, {"Pipeline": pipeline, "Input": "new input", "Post results in": channel}, user_id=user
        )
    )
    assert r.status_code == 200, r.text
    answer = r.json() if r.content and r.text != "null" else {}
    refused = NOT_YOUR_CONVERSATION in json.dumps(answer)
    assert refused == (not allowed), answer
    if not allowed:
        with transaction(ctx.sessions) as s:
            assert len(run_repo.latest_runs(s, TEAM_ID, limit=100)) == before  # nothing started, nothing posted


def test_an_outsider_acts_in_the_shared_channel_they_are_in(ctx, slack, scene):
    """The Slack Connect person's click carries their own team: no ad-hoc guard refuses it."""
    world, fake = scene.world, slack.fake
    partner = scene.runs["Partner"]
    assert partner.final is not None
    count = len(fake.calls("views.open"))
    trigger = fake.new_trigger_id(user_id=world.outsider)
    slack.post(
        guest_click(
            slack.signer,
            partner.final,
            RERUN_ACTION,
            trigger,
            user_id=world.outsider,
            guest_team=OTHER_ORG,
            channel=world.shared,
        )
    )
    view = json.dumps(fake.wait_for("views.open", count=count + 1).params["view"], ensure_ascii=False)
    assert NOT_YOURS not in view and "Re-run" in view


def test_a_rerun_form_carrying_another_conversation_is_refused(ctx, slack, scene):
    """The re-run modal's memory is untrusted: a crafted one naming a private channel makes
    the colleague's submission an inline error, and nothing runs or posts there."""
    world, fake, run = scene.world, slack.fake, scene.runs["Open"]
    count = len(fake.calls("views.open"))
    slack.post(click(slack.signer, fake, run.final or {}, RERUN_ACTION, channel=world.public, user_id=world.colleague))
    view = fake.wait_for("views.open", count=count + 1).response["view"]
    forged = dict(
        view, private_metadata=json.dumps(dict(json.loads(view["private_metadata"]), channel_id=world.private))
    )
    posted = len(fake.messages(world.private))
    agent = next(b for b in view["blocks"] if b.get("block_id") == "agent-1")["element"]["initial_option"]
    r = slack.post(slack.signer.view_submission(forged, {"Step": "1", "Agent": agent}, user_id=world.colleague))
    assert r.status_code == 200 and r.json()["response_action"] == "errors"
    assert NOT_YOURS in json.dumps(r.json()["errors"])
    assert len(fake.messages(world.private)) == posted
    with transaction(ctx.sessions) as s:
        assert not [r for r in run_repo.latest_runs(s, TEAM_ID, limit=100) if r.branch]
