""" "Re-run from…": the button (on a run's result, the artifact modal, App Home, unfurl cards)
opens a modal; picking another step rebuilds it for that step; the submission starts the
branch (core/runs/branch.py) and posts it in the source run's thread.

The flow mirrors the run modal's (bot/slack/listeners/runs.py): every rule is checked before
anything is posted, so a problem comes back as an inline error on the field it concerns; then
the "running…" message goes into the thread, the run starts with that thread, and the
reporter does the rest. The workspace always comes from the signed payload, never from the
button's value or the modal's metadata, so a crafted value can at most name another artifact
of the clicker's own workspace.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.blocks import rerun as msgs
from bot.slack.blocks import runs as run_msgs
from bot.slack.blocks.common import decode_metadata, info_modal
from bot.slack.listeners.runs import CannotPost, dedupe_key_for, post_run_message
from bot.slack.listeners.support import OOPS, Reply, action_value, notify, open_modal, selected_value, text_value
from bot.slack.payloads import team_of
from bot.slack.reporter import remember_status_message
from core import credentials
from core.context import AppContext
from core.errors import QueueUnavailable, RunRejected
from core.messages import EMPTY_PIPELINE
from core.preflight import load_plan
from core.runs.branch import BranchSource, branch_source, check_branch, start_branch
from storage.db import Session, transaction
from storage.repos import agents as agent_repo
from storage.repos import runs as run_repo

log = logging.getLogger(__name__)

TITLE = "Re-run from…"
STALE_BUTTON = "That button is out of date. Open the artifact again and use its Re-run button."


def _default_step(src: BranchSource) -> int:
    """The step a person most likely re-runs: the one that failed, else the last one."""
    failed = next((st.position for st in src.content.steps if st.status != "succeeded" and st.position), None)
    return max(1, min(failed or src.pipeline_steps, src.pipeline_steps))


def _form(s: Session, ctx: AppContext, team_id: str, src: BranchSource, step: int) -> msgs.RerunForm:
    plan = load_plan(s, team_id, src.pipeline_id)
    agents = [(a.id, a.name) for a in agent_repo.list_agents(s, team_id)]
    ids = {aid for aid, _ in agents}
    source_step = src.step(step)
    used = source_step.agent.id if source_step and source_step.agent else None
    planned = next((p.agent_id for p in plan.steps if p.position == step), None)
    return msgs.RerunForm(
        pipeline_name=src.content.pipeline_name or "this pipeline",
        version=src.version,
        steps=[(p.position, p.agent_name) for p in plan.steps],
        step=step,
        agents=agents,
        agent_id=used if used in ids else planned,
        providers=credentials.available_providers(s, ctx, team_id),
        input_text=src.input_of(step),
    )


def _where(src: BranchSource, body: Mapping[str, Any]) -> dict[str, Any]:
    """Where the branch reports: the source run's thread, else the thread (or channel) the
    button was clicked in; neither (App Home, a DM-less surface): a DM to the clicker."""
    if src.content.slack and src.content.slack.channel_id and src.content.slack.thread_ts:
        return {"c": src.content.slack.channel_id, "t": src.content.slack.thread_ts}
    container = body.get("container") or {}
    message = body.get("message") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
    if channel:
        return {"c": channel, "t": message.get("thread_ts") or message.get("ts")}
    return {}


def open_rerun_modal(ctx: AppContext, client: WebClient, body: Mapping[str, Any]) -> None:
    """The button: the modal for the artifact's version, at its most likely step."""
    team_id = team_of(body)
    parsed = msgs.parse_button_value(action_value(body))
    if parsed is None:
        open_modal(client, body.get("trigger_id") or "", info_modal(TITLE, STALE_BUTTON))
        return
    artifact_id, version = parsed
    with transaction(ctx.sessions) as s:
        try:
            src = branch_source(s, team_id, artifact_id, version)
        except RunRejected as exc:
            view = info_modal(TITLE, exc.message)
        else:
            if not src.pipeline_steps:
                open_modal(client, body.get("trigger_id") or "", info_modal(TITLE, EMPTY_PIPELINE))
                return
            meta = {"a": src.artifact_id, "v": src.version, **_where(src, body)}
            view = msgs.rerun_modal(_form(s, ctx, team_id, src, _default_step(src)), meta)
    open_modal(client, body.get("trigger_id") or "", view)


def change_step(ctx: AppContext, client: WebClient, body: Mapping[str, Any]) -> None:
    """Another step picked: the same modal for that step (its agent, what reached it)."""
    view = body.get("view") or {}
    meta = decode_metadata(view.get("private_metadata"))
    try:
        step = int(action_value(body))
    except ValueError:
        return
    team_id = team_of(body)
    with transaction(ctx.sessions) as s:
        try:
            src = branch_source(s, team_id, str(meta.get("a") or ""), int(meta.get("v") or 1))
        except RunRejected as exc:
            new_view = info_modal(TITLE, exc.message)
        else:
            new_view = msgs.rerun_modal(_form(s, ctx, team_id, src, step), {k: v for k, v in meta.items() if k != "s"})
    client.views_update(view_id=view.get("id"), hash=view.get("hash"), view=new_view.to_dict())


def _field(kind: str, shown: int) -> str:
    """The input a refusal of this kind belongs under."""
    return {
        "bad_agent": msgs.agent_block(shown),
        "unknown_model": msgs.MODEL_BLOCK,
        "bad_input": msgs.input_block(shown),
    }.get(kind, msgs.STEP_BLOCK)


