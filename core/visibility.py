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
