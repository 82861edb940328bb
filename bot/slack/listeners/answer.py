"""Answering a lifecycle button where it was clicked.

*Edit* and *Compare* sit on a run's final message (in a channel thread or a DM), in a
pasted permalink's card, in the artifact modal and on App Home. The answer goes where the
person is: a note only they see in the conversation (``chat.postEphemeral`` with their user
id, in the thread the click came from), or, where there is no conversation (a modal, App
Home), a DM from the app; a form opens over a modal (``views.push``) or on its own
(``views.open``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.slack.listeners.support import TRIGGER_ERRORS, TRIGGER_EXPIRED, block_dicts
from bot.slack.payloads import channel_of, team_of

log = logging.getLogger(__name__)

NOT_A_MEMBER = "Only members of the workspace this result belongs to can do that."


@dataclass(frozen=True)
class Click:
    """Who clicked, in which workspace, and where (a conversation, a modal or App Home)."""

    team_id: str
    user_id: str
    trigger_id: str
    channel_id: str | None
    thread_ts: str | None
    in_modal: bool
    foreign: bool  # a person of another workspace (a channel shared with it)


def click_of(body: Mapping[str, Any]) -> Click:
    user = body.get("user") or {}
    team = team_of(body)
    container = body.get("container") or {}
    view = body.get("view") or {}
    in_view = container.get("type") == "view" or bool(view)
    message = body.get("message") or {}
    return Click(
        team_id=team,
        user_id=str(user.get("id") or ""),
        trigger_id=str(body.get("trigger_id") or ""),
        channel_id=None if in_view else channel_of(body),
        thread_ts=message.get("thread_ts") or container.get("thread_ts"),
        in_modal=in_view and view.get("type") == "modal",
        foreign=bool(user.get("team_id")) and user.get("team_id") != team,
    )


def tell(
    client: WebClient,
    click: Click,
    text: str,
    blocks: Sequence[Block] | None = None,
    *,
    channel_id: str | None = None,
    thread_ts: str | None = None,
) -> None:
    """A note only ``click.user_id`` sees: ephemeral in the conversation of the click (or the
    one given), else a DM from the app."""
    payload = block_dicts(blocks) if blocks else None
    channel = channel_id or click.channel_id
    if channel:
        try:
            client.chat_postEphemeral(
                channel=channel, user=click.user_id, text=text, blocks=payload, thread_ts=thread_ts or click.thread_ts
            )
            return
        except SlackApiError as exc:
            log.info("chat.postEphemeral failed (%s); sending a DM", exc.response.get("error"))
    client.chat_postMessage(channel=click.user_id, text=text, blocks=payload, unfurl_links=False)


def show_view(client: WebClient, click: Click, view: View) -> None:
    """Open ``view`` for the click: over the modal it came from, or on its own. A trigger
    that expired meanwhile gets a note saying so instead."""
    try:
        if click.in_modal:
            client.views_push(trigger_id=click.trigger_id, view=view.to_dict())
        else:
            client.views_open(trigger_id=click.trigger_id, view=view.to_dict())
    except SlackApiError as exc:
        if exc.response.get("error") not in TRIGGER_ERRORS:
            raise
        log.info("could not open a lifecycle view: %s", exc.response.get("error"))
        tell(client, click, TRIGGER_EXPIRED)
