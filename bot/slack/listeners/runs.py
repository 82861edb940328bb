"""Starting runs from Slack: `/pipebot run NAME INPUT…` and the run modal's submission (the
modal opens from the "Run a pipeline on this message" shortcut and App Home's "Run…" button:
bot/slack/run_modal.py).

Each handler only turns what Slack sent into a RunRequest (core/runs/request.py), answering
problems with the request itself (no such pipeline, no input) at once; bot/slack/run_start.py
then does what every way in shares: check, dedupe, post the message that opens the thread,
start the run, and handle a refusal.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from bot.slack.blocks import runs as msgs
from bot.slack.command_tokens import ArgumentError
from bot.slack.commands_text import parse_run_args
from bot.slack.file_refs import FileNotUsable, file_refs_by_id
from bot.slack.listeners.support import SaveResult, inline_error, submission, tell
from bot.slack.modal_state import RunModalState, StateUnreadable
from bot.slack.name_match import not_found_hint
from bot.slack.payloads import Actor, channel_of, team_of, user_of, user_team_of
from bot.slack.run_modal import stashed_input
from bot.slack.run_start import CANNOT_POST, Refusal, dedupe_key_for, start_from_slack
from bot.slack.seeing import NOT_YOURS, refusal
from bot.slack.text import escape_mrkdwn, unescape_slack
from core.context import AppContext
from core.inputs.refs import FileRef, ThreadRef
from core.messages import COMMAND
from core.runs.intake import PIPELINE_GONE
from core.runs.request import Origin, ReportTo, RunRequest
from storage.db import transaction
from storage.repos import pipelines as pipeline_repo

log = logging.getLogger(__name__)

STASH_EXPIRED = "This form waited too long and the message's text is gone. Run the shortcut on the message again."
#: A run modal whose conversation the requester may not post a run in (DESIGN §10).
NOT_YOUR_CONVERSATION = (
    "I can post a run only in a conversation you are in (and I am in too), or, for full "
    "members of the workspace, in a public channel. Pick another one."
)
#: The message shortcut's conversation is theirs: if it is not in their Sight, I am not in it.
NOT_IN_THIS_CONVERSATION = (
    "I can post a run only in a conversation we are both in: in a private channel or a group "
    "DM, `/invite @pipebot` first."
)


# ---- /pipebot run ---------------------------------------------------------------------------------


def handle_run(ctx: AppContext, client: WebClient, body: dict[str, Any], args_text: str) -> None:
    """`/pipebot run NAME INPUT…`, after the ack: parse it into a RunRequest (a problem with
    the command itself is answered here, with "did you mean"), then start it."""
    team_id, user_id = team_of(body), user_of(body)
    asker = Actor(team_id, user_id, channel_id=channel_of(body), response_url=body.get("response_url"))

    def say(text: str) -> None:
        tell(client, asker, text)

    with transaction(ctx.sessions) as s:
        names = [p.name for p in pipeline_repo.list_pipelines(s, team_id)]
        try:
            name, input_text = parse_run_args(args_text, names)
        except ArgumentError as err:
            say(str(err))
            return
        if not name:
            say(f"Which pipeline should I run? Usage: `{COMMAND} run NAME your input…`")
            return
        pipeline = pipeline_repo.get_pipeline_by_name(s, team_id, " ".join(name.split()))
        if pipeline is None:
            if_none = f"There are no pipelines yet: create one with `{COMMAND} pipeline new`."
            say(not_found_hint("pipeline", name, names, if_none=if_none))
            return
        if not input_text.strip():
            quoted = escape_mrkdwn(pipeline.name)
            say(f'What should *{quoted}* run on? Put the input after the name: `{COMMAND} run "{quoted}" your input…`')
            return
        pipeline_id, pipeline_name = pipeline.id, pipeline.name
    request = RunRequest(
        team_id,
        Origin.SLASH_COMMAND,
        pipeline_name=pipeline_name,
        pipeline_id=pipeline_id,
        input_text=input_text,
        requested_by=user_id,
        requester_team_id=user_team_of(body),
        report_to=ReportTo(channel_of(body)),
        dedupe_key=dedupe_key_for(team_id, "cmd", body.get("trigger_id")),
    )
    started = start_from_slack(
        ctx,
        client,
        request,
        shown_input=input_text,
        tell=lambda refusal: say(refusal.text),
        channel_name=body.get("channel_name"),
        on_long_wait=say,
    )
    if started is not None and started.note:
        say(started.note)


# ---- the run modal (message shortcut, App Home) ---------------------------------------------------


def _selected(values: Mapping[str, Any], block_id: str, key: str) -> Any:
    state = (values.get(block_id) or {}).get(msgs.FIELD) or {}
    value = state.get(key)
    if key == "selected_option":
        return (value or {}).get("value")
    return value


def submit_run_modal(
    ctx: AppContext, client: WebClient, body: Mapping[str, Any], context: BoltContext | None = None
) -> SaveResult:
    """The run modal's submission as a RunRequest: where it came from (the message shortcut:
    that message's thread; App Home: the channel picked), then started; every problem the
    user can fix comes back as an inline error on the modal, and success closes it."""
    view = body.get("view") or {}
    team_id, user_id = team_of(body), user_of(body)
    values = (view.get("state") or {}).get("values") or {}

    try:
        state = RunModalState.decode(view.get("private_metadata"))
    except StateUnreadable as exc:
        log.warning("run modal with unreadable state: %s", exc.detail)
        return inline_error(msgs.PIPELINE_BLOCK, str(exc))
    raw_id = _selected(values, msgs.PIPELINE_BLOCK, "selected_option")
    if not raw_id or not str(raw_id).isdigit():
        return inline_error(msgs.PIPELINE_BLOCK, "Pick a pipeline.")
    include_thread = msgs.INCLUDE_THREAD in [
        (o or {}).get("value") for o in _selected(values, msgs.THREAD_BLOCK, "selected_options") or []
    ]
    has_files = any(state.file_ids)
    if msgs.INPUT_BLOCK in values:
        input_text = _selected(values, msgs.INPUT_BLOCK, "value") or ""
        if not input_text.strip() and not has_files and not include_thread:
            return inline_error(msgs.INPUT_BLOCK, "Give the run some input.")
    elif not (input_text := stashed_input(ctx, state)):
        return inline_error(msgs.PIPELINE_BLOCK, STASH_EXPIRED)
    input_text = msgs.with_extra_instructions(input_text, _selected(values, msgs.EXTRA_BLOCK, "value") or "")
    files: tuple[FileRef, ...] = ()
    if has_files:
        try:
            files = file_refs_by_id(client, [f for f in state.file_ids if f])
        except FileNotUsable as exc:
            return inline_error(msgs.PIPELINE_BLOCK, unescape_slack(str(exc)))
    thread = None
    if state.from_message and include_thread and state.channel_id and state.thread_ts:
        # A reply: the thread's messages before it. The thread's first message: its replies.
        before = state.message_ts if state.message_ts != state.thread_ts else None
        thread = ThreadRef(state.channel_id, state.thread_ts, before_ts=before)
    with transaction(ctx.sessions) as s:
        pipeline = pipeline_repo.get_pipeline(s, team_id, int(raw_id))
        if pipeline is None:
            return inline_error(msgs.PIPELINE_BLOCK, PIPELINE_GONE)
        pipeline_name = pipeline.name
    if state.from_message:
        report_to = ReportTo(state.channel_id or "", state.thread_ts or None)
        post_errors_under = msgs.PIPELINE_BLOCK
    else:
        report_to = ReportTo(_selected(values, msgs.CHANNEL_BLOCK, "selected_conversation") or user_id)
        post_errors_under = msgs.CHANNEL_BLOCK if msgs.CHANNEL_BLOCK in values else msgs.PIPELINE_BLOCK
    # Where the run posts must be a conversation the requester sees (a guest's or an outside
    # person's: one they are in); the state is untrusted, so the shortcut's channel is checked
    # too. Their own DM from pipebot (no channel picked) is always theirs.
    if report_to.channel_id and report_to.channel_id != user_id:
        if (why := refusal(ctx, client, team_id, user_id, report_to.channel_id)) is not None:
            if why == NOT_YOURS:
                why = NOT_IN_THIS_CONVERSATION if state.from_message else NOT_YOUR_CONVERSATION
            return inline_error(post_errors_under, why)
    request = RunRequest(
        team_id,
        Origin.MESSAGE_SHORTCUT if state.from_message else Origin.RUN_MODAL,
        pipeline_name=pipeline_name,
        pipeline_id=int(raw_id),
        input_text=input_text,
        requested_by=user_id,
        requester_team_id=user_team_of(body),
        report_to=report_to,
        dedupe_key=dedupe_key_for(team_id, "view", view.get("id")),
        files=files,
        thread=thread,
    )

    def refused(refusal: Refusal) -> SaveResult:
        return inline_error(post_errors_under if refusal.kind == CANNOT_POST else msgs.PIPELINE_BLOCK, refusal.text)

    refusals: list[Refusal] = []
    shown = input_text or (f"(files: {', '.join(f.name for f in files)})" if files else "(the thread)")
    start_from_slack(ctx, client, request, shown_input=shown, tell=refusals.append, channel_name=state.channel_name)
    return refused(refusals[0]) if refusals else (None, None)


def register(app: App, ctx: AppContext) -> None:
    """The run modal's submission (`/pipebot run` comes through bot/slack/listeners/commands.py)."""
    app.view(msgs.RUN_MODAL_CALLBACK)(submission(ctx, submit_run_modal, msgs.PIPELINE_BLOCK))
