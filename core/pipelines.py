"""Pipelines: ordered steps that reference agents by id (a live link, not a copy), or ask a
person to approve what the steps before produced (an approval step, DESIGN §12)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from core import messages
from core.agents import clean_name, name_error
from core.budget import unpriced_budget_problem
from core.errors import NotFound, ValidationFailed
from storage.db import Session
from storage.models import Pipeline, PipelineStep
from storage.repos import agents as agent_repo
from storage.repos import pipelines as pipeline_repo
from storage.states import StepKind

MAX_STEPS = 10

#: An approval step's timeout: hours, default a day, at most a month.
APPROVAL_TIMEOUT_DEFAULT_H = 24
APPROVAL_TIMEOUT_MIN_H = 1
APPROVAL_TIMEOUT_MAX_H = 720

_SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,31}$")


@dataclass(frozen=True)
class ApprovalStep:
    """A step where the run waits for a person. ``approvers``: Slack user ids (empty:
    whoever started the run)."""

    approvers: tuple[str, ...] = ()
    timeout_hours: int = APPROVAL_TIMEOUT_DEFAULT_H

    @property
    def name(self) -> str:
        return messages.APPROVAL_STEP


#: One step of a draft: an agent's id, None for a step left empty, or an approval step.
DraftStep = int | None | ApprovalStep


@dataclass
class PipelineDraft:
    name: str
    agent_ids: Sequence[DraftStep]  # None: a step left empty (or still pointing at a deleted agent)
    budget_usd: str | Decimal | None = None


def approval_step(approvers: Sequence[str] | None = None, timeout_hours: str | int | None = None) -> ApprovalStep:
    """An approval step from what a form gave (ValidationFailed keyed ``approvers`` or
    ``timeout_hours``): hours a whole number within the allowed range, approvers Slack ids."""
    errors: dict[str, str] = {}
    hours = APPROVAL_TIMEOUT_DEFAULT_H
    if timeout_hours not in (None, ""):
        try:
            hours = int(str(timeout_hours).strip())
        except ValueError:
            hours = 0
        if not APPROVAL_TIMEOUT_MIN_H <= hours <= APPROVAL_TIMEOUT_MAX_H:
            errors["timeout_hours"] = messages.approval_timeout_range(APPROVAL_TIMEOUT_MIN_H, APPROVAL_TIMEOUT_MAX_H)
    people = tuple(dict.fromkeys(str(u).strip() for u in approvers or () if str(u).strip()))
    if bad := next((u for u in people if not _SLACK_USER.match(u)), None):
        errors["approvers"] = messages.approval_approvers_invalid(bad)
    if errors:
        raise ValidationFailed(errors)
    return ApprovalStep(people, hours)


def is_approval(step: PipelineStep) -> bool:
    return step.kind == StepKind.APPROVAL


def step_label(step: PipelineStep) -> str:
    """How a step is named in the pipeline's step list: its agent, or "Approval"."""
    return messages.APPROVAL_STEP if is_approval(step) else step.agent_name


def draft_steps(pipeline: Pipeline) -> list[DraftStep]:
    """The pipeline's steps as a draft holds them (a deleted agent's step: None)."""
    return [
        ApprovalStep(tuple(st.approvers or ()), st.timeout_hours or APPROVAL_TIMEOUT_DEFAULT_H)
        if is_approval(st)
        else st.agent_id
        for st in pipeline.steps
    ]


@dataclass(frozen=True)
class Orphan:
    position: int
    agent_name: str

    def message(self) -> str:
        return messages.orphaned_step(self.position, self.agent_name)


def orphans(pipeline: Pipeline) -> list[Orphan]:
    return [Orphan(st.position, st.agent_name) for st in pipeline.steps if st.agent_id is None and not is_approval(st)]


