"""A run started by a message to pipebot: ``@pipebot run NAME [text]`` in a channel or thread,
or ``run NAME text`` in a DM (DESIGN §11). Both turn the message (its text, its files, the
thread it sits in) into one RunRequest and go through bot/slack/run_start.start_from_slack,
like every other way in; what they say back goes through the surface's ``say``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient

from bot.slack.chat_text import DM_USAGE, MENTION_USAGE, no_input_text
from bot.slack.command_tokens import ArgumentError
from bot.slack.commands_text import parse_run_args
from bot.slack.file_refs import FileNotUsable, file_refs
from bot.slack.name_match import not_found_hint
from bot.slack.run_start import dedupe_key_for, start_from_slack
from bot.slack.seeing import refusal
from bot.slack.text import decode_slack_text, escape_mrkdwn
from core.context import AppContext
from core.inputs.refs import ThreadRef
from core.messages import COMMAND
from core.runs.request import Origin, ReportTo, RunRequest
from storage.db import transaction
from storage.repos import pipelines as pipeline_repo

__all__ = ["ChatMessage", "run_from_chat"]

log = logging.getLogger(__name__)

Say = Callable[[str], None]


@dataclass(frozen=True)
class ChatMessage:
    """The message that asked for a run, as its event described it. ``thread_ts``: the thread
    it was posted in (None at the top of a conversation)."""

    team_id: str
    user_id: str
    channel_id: str
    ts: str
    origin: Origin
    thread_ts: str | None = None
    user_team_id: str | None = None
    files: Sequence[Mapping[str, Any]] = ()

    @property
    def in_thread(self) -> bool:
        return bool(self.thread_ts) and self.thread_ts != self.ts

    @property
    def reply_thread(self) -> str:
        """The thread the run (and any answer) goes in: the message's own, or the one it opens."""
        return self.thread_ts or self.ts


def _shown(input_text: str, request: RunRequest) -> str:
    if input_text.strip():
        return input_text
    names = ", ".join(f.name for f in request.files)
    if names:
        return f"(files: {names})"
    return "(the thread)"


def run_from_chat(ctx: AppContext, client: WebClient, msg: ChatMessage, args_text: str, say: Say) -> None:
    """``run NAME [text]`` from ``msg``: a problem with the request itself (no name, no such
    pipeline, a file pipebot cannot take) is said at once; the run is then started, and a
    refusal (limits, capabilities, spend) is said the same way."""
    with transaction(ctx.sessions) as s:
        names = [p.name for p in pipeline_repo.list_pipelines(s, msg.team_id)]
        try:
            name, raw_input = parse_run_args(args_text, names)
        except ArgumentError as err:
            say(str(err))
            return
        if not name:
            say(DM_USAGE if msg.origin is Origin.DM else MENTION_USAGE)
            return
        pipeline = pipeline_repo.get_pipeline_by_name(s, msg.team_id, " ".join(name.split()))
        if pipeline is None:
            if_none = f"There are no pipelines yet: create one with `{COMMAND} pipeline new`."
            say(not_found_hint("pipeline", name, names, if_none=if_none))
            return
        pipeline_id, pipeline_name = pipeline.id, pipeline.name
    try:
        files = file_refs(client, msg.files)
    except FileNotUsable as exc:
        say(str(exc))
        return
    thread = ThreadRef(msg.channel_id, msg.thread_ts or "", before_ts=msg.ts) if msg.in_thread else None
    input_text = decode_slack_text(raw_input).strip()
    if not input_text and not files and thread is None:
        say(no_input_text(escape_mrkdwn(pipeline_name), in_dm=msg.origin is Origin.DM))
        return
    if msg.origin is not Origin.DM and (why := refusal(ctx, client, msg.team_id, msg.user_id, msg.channel_id)):
        say(why)
        return
    request = RunRequest(
        msg.team_id,
        msg.origin,
        pipeline_name=pipeline_name,
        pipeline_id=pipeline_id,
        input_text=input_text,
        requested_by=msg.user_id,
        requester_team_id=msg.user_team_id,
        report_to=ReportTo(msg.channel_id, msg.reply_thread if msg.origin is Origin.MENTION else None),
        dedupe_key=dedupe_key_for(msg.team_id, msg.origin.value, f"{msg.channel_id}:{msg.ts}"),
        files=files,
        thread=thread,
    )
    started = start_from_slack(
        ctx, client, request, shown_input=_shown(input_text, request), tell=lambda r: say(r.text), on_long_wait=say
    )
    if started is not None and started.note:
        say(started.note)