def _mark_rejected(
    client: WebClient, channel: str, ts: str, pipeline_name: str, user_id: str, step: int, version: int, reason: str
) -> None:
    """The "running…" message of a branch that could not start after all says so."""
    text, blocks = run_msgs.parent_message(
        pipeline_name, user_id, msgs.branch_note(step, version), status="rejected", reason=reason
    )
    try:
        client.chat_update(channel=channel, ts=ts, text=text, blocks=[b.to_dict() for b in blocks])
    except SlackApiError as exc:
        log.info("could not mark re-run message %s as rejected: %s", ts, exc.response.get("error"))


def submit_rerun(ctx: AppContext, client: WebClient, body: Mapping[str, Any], ack: Ack) -> None:
    """Validate (inline errors), post the "running…" message in the thread, start the branch."""
    view = body.get("view") or {}
    team_id = team_of(body)
    user_id = (body.get("user") or {}).get("id") or ""
    meta = decode_metadata(view.get("private_metadata"))
    values = (view.get("state") or {}).get("values") or {}
    shown = int(meta.get("s") or 0)

    def error(block: str, text: str) -> None:
        ack(response_action="errors", errors={block: text})

    raw_step = (
        ((values.get(msgs.STEP_BLOCK) or {}).get(msgs.RERUN_STEP_ACTION) or {}).get("selected_option") or {}
    ).get("value")
    if not raw_step or not raw_step.isdigit():
        return error(msgs.STEP_BLOCK, "Pick a step.")
    step = int(raw_step)
    if step != shown:  # the form had not caught up with the step picked
        return error(msgs.STEP_BLOCK, f"The form still shows step {shown}'s agent and input. Pick the step again.")
    raw_agent = selected_value(values, msgs.agent_block(shown))
    if msgs.agent_block(shown) in values and not raw_agent.isdigit():
        return error(msgs.agent_block(shown), "Pick an agent.")
    args: dict[str, Any] = dict(
        artifact_id=str(meta.get("a") or ""),
        version=int(meta.get("v") or 1),
        from_step=step,
        agent_id=int(raw_agent) if raw_agent.isdigit() else None,
        model=selected_value(values, msgs.MODEL_BLOCK) or None,
        input_text=text_value(values, msgs.input_block(shown)) or None,
    )
    dedupe_key = dedupe_key_for(team_id, "view", view.get("id"))
    with transaction(ctx.sessions) as s:
        repeated = bool(dedupe_key) and run_repo.get_run_by_dedupe_key(s, team_id, dedupe_key or "") is not None
    if repeated:  # the same form submitted twice: the first one runs
        ack()
        return
    try:
        check_branch(ctx, team_id, **args)
    except RunRejected as exc:
        return error(_field(exc.kind, shown), exc.message)

    with transaction(ctx.sessions) as s:
        pipeline_name = branch_source(s, team_id, args["artifact_id"], args["version"]).content.pipeline_name
    channel, thread = str(meta.get("c") or user_id), str(meta.get("t") or "")
    text, blocks = run_msgs.parent_message(
        pipeline_name, user_id, msgs.branch_note(step, args["version"]), in_thread=not thread
    )
    try:
        posted = post_run_message(client, channel, text, [b.to_dict() for b in blocks], thread_ts=thread or None)
    except CannotPost as exc:
        return error(msgs.STEP_BLOCK, str(exc).replace("*", "").replace("`", ""))
    thread = thread or posted.ts
    run: Any
    try:
        run = start_branch(
            ctx,
            team_id,
            **args,
            requested_by=user_id,
            source="slack",
            channel_id=posted.channel,
            thread_ts=thread,
            recipient_team_id=team_id,
            dedupe_key=dedupe_key,
        )
    except RunRejected as exc:  # changed since the check (an agent deleted meanwhile)
        _mark_rejected(client, posted.channel, posted.ts, pipeline_name, user_id, step, args["version"], exc.message)
        return error(_field(exc.kind, shown), exc.message)
    except QueueUnavailable as exc:  # saved as queued: it starts once the queue is back
        run = exc.run
    if posted.ts != thread:
        remember_status_message(ctx, uuid.UUID(str(run.id)), posted.ts)
    log.info("run %s re-runs artifact %s from step %d for %s", run.id, args["artifact_id"], step, user_id)
    ack()


def register(app: App, ctx: AppContext) -> None:
    """The Re-run button, the Step select of its modal, and the modal's submission."""

    def button(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        try:
            open_rerun_modal(ctx, client, body)  # at once: the trigger_id lives 3 s
        except Reply as exc:
            notify(
                client,
                text=str(exc),
                user_id=(body.get("user") or {}).get("id") or "",
                response_url=body.get("response_url"),
                channel_id=(body.get("channel") or {}).get("id"),
            )
        except Exception:  # noqa: BLE001
            log.exception("opening the re-run modal failed")

    def step(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        try:
            change_step(ctx, client, body)
        except Exception:  # noqa: BLE001 - the modal stays as it was
            log.exception("updating the re-run modal failed")

    def submission(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        try:
            submit_rerun(ctx, client, body, ack)
        except Exception:  # noqa: BLE001 - keep the modal open and say so
            log.exception("starting a re-run failed")
            ack(response_action="errors", errors={msgs.STEP_BLOCK: OOPS})

    app.action(msgs.RERUN_ACTION)(button)
    app.action(msgs.RERUN_STEP_ACTION)(step)
    app.view(msgs.RERUN_CALLBACK)(submission)
