"""Starting runs from Slack: `/pipebot run NAME INPUT…`, the "Run a pipeline on this message"
shortcut, and the run modal that App Home's "Run…" button opens.

The flow, and why each step is where it is:

1. Validate before anything is public: the pipeline exists in this workspace (with "did
   you mean"), has no step whose agent was deleted, and every provider it needs has a
   key. A problem the user must fix goes to them alone (ephemeral, or an inline modal
   error) instead of as a failed run in front of the channel. Anything that changes
   between this check and the worker (an agent deleted meanwhile) still fails the run
   itself, in the thread, with the reason.
2. Post the message that opens the thread. A bot outside a public channel joins it
   (``conversations.join``); a private channel or a DM it cannot post in gets
   instructions (``/invite @pipebot``), never silence.
3. ``core.runs.queue.start_run`` with that message's ts as the thread and the requester as the
   streaming recipient. The dedupe key (the slash command's ``trigger_id``, or the modal's
   view id) makes a retried request return the first run instead of starting another.

The worker then reports into the thread (bot/slack/reporter.py).
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import IntegrityError

from bot.slack.blocks import runs as msgs
from bot.slack.blocks.common import info_modal, preview
from bot.slack.blocks.limits import PLAIN_TEXT_INPUT_LIMIT
from bot.slack.commands_text import (
    COMMAND,
    ArgumentError,
    not_found_hint,
    parse_run_args,
)
from bot.slack.delivery import deliver
from bot.slack.listeners.support import open_modal
from bot.slack.payloads import team_of
from bot.slack.reporter import remember_status_message
from bot.slack.text import escape_mrkdwn
from core import pipelines as core_pipelines
from core.context import AppContext
from core.errors import QueueUnavailable, RunRejected
from core.preflight import Orphaned, check_pipeline
from core.runs.queue import start_run
from storage.db import transaction
from storage.repos import pipelines as pipeline_repo
from storage.repos import runs as run_repo

log = logging.getLogger(__name__)

INVITE = "/invite @pipebot"
STASH_TTL_S = 3600  # a long message's text waits this long for the modal's submission


class CannotPost(Exception):
    """The bot cannot post where the run was asked for; the message says what to do."""


@dataclass(frozen=True)
class Posted:
    channel: str
    ts: str


# ---- parsing and validation -------------------------------------------------------------------


def preflight_problem(s: Any, ctx: AppContext, team_id: str, pipeline: Any) -> str | None:
    """Why this pipeline cannot run now (mrkdwn, for the requester), or None.

    core.preflight decides, before a message goes to the channel; this says it in Slack's
    words. The executor asks core.preflight again when the run starts.
    """
    problem = check_pipeline(s, ctx, team_id, pipeline.id)
    if problem is None:
        return None
    name = escape_mrkdwn(pipeline.name)
    if problem.kind == "empty_pipeline":
        return f"*{name}* has no steps. Add one with `{COMMAND} pipeline edit {name}`."
    if isinstance(problem, Orphaned):
        return f"*{name}* can't run yet: " + " ".join(escape_mrkdwn(m) for m in problem.messages)
    return escape_mrkdwn(problem.message)


# ---- posting where the run was asked for ---------------------------------------------------------


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


def _delete_quietly(client: WebClient, channel: str, ts: str) -> None:
    try:
        client.chat_delete(channel=channel, ts=ts)
    except SlackApiError as exc:
        log.info("could not delete duplicate run message %s: %s", ts, exc.response.get("error"))


def _mark_rejected(client: WebClient, posted: Posted, name: str, user_id: str, input_text: str, reason: str) -> None:
    text, blocks = msgs.parent_message(name, user_id, input_text, status="rejected", reason=reason)
    try:
        deliver(
            lambda: client.chat_update(
                channel=posted.channel, ts=posted.ts, text=text, blocks=[b.to_dict() for b in blocks]
            ),
            what="the rejected mark",
        )
    except SlackApiError as exc:
        log.info("could not mark run message %s as rejected: %s", posted.ts, exc.response.get("error"))


def _start(
    ctx: AppContext,
    team_id: str,
    name: str,
    input_text: str,
    *,
    user_id: str,
    posted: Posted,
    thread_ts: str,
    dedupe_key: str | None,
    run_id: uuid.UUID,
) -> Any:
    """start_run, where a concurrent duplicate (same dedupe key) returns the first run.
    ``run_id`` is the id the posted message's Cancel button already names."""
    try:
        return start_run(
            ctx,
            team_id,
            name,
            input_text,
            requested_by=user_id,
            source="slack",
            channel_id=posted.channel,
            thread_ts=thread_ts,
            recipient_team_id=team_id,
            dedupe_key=dedupe_key,
            run_id=run_id,
        )
    except IntegrityError:
        if not dedupe_key:
            raise
        with transaction(ctx.sessions) as s:
            prior = run_repo.get_run_by_dedupe_key(s, team_id, dedupe_key)
            if prior is None:
                raise
            s.expunge(prior)
            return prior


