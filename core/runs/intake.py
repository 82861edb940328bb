"""The one way a run starts: :func:`submit` checks a RunRequest, dedupes it, records the run
and enqueues it. Every surface calls it (Slack's command, modals and re-runs, the CLI, and
``start_run``/``start_branch`` below, which only build a request).

The dedupe rule, the same for every request that carries a ``dedupe_key``:

1. the database is the authority: a key already recorded returns that run (a repeat), and
   two racing records of one key leave one row (the column is unique; the loser gets the
   winner's run back);
2. before anything is shown (Slack posts the run's first message before the run exists),
   the key is claimed in Redis, so a concurrent repeat (a Slack retry while the first is
   still posting) neither posts a second message nor starts a second run. The claim is
   released when nothing was started, so a repeat of a refused request is answered again.
   With Redis down the claim is skipped: rule 1 still holds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core import messages
from core import pipelines as pipelines_mod
from core.context import AppContext
from core.errors import NotFound, RefusalKind, RunRejected
from core.inputs.rules import FileKind, files_problem, image_media_type, kind_of
from core.preflight import check_pipeline, files_capability_problem, limits_problem, load_plan
from core.runs.branch import prepare_branch, record_branch
from core.runs.queue import enqueue_new_run
from core.runs.request import INPUT_MAX, BranchFrom, Origin, RunRequest, input_too_long
from core.text import clean_text
from storage.db import IntegrityError, Session, transaction
from storage.models import Pipeline, Run
from storage.repos import pipelines as pipeline_repo
from storage.repos import run_files as file_repo
from storage.repos import runs as run_repo

__all__ = ["CLAIM_TTL_S", "Place", "Submission", "check", "start_branch", "start_run", "submit", "submitted"]

log = logging.getLogger(__name__)

CLAIM_TTL_S = 3600  # a claimed request key is held this long (Slack stops retrying long before)

PIPELINE_GONE = "That pipeline no longer exists. Pick another."

Place = Callable[[RunRequest], RunRequest]
"""Called once the request passed its checks and was claimed, before the run is recorded: a
surface posts where the run reports and returns the request with ``report_to`` filled in."""


@dataclass(frozen=True)
class Submission:
    """What :func:`submit` did. ``repeat``: the request was seen before; ``run`` is then the
    first request's run, or None while that one is still being started elsewhere."""

    run: Run | None
    repeat: bool = False


def submit(ctx: AppContext, request: RunRequest, *, place: Place | None = None, preflight: bool = True) -> Submission:
    """Check, dedupe, (place,) record and enqueue ``request``.

    Raises RunRejected (nothing recorded; a refusal after ``place`` leaves what it posted to
    the caller to mark), and QueueUnavailable carrying the run when Redis cannot be reached
    (the run stays queued in PostgreSQL and starts once Redis is back). ``preflight=False``
    skips core.preflight's pipeline checks for an ordinary run (the executor asks them again
    anyway); a branch is always checked against its own rules instead (core/runs/branch.py).
    The workspace's spend limits (core.preflight.limits_problem) are asked of every request.
    """
    if (prior := _recorded(ctx, request)) is not None:
        return Submission(prior, repeat=True)
    check(ctx, request, preflight=preflight)
    if not _claim(ctx, request.dedupe_key):
        log.info("run request %s is being handled already; ignoring the repeat", request.dedupe_key)
        return Submission(None, repeat=True)
    try:
        placed = place(request) if place is not None else request
        run, repeat = _record(ctx, placed)
    except BaseException:
        _release(ctx, request.dedupe_key)
        raise
    if repeat:
        return Submission(run, repeat=True)
    return Submission(enqueue_new_run(ctx, request.team_id, run))


def check(ctx: AppContext, request: RunRequest, *, preflight: bool = True) -> None:
    """Raise the RunRejected recording would, without recording anything: for a surface that
    must say what is wrong before it shows anything."""
    with transaction(ctx.sessions) as s:
        if (limited := limits_problem(s, request.team_id, request.requested_by)) is not None:
            raise limited
        if request.branch is not None:
            prepare_branch(s, request.team_id, request.branch)
            return
        _input(request)
        if (problem_text := files_problem(request.files, ctx.settings)) is not None:
            raise RunRejected(RefusalKind.BAD_INPUT, problem_text)
        pipeline = _pipeline(s, request)
        if preflight and (problem := check_pipeline(s, ctx, request.team_id, pipeline.id)) is not None:
            raise problem
        files = [(f.name, str(kind_of(f) or ""), f.size) for f in request.files]
        if files and (problem := files_capability_problem(load_plan(s, request.team_id, pipeline.id), files)):
            raise problem


def _input(request: RunRequest) -> str:
    """The run's text; empty is fine for a run of shared files or of a thread (the files or
    the thread are then what the first step reads)."""
    text = clean_text(request.input_text or "").strip()
    if not text and not request.files and request.thread is None:
        raise RunRejected(RefusalKind.BAD_INPUT, f"Give the run some input: `{messages.COMMAND} run NAME your text…`")
    if len(text) > INPUT_MAX:
        raise RunRejected(RefusalKind.BAD_INPUT, input_too_long(len(text)))
    return text


def _pipeline(s: Session, request: RunRequest) -> Pipeline:
    if request.pipeline_id is not None:
        found = pipeline_repo.get_pipeline(s, request.team_id, request.pipeline_id)
        if found is None:
            raise RunRejected(RefusalKind.NOT_FOUND, PIPELINE_GONE)
        return found
    try:
        return pipelines_mod.find(s, request.team_id, clean_text(request.pipeline_name or ""))
    except NotFound as exc:
        raise RunRejected(RefusalKind.NOT_FOUND, str(exc)) from None


