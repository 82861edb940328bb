"""Artifacts: reads for pages and lists, and the full-text search."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Connection, Integer, String, bindparam, func, literal_column, or_, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from storage.models import Artifact
from storage.repos.common import parse_uuid


def insert_for_run(
    s: Session, team_id: str, run: Any, content: dict[str, Any], *, models: list[str], cost_usd: Decimal | None
) -> uuid.UUID:
    """Write the run's one artifact and return its id. Idempotent on run_id: a second call
    (a retried close) keeps the first artifact and returns its id. ``run`` is any row with
    the run's columns (the ORM object or the row the close returned)."""
    stmt = (
        pg_insert(Artifact)
        .values(
            team_id=team_id,
            run_id=run.id,
            pipeline_id=run.pipeline_id,
            pipeline_name=run.pipeline_name,
            status=run.status,
            cost_usd=cost_usd,
            models=models,
            created_by=run.requested_by,
            channel_id=getattr(run, "channel_id", None),
            content=content,
        )
        .on_conflict_do_nothing(index_elements=[Artifact.run_id])
        .returning(Artifact.id)
    )
    artifact_id = s.execute(stmt).scalar()
    if artifact_id is None:
        existing = get_artifact_for_run(s, team_id, run.id)
        assert existing is not None  # the conflict was on this run's artifact
        artifact_id = existing.id
    return artifact_id


def get_artifact(s: Session, team_id: str, artifact_id: uuid.UUID | str) -> Artifact | None:
    aid = parse_uuid(artifact_id)
    if aid is None:
        return None
    return s.scalar(select(Artifact).where(Artifact.team_id == team_id, Artifact.id == aid))


_PERMALINK_SELECT = select(Artifact.team_id, Artifact.content).where(Artifact.id == bindparam("aid"))


def artifact_content_unscoped(
    conn: Connection | Session, artifact_id: uuid.UUID | str
) -> tuple[str, dict[str, Any]] | None:
    """``(team_id, content)`` by id alone. Only for the permalink page, whose signature names
    the workspace and is checked by the caller against this team id.

    A Core select of two columns, not the ORM: the page needs nothing else. With the caller's
    autocommit connection (bot/web/routes.py) the lookup took 0.42 ms at p50 at 1M
    artifacts, against 0.58 ms for ``session.get`` (bench/bench_artifacts_viewer.py).
    """
    aid = parse_uuid(artifact_id)
    if aid is None:
        return None
    row = conn.execute(_PERMALINK_SELECT, {"aid": aid}).first()
    return None if row is None else (row[0], row[1])


def get_artifact_for_run(s: Session, team_id: str, run_id: uuid.UUID) -> Artifact | None:
    return s.scalar(select(Artifact).where(Artifact.team_id == team_id, Artifact.run_id == run_id))


ARTIFACT_LIST_COLUMNS = (
    Artifact.id,
    Artifact.pipeline_name,
    Artifact.status,
    Artifact.cost_usd,
    Artifact.models,
    Artifact.created_at,
    Artifact.created_by,
    Artifact.run_id,
)


_NOTE_UNDELIVERED = text(
    "UPDATE artifacts SET slack_undelivered = CASE WHEN slack_undelivered IS NULL THEN :what "
    "WHEN position(:what IN slack_undelivered) > 0 THEN slack_undelivered "
    "ELSE slack_undelivered || ', ' || :what END "
    "WHERE team_id = :team AND run_id = :run"
)


def note_undelivered(s: Session, team_id: str, run_id: uuid.UUID | str, what: str) -> bool:
    """Record that Slack never took ``what`` of this run (once each); False when the run has
    no artifact (it failed before writing one)."""
    rid = parse_uuid(run_id)
    if rid is None:
        return False
    res = s.execute(_NOTE_UNDELIVERED, {"team": team_id, "run": rid, "what": what[:200]})
    return bool(getattr(res, "rowcount", 0))


@dataclass(frozen=True)
class ChannelScope:
    """The conversations whose artifacts a list may show (core/visibility.Sight.scope builds
    it): ``channels``, and the artifacts of runs that posted nowhere when ``unplaced``."""

    channels: frozenset[str]
    unplaced: bool


