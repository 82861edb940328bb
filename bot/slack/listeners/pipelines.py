"""Pipelines in Slack: `/pipebot pipeline new|edit|delete`, the builder modal (Add step,
Add approval, Remove a step, its submission), and the Edit/Delete… menu and Delete button of the list.

Tenancy: the team id always comes from the signed payload, never from button values or
private_metadata.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from functools import partial
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import Block
from sqlalchemy.exc import IntegrityError

from bot.slack.admin import AdminCheckFailed, is_admin
from bot.slack.blocks import pipelines as blocks
from bot.slack.blocks.common import DELETE_PIPELINE, confirm_delete_message
from bot.slack.blocks.home import HOME_EDIT_PIPELINE, HOME_NEW_PIPELINE
from bot.slack.listeners.support import (
    Reply,
    SaveResult,
    action_value,
    block_dicts,
    item_id_of,
    later,
    menu_choice,
    open_modal,
    submission,
    tell,
)
from bot.slack.member_guard import member_problem, require_full_member
from bot.slack.modal_state import StateUnreadable
from bot.slack.name_match import not_found_hint
from bot.slack.payloads import Actor, channel_of, team_of, user_of
from bot.slack.text import escape_mrkdwn
from core import pipelines as core_pipelines
from core.agents import clean_name
from core.audit import AuditAction
from core.context import AppContext
from core.errors import NotFound, ValidationFailed
from core.pipelines import DraftStep, PipelineDraft
from storage.db import transaction
from storage.repos import agents as agent_repo
from storage.repos import audit
from storage.repos import pipelines as pipeline_repo

log = logging.getLogger(__name__)


def find_pipeline(s: Any, team_id: str, name: str) -> Any:
    """The pipeline called ``name`` (any case) or Reply with did-you-mean."""
    pipeline = pipeline_repo.get_pipeline_by_name(s, team_id, clean_name(name))
    if pipeline is None:
        raise Reply(not_found_hint("pipeline", name, [p.name for p in pipeline_repo.list_pipelines(s, team_id)]))
    return pipeline


def _by_id_or_name(s: Any, team_id: str, pipeline_id: int | None, name: str | None) -> Any:
    """A button names the pipeline by id (None once it is deleted), a command by name
    (Reply with did-you-mean when no pipeline has it)."""
    if pipeline_id is not None:
        return pipeline_repo.get_pipeline(s, team_id, pipeline_id)
    return find_pipeline(s, team_id, name or "")


def open_pipeline_modal(
    ctx: AppContext,
    client: WebClient,
    trigger_id: str,
    team_id: str,
    *,
    pipeline_name: str | None = None,
    user_id: str,
    pipeline_id: int | None = None,
    new_name: str | None = None,
    channel_id: str | None = None,
    response_url: str | None = None,
) -> None:
    """The pipeline builder, new or prefilled from an existing pipeline (orphans flagged);
    full members only (bot/slack/member_guard.py)."""
    require_full_member(ctx, client, team_id, user_id)
    with transaction(ctx.sessions) as s:
        if pipeline_id is not None or pipeline_name is not None:
            pipeline = _by_id_or_name(s, team_id, pipeline_id, pipeline_name)
            if pipeline is None:
                raise Reply("That pipeline no longer exists; it may have been deleted.")
            form = blocks.form_from_pipeline(pipeline, channel_id=channel_id, response_url=response_url)
        else:
            form = blocks.PipelineForm(name=new_name or "", channel_id=channel_id, response_url=response_url)
        view = blocks.pipeline_modal(list(agent_repo.list_agents(s, team_id)), form)
    open_modal(client, trigger_id, view)


def confirm_delete(
    ctx: AppContext,
    client: WebClient,
    team_id: str,
    user_id: str,
    *,
    name: str | None = None,
    item_id: int | None = None,
) -> tuple[str, list[Block]]:
    """The "are you sure?" message for deleting a pipeline (full members only)."""
    require_full_member(ctx, client, team_id, user_id)
    with transaction(ctx.sessions) as s:
        pipeline = _by_id_or_name(s, team_id, item_id, name)
        if pipeline is None:
            raise Reply("That pipeline no longer exists.")
        return confirm_delete_message("pipeline", pipeline.id, pipeline.name, [])


def delete_pipeline(ctx: AppContext, client: WebClient, body: Mapping[str, Any]) -> str:
    """Delete after the Delete button (full members only; recorded in the audit trail); says
    what happened (including an already-gone pipeline)."""
    team_id, user_id = team_of(body), user_of(body)
    item_id = item_id_of(body)
    if item_id is None:
        return "That button is out of date. Run the command again."
    if (problem := member_problem(ctx, client, team_id, user_id)) is not None:
        return problem
    with transaction(ctx.sessions) as s:
        pipeline = pipeline_repo.get_pipeline(s, team_id, item_id)
        if pipeline is None:
            return "That pipeline was already deleted."
        name = pipeline.name
        pipeline_repo.delete_pipeline(s, team_id, item_id)
        audit.record(s, team_id, user_id, AuditAction.PIPELINE_DELETED, name, {"pipeline_id": item_id})
    return f"🗑️ Deleted the pipeline *{escape_mrkdwn(name)}*."


def menu_action(ctx: AppContext, client: WebClient, body: Mapping[str, Any], respond: Respond) -> None:
    """Edit / Delete… from the overflow menu next to a pipeline in the list."""
    item_id, what = menu_choice(body)
    team_id = team_of(body)
    if what == "edit":
        open_pipeline_modal(
            ctx,
            client,
            body.get("trigger_id") or "",
            team_id,
            user_id=user_of(body),
            pipeline_id=item_id,
            channel_id=channel_of(body),
            response_url=body.get("response_url"),
        )
    elif what == "delete":
        fallback, question = confirm_delete(ctx, client, team_id, user_of(body), item_id=item_id)
        respond(text=fallback, blocks=block_dicts(question), response_type="ephemeral", replace_original=False)


def save_pipeline(
    ctx: AppContext, client: WebClient, body: Mapping[str, Any], context: BoltContext | None
) -> SaveResult:
    """Validate and save the builder; errors land on the step (or name/budget) they concern."""
    view = body["view"]
    team_id, user_id = team_of(body, context), user_of(body)
    if (problem := member_problem(ctx, client, team_id, user_id)) is not None:
        return {"response_action": "errors", "errors": {"name": problem}}, None
    try:
        form = blocks.PipelineForm.from_view(view)
    except StateUnreadable as exc:
        return {"response_action": "errors", "errors": {"name": str(exc)}}, None
    try:
        steps = draft_steps(form)
    except ValidationFailed as exc:
        return {"response_action": "errors", "errors": exc.errors}, None
    draft = PipelineDraft(name=form.name, agent_ids=steps, budget_usd=form.budget or None)
    # A step whose agent was deleted must be re-picked (or removed with "Remove a step"):
    # core would quietly drop it when it is the last one.
    orphaned = {
        f"step_{i}": ""
        for i, st in enumerate(form.steps, 1)
        if st.agent_id is None and st.deleted_name and st.approval is None
    }
    try:
        with transaction(ctx.sessions) as s:
            if orphaned:
                try:
                    core_pipelines.validate(s, team_id, draft, pipeline_id=form.pipeline_id)
                except ValidationFailed as exc:
                    raise ValidationFailed({**exc.errors, **orphaned}) from None
                raise ValidationFailed(orphaned)
            if form.pipeline_id:
                _guard_budget(ctx, client, s, team_id, user_id, form.pipeline_id, draft)
                pipeline = core_pipelines.update(s, team_id, form.pipeline_id, draft)
            else:
                pipeline = core_pipelines.create(s, team_id, draft, user_id)
                if pipeline.budget_usd is not None:
                    _record_budget(s, team_id, user_id, pipeline.name, None, pipeline.budget_usd)
            line = blocks.pipeline_line(pipeline)
    except ValidationFailed as exc:
        errors: dict[str, str] = {}
        for key, message in exc.errors.items():
            m = re.match(r"^step_(\d+)$", key)
            if m and int(m.group(1)) <= len(form.steps):
                step = form.steps[int(m.group(1)) - 1]
                if step.agent_id is None and step.deleted_name:
                    message = (
                        f"Step {m.group(1)} used the agent “{step.deleted_name}”, which was deleted. "
                        "Pick another agent."
                    )
            block = form.error_block(key) if (m or key in ("name", blocks.BUDGET_BLOCK)) else "name"
            errors[block] = f"{errors[block]} {message}" if block in errors else message
        return {"response_action": "errors", "errors": errors}, None
    except NotFound as exc:
        return {"response_action": "errors", "errors": {"name": str(exc)}}, None
    except IntegrityError:
        return {"response_action": "errors", "errors": {"name": "That name was just taken. Pick another."}}, None
    verb = "Updated" if form.pipeline_id else "Created"
    text = f"✅ {verb} the pipeline {line}"
    return None, lambda client: tell(
        client, Actor(team_id, user_id, channel_id=form.channel_id, response_url=form.response_url), text
    )


def draft_steps(form: blocks.PipelineForm) -> list[DraftStep]:
    """The builder's rows as core.pipelines takes them: agent ids, or approval steps checked by
    core's rule (ValidationFailed keyed by the offending input's block id, for every step at once)."""
    steps: list[DraftStep] = []
    errors: dict[str, str] = {}
    for pos, st in enumerate(form.steps, 1):
        if st.approval is None:
            steps.append(st.agent_id)
            continue
        try:
            steps.append(core_pipelines.approval_step(st.approval.approvers, st.approval.hours))
        except ValidationFailed as exc:
            blocks_of = {"approvers": form.step_block(pos), "timeout_hours": form.hours_block(pos)}
            errors.update({blocks_of.get(key, form.step_block(pos)): message for key, message in exc.errors.items()})
    if errors:
        raise ValidationFailed(errors)
    return steps


BUDGET_OWNER_ONLY = (
    "Only the person who created this pipeline or a workspace admin can set, change or remove its budget. "
    "Put the budget back as it was to save your other changes."
)


def _guard_budget(
    ctx: AppContext, client: WebClient, s: Any, team_id: str, user_id: str, pipeline_id: int, draft: PipelineDraft
) -> None:
    """A budget change by someone else than the pipeline's creator or an admin is refused on
    the budget field (ValidationFailed); an allowed change is recorded in the audit trail.
    The steps may still be changed by any full member."""
    existing = pipeline_repo.get_pipeline(s, team_id, pipeline_id)
    if existing is None:
        return  # core's update says it is gone
    new_budget = core_pipelines.validate(s, team_id, draft, pipeline_id=pipeline_id)["budget_usd"]
    if new_budget == existing.budget_usd:
        return
    if existing.created_by != user_id:
        try:
            allowed = is_admin(ctx, client, user_id, team_id)
        except AdminCheckFailed as exc:
            raise ValidationFailed({blocks.BUDGET_BLOCK: str(exc)}) from None
        if not allowed:
            raise ValidationFailed({blocks.BUDGET_BLOCK: BUDGET_OWNER_ONLY})
    _record_budget(s, team_id, user_id, existing.name, existing.budget_usd, new_budget)


def _record_budget(s: Any, team_id: str, user_id: str, name: str, old: Any, new: Any) -> None:
    def money(v: Any) -> str | None:
        return None if v is None else f"{v:.2f}"

    audit.record(s, team_id, user_id, AuditAction.PIPELINE_BUDGET_CHANGED, name, {"old": money(old), "new": money(new)})


def rebuild_pipeline_modal(
    ctx: AppContext,
    client: WebClient,
    body: Mapping[str, Any],
    *,
    add: bool = False,
    remove: int | None = None,
    approval: bool = False,
) -> None:
    """Add step / Add approval / remove a step: rebuild the builder from the view's state (so
    picks made so far survive) and views.update it (hash-guarded against double clicks)."""
    view = body["view"]
    team_id = team_of(body)
    try:
        form = blocks.PipelineForm.from_view(view)
    except StateUnreadable as exc:  # the builder stays as it was
        log.warning("pipeline builder with unreadable state: %s", exc.detail)
        return
    if add and len(form.steps) < blocks.MAX_STEPS:
        form.steps.append(blocks.StepPick(approval=blocks.ApprovalPick() if approval else None))
    if remove is not None and 1 <= remove <= len(form.steps) and len(form.steps) > 1:
        del form.steps[remove - 1]
    form.rev += 1
    with transaction(ctx.sessions) as s:
        new_view = blocks.pipeline_modal(list(agent_repo.list_agents(s, team_id)), form)
    try:
        client.views_update(view_id=view["id"], hash=view.get("hash"), view=new_view.to_dict())
    except SlackApiError as exc:
        if exc.response.get("error") != "hash_conflict":
            raise
        log.info("pipeline builder changed meanwhile (double click?); update skipped")


def add_step(ctx: AppContext, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
    """*Add a step*: the builder rebuilt with one more step."""
    ack()
    later(client, body, "adding a step", lambda: rebuild_pipeline_modal(ctx, client, body, add=True))


def add_approval(ctx: AppContext, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
    """*Add approval*: the builder rebuilt with an approval step at the end (DESIGN §12)."""
    ack()
    later(
        client,
        body,
        "adding an approval step",
        lambda: rebuild_pipeline_modal(ctx, client, body, add=True, approval=True),
    )


def remove_step(ctx: AppContext, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
    """*Remove* on a step: the builder rebuilt without it (a stale value does nothing)."""
    ack()
    try:
        position = int(action_value(body))
    except ValueError:
        return
    later(client, body, "removing a step", lambda: rebuild_pipeline_modal(ctx, client, body, remove=position))


def menu(ctx: AppContext, ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
    """Edit/Delete… in the list's overflow menu."""
    ack()
    later(client, body, "the pipeline menu", menu_action, ctx, client, body, respond)