def _claim_key(dedupe_key: str) -> str:
    return f"pipebot:slack:run-request:{dedupe_key}"


def _claim(ctx: AppContext, dedupe_key: str | None) -> bool:
    """True for the first handler of a request: a repeat (Slack or Bolt retrying, a double
    click) must not post a second "running…" message, let alone start a second run. Redis
    settles concurrent repeats; the run's unique dedupe key settles the rest."""
    if not dedupe_key:
        return True
    team_id = dedupe_key.split(":")[1]
    with transaction(ctx.sessions) as s:
        if run_repo.get_run_by_dedupe_key(s, team_id, dedupe_key) is not None:
            return False
    try:
        return bool(ctx.redis.set(_claim_key(dedupe_key), "1", nx=True, ex=STASH_TTL_S))
    except Exception:  # noqa: BLE001 - Redis down: start_run's dedupe still prevents a second run
        log.warning("could not claim run request %s in Redis", dedupe_key)
        return True


def _release(ctx: AppContext, dedupe_key: str | None) -> None:
    """Nothing was started: a repeat of this request may try again (and be answered)."""
    if dedupe_key:
        try:
            ctx.redis.delete(_claim_key(dedupe_key))
        except Exception:  # noqa: BLE001
            pass


def dedupe_key_for(team_id: str, kind: str, value: str | None) -> str | None:
    """Globally unique (the column is), scoped by workspace, at most 200 characters."""
    return f"slack:{team_id}:{kind}:{value}"[:200] if value else None


# ---- /pipebot run ---------------------------------------------------------------------------------


def handle_run(ctx: AppContext, client: WebClient, body: dict[str, Any], args_text: str, respond: Respond) -> None:
    """`/pipebot run NAME INPUT…`, after the ack (see the module docstring for the flow)."""
    team_id = str(body.get("team_id") or (body.get("team") or {}).get("id") or "")
    user_id = str(body.get("user_id") or "")
    channel_id = str(body.get("channel_id") or "")
    channel_name = body.get("channel_name")
    dedupe_key = dedupe_key_for(team_id, "cmd", body.get("trigger_id"))

    def tell(text: str) -> None:
        respond(text=text, response_type="ephemeral", replace_original=False)

    with transaction(ctx.sessions) as s:
        pipelines = list(pipeline_repo.list_pipelines(s, team_id))
        names = [p.name for p in pipelines]
        try:
            name, input_text = parse_run_args(args_text, names)
        except ArgumentError as err:
            tell(str(err))
            return
        if not name:
            tell(f"Which pipeline should I run? Usage: `{COMMAND} run NAME your input…`")
            return
        pipeline = pipeline_repo.get_pipeline_by_name(s, team_id, " ".join(name.split()))
        if pipeline is None:
            tell(
                not_found_hint(
                    "pipeline",
                    name,
                    names,
                    if_none=(f"There are no pipelines yet: create one with `{COMMAND} pipeline new`."),
                )
            )
            return
        if not input_text.strip():
            tell(
                f"What should *{escape_mrkdwn(pipeline.name)}* run on? Put the input after the name: "
                f'`{COMMAND} run "{escape_mrkdwn(pipeline.name)}" your input…`'
            )
            return
        problem = preflight_problem(s, ctx, team_id, pipeline)
        pipeline_name = pipeline.name
    if problem:
        tell(problem)
        return
    if not _claim(ctx, dedupe_key):
        log.info("run request %s was already handled; ignoring the repeat", dedupe_key)
        return

    run_id = uuid.uuid4()
    text, blocks = msgs.parent_message(pipeline_name, user_id, input_text, run_id=str(run_id))
    try:
        posted = post_run_message(client, channel_id, text, [b.to_dict() for b in blocks], channel_name=channel_name)
    except CannotPost as exc:
        _release(ctx, dedupe_key)
        tell(str(exc))
        return
    try:
        run = _start(
            ctx,
            team_id,
            pipeline_name,
            input_text,
            user_id=user_id,
            posted=posted,
            thread_ts=posted.ts,
            dedupe_key=dedupe_key,
            run_id=run_id,
        )
    except RunRejected as exc:
        _release(ctx, dedupe_key)
        _mark_rejected(client, posted, pipeline_name, user_id, input_text, exc.message)
        tell(exc.message)
        return
    except QueueUnavailable as exc:  # saved as queued: it starts once the queue is back
        tell(exc.message)
        run = exc.run
    if run.thread_ts != posted.ts:  # a concurrent duplicate won: remove our extra message
        _delete_quietly(client, posted.channel, posted.ts)
        return
    log.info("run %s of %s started from Slack by %s in %s", run.id, pipeline_name, user_id, posted.channel)


