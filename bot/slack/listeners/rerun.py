""" "Re-run from…": the button (on a run's result, the artifact modal, App Home, unfurl cards)
opens a modal; picking another step rebuilds it for that step; the submission starts the
branch (core/runs/branch.py) and posts it in the source run's thread.

The submission is a RunRequest with a BranchFrom, started like every run from Slack
(bot/slack/run_start.py): every rule is checked before anything is posted, so a problem comes
back as an inline error on the field it concerns; then the "running…" message goes into the
thread, the run starts with that thread, and the reporter does the rest. The workspace always comes from the signed payload, never from the
button's value or the modal's metadata, so a crafted value can at most name another artifact
of the clicker's own workspace.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import partial
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot.slack.blocks import rerun as msgs
from bot.slack.blocks.common import info_modal
from bot.slack.listeners.support import (
    SaveResult,
    action_value,
    inline_error,
    open_modal,
    selected_value,
    submission,
    text_value,
    told,
)
from bot.slack.modal_state import RerunState, StateUnreadable
from bot.slack.payloads import channel_of, team_of, thread_of, user_of, user_team_of
from bot.slack.run_start import CANNOT_POST, Refusal, dedupe_key_for, start_from_slack
from bot.slack.seeing import artifact_refusal, refusal
from core import credentials
from core.context import AppContext
from core.errors import RefusalKind, RunRejected
from core.messages import EMPTY_PIPELINE
from core.preflight import load_plan
from core.runs.branch import BranchSource, branch_source
from core.runs.request import BranchFrom, Origin, ReportTo, RunRequest
from storage.db import Session, transaction
from storage.repos import agents as agent_repo
from storage.states import FailureKind, StepStatus

log = logging.getLogger(__name__)

TITLE = "Re-run from…"
STALE_BUTTON = "That button is out of date. Open the artifact again and use its Re-run button."


def _default_step(src: BranchSource) -> int:
    """The step a person most likely re-runs: the one that failed, else the last one."""
    failed = next((st.position for st in src.content.steps if st.status != StepStatus.SUCCEEDED and st.position), None)
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


def _where(src: BranchSource, body: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """Where the branch reports (channel, thread): the source run's thread, else the thread
    (or channel) the button was clicked in; neither (App Home): a DM to the clicker."""
    if src.content.slack and src.content.slack.channel_id and src.content.slack.thread_ts:
        return src.content.slack.channel_id, src.content.slack.thread_ts
    channel = channel_of(body)
    return (channel, thread_of(body)) if channel else (None, None)


def open_rerun_modal(ctx: AppContext, client: WebClient, body: Mapping[str, Any]) -> None:
    """The button: the modal for the artifact's version, at its most likely step."""
    team_id = team_of(body)
    parsed = msgs.parse_button_value(action_value(body))
    if parsed is None:
        open_modal(client, body.get("trigger_id") or "", info_modal(TITLE, STALE_BUTTON))
        return
    artifact_id, version = parsed
    if (why := artifact_refusal(ctx, client, team_id, user_of(body), artifact_id)) is not None:
        open_modal(client, body.get("trigger_id") or "", info_modal(TITLE, why))
        return
    with transaction(ctx.sessions) as s:
        try:
            src = branch_source(s, team_id, artifact_id, version)
        except RunRejected as exc:
            view = info_modal(TITLE, exc.message)
        else:
            if not src.pipeline_steps:
                open_modal(client, body.get("trigger_id") or "", info_modal(TITLE, EMPTY_PIPELINE))
                return
            state = RerunState(src.artifact_id, src.version, 0, *_where(src, body))
            view = msgs.rerun_modal(_form(s, ctx, team_id, src, _default_step(src)), state)
    open_modal(client, body.get("trigger_id") or "", view)


def change_step(ctx: AppContext, client: WebClient, body: Mapping[str, Any]) -> None:
    """Another step picked: the same modal for that step (its agent, what reached it)."""
    view = body.get("view") or {}
    try:
        state = RerunState.decode(view.get("private_metadata"))
        step = int(action_value(body))
    except (StateUnreadable, ValueError):
        return
    team_id = team_of(body)
    if (why := artifact_refusal(ctx, client, team_id, user_of(body), state.artifact_id)) is not None:
        client.views_update(view_id=view.get("id"), hash=view.get("hash"), view=info_modal(TITLE, why).to_dict())
        return
    with transaction(ctx.sessions) as s:
        try:
            src = branch_source(s, team_id, state.artifact_id, state.version)
        except RunRejected as exc:
            new_view = info_modal(TITLE, exc.message)
        else:
            new_view = msgs.rerun_modal(_form(s, ctx, team_id, src, step), state)
    client.views_update(view_id=view.get("id"), hash=view.get("hash"), view=new_view.to_dict())