def _recorded(ctx: AppContext, request: RunRequest) -> Run | None:
    if not request.dedupe_key:
        return None
    with transaction(ctx.sessions) as s:
        prior = run_repo.get_run_by_dedupe_key(s, request.team_id, request.dedupe_key)
        if prior is not None:
            s.expunge(prior)
        return prior


def _record(ctx: AppContext, request: RunRequest) -> tuple[Run, bool]:
    """The run row (and a branch's reused steps), in one transaction; (the first run, True)
    when a concurrent repeat recorded the key first."""
    try:
        with transaction(ctx.sessions) as s:
            if request.branch is not None:
                return record_branch(s, request), False
            return _record_run(s, request), False
    except IntegrityError:
        if (prior := _recorded(ctx, request)) is None:
            raise
        return prior, True


def _record_run(s: Session, request: RunRequest) -> Run:
    """The run row, its files as described (their bytes come when the worker gathers them)
    and the thread whose messages it will fetch, in the caller's transaction."""
    text = _input(request)
    pipeline = _pipeline(s, request)
    thread = {"thread": {"ref": request.thread.to_json()}} if request.thread is not None else {}
    run = run_repo.create_run(s, request.team_id, pipeline, text, **thread, **request.run_columns())
    for position, ref in enumerate(request.files, start=1):
        kind = kind_of(ref)
        assert kind is not None  # check() refused any other
        mimetype = image_media_type(ref.mimetype, ref.name, ref.filetype) if kind == FileKind.IMAGE else ref.mimetype
        file_repo.add_file(
            s,
            run.id,
            position,
            slack_file_id=ref.file_id or None,
            name=clean_text(ref.name or ref.file_id),
            mimetype=(mimetype or "")[:200],
            kind=kind.value,
            size=ref.size,
            url=ref.url,
        )
    return run


def _claim_key(dedupe_key: str) -> str:
    return f"pipebot:run-request:{dedupe_key}"


def _claim(ctx: AppContext, dedupe_key: str | None) -> bool:
    """True for the first handler of a request (rule 2 of the module docstring)."""
    if not dedupe_key:
        return True
    try:
        return bool(ctx.redis.set(_claim_key(dedupe_key), "1", nx=True, ex=CLAIM_TTL_S))
    except Exception:  # noqa: BLE001 - Redis down: the unique dedupe key still prevents a second run
        log.warning("could not claim run request %s in Redis", dedupe_key)
        return True


def _release(ctx: AppContext, dedupe_key: str | None) -> None:
    """Nothing was started: a repeat of this request may try again (and be answered)."""
    if dedupe_key:
        try:
            ctx.redis.delete(_claim_key(dedupe_key))
        except Exception:  # noqa: BLE001 - the claim expires by itself
            log.info("could not release run request %s", dedupe_key)


# ---- builders for callers without a surface in front (scripts, tests, benchmarks) ------------


def start_run(
    ctx: AppContext,
    team_id: str,
    pipeline_name: str,
    input_text: str,
    *,
    origin: Origin = Origin.CLI,
    preflight: bool = False,
    **fields: Any,
) -> Run:
    """A run of the pipeline named ``pipeline_name``: builds the RunRequest (``fields``: its
    other fields, e.g. ``requested_by``, ``report_to``, ``dedupe_key``, ``run_id``) and submits
    it (core/runs/intake.py: the one way a run starts). A repeated ``dedupe_key`` returns the
    first run. ``preflight``: refuse (RunRejected) a pipeline that cannot run now, before any
    run exists. Raises QueueUnavailable (carrying the run) when Redis cannot be reached."""
    request = RunRequest(team_id, origin, pipeline_name=pipeline_name, input_text=input_text, **fields)
    return submitted(submit(ctx, request, preflight=preflight))


def submitted(submission: Submission) -> Run:
    """The run of a submission made without a surface in front: a repeat still being started
    elsewhere (only possible with a dedupe key) is refused rather than answered with None."""
    if submission.run is None:
        raise RunRejected(RefusalKind.IN_PROGRESS, messages.RUN_REQUEST_IN_PROGRESS)
    return submission.run


def start_branch(
    ctx: AppContext,
    team_id: str,
    *,
    artifact_id: str,
    version: int | None = None,
    from_step: int,
    agent_id: int | None = None,
    model: str | None = None,
    input_text: str | None = None,
    origin: Origin = Origin.RERUN,
    **fields: Any,
) -> Run:
    """Create a run of the artifact's pipeline from step ``from_step`` and enqueue it: builds
    the RunRequest and submits it (core/runs/intake.py, the one way a run starts).

    ``version``: the artifact's version whose outputs are reused (None: the latest);
    ``agent_id``/``model``/``input_text``: what step ``from_step`` uses instead of the
    pipeline's agent, that agent's model, and what reached the step in the source (None or
    blank: unchanged); ``fields``: the request's other fields (``requested_by``,
    ``report_to``, ``dedupe_key``…). A repeated ``dedupe_key`` returns the first run. Raises
    RunRejected (see :func:`prepare_branch`), and QueueUnavailable (carrying the run) when
    Redis cannot be reached: the run stays queued and starts once it is back.
    """
    branch = BranchFrom(artifact_id, from_step, version, agent_id, model, input_text)
    return submitted(submit(ctx, RunRequest(team_id, origin, branch=branch, **fields)))