# ---- the run modal (message shortcut, App Home) ---------------------------------------------------


def _stash_key(token: str) -> str:
    return f"pipebot:slack:run-input:{token}"


def open_run_modal(
    ctx: AppContext,
    client: WebClient,
    trigger_id: str,
    team_id: str,
    *,
    metadata: Mapping[str, Any],
    selected_id: int | None = None,
    input_text: str | None = None,
    pick_channel: bool = False,
) -> None:
    """Open the pick-a-pipeline modal. Message text longer than a modal input may hold (3,000)
    waits in Redis and is shown as a preview instead of an editable field. An expired
    trigger raises bot.slack.listeners.support.Reply with what to tell the user."""

    with transaction(ctx.sessions) as s:
        pipelines = list(pipeline_repo.list_pipelines(s, team_id))
        orphaned = {p.id for p in pipelines if core_pipelines.orphans(p)}
        if not pipelines:
            view = info_modal(
                "Run a pipeline",
                f"There are no pipelines in this workspace yet. Create one with `{COMMAND} pipeline new`.",
            )
            open_modal(client, trigger_id, view)
            return
        meta = dict(metadata)
        editable, note = True, None
        if input_text is not None and len(input_text) > PLAIN_TEXT_INPUT_LIMIT:
            token = secrets.token_urlsafe(16)
            ctx.redis.set(_stash_key(token), input_text, ex=STASH_TTL_S)
            meta["k"] = token
            editable = False
            note = f"*Input:* the message ({len(input_text):,} characters)\n> {preview(input_text, 300)}"
        view = msgs.run_modal(
            pipelines,
            orphaned,
            metadata=json.dumps(meta, separators=(",", ":")),
            selected_id=selected_id,
            input_text=input_text,
            input_editable=editable,
            input_note=note,
            pick_channel=pick_channel,
        )
    open_modal(client, trigger_id, view)


def _selected(values: Mapping[str, Any], block_id: str, key: str) -> Any:
    state = (values.get(block_id) or {}).get(msgs.FIELD) or {}
    value = state.get(key)
    if key == "selected_option":
        return (value or {}).get("value")
    return value


