"""Repository functions. Each takes the workspace's team id and filters by it, so no caller
can read or change another workspace's rows by passing an id it guessed."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, literal_column, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from storage.models import (
    Agent,
    Artifact,
    Pipeline,
    PipelineStep,
    ProviderCredential,
    Run,
    RunStep,
    Workspace,
)
from storage.secrets import SecretBox, hint_for


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _uuid(value: uuid.UUID | str) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


# ---- workspaces -------------------------------------------------------------------------

def ensure_workspace(s: Session, team_id: str, name: str | None = None) -> None:
    stmt = pg_insert(Workspace).values(team_id=team_id, name=name)
    if name:
        stmt = stmt.on_conflict_do_update(index_elements=[Workspace.team_id], set_={"name": name})
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=[Workspace.team_id])
    s.execute(stmt)


# ---- provider credentials ---------------------------------------------------------------

def set_credential(s: Session, team_id: str, provider: str, api_key: str, box: SecretBox, user_id: str | None = None) -> None:
    ensure_workspace(s, team_id)
    values = {
        "team_id": team_id,
        "provider": provider,
        "ciphertext": box.encrypt(api_key),
        "hint": hint_for(api_key),
        "updated_by": user_id,
    }
    stmt = pg_insert(ProviderCredential).values(**values)
    stmt = stmt.on_conflict_do_update(
        constraint="uq_provider_credentials_team_provider",
        set_={"ciphertext": stmt.excluded.ciphertext, "hint": stmt.excluded.hint,
              "updated_by": stmt.excluded.updated_by, "updated_at": func.now()},
    )
    s.execute(stmt)


def get_credential(s: Session, team_id: str, provider: str, box: SecretBox) -> str | None:
    row = s.scalar(
        select(ProviderCredential.ciphertext).where(
            ProviderCredential.team_id == team_id, ProviderCredential.provider == provider
        )
    )
    return box.decrypt(row) if row is not None else None


def credential_hints(s: Session, team_id: str) -> dict[str, str]:
    rows = s.execute(
        select(ProviderCredential.provider, ProviderCredential.hint).where(ProviderCredential.team_id == team_id)
    )
    return {provider: hint for provider, hint in rows}


def delete_credential(s: Session, team_id: str, provider: str) -> bool:
    res = s.execute(
        delete(ProviderCredential).where(ProviderCredential.team_id == team_id, ProviderCredential.provider == provider)
    )
    return bool(res.rowcount)


# ---- agents -----------------------------------------------------------------------------

def list_agents(s: Session, team_id: str) -> Sequence[Agent]:
    return s.scalars(select(Agent).where(Agent.team_id == team_id).order_by(func.lower(Agent.name))).all()


def get_agent(s: Session, team_id: str, agent_id: int) -> Agent | None:
    return s.scalar(select(Agent).where(Agent.team_id == team_id, Agent.id == agent_id))


def get_agent_by_name(s: Session, team_id: str, name: str) -> Agent | None:
    return s.scalar(select(Agent).where(Agent.team_id == team_id, func.lower(Agent.name) == name.strip().lower()))


def create_agent(s: Session, team_id: str, **fields: Any) -> Agent:
    ensure_workspace(s, team_id)
    agent = Agent(team_id=team_id, **fields)
    s.add(agent)
    s.flush()
    return agent


def update_agent(s: Session, team_id: str, agent_id: int, **fields: Any) -> Agent | None:
    agent = get_agent(s, team_id, agent_id)
    if agent is None:
        return None
    for key, value in fields.items():
        setattr(agent, key, value)
    agent.updated_at = utcnow()
    if "name" in fields:
        s.execute(update(PipelineStep).where(PipelineStep.agent_id == agent_id).values(agent_name=fields["name"]))
    s.flush()
    return agent


def delete_agent(s: Session, team_id: str, agent_id: int) -> bool:
    """Steps keep the agent's last name, so an orphaned step can say who it was."""
    agent = get_agent(s, team_id, agent_id)
    if agent is None:
        return False
    s.execute(update(PipelineStep).where(PipelineStep.agent_id == agent_id).values(agent_name=agent.name))
    s.delete(agent)
    s.flush()
    return True


def pipelines_using_agent(s: Session, team_id: str, agent_id: int) -> Sequence[str]:
    return s.scalars(
        select(Pipeline.name).join(PipelineStep).where(Pipeline.team_id == team_id, PipelineStep.agent_id == agent_id)
        .distinct().order_by(Pipeline.name)
    ).all()


# ---- pipelines --------------------------------------------------------------------------

def list_pipelines(s: Session, team_id: str) -> Sequence[Pipeline]:
    return s.scalars(select(Pipeline).where(Pipeline.team_id == team_id).order_by(func.lower(Pipeline.name))).all()


def get_pipeline(s: Session, team_id: str, pipeline_id: int) -> Pipeline | None:
    return s.scalar(select(Pipeline).where(Pipeline.team_id == team_id, Pipeline.id == pipeline_id))


def get_pipeline_by_name(s: Session, team_id: str, name: str) -> Pipeline | None:
    return s.scalar(
        select(Pipeline).where(Pipeline.team_id == team_id, func.lower(Pipeline.name) == name.strip().lower())
    )


def _steps(s: Session, team_id: str, agent_ids: Sequence[int]) -> list[PipelineStep]:
    agents = {a.id: a for a in s.scalars(select(Agent).where(Agent.team_id == team_id, Agent.id.in_(agent_ids)))}
    missing = [a for a in agent_ids if a not in agents]
    if missing:
        raise LookupError(f"unknown agent id(s) {missing} in this workspace")
    return [PipelineStep(position=i, agent_id=a, agent_name=agents[a].name) for i, a in enumerate(agent_ids, 1)]


