"""Pipelines of a workspace and their steps (each names an agent by id, keeping its last name,
or is an approval step: who approves and how long it waits)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Protocol, cast

from sqlalchemy import CursorResult, Row, and_, delete, func, select
from sqlalchemy.orm import Session

from storage.models import Agent, Pipeline, PipelineStep
from storage.repos.common import utcnow
from storage.repos.workspaces import ensure_workspace
from storage.states import StepKind


def list_pipelines(s: Session, team_id: str) -> Sequence[Pipeline]:
    return s.scalars(select(Pipeline).where(Pipeline.team_id == team_id).order_by(func.lower(Pipeline.name))).all()


def get_pipeline(s: Session, team_id: str, pipeline_id: int) -> Pipeline | None:
    return s.scalar(select(Pipeline).where(Pipeline.team_id == team_id, Pipeline.id == pipeline_id))


def get_pipeline_by_name(s: Session, team_id: str, name: str) -> Pipeline | None:
    return s.scalar(
        select(Pipeline).where(Pipeline.team_id == team_id, func.lower(Pipeline.name) == name.strip().lower())
    )


class ApprovalSpec(Protocol):
    """An approval step as core describes it (core.pipelines.ApprovalStep)."""

    @property
    def name(self) -> str: ...
    @property
    def approvers(self) -> Sequence[str]: ...
    @property
    def timeout_hours(self) -> int: ...


#: A step of a pipeline to write: an agent's id, or an approval step.
StepSpec = int | ApprovalSpec


def _steps(s: Session, team_id: str, specs: Sequence[StepSpec]) -> list[PipelineStep]:
    agent_ids = [a for a in specs if isinstance(a, int)]
    agents = {a.id: a for a in s.scalars(select(Agent).where(Agent.team_id == team_id, Agent.id.in_(agent_ids)))}
    missing = [a for a in agent_ids if a not in agents]
    if missing:
        raise LookupError(f"unknown agent id(s) {missing} in this workspace")
    steps = []
    for i, spec in enumerate(specs, 1):
        if isinstance(spec, int):
            steps.append(PipelineStep(position=i, agent_id=spec, agent_name=agents[spec].name))
        else:
            steps.append(
                PipelineStep(
                    position=i,
                    agent_id=None,
                    agent_name=spec.name,
                    kind=StepKind.APPROVAL,
                    approvers=list(spec.approvers),
                    timeout_hours=spec.timeout_hours,
                )
            )
    return steps


def create_pipeline(s: Session, team_id: str, name: str, agent_ids: Sequence[StepSpec], **fields: Any) -> Pipeline:
    ensure_workspace(s, team_id)
    pipeline = Pipeline(team_id=team_id, name=name, steps=_steps(s, team_id, agent_ids), **fields)
    s.add(pipeline)
    s.flush()
    return pipeline


def update_pipeline(
    s: Session, team_id: str, pipeline_id: int, agent_ids: Sequence[StepSpec] | None = None, **fields: Any
) -> Pipeline | None:
    pipeline = get_pipeline(s, team_id, pipeline_id)
    if pipeline is None:
        return None
    for key, value in fields.items():
        setattr(pipeline, key, value)
    if agent_ids is not None:
        pipeline.steps.clear()
        s.flush()  # the unique (pipeline, position) must be free before new steps go in
        pipeline.steps.extend(_steps(s, team_id, agent_ids))
    pipeline.updated_at = utcnow()
    s.flush()
    return pipeline


def delete_pipeline(s: Session, team_id: str, pipeline_id: int) -> bool:
    # A DELETE's result is a CursorResult at run time; Session.execute is typed as the base Result.
    res = cast(
        CursorResult[Any], s.execute(delete(Pipeline).where(Pipeline.team_id == team_id, Pipeline.id == pipeline_id))
    )
    return bool(res.rowcount)


def plan_rows(
    s: Session, team_id: str, pipeline_id: int
) -> Sequence[Row[Decimal | None, int, int | None, str, str, list[str], int | None, Agent]]:
    """The pipeline's budget and steps, each with its agent as it is now (``Agent`` None:
    deleted, or an approval step), in step order, in one statement. A pipeline without
    steps gives one row whose ``position`` is None; a pipeline that is gone gives none."""
    return s.execute(
        select(
            Pipeline.budget_usd,
            PipelineStep.position,
            PipelineStep.agent_id,
            PipelineStep.agent_name,
            PipelineStep.kind,
            PipelineStep.approvers,
            PipelineStep.timeout_hours,
            Agent,
        )
        .select_from(Pipeline)
        .outerjoin(PipelineStep, PipelineStep.pipeline_id == Pipeline.id)
        .outerjoin(Agent, and_(Agent.id == PipelineStep.agent_id, Agent.team_id == team_id))
        .where(Pipeline.team_id == team_id, Pipeline.id == pipeline_id)
        .order_by(PipelineStep.position)
    ).all()