def validate(s: Session, team_id: str, draft: PipelineDraft, *, pipeline_id: int | None = None) -> dict[str, Any]:
    errors: dict[str, str] = {}
    name = clean_name(draft.name)
    if err := name_error(name, "pipeline"):
        errors["name"] = err
    else:
        other = pipeline_repo.get_pipeline_by_name(s, team_id, name)
        if other is not None and other.id != pipeline_id:
            errors["name"] = f"A pipeline named “{other.name}” already exists in this workspace. Pick another name."
    steps = list(draft.agent_ids)
    while steps and steps[-1] is None and len(steps) > 1:
        steps.pop()  # trailing empty steps are just unused rows in the builder
    if not steps:
        errors["step_1"] = "A pipeline needs at least one step."
    elif len(steps) > MAX_STEPS:
        errors[f"step_{MAX_STEPS + 1}"] = f"A pipeline can have at most {MAX_STEPS} steps."
    known = {a.id: a.model for a in agent_repo.list_agents(s, team_id)}
    for i, agent_id in enumerate(steps[:MAX_STEPS], 1):
        if isinstance(agent_id, ApprovalStep):
            if i == 1:
                errors["step_1"] = messages.APPROVAL_FIRST_STEP
        elif agent_id is None:
            errors[f"step_{i}"] = f"Pick an agent for step {i}."
        elif agent_id not in known:
            errors[f"step_{i}"] = f"The agent picked for step {i} no longer exists. Pick another."
    budget = None
    if draft.budget_usd not in (None, ""):
        try:
            budget = Decimal(str(draft.budget_usd).strip().lstrip("$"))
            if budget <= 0 or budget > 10_000:
                raise InvalidOperation
        except InvalidOperation:
            errors["budget_usd"] = (
                "Budget must be an amount in US dollars between 0 and 10000, such as 0.50, or left empty."
            )
    models = [known[a] for a in steps[:MAX_STEPS] if isinstance(a, int) and a in known]
    if "budget_usd" not in errors and (problem := unpriced_budget_problem(budget, models)):
        errors["budget_usd"] = problem
    if errors:
        raise ValidationFailed(errors)
    return {"name": name, "agent_ids": steps, "budget_usd": budget}


def create(s: Session, team_id: str, draft: PipelineDraft, user_id: str | None = None) -> Pipeline:
    v = validate(s, team_id, draft)
    return pipeline_repo.create_pipeline(
        s, team_id, v["name"], v["agent_ids"], budget_usd=v["budget_usd"], created_by=user_id
    )


def update(s: Session, team_id: str, pipeline_id: int, draft: PipelineDraft) -> Pipeline:
    v = validate(s, team_id, draft, pipeline_id=pipeline_id)
    p = pipeline_repo.update_pipeline(
        s, team_id, pipeline_id, v["agent_ids"], name=v["name"], budget_usd=v["budget_usd"]
    )
    if p is None:
        raise NotFound("That pipeline no longer exists; it may have been deleted.")
    return p


def add_approval(
    s: Session,
    team_id: str,
    pipeline_id: int,
    step: ApprovalStep,
    *,
    position: int | None = None,
) -> Pipeline:
    """*Add approval* in the builder: ``step`` inserted at ``position`` (1-based; None: at
    the end), checked with the pipeline's other rules (never first, at most MAX_STEPS)."""
    p = pipeline_repo.get_pipeline(s, team_id, pipeline_id)
    if p is None:
        raise NotFound("That pipeline no longer exists; it may have been deleted.")
    steps = draft_steps(p)
    at = len(steps) if position is None else max(0, min(position - 1, len(steps)))
    steps.insert(at, step)
    return update(s, team_id, pipeline_id, PipelineDraft(p.name, steps, p.budget_usd))


def find(s: Session, team_id: str, name: str) -> Pipeline:
    p = pipeline_repo.get_pipeline_by_name(s, team_id, clean_name(name))
    if p is None:
        raise NotFound(f"No pipeline named “{clean_name(name)}” in this workspace.")
    return p