def delete(ctx: AppContext, ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
    """Delete under the "delete X?" question: the question becomes the answer."""
    ack()
    later(
        client,
        body,
        "deleting a pipeline",
        lambda: respond(text=delete_pipeline(ctx, client, body), replace_original=True),
    )


def from_home(ctx: AppContext, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
    """Home's *New pipeline* (a new builder) and *Edit* (value: the pipeline's id)."""
    ack()
    editing = ((body.get("actions") or [{}])[0]).get("action_id") == HOME_EDIT_PIPELINE
    raw = action_value(body)
    pipeline_id = int(raw) if editing and raw.isdigit() else None
    trigger_id, team_id, user_id = body.get("trigger_id") or "", team_of(body), user_of(body)
    later(
        client,
        body,
        "opening the pipeline builder from Home",
        lambda: open_pipeline_modal(ctx, client, trigger_id, team_id, user_id=user_id, pipeline_id=pipeline_id),
    )


def register(app: App, ctx: AppContext) -> None:
    """The builder's submission and buttons (Add step, Add approval, Remove a step), the list's menu, the Delete button and Home's
    *New pipeline* and *Edit*."""
    app.view(blocks.PIPELINE_CALLBACK)(submission(ctx, save_pipeline, "name"))
    app.action(blocks.ADD_STEP)(partial(add_step, ctx))
    app.action(blocks.ADD_APPROVAL)(partial(add_approval, ctx))
    app.action(blocks.REMOVE_STEP)(partial(remove_step, ctx))
    app.action(blocks.PIPELINE_MENU)(partial(menu, ctx))
    app.action(DELETE_PIPELINE)(partial(delete, ctx))
    app.action(HOME_NEW_PIPELINE)(partial(from_home, ctx))
    app.action(HOME_EDIT_PIPELINE)(partial(from_home, ctx))