def _field(kind: str, shown: int) -> str:
    """The input a refusal of this kind belongs under."""
    fields: dict[str, str] = {
        RefusalKind.BAD_AGENT: msgs.agent_block(shown),
        FailureKind.UNKNOWN_MODEL: msgs.MODEL_BLOCK,
        RefusalKind.BAD_INPUT: msgs.input_block(shown),
    }
    return fields.get(kind, msgs.STEP_BLOCK)


def _step_picked(values: Mapping[str, Any]) -> str:
    step = ((values.get(msgs.STEP_BLOCK) or {}).get(msgs.RERUN_STEP_ACTION) or {}).get("selected_option") or {}
    return str(step.get("value") or "")


def submit_rerun(
    ctx: AppContext, client: WebClient, body: Mapping[str, Any], context: BoltContext | None = None
) -> SaveResult:
    """The modal's submission as a RunRequest with a BranchFrom, started like every run
    (bot/slack/run_start.py); a refusal is an inline error under the field it concerns."""
    view = body.get("view") or {}
    team_id, user_id = team_of(body), user_of(body)
    values = (view.get("state") or {}).get("values") or {}

    try:
        state = RerunState.decode(view.get("private_metadata"))
    except StateUnreadable as exc:
        log.warning("re-run modal with unreadable state: %s", exc.detail)
        return inline_error(msgs.STEP_BLOCK, str(exc))
    shown, raw_step = state.step_shown, _step_picked(values)
    if not raw_step.isdigit():
        return inline_error(msgs.STEP_BLOCK, "Pick a step.")
    if int(raw_step) != shown:  # the form had not caught up with the step picked
        return inline_error(
            msgs.STEP_BLOCK, f"The form still shows step {shown}'s agent and input. Pick the step again."
        )
    raw_agent = selected_value(values, msgs.agent_block(shown))
    if msgs.agent_block(shown) in values and not raw_agent.isdigit():
        return inline_error(msgs.agent_block(shown), "Pick an agent.")
    branch = BranchFrom(
        artifact_id=state.artifact_id,
        from_step=shown,
        version=state.version,
        agent_id=int(raw_agent) if raw_agent.isdigit() else None,
        model=selected_value(values, msgs.MODEL_BLOCK) or None,
        input_text=text_value(values, msgs.input_block(shown)) or None,
    )
    # The clicker must see the run it branches from; the branch then posts in that run's
    # conversation, which they see too (the state's channel is the source run's: _where).
    why = artifact_refusal(ctx, client, team_id, user_id, branch.artifact_id)
    if why is None and state.channel_id:  # the modal's memory is untrusted: a crafted channel too
        why = refusal(ctx, client, team_id, user_id, state.channel_id)
    if why is not None:
        return inline_error(msgs.STEP_BLOCK, why)
    with transaction(ctx.sessions) as s:
        try:
            pipeline_name = branch_source(s, team_id, branch.artifact_id, branch.version).content.pipeline_name
        except RunRejected as exc:
            return inline_error(_field(exc.kind, shown), exc.message)
    request = RunRequest(
        team_id,
        Origin.RERUN,
        pipeline_name=pipeline_name or "",
        requested_by=user_id,
        requester_team_id=user_team_of(body),
        report_to=ReportTo(state.channel_id or user_id, state.thread_ts),
        dedupe_key=dedupe_key_for(team_id, "view", view.get("id")),
        branch=branch,
    )
    refusals: list[Refusal] = []
    started = start_from_slack(
        ctx, client, request, shown_input=msgs.branch_note(shown, state.version), tell=refusals.append
    )
    if refusals:
        kind = refusals[0].kind
        return inline_error(msgs.STEP_BLOCK if kind == CANNOT_POST else _field(kind, shown), refusals[0].text)
    if started is not None and started.run is not None:
        log.info("run %s re-runs artifact %s from step %d for %s", started.run.id, branch.artifact_id, shown, user_id)
    return None, None


def open_button(ctx: AppContext, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
    """The Re-run button: the modal opens at once (the trigger_id lives 3 s)."""
    ack()
    with told(client, body, "opening the re-run modal"):
        open_rerun_modal(ctx, client, body)


def step_picked(ctx: AppContext, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
    """The Step select: the modal rebuilt for that step (on failure it stays as it was)."""
    ack()
    with told(client, body, "updating the re-run modal", quiet=True):
        change_step(ctx, client, body)


def register(app: App, ctx: AppContext) -> None:
    """The Re-run button, the Step select of its modal, and the modal's submission."""
    app.action(msgs.RERUN_ACTION)(partial(open_button, ctx))
    app.action(msgs.RERUN_STEP_ACTION)(partial(step_picked, ctx))
    app.view(msgs.RERUN_CALLBACK)(submission(ctx, submit_rerun, msgs.STEP_BLOCK))
