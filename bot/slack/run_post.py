"""Posting the message that opens a run's thread, where the run was asked for.

A bot outside a public channel joins it (``conversations.join``) and posts; a private channel
or a DM it cannot post in raises CannotPost with instructions (``/invite @pipebot``), never
silence. Used by every way a run starts in Slack (bot/slack/run_start.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.delivery import deliver

log = logging.getLogger(__name__)

INVITE = "/invite @pipebot"


class CannotPost(Exception):
    """The bot cannot post where the run was asked for; the message says what to do."""


@dataclass(frozen=True)
class Posted:
    channel: str
    ts: str


def _is_dm(channel_id: str, channel_name: str | None) -> bool:
    return (
        channel_id.startswith("D")
        or channel_name in ("directmessage",)
        or bool(channel_name and channel_name.startswith("mpdm-"))
    )


def cannot_post_message(channel_id: str, channel_name: str | None, error: str) -> str:
    """What to tell the requester when the bot may not post in the conversation."""
    if _is_dm(channel_id, channel_name):
        return (
            "I can't post in this conversation, so I can't start a run here. Run it in a channel I'm in, "
            "or in a direct message with me (open pipebot under *Apps*)."
        )
    if error == "is_archived":
        return "This channel is archived, so I can't post the run here. Try another channel."
    return (
        f"I'm not a member of <#{channel_id}>, and I can't join private channels by myself. "
        f"Invite me with `{INVITE}`, then run the command again."
    )


def post_run_message(
    client: WebClient,
    channel_id: str,
    text: str,
    blocks: list[dict[str, Any]],
    *,
    thread_ts: str | None = None,
    channel_name: str | None = None,
) -> Posted:
    """chat.postMessage, joining a public channel first when needed; CannotPost otherwise."""

    def post() -> Posted:  # waits its turn when Slack is busy: a run is never refused for that
        resp = deliver(
            lambda: client.chat_postMessage(
                channel=channel_id,
                text=text,
                blocks=blocks,
                thread_ts=thread_ts,
                unfurl_links=False,
                unfurl_media=False,
            ),
            what="the run's message",
        )
        return Posted(str(resp["channel"]), str(resp["ts"]))

    try:
        return post()
    except SlackApiError as exc:
        error = str(exc.response.get("error"))
        if error != "not_in_channel":
            if error in ("channel_not_found", "is_archived", "restricted_action", "ekm_access_denied"):
                raise CannotPost(cannot_post_message(channel_id, channel_name, error)) from None
            log.warning("Slack refused the run's first message in %s: %s", channel_id, error)
            if error in ("ratelimited", "rate_limited"):
                raise CannotPost(
                    "Slack is limiting how fast I can post here right now, so nothing was started. "
                    "Please try again in a minute."
                ) from None
            raise CannotPost(
                f"Slack refused the message that starts the run (`{error}`), so nothing was "
                "started. Please try again; if it keeps happening, tell whoever runs pipebot."
            ) from None
    try:  # a public channel: join it (needs the channels:join scope), then post
        client.conversations_join(channel=channel_id)
    except SlackApiError as exc:
        error = str(exc.response.get("error"))
        log.info("could not join %s: %s", channel_id, error)
        raise CannotPost(
            f"I'm not a member of <#{channel_id}> and couldn't join it ({error}). "
            f"Invite me with `{INVITE}`, then run the command again."
        ) from None
    log.info("joined %s to post a run", channel_id)
    return post()


def delete_quietly(client: WebClient, channel: str, ts: str) -> None:
    try:
        client.chat_delete(channel=channel, ts=ts)
    except SlackApiError as exc:
        log.info("could not delete duplicate run message %s: %s", ts, exc.response.get("error"))
