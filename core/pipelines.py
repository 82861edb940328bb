"""Pipelines: ordered steps that reference agents by id (a live link, not a copy)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from core import messages
from core.agents import clean_name, name_error
from core.budget import unpriced_budget_problem
from core.errors import NotFound, ValidationFailed
from storage.db import Session
from storage.models import Pipeline
from storage.repos import agents as agent_repo
from storage.repos import pipelines as pipeline_repo

MAX_STEPS = 10


@dataclass
class PipelineDraft:
    name: str
    agent_ids: list[int | None]  # None: a step left empty (or still pointing at a deleted agent)
    budget_usd: str | Decimal | None = None


@dataclass(frozen=True)
class Orphan:
    position: int
    agent_name: str

    def message(self) -> str:
        return messages.orphaned_step(self.position, self.agent_name)


def orphans(pipeline: Pipeline) -> list[Orphan]:
    return [Orphan(st.position, st.agent_name) for st in pipeline.steps if st.agent_id is None]


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
        if agent_id is None:
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
    models = [known[a] for a in steps[:MAX_STEPS] if a in known]
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


def find(s: Session, team_id: str, name: str) -> Pipeline:
    p = pipeline_repo.get_pipeline_by_name(s, team_id, clean_name(name))
    if p is None:
        raise NotFound(f"No pipeline named “{clean_name(name)}” in this workspace.")
    return p
