"""bot/slack/membership.py: what someone can see comes from Slack's membership, for full
members, guests and people of another organisation, and is cached briefly."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient

from bot.slack.membership import MembershipUnknown, SlackSight
from tests.fakes.slack import GENERAL, PRIVATE, RANDOM, TEAM_ID, FakeSlack
from tests.support.people import TrustWorld, trust_world


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    yield fake
    fake.stop()


@pytest.fixture
def world(fake: FakeSlack) -> TrustWorld:
    return trust_world(fake)


def _source(ctx, fake: FakeSlack) -> SlackSight:
    return SlackSight(ctx, lambda team_id: WebClient(token=fake.token, base_url=fake.url))


def test_a_full_member_sees_public_channels_and_their_own_conversations(ctx, fake, world):
    sight = _source(ctx, fake).sight(TEAM_ID, world.member)
    assert sight.full_member
    for seen in (GENERAL, RANDOM, world.public, world.guest_channel, world.private, world.dm, world.shared):
        assert sight.sees(TEAM_ID, seen), seen
    assert not sight.sees(TEAM_ID, PRIVATE)  # a private channel the bot is not in: no run is there
    assert sight.sees(TEAM_ID, None)  # a run that posted nowhere
    assert not sight.sees("T0ELSEWHERE", GENERAL)


def test_a_colleague_does_not_see_a_private_channel_or_someone_elses_dm(ctx, fake, world):
    sight = _source(ctx, fake).sight(TEAM_ID, world.colleague)
    assert sight.sees(TEAM_ID, world.public) and sight.sees(TEAM_ID, GENERAL)
    assert not sight.sees(TEAM_ID, world.private)
    assert not sight.sees(TEAM_ID, world.dm)
    # A Slack Connect channel that is public on this side: any full member can open it in Slack.
    assert sight.sees(TEAM_ID, world.shared)


def test_a_guest_sees_only_the_conversations_they_are_in(ctx, fake, world):
    sight = _source(ctx, fake).sight(TEAM_ID, world.guest)
    assert not sight.full_member
    assert sight.sees(TEAM_ID, world.guest_channel)
    for hidden in (GENERAL, world.public, world.private, world.dm, None):
        assert not sight.sees(TEAM_ID, hidden), hidden
    assert sight.scope.channels == frozenset({world.guest_channel}) and not sight.scope.unplaced


def test_someone_of_another_organisation_sees_only_the_shared_channel(ctx, fake, world):
    sight = _source(ctx, fake).sight(TEAM_ID, world.outsider)
    assert not sight.full_member
    assert sight.channels == frozenset({world.shared})


def test_answers_are_cached_until_asked_fresh(ctx, fake, world):
    source = _source(ctx, fake)
    assert not source.sight(TEAM_ID, world.colleague).sees(TEAM_ID, world.private)
    calls = len(fake.calls("users.conversations"))
    fake.set_members(world.private, {world.member, world.colleague})  # invited just now
    assert not source.sight(TEAM_ID, world.colleague).sees(TEAM_ID, world.private)  # from the cache
    assert len(fake.calls("users.conversations")) == calls
    assert source.sight(TEAM_ID, world.colleague, fresh=True).sees(TEAM_ID, world.private)


def test_many_conversations_are_read_page_by_page(ctx, fake, world):
    for n in range(1, 1205):
        fake.add_channel(f"C0MANY{n:04d}", f"many-{n}", is_member=True)
    sight = _source(ctx, fake).sight(TEAM_ID, world.colleague)
    assert sight.sees(TEAM_ID, "C0MANY0001") and sight.sees(TEAM_ID, "C0MANY1204")
    assert len(fake.calls("conversations.list")) == 2  # 1,000 a page


def test_slack_refusing_says_what_to_fix(ctx, fake, world):
    fake.fail_next("users.conversations", error="missing_scope")
    with pytest.raises(MembershipUnknown, match="groups:read"):
        _source(ctx, fake).sight(TEAM_ID, world.member)


def test_a_deactivated_person_sees_nothing(ctx, fake, world):
    fake.set_user(world.colleague, deleted=True)
    sight = _source(ctx, fake).sight(TEAM_ID, world.colleague)
    assert sight.channels == frozenset() and not sight.full_member
