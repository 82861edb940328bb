"""Who someone is to a workspace, as Slack says: a full member, a guest, someone of another
organisation (Slack Connect), an admin (DESIGN §10).

Why one place: settings, agents, pipelines, cancel and the visibility rule all ask the same
question, and each used to ask Slack its own way. ``users.info`` (Tier 4) is asked once per
person and workspace per :data:`PERSON_TTL_S` (Redis, so every process shares the answer);
a change made in Slack (a member made guest, an admin demoted) counts within that time.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.ratelimit.budget import patience
from core.context import AppContext

log = logging.getLogger(__name__)

#: How long what Slack said about a person is trusted.
PERSON_TTL_S = 60
#: How long a lookup waits for Slack's budget (a 429's Retry-After included) before it says
#: "Slack is busy": the callers open modals, whose trigger_id lives 3 s.
PERSON_PATIENCE_S = 1.5

_BUSY = ("ratelimited", "rate_limited", "internal_error", "fatal_error", "service_unavailable", "request_timeout")


def slack_said(exc: SlackApiError, needs: str) -> tuple[str, str]:
    """Slack's error name, and what to do about it: reinstall for ``needs`` (the scopes) when
    one is missing, try later when Slack is busy. Shared by the lookups of who someone is and of
    which conversations they are in (bot/slack/membership.py)."""
    error = str(exc.response.get("error") or "unknown_error") if exc.response is not None else "unknown_error"
    if error == "missing_scope":
        return error, f" The app needs {needs}: reinstall it from the manifest."
    if error in _BUSY:
        return error, " Slack is busy right now; please try again in a minute."
    return error, ""


class PersonUnknown(Exception):
    """Slack would not say who the user is; the message says what to fix."""


@dataclass(frozen=True)
class Person:
    """What Slack says of one user, as far as pipebot's rules need it."""

    user_id: str
    team_ids: tuple[str, ...]  # the user's own workspace(s): more than one on Enterprise Grid
    guest: bool  # is_restricted or is_ultra_restricted
    slack_admin: bool  # a workspace admin, owner or primary owner
    gone: bool  # deactivated, or a bot

    def full_member_of(self, team_id: str) -> bool:
        """A full member (not a guest, not of another organisation) of ``team_id``."""
        return not self.gone and not self.guest and (not self.team_ids or team_id in self.team_ids)

    def admin_of(self, team_id: str) -> bool:
        return self.slack_admin and self.full_member_of(team_id)


def _key(team_id: str, user_id: str) -> str:
    return f"pipebot:person:{team_id}:{user_id}"


def _from_slack(user: dict[str, object]) -> Person:
    teams: list[str] = []
    if isinstance(user.get("team_id"), str) and user["team_id"]:
        teams.append(str(user["team_id"]))
    grid = user.get("enterprise_user")
    if isinstance(grid, dict) and isinstance(grid.get("teams"), list):
        teams.extend(str(t) for t in grid["teams"] if isinstance(t, str))
    return Person(
        user_id=str(user.get("id") or ""),
        team_ids=tuple(dict.fromkeys(teams)),
        guest=bool(user.get("is_restricted") or user.get("is_ultra_restricted")),
        slack_admin=bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner")),
        gone=bool(user.get("deleted") or user.get("is_bot")),
    )


def person(ctx: AppContext, client: WebClient, team_id: str, user_id: str) -> Person:
    """Who ``user_id`` is, from the cache or ``users.info``; raises :class:`PersonUnknown`."""
    key = _key(team_id, user_id)
    try:
        cached = ctx.redis.get(key)
        if cached:
            data = json.loads(cached)
            return Person(**dict(data, team_ids=tuple(data["team_ids"])))
    except Exception:  # noqa: BLE001 - a cache that cannot answer is asked around
        log.debug("person cache unreadable", exc_info=True)
    try:
        with patience(PERSON_PATIENCE_S):
            user = client.users_info(user=user_id)["user"]
    except SlackApiError as exc:
        error, hint = slack_said(exc, "the users:read scope")
        raise PersonUnknown(f"I couldn't check who you are in Slack (Slack said `{error}`).{hint}") from None
    found = _from_slack(user)
    try:
        ctx.redis.set(key, json.dumps(asdict(found)), ex=PERSON_TTL_S)
    except Exception:  # noqa: BLE001 - the answer stands without the cache
        log.debug("person cache unwritable", exc_info=True)
    return found
