"""Reading Slack's signed payloads: the fields every listener needs, whatever the kind."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from slack_bolt import BoltContext


def team_of(body: Mapping[str, Any], context: BoltContext | None = None) -> str:
    """The workspace of a signed payload. Slash commands carry ``team_id``; interactions
    ``team.id``; view submissions also ``view.team_id``; Bolt's context has it for all."""
    team = (context.team_id if context is not None else None) or body.get("team_id")
    if not team:
        team = (
            (body.get("team") or {}).get("id")
            or (body.get("user") or {}).get("team_id")
            or (body.get("view") or {}).get("team_id")
        )
    if not team:
        raise ValueError("payload without a team id")
    return str(team)


def user_of(body: Mapping[str, Any]) -> str:
    """Who acted: ``user_id`` on a slash command, ``user.id`` on an interaction ("" if absent)."""
    return str(body.get("user_id") or (body.get("user") or {}).get("id") or "")


def user_team_of(body: Mapping[str, Any]) -> str | None:
    """The acting user's own workspace (another one in a Slack Connect channel), if the
    payload says; interactions carry it as ``user.team_id``."""
    return (body.get("user") or {}).get("team_id") or None


def channel_of(body: Mapping[str, Any]) -> str | None:
    """The conversation the payload came from: ``channel_id`` on a slash command, ``channel.id``
    or ``container.channel_id`` on a block action or shortcut; None from a modal or App Home."""
    return (
        body.get("channel_id")
        or (body.get("channel") or {}).get("id")
        or (body.get("container") or {}).get("channel_id")
        or None
    )


def thread_of(body: Mapping[str, Any]) -> str | None:
    """The thread a clicked message belongs to: its ``thread_ts``, else its own ``ts`` (a
    message opens a thread); the container's when the message is absent. None elsewhere."""
    message = body.get("message") or {}
    container = body.get("container") or {}
    return (
        message.get("thread_ts")
        or message.get("ts")
        or container.get("thread_ts")
        or container.get("message_ts")
        or None
    )


@dataclass(frozen=True)
class Actor:
    """Who acted, in which workspace, and where: a conversation (and thread), a modal, App
    Home. ``response_url``: set by a surface that answers through it (a command; a stale
    button); a lifecycle click is answered in its thread instead (chat.postEphemeral)."""

    team_id: str
    user_id: str
    trigger_id: str = ""
    channel_id: str | None = None
    thread_ts: str | None = None
    response_url: str | None = None
    in_modal: bool = False
    on_home: bool = False


def actor_of(body: Mapping[str, Any]) -> Actor:
    """The Actor of any signed payload (its response_url left out: see Actor)."""
    team = team_of(body)
    container = body.get("container") or {}
    view = body.get("view") or {}
    in_view = container.get("type") == "view" or bool(view)
    message = body.get("message") or {}
    return Actor(
        team_id=team,
        user_id=user_of(body),
        trigger_id=str(body.get("trigger_id") or ""),
        channel_id=None if in_view else channel_of(body),
        thread_ts=message.get("thread_ts") or container.get("thread_ts"),
        in_modal=in_view and view.get("type") == "modal",
        on_home=in_view and view.get("type") == "home",
    )
