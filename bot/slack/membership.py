"""Which conversations someone can see in Slack, so that pipebot shows them no more
(DESIGN §10; the rule itself is core/visibility.py).

Two questions to Slack, each cached in Redis for :data:`MEMBERSHIP_TTL_S` so every process
shares the answers and a busy list costs no API call:

* the conversations a person is in: ``users.conversations`` with ``user=`` and all four
  types (Tier 3). With a bot token it lists private ones only where the bot is too, which is
  everywhere a run can have posted;
* the workspace's public channels: ``conversations.list`` (Tier 2), asked once per workspace,
  for full members (who can open any public channel).

Who the person is (a full member, a guest, of another organisation) comes from
bot/slack/people.py. Archived conversations count: their runs stay visible to whoever could
see them. A person Slack will not describe sees nothing (:class:`MembershipUnknown` says why).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.people import PersonUnknown, person, slack_said
from bot.slack.ratelimit.budget import patience
from core.context import AppContext
from core.visibility import Sight

log = logging.getLogger(__name__)

#: How long a membership answer is trusted: someone removed from a private channel stops
#: seeing its runs within this time (Slack's own apps refresh on a similar scale).
MEMBERSHIP_TTL_S = 120
#: How long one lookup waits for Slack's budget before saying Slack is busy.
MEMBERSHIP_PATIENCE_S = 5.0
#: Every kind of conversation a run can belong to.
ALL_TYPES = "public_channel,private_channel,mpim,im"
#: Most pages of one list read (1,000 conversations each): a bound, not a limit anyone meets.
MAX_PAGES = 50


class MembershipUnknown(Exception):
    """Slack would not say which conversations someone can see; the message says what to fix."""


def _unknown(exc: SlackApiError) -> MembershipUnknown:
    error, hint = slack_said(exc, "the channels:read, groups:read, im:read and mpim:read scopes")
    return MembershipUnknown(f"I couldn't check which conversations you are in (Slack said `{error}`).{hint}")


def _channel_ids(pages: Iterable[object]) -> set[str]:
    found: set[str] = set()
    for n, page in enumerate(pages):
        if n >= MAX_PAGES:
            break
        for chan in page.get("channels") or []:  # type: ignore[attr-defined]
            if isinstance(chan, dict) and isinstance(chan.get("id"), str):
                found.add(chan["id"])
    return found


class SlackSight:
    """core.visibility.SightSource from Slack's membership; ``client_for(team_id)`` gives the
    workspace's bot client (bot/slack/client.client_for)."""

    def __init__(self, ctx: AppContext, client_for: Callable[[str], WebClient]) -> None:
        self._ctx = ctx
        self._client_for = client_for

    def _client(self, team_id: str) -> WebClient:
        try:
            return self._client_for(team_id)
        except Exception as exc:  # noqa: BLE001 - not installed, no token: nobody can be checked
            raise MembershipUnknown(str(exc)) from None

    def sight(self, team_id: str, user_id: str, *, fresh: bool = False) -> Sight:
        """What ``user_id`` may see of ``team_id``; raises :class:`MembershipUnknown`.
        ``fresh`` re-reads the conversations they are in (what changes when someone joins);
        the workspace's public channels come from their own cache."""
        client = self._client(team_id)
        try:
            who = person(self._ctx, client, team_id, user_id)
        except PersonUnknown as exc:
            raise MembershipUnknown(str(exc)) from None
        if who.gone:
            return Sight(team_id, user_id, frozenset(), full_member=False)
        channels = set(
            self._cached(f"pipebot:member-of:{team_id}:{user_id}", fresh, lambda: self._mine(client, user_id))
        )
        full = who.full_member_of(team_id)
        if full:  # ``fresh`` re-reads the person's own conversations only: the workspace's list
            # (Tier 2, shared by everyone) is re-read once its cache expires
            channels |= self.public_channels(team_id)
        return Sight(team_id, user_id, frozenset(channels), full_member=full)

    def public_channels(self, team_id: str, *, fresh: bool = False) -> frozenset[str]:
        """The workspace's public channels (archived ones included)."""
        client = self._client(team_id)
        return frozenset(self._cached(f"pipebot:public-channels:{team_id}", fresh, lambda: self._public(client)))

    def shared_outside(self, team_id: str, channel_id: str) -> bool:
        """Whether ``channel_id`` is shared with another organisation or workspace
        (``conversations.info``: ``is_shared``, ``is_ext_shared``, ``is_pending_ext_shared``),
        cached like membership. A conversation Slack will not describe counts as shared."""
        key = f"pipebot:shared:{team_id}:{channel_id}"
        try:
            raw = self._ctx.redis.get(key)
            if raw is not None:
                return bool(int(raw))
        except Exception:  # noqa: BLE001 - a cache that cannot answer is asked around
            log.debug("shared-channel cache unreadable", exc_info=True)
        try:
            with patience(MEMBERSHIP_PATIENCE_S):
                chan = self._client(team_id).conversations_info(channel=channel_id)["channel"] or {}
        except (SlackApiError, MembershipUnknown) as exc:
            log.info("conversations.info of %s failed (%s): counted as shared", channel_id, exc)
            return True
        shared = any(
            bool(chan.get(k)) for k in ("is_shared", "is_ext_shared", "is_pending_ext_shared", "is_org_shared")
        )
        try:
            self._ctx.redis.set(key, int(shared), ex=MEMBERSHIP_TTL_S)
        except Exception:  # noqa: BLE001 - the answer stands without the cache
            log.debug("shared-channel cache unwritable", exc_info=True)
        return shared

    def _mine(self, client: WebClient, user_id: str) -> set[str]:
        try:
            with patience(MEMBERSHIP_PATIENCE_S):
                return _channel_ids(
                    client.users_conversations(user=user_id, types=ALL_TYPES, exclude_archived=False, limit=999)
                )
        except SlackApiError as exc:
            raise _unknown(exc) from None

    def _public(self, client: WebClient) -> set[str]:
        try:
            with patience(MEMBERSHIP_PATIENCE_S):
                return _channel_ids(
                    client.conversations_list(types="public_channel", exclude_archived=False, limit=1000)
                )
        except SlackApiError as exc:
            raise _unknown(exc) from None

    def _cached(self, key: str, fresh: bool, ask: Callable[[], set[str]]) -> set[str]:
        if not fresh:
            try:
                raw = self._ctx.redis.get(key)
                if raw is not None:
                    return set(json.loads(raw))
            except Exception:  # noqa: BLE001 - a cache that cannot answer is asked around
                log.debug("membership cache unreadable", exc_info=True)
        found = ask()
        try:
            self._ctx.redis.set(key, json.dumps(sorted(found)), ex=MEMBERSHIP_TTL_S)
        except Exception:  # noqa: BLE001 - the answer stands without the cache
            log.debug("membership cache unwritable", exc_info=True)
        return found


def slack_sight(ctx: AppContext) -> SlackSight:
    """The process's SightSource: each workspace's bot client from its installation."""
    from bot.slack.client import client_for

    return SlackSight(ctx, lambda team_id: client_for(ctx, team_id))
