"""Who may see a run: the one rule every surface applies (DESIGN §10).

A run belongs to the conversation it ran in. A person sees it when they can see that
conversation in Slack: a public channel's runs are seen by the workspace's full members and
by the guests in it, any other conversation's by its members. Runs that posted nowhere (the
CLI without a channel) are seen by full members. Nobody sees another workspace's runs.

``Sight`` is what one person can see, worked out once per request from Slack's membership
(bot/slack/membership.py builds it and caches the Slack answers briefly); ``Sight.sees`` is
the rule for one run and ``Sight.scope`` the same rule as a filter for lists and searches
(storage/repos/artifacts.py), so a list never shows what a page would refuse.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from storage.repos.artifacts import ChannelScope


@dataclass(frozen=True)
class Sight:
    """What ``user_id`` may see of ``team_id``'s runs.

    ``channels`` holds every conversation whose runs they may see: for a full member, the
    workspace's public channels and every conversation they are in; for a guest or someone
    from another organisation, only the conversations they are in. ``full_member`` is False
    for guests and for people of another organisation (Slack Connect).
    """

    team_id: str
    user_id: str
    channels: frozenset[str]
    full_member: bool

    def sees(self, team_id: str, channel_id: str | None) -> bool:
        if team_id != self.team_id:
            return False
        if channel_id is None:
            return self.full_member
        return channel_id in self.channels

    @property
    def scope(self) -> ChannelScope:
        return ChannelScope(channels=self.channels, unplaced=self.full_member)


class SightSource(Protocol):
    """Works out a person's Sight from Slack (bot/slack/membership.py implements it; the
    worker's read_artifact tool gets one through the run's context)."""

    def sight(self, team_id: str, user_id: str, *, fresh: bool = False) -> Sight:
        """``fresh`` skips the cache: a run just started in a channel the person only now
        joined is refused once from the cache, then checked again against Slack."""
        ...


def shows_where_pasted(
    run_channel: str | None, pasted_in: str | None, *, run_public: bool, pasted_shared: bool
) -> bool:
    """Whether a run's content may show where its link was pasted (an unfurl), which everyone
    in that conversation reads, whoever they are: in the run's own conversation; or, for a
    run of a public channel, in a conversation not shared with another organisation (its
    people could open that channel anyway). Anything else shows nothing of the run."""
    if run_channel is None or pasted_in is None:
        return False
    if run_channel == pasted_in:
        return True
    return run_public and not pasted_shared


def may_carry(
    sight: Sight | None, run_channel: str | None, artifact_channel: str | None, *, public: frozenset[str]
) -> bool:
    """Whether a run of ``run_channel`` may read (and so repeat in its conversation) an
    artifact of ``artifact_channel`` (the read_artifact tool). ``sight``: the run's
    requester's; None for a run nobody in Slack asked for (the CLI), which reads only runs
    of its own conversation or that posted nowhere. With a requester the artifact must be
    one they see, and of the same conversation, a public channel (``public``) or nowhere
    (seen by full members only), so no run carries a private conversation's content into
    another."""
    if sight is None:
        return artifact_channel is None or artifact_channel == run_channel
    if not sight.sees(sight.team_id, artifact_channel):
        return False
    return artifact_channel is None or artifact_channel == run_channel or artifact_channel in public


#: Whether one run may read an artifact that ran in the given conversation (None: nowhere).
ArtifactGate = Callable[[str | None], bool]


class ReadRule(Protocol):
    """The gate of one run's read_artifact tool, from the run's workspace, conversation and
    requester. Built by the surface that knows people (bot/slack/read_rule.py, declared as a
    ``pipebot.read_rules`` entry point: core knows no Slack)."""

    def __call__(self, team_id: str, run_channel: str | None, requester: str | None) -> ArtifactGate: ...


def unattended_gate(run_channel: str | None) -> ArtifactGate:
    """The gate when nobody's Sight is known (no surface installed, or a run nobody in Slack
    asked for): runs of the same conversation, or that posted nowhere."""
    return lambda artifact_channel: may_carry(None, run_channel, artifact_channel, public=frozenset())
