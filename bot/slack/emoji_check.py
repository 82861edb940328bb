"""Whether an emoji name exists in a workspace, for a reaction trigger's **Emoji** field.

Why ``emoji.list`` with ``include_categories``: Slack answers the workspace's custom emoji and,
in its categories, the names of the standard ones, so one call checks both without pipebot
shipping a copy of Slack's emoji names. The most used names skip the call; the answer is kept
in Redis for a few minutes (emoji.list is Tier 2). When Slack cannot answer (no ``emoji:read``
scope, busy) the name is accepted and nothing is said: a typo then only means a trigger that
never fires, which the list shows plainly.
"""

from __future__ import annotations

import json
import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.ratelimit.budget import patience
from core.context import AppContext

log = logging.getLogger(__name__)

EMOJI_TTL_S = 300  # how long a workspace's emoji names are trusted
EMOJI_PATIENCE_S = 1.5  # a modal submission has 3 s to answer
#: Names people use for "do something with this message": no call needed for them.
COMMON = frozenset(
    {
        "memo",
        "eyes",
        "white_check_mark",
        "heavy_check_mark",
        "+1",
        "thumbsup",
        "-1",
        "thumbsdown",
        "pushpin",
        "robot_face",
        "bookmark",
        "star",
        "fire",
        "warning",
        "rotating_light",
        "question",
        "bulb",
        "mag",
        "page_facing_up",
        "clipboard",
        "spiral_note_pad",
        "ticket",
        "bug",
        "sos",
        "zap",
        "heart",
        "tada",
        "rocket",
        "raised_hands",
        "pray",
        "100",
    }
)


def _key(team_id: str) -> str:
    return f"pipebot:emoji:{team_id}"


def _names(ctx: AppContext, client: WebClient, team_id: str) -> set[str] | None:
    """Every emoji name of the workspace (custom, aliases and standard), or None when Slack
    would not say."""
    try:
        cached = ctx.redis.get(_key(team_id))
        if cached:
            return set(json.loads(cached))
    except Exception:  # noqa: BLE001 - a cache that cannot answer is asked around
        log.debug("emoji cache unreadable", exc_info=True)
    try:
        with patience(EMOJI_PATIENCE_S):
            answer = client.emoji_list(include_categories=True)
    except SlackApiError as exc:
        log.info("emoji.list failed (%s): the emoji name is accepted unchecked", exc.response.get("error"))
        return None
    except Exception:  # noqa: BLE001 - Slack unreachable: accept, as above
        log.info("emoji.list failed: the emoji name is accepted unchecked", exc_info=True)
        return None
    names = set((answer.get("emoji") or {}).keys())
    for category in answer.get("categories") or []:
        names.update(str(n) for n in (category.get("emoji_names") or []))
    try:
        ctx.redis.set(_key(team_id), json.dumps(sorted(names)), ex=EMOJI_TTL_S)
    except Exception:  # noqa: BLE001
        log.debug("emoji cache unwritable", exc_info=True)
    return names


def emoji_exists(ctx: AppContext, client: WebClient, team_id: str, name: str) -> bool:
    """True when ``name`` (no colons, a skin tone allowed) is an emoji of ``team_id``, or when
    Slack would not say."""
    base = name.split("::", 1)[0]
    if base in COMMON:
        return True
    names = _names(ctx, client, team_id)
    return names is None or base in names