def create_pipeline(s: Session, team_id: str, name: str, agent_ids: Sequence[int], **fields: Any) -> Pipeline:
    ensure_workspace(s, team_id)
    pipeline = Pipeline(team_id=team_id, name=name, steps=_steps(s, team_id, agent_ids), **fields)
    s.add(pipeline)
    s.flush()
    return pipeline


def update_pipeline(s: Session, team_id: str, pipeline_id: int, agent_ids: Sequence[int] | None = None, **fields: Any) -> Pipeline | None:
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
    res = s.execute(delete(Pipeline).where(Pipeline.team_id == team_id, Pipeline.id == pipeline_id))
    return bool(res.rowcount)


# ---- runs -------------------------------------------------------------------------------

def create_run(s: Session, team_id: str, pipeline: Pipeline, input_text: str, **fields: Any) -> Run:
    ensure_workspace(s, team_id)
    run = Run(team_id=team_id, pipeline_id=pipeline.id, pipeline_name=pipeline.name, input=input_text,
              status="queued", **fields)
    s.add(run)
    s.flush()
    return run


def get_run(s: Session, team_id: str, run_id: uuid.UUID | str, *, lock: bool = False) -> Run | None:
    rid = _uuid(run_id)
    if rid is None:
        return None
    stmt = select(Run).where(Run.team_id == team_id, Run.id == rid)
    if lock:
        stmt = stmt.with_for_update()
    return s.scalar(stmt)


def get_run_by_dedupe_key(s: Session, team_id: str, key: str) -> Run | None:
    return s.scalar(select(Run).where(Run.team_id == team_id, Run.dedupe_key == key))


def latest_runs(s: Session, team_id: str, limit: int = 10) -> Sequence[Run]:
    return s.scalars(
        select(Run).where(Run.team_id == team_id).order_by(Run.created_at.desc()).limit(limit)
    ).all()


def stale_running_runs(s: Session, older_than: datetime) -> Sequence[tuple[str, uuid.UUID]]:
    """Across workspaces on purpose: the reaper is the deployment's, not a tenant's."""
    rows = s.execute(
        select(Run.team_id, Run.id).where(
            Run.status.in_(("running", "queued")),
            func.coalesce(Run.heartbeat_at, Run.created_at) < older_than,
        )
    )
    return [(t, i) for t, i in rows]


def add_run_step(s: Session, run: Run, **fields: Any) -> RunStep:
    step = RunStep(run_id=run.id, **fields)
    s.add(step)
    s.flush()
    return step


# ---- artifacts --------------------------------------------------------------------------

def create_artifact(s: Session, team_id: str, run: Run, content: dict[str, Any], *, models: list[str],
                    cost_usd: Decimal | None) -> Artifact:
    artifact = Artifact(
        team_id=team_id, run_id=run.id, pipeline_id=run.pipeline_id, pipeline_name=run.pipeline_name,
        status=run.status, cost_usd=cost_usd, models=models, created_by=run.requested_by, content=content,
    )
    s.add(artifact)
    s.flush()
    return artifact


def get_artifact(s: Session, team_id: str, artifact_id: uuid.UUID | str) -> Artifact | None:
    aid = _uuid(artifact_id)
    if aid is None:
        return None
    return s.scalar(select(Artifact).where(Artifact.team_id == team_id, Artifact.id == aid))


def get_artifact_unscoped(s: Session, artifact_id: uuid.UUID | str) -> Artifact | None:
    """Only for the permalink page, whose signature names the workspace and is checked by the caller."""
    aid = _uuid(artifact_id)
    return None if aid is None else s.get(Artifact, aid)


def get_artifact_for_run(s: Session, team_id: str, run_id: uuid.UUID) -> Artifact | None:
    return s.scalar(select(Artifact).where(Artifact.team_id == team_id, Artifact.run_id == run_id))


ARTIFACT_LIST_COLUMNS = (Artifact.id, Artifact.pipeline_name, Artifact.status, Artifact.cost_usd,
                         Artifact.models, Artifact.created_at, Artifact.created_by, Artifact.run_id)


def latest_artifacts(s: Session, team_id: str, *, pipeline_id: int | None = None, limit: int = 10,
                     offset: int = 0) -> Sequence[Any]:
    """Rows without the JSONB content: lists never need it and it can be large."""
    stmt = select(*ARTIFACT_LIST_COLUMNS).where(Artifact.team_id == team_id)
    if pipeline_id is not None:
        stmt = stmt.where(Artifact.pipeline_id == pipeline_id)
    stmt = stmt.order_by(Artifact.created_at.desc(), Artifact.id.desc()).limit(limit).offset(offset)
    return s.execute(stmt).all()


def _fts_document() -> Any:
    """Must match the expression of ix_artifacts_output_fts exactly, or the index is not used."""
    return func.to_tsvector(literal_column("'english'::regconfig"),
                            func.coalesce(Artifact.content.op("->>")(literal_column("'output'")), literal_column("''")))


def search_artifacts(s: Session, team_id: str, words: str, *, pipeline_id: int | None = None,
                     limit: int = 10) -> Sequence[Any]:
    # The configuration is a literal, spelled as in the index expression, so the only bind
    # parameter is the user's words (the planner sees the same query a hand-written one would).
    query = func.websearch_to_tsquery(literal_column("'english'::regconfig"), words)
    stmt = select(*ARTIFACT_LIST_COLUMNS).where(Artifact.team_id == team_id, _fts_document().op("@@")(query))
    if pipeline_id is not None:
        stmt = stmt.where(Artifact.pipeline_id == pipeline_id)
    stmt = stmt.order_by(Artifact.created_at.desc()).limit(limit)
    return s.execute(stmt).all()