def _in_scope(scope: ChannelScope) -> Any:
    within = Artifact.channel_id == func.any(bindparam("scope_channels", sorted(scope.channels), type_=ARRAY(String)))
    return or_(within, Artifact.channel_id.is_(None)) if scope.unplaced else within


def latest_artifacts(
    s: Session,
    team_id: str,
    *,
    scope: ChannelScope | None = None,
    pipeline_id: int | None = None,
    limit: int = 10,
    offset: int = 0,
) -> Sequence[Any]:
    """Rows without the JSONB content: lists never need it and it can be large. ``scope``
    None lists every conversation's artifacts (for code that shows no person anything)."""
    stmt = select(*ARTIFACT_LIST_COLUMNS).where(Artifact.team_id == team_id)
    if scope is not None:
        stmt = stmt.where(_in_scope(scope))
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
def _search_statements(with_pipeline: bool, scope_unplaced: bool | None) -> tuple[Any, Any]:
    """The two statements of search_artifacts, built once (bind parameters only): building and
    compiling them per call cost more than running them for a frequent word."""
    query = func.websearch_to_tsquery(literal_column("'english'::regconfig"), bindparam("words", type_=String))
    scope = [Artifact.team_id == bindparam("team_id", type_=String)]
    if with_pipeline:
        scope.append(Artifact.pipeline_id == bindparam("pipeline_id", type_=BigInteger))
    if scope_unplaced is not None:
        scope.append(_in_scope(ChannelScope(frozenset(), scope_unplaced)))
    names = [c.key for c in ARTIFACT_LIST_COLUMNS]
    limit = bindparam("limit", type_=Integer)

    recent = (
        select(*ARTIFACT_LIST_COLUMNS, Artifact.output_tsv)
        .where(*scope)
        .order_by(Artifact.created_at.desc(), Artifact.id.desc())
        .limit(bindparam("walk_rows", type_=Integer))
        .subquery("recent")
    )
    walk = (
        select(*(recent.c[n] for n in names))
        .where(recent.c.output_tsv.op("@@")(query))
        .order_by(recent.c.created_at.desc(), recent.c.id.desc())
        .limit(limit)
    )
    matches = (
        select(*ARTIFACT_LIST_COLUMNS)
        .where(*scope, Artifact.output_tsv.op("@@")(query))
        .cte("matches")
        .prefix_with("MATERIALIZED")
    )
    indexed = (
        select(*(matches.c[n] for n in names)).order_by(matches.c.created_at.desc(), matches.c.id.desc()).limit(limit)
    )
    return walk, indexed


def search_artifacts(
    s: Session,
    team_id: str,
    words: str,
    *,
    scope: ChannelScope | None = None,
    pipeline_id: int | None = None,
    limit: int = 10,
) -> Sequence[Any]:
    """The ``limit`` most recent artifacts whose output matches ``words`` (web-search syntax:
    ``"a phrase"``, ``or``, ``-word``), newest first; list columns only. ``scope`` as for
    :func:`latest_artifacts`.

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
    walk, indexed = _search_statements(pipeline_id is not None, None if scope is None else scope.unplaced)
    params = {
        "scope_channels": sorted(scope.channels) if scope is not None else [],
        "team_id": team_id,
        "pipeline_id": pipeline_id,
        "words": words,
        "limit": limit,
        "walk_rows": SEARCH_WALK_ROWS,
    }
    rows = s.execute(walk, params).all()
    if len(rows) >= limit:
        return rows

    prev, prev_ms = s.execute(
        text(
            "SELECT current_setting('statement_timeout'), "
            "extract(epoch FROM current_setting('statement_timeout')::interval) * 1000"
        )
    ).one()
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


def channels_of(
    s: Session | Connection, team_id: str, artifact_ids: Sequence[uuid.UUID | str]
) -> dict[str, str | None]:
    """The conversation each artifact ran in (``None``: it posted nowhere), by canonical id;
    ids not found in the workspace are left out. One indexed query: the web viewer asks it for
    the artifact(s) a page shows and for a branch's parent, to apply the visibility rule."""
    ids = [aid for aid in (parse_uuid(a) for a in artifact_ids) if aid is not None]
    if not ids:
        return {}
    rows = s.execute(select(Artifact.id, Artifact.channel_id).where(Artifact.team_id == team_id, Artifact.id.in_(ids)))
    return {str(r.id): r.channel_id for r in rows}