def submit_run_modal(ctx: AppContext, client: WebClient, body: Mapping[str, Any], ack: Ack) -> None:
    """Validate, post where the results go, start the run, then close the modal; every
    problem the user can fix comes back as an inline error on the modal."""
    view = body.get("view") or {}
    team_id = team_of(body)
    user_id = (body.get("user") or {}).get("id") or ""
    values = (view.get("state") or {}).get("values") or {}
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        meta = {}

    def error(block: str, text: str) -> None:
        ack(response_action="errors", errors={block: text})

    raw_id = _selected(values, msgs.PIPELINE_BLOCK, "selected_option")
    if not raw_id:
        return error(msgs.PIPELINE_BLOCK, "Pick a pipeline.")
    if msgs.INPUT_BLOCK in values:
        input_text = _selected(values, msgs.INPUT_BLOCK, "value") or ""
        if not input_text.strip():
            return error(msgs.INPUT_BLOCK, "Give the run some input.")
    else:
        raw = ctx.redis.get(_stash_key(str(meta.get("k")))) if meta.get("k") else None
        input_text = raw.decode() if isinstance(raw, bytes) else (raw or "")
        if not input_text:
            return error(
                msgs.PIPELINE_BLOCK,
                "This form waited too long and the message's text is gone. Run the shortcut on the message again.",
            )
    with transaction(ctx.sessions) as s:
        try:
            pipeline = pipeline_repo.get_pipeline(s, team_id, int(raw_id))
        except ValueError:
            pipeline = None
        if pipeline is None:
            return error(msgs.PIPELINE_BLOCK, "That pipeline no longer exists. Pick another.")
        problem = preflight_problem(s, ctx, team_id, pipeline)
        name = pipeline.name
    if problem:
        return error(msgs.PIPELINE_BLOCK, re.sub(r"[*`]", "", problem))

    from_message = meta.get("src") == "msg"
    if from_message:
        channel_id, thread_ts = str(meta.get("c") or ""), str(meta.get("t") or "")
        block_for_post_errors = msgs.PIPELINE_BLOCK
    else:
        channel_id = _selected(values, msgs.CHANNEL_BLOCK, "selected_conversation") or user_id
        thread_ts = ""
        block_for_post_errors = msgs.CHANNEL_BLOCK if msgs.CHANNEL_BLOCK in values else msgs.PIPELINE_BLOCK
    dedupe_key = dedupe_key_for(team_id, "view", view.get("id"))
    if not _claim(ctx, dedupe_key):  # the same form submitted twice: the first one runs
        ack()
        return
    run_id = uuid.uuid4()
    text, blocks = msgs.parent_message(name, user_id, input_text, in_thread=not from_message, run_id=str(run_id))
    try:
        posted = post_run_message(
            client,
            channel_id,
            text,
            [b.to_dict() for b in blocks],
            thread_ts=thread_ts or None,
            channel_name=meta.get("n"),
        )
    except CannotPost as exc:
        _release(ctx, dedupe_key)
        return error(block_for_post_errors, re.sub(r"[*`]", "", str(exc)))
    thread_ts = thread_ts or posted.ts
    try:
        run = _start(
            ctx,
            team_id,
            name,
            input_text,
            user_id=user_id,
            posted=posted,
            thread_ts=thread_ts,
            dedupe_key=dedupe_key,
            run_id=run_id,
        )
    except RunRejected as exc:
        _release(ctx, dedupe_key)
        _mark_rejected(client, posted, name, user_id, input_text, exc.message)
        return error(msgs.PIPELINE_BLOCK, exc.message)
    except QueueUnavailable as exc:  # saved as queued: it starts once the queue is back
        run = exc.run
    if run.thread_ts != thread_ts or (run.channel_id and run.channel_id != posted.channel):
        _delete_quietly(client, posted.channel, posted.ts)  # a double submit: the first one runs
    elif posted.ts != thread_ts:
        remember_status_message(ctx, uuid.UUID(str(run.id)), posted.ts)
    ack()


def register(app: App, ctx: AppContext) -> None:
    """The run modal's submission (the modal opens from the message shortcut and App Home)."""

    def submission(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        try:
            submit_run_modal(ctx, client, body, ack)
        except Exception:  # noqa: BLE001 - keep the modal open and say so
            log.exception("starting a run from the modal failed")
            ack(
                response_action="errors",
                errors={
                    msgs.PIPELINE_BLOCK: (
                        "Something went wrong on pipebot's side (it has been logged). Please try again."
                    )
                },
            )

    app.view(msgs.RUN_MODAL_CALLBACK)(submission)
