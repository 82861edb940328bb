"""Repository functions. Each takes the workspace's team id and filters by it, so no caller
can read or change another workspace's rows by passing an id it guessed."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import (BigInteger, Connection, Integer, String, bindparam, delete, func, literal_column, select,
                        text, update)
from sqlalchemy.exc import OperationalError
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


_AGENT_LIST = (select(Agent.id, Agent.name, Agent.model, Agent.temperature, Agent.max_output_tokens)
               .where(Agent.team_id == bindparam("team_id"))
               .order_by(func.lower(Agent.name)))


def agent_list_rows(conn: Connection, team_id: str) -> Sequence[Any]:
    """What a list of agents shows (id, name, model, temperature, max output tokens), in
    list_agents' order, as plain rows: one Core statement for the slash command's ack path."""
    return conn.execute(_AGENT_LIST, {"team_id": team_id}).all()


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


_PERMALINK_SELECT = select(Artifact.team_id, Artifact.content).where(Artifact.id == bindparam("aid"))


def artifact_content_unscoped(conn: Connection | Session, artifact_id: uuid.UUID | str
                              ) -> tuple[str, dict[str, Any]] | None:
    """``(team_id, content)`` by id alone. Only for the permalink page, whose signature names
    the workspace and is checked by the caller against this team id.

    A Core select of two columns, not the ORM: the page needs nothing else. With the caller's
    autocommit connection (bot/artifact_routes.py) the lookup took 0.42 ms at p50 at 1M
    artifacts, against 0.58 ms for ``session.get`` (bench/bench_artifacts_viewer.py).
    """
    aid = _uuid(artifact_id)
    if aid is None:
        return None
    row = conn.execute(_PERMALINK_SELECT, {"aid": aid}).first()
    return None if row is None else (row[0], row[1])


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


#: How many of the newest artifacts in scope the first step of a search reads, in created_at
#: order, before it hands over to the GIN index (see search_artifacts).
SEARCH_WALK_ROWS = 2000
#: The bound on the second step: the statement is cancelled after this long (SearchTooBroad).
SEARCH_TIMEOUT_MS = 5000


@functools.cache
def _search_statements(with_pipeline: bool) -> tuple[Any, Any]:
    """The two statements of search_artifacts, built once (bind parameters only): building and
    compiling them per call cost more than running them for a frequent word."""
    query = func.websearch_to_tsquery(literal_column("'english'::regconfig"), bindparam("words", type_=String))
    scope = [Artifact.team_id == bindparam("team_id", type_=String)]
    if with_pipeline:
        scope.append(Artifact.pipeline_id == bindparam("pipeline_id", type_=BigInteger))
    names = [c.key for c in ARTIFACT_LIST_COLUMNS]
    limit = bindparam("limit", type_=Integer)

    recent = (select(*ARTIFACT_LIST_COLUMNS, Artifact.output_tsv).where(*scope)
              .order_by(Artifact.created_at.desc(), Artifact.id.desc())
              .limit(bindparam("walk_rows", type_=Integer)).subquery("recent"))
    walk = (select(*(recent.c[n] for n in names)).where(recent.c.output_tsv.op("@@")(query))
            .order_by(recent.c.created_at.desc(), recent.c.id.desc()).limit(limit))
    matches = (select(*ARTIFACT_LIST_COLUMNS).where(*scope, Artifact.output_tsv.op("@@")(query))
               .cte("matches").prefix_with("MATERIALIZED"))
    indexed = (select(*(matches.c[n] for n in names))
               .order_by(matches.c.created_at.desc(), matches.c.id.desc()).limit(limit))
    return walk, indexed


def search_artifacts(s: Session, team_id: str, words: str, *, pipeline_id: int | None = None,
                     limit: int = 10) -> Sequence[Any]:
    """The ``limit`` most recent artifacts whose output matches ``words`` (web-search syntax:
    ``"a phrase"``, ``or``, ``-word``), newest first; list columns only.

    Matches are checked against ``output_tsv``, the stored search vector of the output
    (migration 0003), never a ``to_tsvector`` computed per row. Two steps, because neither
    plan is good for every query and the planner cannot tell which one it faces:

    1. Walk the newest :data:`SEARCH_WALK_ROWS` rows of the scope backwards along
       ``ix_artifacts_team[_pipeline]_created``, checking each against the query and stopping
       at ``limit`` matches. A word in more than about 1 % of outputs ends here within a few
       hundred rows (well under 5 ms at 1M artifacts), and so does a phrase of common words.
    2. Only if that did not fill the page (the words are rare, at least lately): take every
       match in scope from the GIN index ``ix_artifacts_output_tsv`` (a bitmap scan) and keep
       the newest. The matches sit in a ``MATERIALIZED`` CTE so the planner cannot turn this
       back into a walk.

    Left to itself with one ``ORDER BY created_at LIMIT`` statement, the planner walks
    whenever it thinks a word matches more than ~0.1 % of rows, and a word it has no
    statistics for (one that occurs nowhere: a typo, a name never mentioned) is assumed to
    match half the rarest word it knows; at 1M artifacts it then read all 490,000 rows of a
    workspace to return nothing (1.5 s). Step 2 answers that in 0.1 ms. What stays expensive
    is a phrase whose words are common but which never occurs in that order: step 2 must read
    every row holding all the words to check their positions: about 0.4 s (warm) to 2 s (cold)
    for 126,000 candidates at 1M artifacts. That step runs under a statement timeout of
    :data:`SEARCH_TIMEOUT_MS` in a savepoint, and past it raises :class:`SearchTooBroad`, so no
    search can run away however large the table grows.
    """
    walk, indexed = _search_statements(pipeline_id is not None)
    params = {"team_id": team_id, "pipeline_id": pipeline_id, "words": words, "limit": limit,
              "walk_rows": SEARCH_WALK_ROWS}
    rows = s.execute(walk, params).all()
    if len(rows) >= limit:
        return rows

    prev, prev_ms = s.execute(text(
        "SELECT current_setting('statement_timeout'), "
        "extract(epoch FROM current_setting('statement_timeout')::interval) * 1000")).one()
    bound = SEARCH_TIMEOUT_MS if not prev_ms else min(int(prev_ms), SEARCH_TIMEOUT_MS)
    try:
        with s.begin_nested():  # a cancelled statement must not abort the caller's transaction
            s.execute(text("SELECT set_config('statement_timeout', :ms, true)"), {"ms": str(bound)})
            rows = s.execute(indexed, params).all()
            s.execute(text("SELECT set_config('statement_timeout', :prev, true)"), {"prev": prev})
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) != "57014":  # query_canceled
            raise
        raise SearchTooBroad(words) from exc
    return rows


class SearchTooBroad(RuntimeError):
    """A search that would take more than SEARCH_TIMEOUT_MS: a phrase of common words that
    (almost) never occur in that order, at the scale where checking every candidate is slow."""

    def __init__(self, words: str) -> None:
        super().__init__(f"searching for {words!r} takes too long: add a rarer word, or drop the quotes")
