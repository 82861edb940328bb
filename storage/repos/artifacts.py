"""Artifacts: reads for pages and lists, and the full-text search."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Integer,
    String,
    bindparam,
    cast,
    func,
    literal_column,
    or_,
    select,
    text,
    true,
    union_all,
)
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
    Artifact.deleted_at,  # a deleted result is listed as "deleted" (core/artifacts/deletion.py)
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


#: Up to this many conversations a scope is read conversation by conversation: each one's
#: newest rows from ix_artifacts_team_channel_created (team, channel, created_at, id), merged.
#: That costs (conversations × rows wanted) index entries whatever the workspace's size, where
#: walking the workspace's newest rows and filtering would read past every other
#: conversation's (a guest in 2 channels of 500: 56,000 rows for the 2,000 newest of theirs
#: at 1M artifacts). Past it (a full member: the public channels and their own) the scope is
#: filtered during the walk, since most rows pass (bench/bench_visibility.py).
SCOPE_MERGE_MAX = 32


def _channels_param() -> Any:
    """The scope's conversations as one text parameter split in SQL: handing over 470 ids
    as an array parameter cost 4 ms of Python per statement (psycopg quotes each element),
    four times the unscoped query. Slack's conversation ids are letters and digits."""
    return cast(func.string_to_array(bindparam("scope_channels", type_=String), ","), ARRAY(String))


def _channels_value(scope: ChannelScope | None) -> str:
    return ",".join(sorted(scope.channels)) if scope is not None else ""


def _in_scope(scope: ChannelScope, *, many: bool, column: Any = Artifact.channel_id) -> Any:
    """The scope as a filter. ``many``: the list is handed over as the result of a sub-select,
    which the planner cannot look into: with 470 conversations inline, estimating how many
    rows each matches cost 5 to 8 ms of planning per statement (more than running it), and the
    plan it picks (walk the newest rows, filter) does not depend on the list anyway."""
    channels: Any = _channels_param()
    if many:
        channels = cast(select(channels).scalar_subquery(), ARRAY(String))
    within = column == func.any(channels)
    return or_(within, column.is_(None)) if scope.unplaced else within


def _many(scope: ChannelScope) -> bool:
    return len(scope.channels) > SCOPE_MERGE_MAX


def _newest_per_channel(columns: Sequence[Any], where: Sequence[Any], rows: Any, unplaced: bool) -> Any:
    """The ``rows`` newest of each conversation of a small scope (and of runs that posted
    nowhere, when ``unplaced``), as one subquery to merge: each part is a LIMIT read in index
    order from ix_artifacts_team_channel_created."""
    chans = func.unnest(_channels_param()).table_valued("ch").render_derived(name="chans")
    order = (Artifact.created_at.desc(), Artifact.id.desc())
    per = select(*columns).where(*where, Artifact.channel_id == chans.c.ch).order_by(*order).limit(rows).lateral("per")
    parts: list[Any] = [select(*per.c).select_from(chans.join(per, true()))]
    if unplaced:
        parts.append(select(*columns).where(*where, Artifact.channel_id.is_(None)).order_by(*order).limit(rows))
    return union_all(*parts).subquery("scoped") if len(parts) > 1 else parts[0].subquery("scoped")


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
    None lists every conversation's artifacts (for code that shows no person anything).

    A scope of at most :data:`SCOPE_MERGE_MAX` conversations is read conversation by
    conversation and merged (:func:`_newest_per_channel`); a larger one is filtered while
    walking the workspace's newest rows."""
    if scope is not None and not scope.channels and not scope.unplaced:
        return []
    stmt = _latest_statement(
        pipeline_id is not None, None if scope is None else scope.unplaced, scope is not None and not _many(scope)
    )
    params = {
        "team_id": team_id,
        "pipeline_id": pipeline_id,
        "scope_channels": _channels_value(scope),
        "limit": limit,
        "offset": offset,
        "rows": limit + offset,
    }
    return s.execute(stmt, params).all()


