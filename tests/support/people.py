"""The people and conversations the trust tests need (DESIGN §10; issue "Trust"): two
members and a guest across a public channel, a private channel and a DM, and someone of
another organisation in a Slack Connect channel. Ids are fixed, so tests can name them;
``trust_world`` adds them to a fake Slack (again is harmless)."""

from __future__ import annotations

from dataclasses import dataclass

from tests.fakes.slack import FakeSlack

OTHER_ORG = "T0OTHERORG"


@dataclass(frozen=True)
class TrustWorld:
    member: str  # a full member, in every conversation below
    colleague: str  # a full member, in the public channels only
    guest: str  # a multi-channel guest, in ``guest_channel`` only
    outsider: str  # of another organisation, in ``shared`` only
    public: str  # a public channel, every full member in it
    guest_channel: str  # a public channel with the guest in it too
    private: str  # a private channel: the member and the bot
    dm: str  # the member's DM with the bot
    shared: str  # a Slack Connect channel: the member and the outsider


def trust_world(fake: FakeSlack) -> TrustWorld:
    member, colleague, guest, outsider = "U0ANNA", "U0BEN", "U0GUEST", "U0EXTERN"
    fake.add_user(member, "anna", real_name="Anna Member")
    fake.add_user(colleague, "ben", real_name="Ben Colleague")
    fake.add_user(guest, "gus", real_name="Gus Guest")
    fake.set_user(guest, is_restricted=True)
    if OTHER_ORG not in fake.teams:
        fake.add_team(OTHER_ORG, "Other Org")
    fake.add_user(outsider, "ext", real_name="Erin Extern", team_id=OTHER_ORG)
    public = fake.add_channel("C0OPEN", "open-plans", is_member=True)
    guest_channel = fake.add_channel("C0GUESTS", "with-guests", is_member=True)
    fake.set_members(guest_channel["id"], fake.members_of(guest_channel) | {guest})
    private = fake.add_channel("C0ROOM", "back-room", is_private=True, is_member=True, members={member})
    shared = fake.add_channel("C0SHARED", "with-partner", is_member=True, members={member, outsider})
    fake.set_channel(shared["id"], is_shared=True, is_ext_shared=True)
    return TrustWorld(
        member=member,
        colleague=colleague,
        guest=guest,
        outsider=outsider,
        public=public["id"],
        guest_channel=guest_channel["id"],
        private=private["id"],
        dm=fake.dm_channel(member),
        shared=shared["id"],
    )