@functools.cache
def _latest_statement(with_pipeline: bool, scope_unplaced: bool | None, few: bool) -> Any:
    """latest_artifacts' statement, built once (bind parameters only): building the
    conversation-by-conversation form per call cost 4 ms of Python, 20 times running it."""
    where = [Artifact.team_id == bindparam("team_id", type_=String)]
    if with_pipeline:
        where.append(Artifact.pipeline_id == bindparam("pipeline_id", type_=BigInteger))
    limit, offset = bindparam("limit", type_=Integer), bindparam("offset", type_=Integer)
    if few and scope_unplaced is not None:
        merged = _newest_per_channel(ARTIFACT_LIST_COLUMNS, where, bindparam("rows", type_=Integer), scope_unplaced)
        return (
            select(*(merged.c[c.key] for c in ARTIFACT_LIST_COLUMNS))
            .order_by(merged.c.created_at.desc(), merged.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
    if scope_unplaced is not None:
        where.append(_in_scope(ChannelScope(frozenset(), scope_unplaced), many=True))
    return (
        select(*ARTIFACT_LIST_COLUMNS)
        .where(*where)
        .order_by(Artifact.created_at.desc(), Artifact.id.desc())
        .limit(limit)
        .offset(offset)
    )


#: How many of the newest artifacts in scope the first step of a search reads, in created_at
#: order, before it hands over to the GIN index (see search_artifacts).
SEARCH_WALK_ROWS = 2000
#: The bound on the second step: the statement is cancelled after this long (SearchTooBroad).
SEARCH_TIMEOUT_MS = 5000


@functools.cache
def _search_statements(with_pipeline: bool, scope_unplaced: bool | None, few: bool = False) -> tuple[Any, Any]:
    """The two statements of search_artifacts, built once (bind parameters only): building and
    compiling them per call cost more than running them for a frequent word. ``few``: the
    scope is small enough to be read conversation by conversation (SCOPE_MERGE_MAX)."""
    query = func.websearch_to_tsquery(literal_column("'english'::regconfig"), bindparam("words", type_=String))
    where = [Artifact.team_id == bindparam("team_id", type_=String)]
    if with_pipeline:
        where.append(Artifact.pipeline_id == bindparam("pipeline_id", type_=BigInteger))
    scope = list(where)
    if scope_unplaced is not None:
        scope.append(_in_scope(ChannelScope(frozenset(), scope_unplaced), many=not few))
    names = [c.key for c in ARTIFACT_LIST_COLUMNS]
    limit = bindparam("limit", type_=Integer)
    walk_rows = bindparam("walk_rows", type_=Integer)

    if few and scope_unplaced is not None:
        # the newest rows of each conversation, read from the index alone, merged; then only
        # the walk_rows newest of them are fetched and checked
        ids = _newest_per_channel([Artifact.id, Artifact.created_at], where, walk_rows, scope_unplaced)
        newest = (
            select(ids.c.id, ids.c.created_at)
            .order_by(ids.c.created_at.desc(), ids.c.id.desc())
            .limit(walk_rows)
            .subquery("recent")
        )
        # a lateral lookup by primary key per id: joined otherwise, the planner hashed the
        # 2,000 ids against every row of a frequent word (50 ms at 1M artifacts)
        row = (
            select(*ARTIFACT_LIST_COLUMNS)
            .where(Artifact.id == newest.c.id, Artifact.output_tsv.op("@@")(query))
            .lateral("hit")
        )
        walk = (
            select(*(row.c[n] for n in names))
            .select_from(newest.join(row, true()))
            # the order of the merged ids, so the walk stops at ``limit`` hits
            .order_by(newest.c.created_at.desc(), newest.c.id.desc())
            .limit(limit)
        )
    elif scope_unplaced is not None:
        # a large scope: walk the workspace's newest rows and apply the scope only to the
        # rows the words match. Checking each of 2,000 rows against 470 conversations cost
        # more than reading them; and the answer is the same: when the walk fills the page,
        # every newer match in scope was among the rows walked.
        recent = (
            select(*ARTIFACT_LIST_COLUMNS, Artifact.channel_id, Artifact.output_tsv)
            .where(*where)
            .order_by(Artifact.created_at.desc(), Artifact.id.desc())
            .limit(walk_rows)
            .subquery("recent")
        )
        walk = (
            select(*(recent.c[n] for n in names))
            .where(
                recent.c.output_tsv.op("@@")(query),
                _in_scope(ChannelScope(frozenset(), scope_unplaced), many=True, column=recent.c.channel_id),
            )
            .order_by(recent.c.created_at.desc(), recent.c.id.desc())
            .limit(limit)
        )
    else:
        recent = (
            select(*ARTIFACT_LIST_COLUMNS, Artifact.output_tsv)
            .where(*scope)
            .order_by(Artifact.created_at.desc(), Artifact.id.desc())
            .limit(walk_rows)
            .subquery("recent")
        )
        walk = (
            select(*(recent.c[n] for n in names))
            .where(recent.c.output_tsv.op("@@")(query))
            .order_by(recent.c.created_at.desc(), recent.c.id.desc())
            .limit(limit)
        )
    if few or scope_unplaced is None:
        matches = (
            select(*ARTIFACT_LIST_COLUMNS)
            .where(*scope, Artifact.output_tsv.op("@@")(query))
            .cte("matches")
            .prefix_with("MATERIALIZED")
        )
        indexed = select(*(matches.c[n] for n in names))
    else:
        # a large scope is applied to the matches, not in their CTE: given the list as a
        # sub-select, the planner ANDed the word's bitmap with the conversation index's
        # (885,000 entries for a full member: 0.5 s); most matches are in scope anyway
        matches = (
            select(*ARTIFACT_LIST_COLUMNS, Artifact.channel_id)
            .where(*where, Artifact.output_tsv.op("@@")(query))
            .cte("matches")
            .prefix_with("MATERIALIZED")
        )
        indexed = select(*(matches.c[n] for n in names)).where(
            _in_scope(ChannelScope(frozenset(), scope_unplaced), many=True, column=matches.c.channel_id)
        )
    indexed = indexed.order_by(matches.c.created_at.desc(), matches.c.id.desc()).limit(limit)
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
    if scope is not None and not scope.channels and not scope.unplaced:
        return []
    walk, indexed = _search_statements(
        pipeline_id is not None,
        None if scope is None else scope.unplaced,
        scope is not None and not _many(scope),
    )
    params = {
        "scope_channels": _channels_value(scope),
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


def created_by_of(s: Session | Connection, team_id: str, artifact_id: uuid.UUID | str) -> str | None:
    """Who requested the artifact's run (``created_by``), None when unknown or not found: the
    web viewer asks it to offer *Delete* to the requester without loading the content again."""
    aid = parse_uuid(artifact_id)
    if aid is None:
        return None
    return s.scalar(select(Artifact.created_by).where(Artifact.team_id == team_id, Artifact.id == aid))
