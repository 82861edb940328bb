"""Running a pipeline: claim the run, resume after its last finished step, call each agent as it
is when its step starts, record every step, and write exactly one artifact.

Idempotent by construction: a finished step is committed before the next begins, and a
re-run (after a killed worker) skips every finished step, so none is paid for twice.
Claiming the run and reading what it needs is core/runs/claim.py; one step's model call
core/runs/steps.py; closing the run core/runs/outcome.py. An approval step ends the
execution without ending the run: the run waits, in PostgreSQL only, for a person
(core/runs/approval_request.py, then core/runs/approvals.py queues it again). What the parts share is one
``RunContext`` (core/runs/run_context.py).
"""

from __future__ import annotations

import functools
import logging
import threading
import time
import uuid
from decimal import Decimal
from typing import Any

from rq.timeouts import JobTimeoutException

from core import messages
from core.context import AppContext
from core.credentials import effective_key
from core.errors import RunRejected
from core.inputs.gather import InputProblem, gather, needs_gathering
from core.inputs.parts import FIRST_STEP, StepInputs, step_inputs, unreadable_file
from core.inputs.source import InputSource, input_source_for
from core.inputs.stored import StoredFile
from core.mcp.tools import selected_servers
from core.preflight import PlannedStep, budget_problem, daily_limit_problem, sees_files
from core.reporter import ApprovalView, NullReporter, Reporter, RunOutcome, SafeReporter, StepPlan, StepResult
from core.runs.approval_request import NotWaiting, request_approval, request_tool_approval, tool_decision
from core.runs.cancel_watch import KIND as CANCELLED
from core.runs.cancel_watch import CancelWatch, RunCancelled, cancelled_message
from core.runs.claim import RunStart, StepStart, claim_and_load, current_input, spent_on, start_step
from core.runs.outcome import write_outcome
from core.runs.run_context import RunContext, StepRequest
from core.runs.step_state import StateUnreadable
from core.runs.steps import StepCall, StepFailed, ToolApprovalNeeded, call_agent
from core.spend_notice import claim_notice
from core.text import clean_text
from core.tools import ToolContext
from core.visibility import ArtifactGate, ReadRule, unattended_gate
from providers import catalog
from providers.errors import ProviderError
from providers.registry import parse_model_ref
from storage.db import transaction
from storage.repos import agents as agent_repo
from storage.repos import artifacts as artifact_repo
from storage.repos import credentials as credential_repo
from storage.repos import pipelines as pipeline_repo
from storage.repos import runs as run_repo
from storage.states import FailureKind, RunStatus, StepStatus

__all__ = ["execute", "warm_statements", "write_outcome"]

log = logging.getLogger(__name__)


class _Heartbeat(threading.Thread):
    """Proves the worker is alive; maintenance (core/runs/maintenance.py) takes over runs
    whose heartbeat stops."""

    def __init__(self, ctx: AppContext, team_id: str, run_id: uuid.UUID) -> None:
        super().__init__(daemon=True, name=f"heartbeat-{run_id}")
        self._ctx, self._team_id, self._run_id = ctx, team_id, run_id
        self._stop = threading.Event()

    def run(self) -> None:
        while not self._stop.wait(self._ctx.settings.PIPEBOT_HEARTBEAT_SECONDS):
            try:
                run_repo.heartbeat(self._ctx.engine, self._team_id, self._run_id)
            except Exception:  # noqa: BLE001 - a missed beat is not fatal; many are
                log.exception("heartbeat for run %s failed", self._run_id)

    def stop(self) -> None:
        self._stop.set()


def warm_statements(ctx: AppContext, team_id: str, rid: uuid.UUID) -> None:
    """Run the executor's statements against ids that match nothing, then roll back (see
    bot.worker.main.warm_up): a forked horse inherits them compiled."""
    with ctx.sessions() as s:
        run_repo.claim(s, team_id, rid, stale_after_s=ctx.settings.PIPEBOT_STALE_AFTER_SECONDS)
        run_repo.finished_steps(s, rid)
        pipeline_repo.plan_rows(s, team_id, 0)
        credential_repo.stored_keys(s, team_id, ctx.box)
        agent_repo.get_agent(s, team_id, 0)
        credential_repo.get_credential(s, team_id, "anthropic", ctx.box)
        run_repo.finish_step(
            s,
            0,
            status=StepStatus.SUCCEEDED,
            output="",
            latency_ms=0,
            usage={},
            raw_usage=[],
            cost_usd=None,
            price_version=None,
        )
        run_repo.finish_step(s, 0, status=StepStatus.FAILED, error_kind="", error_message="", latency_ms=0)
        run_repo.close(s, team_id, rid, status=RunStatus.SUCCEEDED, output="", error_kind=None, error_message=None)
        run_repo.steps_of(s, rid)
        s.rollback()


class _Waiting(Exception):  # noqa: N818 - not an error: the run paused for a person
    """The run reached an approval step and now waits (recorded); the execution ends here."""

    def __init__(self, approval: ApprovalView) -> None:
        super().__init__(approval.approval_id)
        self.approval = approval


class _Stopped(Exception):
    """The run stops here: why (an error kind and a message for people) and at which step
    position (None: before any). Raised where the reason is found, turned into the failed
    run's outcome in one place (``_execute``)."""

    def __init__(self, kind: str, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.kind, self.message, self.position = kind, message, position


def execute(
    ctx: AppContext,
    team_id: str,
    run_id: str | uuid.UUID,
    reporter: Reporter | None = None,
    read_rule: ReadRule | None = None,
    inputs: InputSource | None = None,
) -> RunOutcome | None:
    """Run the pipeline of `run_id`; None when another worker owns it or it already finished.
    ``read_rule``: which artifacts its read_artifact tool may return (core/visibility.py;
    None: only runs of its own conversation or that posted nowhere). ``inputs``: where the
    run's files and thread are fetched from (None: the installed source, asked only when the
    run has something to fetch). None too when the run reached an approval step: it waits,
    holding nothing, until core.runs.approvals decides it."""
    rid = uuid.UUID(str(run_id))
    start = claim_and_load(ctx, team_id, rid)
    if start is None:
        log.info("run %s is not claimable (finished or owned by a live worker)", rid)
        return None
    beat = _Heartbeat(ctx, team_id, rid)
    beat.start()
    info = start.info
    gate = (
        read_rule(team_id, info.channel_id, info.requested_by)
        if read_rule is not None
        else unattended_gate(info.channel_id)
    )
    run = RunContext(
        app=ctx,
        team_id=team_id,
        rid=rid,
        info=start.info,
        reporter=SafeReporter(reporter or NullReporter()),
        deadline=time.monotonic() + ctx.settings.run_time_limit_s,
        tools=ToolContext(team_id, functools.partial(_load_artifact, ctx, team_id, gate), run_id=str(rid)),
        cancel=CancelWatch(ctx, team_id, rid),
        daily_limit=start.daily_limit,
    )
    try:
        return _execute(run, start, inputs)
    except Exception as exc:  # noqa: BLE001 - a bug or an outage must not leave the run "running"
        log.exception("run %s stopped by an unexpected error", rid)
        try:
            return _fail_unexpectedly(run, exc)
        except Exception:  # noqa: BLE001 - e.g. the database is gone too: the reaper takes over
            log.exception("could not mark run %s failed", rid)
            raise exc from None
    finally:
        beat.stop()


def _fail_unexpectedly(run: RunContext, exc: Exception) -> RunOutcome:
    """Close a run an exception stopped: RQ's job timeout (raised in the job) is the run's
    time limit, anything else an internal error."""
    if isinstance(exc, JobTimeoutException):
        kind, message = FailureKind.TIME_LIMIT, messages.time_limit(run.app.settings.run_time_limit_s)
    else:
        kind, message = FailureKind.INTERNAL_ERROR, messages.internal_error(type(exc).__name__)
    _fail_running_step(run.app, run.rid, kind, str(exc))
    return _fail(run, kind, message)


def _execute(run: RunContext, start: RunStart, inputs: InputSource | None) -> RunOutcome | None:
    run.reporter.run_started(run.info)
    try:
        if start.problem is None:
            _gather_inputs(run, start, inputs)
        output = _run_steps(run, start)
    except _Stopped as stop:
        return _fail(run, stop.kind, stop.message, stop.position, files=start.files)
    except _Waiting as waiting:
        log.info("run %s waits for approval %s", run.rid, waiting.approval.approval_id)
        run.reporter.approval_requested(run.info, waiting.approval)
        return None
    outcome = write_outcome(run.app, run.team_id, run.rid, status=RunStatus.SUCCEEDED, output=output, files=start.files)
    run.reporter.run_finished(run.info, outcome)
    _notice_spend(run)
    return outcome


def _notice_spend(run: RunContext) -> None:
    """Once a day, when the workspace's spend reached 80 % of its daily limit: tell its
    admins through the reporters (core/spend_notice.py). Never fails the run."""
    if run.daily_limit is None:
        return
    try:
        notice = claim_notice(run.app, run.team_id, run.daily_limit)
    except Exception:  # noqa: BLE001 - the run is closed and paid for; the notice is best effort
        log.exception("could not check the daily limit notice of %s", run.team_id)
        return
    if notice is not None:
        run.reporter.daily_limit_near(run.team_id, notice.spent, notice.limit)


def _gather_inputs(run: RunContext, start: RunStart, inputs: InputSource | None) -> None:
    """Before the first model call: the run's files and thread fetched and stored (nothing
    for a run without any, or one an earlier attempt gathered), then every step waiting to
    run asked whether it can read them. Raises _Stopped, with the step already recorded as
    running (by the claim) failed too."""
    pending = next((p.position for p in start.plan.steps if p.position not in start.done), None)
    try:
        if needs_gathering(start.files, start.thread):
            source = inputs if inputs is not None else _installed_source(run.app)
            start.thread = gather(run.app, run.team_id, run.rid, start.files, start.thread, source)
        for p in start.plan.steps:
            if p.position in start.done or p.is_approval:
                continue
            sees = sees_files(start.plan, p.position)
            problem = unreadable_file(start.files, p.model, sees, position=p.position, agent_name=p.agent_name)
            if problem is not None:
                raise InputProblem(FailureKind.UNSUPPORTED_FILE, problem)
    except InputProblem as exc:
        _fail_running_step(run.app, run.rid, exc.kind, exc.message)
        raise _Stopped(exc.kind, exc.message, pending) from None


def _installed_source(ctx: AppContext) -> InputSource | None:
    """The surface's source (core/inputs/source.py), loaded only by a run that has something
    to fetch; one that cannot be loaded fails that run (gather says so), not every run."""
    try:
        return input_source_for(ctx)
    except Exception:  # noqa: BLE001 - a broken surface install must not crash the worker
        log.exception("could not load the installed input source")
        return None


def _step_inputs(run: RunContext, start: RunStart, position: int, snap: dict[str, Any]) -> StepInputs:
    """What the step gets besides its input (core/inputs/parts.py): read from the run's
    stored files only when it gets any, so a run without files pays no statement here."""
    first = position == FIRST_STEP
    sees = first or bool(snap.get("sees_files"))
    has_thread = first and bool((start.thread or {}).get("messages"))
    if not (start.files and sees) and not has_thread:
        return StepInputs()
    problem = unreadable_file(start.files, snap["model"], sees, position=position, agent_name=snap.get("name") or "")
    if problem is not None:  # the agent changed since the run was claimed
        raise RunRejected(FailureKind.UNSUPPORTED_FILE, problem)
    return step_inputs(run.app.sessions, start.files, snap["model"], first=first, sees=sees, thread=start.thread)


def _run_steps(run: RunContext, start: RunStart) -> str:
    """Every step not finished yet, in order; the last one's output (raises _Stopped)."""
    done = start.done
    if start.problem is not None:
        failed_at = None
        if start.problem.kind == FailureKind.BUDGET_EXCEEDED:  # spent by the steps an earlier attempt finished
            failed_at = next(p.position for p in start.plan.steps if p.position not in done)
        raise _Stopped(start.problem.kind, start.problem.message, failed_at)
    current, spent = current_input(done, run.info, start.branch), spent_on(done)
    for p in start.plan.steps:
        if p.position in done:
            continue
        if p.is_approval:
            raise _Waiting(_ask(run, p, current))
        if time.monotonic() > run.deadline:
            raise _Stopped(
                FailureKind.TIME_LIMIT, messages.time_limit(run.app.settings.run_time_limit_s, p.position), p.position
            )
        if (over := budget_problem(start.plan.budget, spent, p.position)) is not None:
            raise _Stopped(over.kind, over.message, p.position)
        step, start.first = start.first, None
        if step is None:  # a later step: the agent and the key as they are now (live link)
            _check_daily_limit(run, p.position)
            step = _start_later_step(run, p, current)
        if run.cancel is not None and (by := run.cancel.requested()) is not None:  # asked between two steps
            _record_step_failure(run.app, step.step_id, CANCELLED, cancelled_message(by), 0)
            raise _Stopped(CANCELLED, cancelled_message(by), p.position)
        call = _run_step(run, start, p, step, current)
        _finish_step(run, p, step, call)
        spent += call.cost_usd or Decimal(0)
        current = call.output
    return current


def _ask(run: RunContext, p: PlannedStep, current: str) -> ApprovalView:
    """Record the approval step as waiting, with ``current`` (the output so far) shown to
    its approvers; a cancel asked for first ends the run instead (_Stopped)."""
    if run.cancel is not None and (by := run.cancel.requested()) is not None:
        raise _Stopped(CANCELLED, cancelled_message(by), p.position)
    try:
        return request_approval(
            run.app.sessions,
            team_id=run.team_id,
            rid=run.rid,
            position=p.position,
            approvers=p.approvers,
            timeout_hours=p.timeout_hours,
            requested_by=run.info.requested_by,
            output=current,
        )
    except NotWaiting:
        by = run_repo.cancel_requested_by(run.app.engine, run.team_id, run.rid) or "?"
        raise _Stopped(CANCELLED, cancelled_message(by), p.position) from None


def _ask_tool(run: RunContext, p: PlannedStep, step: StepStart, paused: ToolApprovalNeeded) -> ApprovalView:
    """Record the step as waiting for Allow / Deny of one tool call, with what it cost so far
    and where it goes on from; a cancel asked for first ends the run instead (_Stopped)."""
    call = paused.call
    try:
        return request_tool_approval(
            run.app.sessions,
            team_id=run.team_id,
            rid=run.rid,
            position=p.position,
            step_id=step.step_id,
            requested_by=run.info.requested_by,
            tool=paused.tool,
            arguments=paused.tc.arguments,
            call_id=paused.tc.id,
            said=paused.said,
            state=paused.state,
            spent={
                "usage": call.usage.to_dict(),
                "raw_usage": call.raw_usage,
                "cost_usd": call.cost_usd,
                "price_version": call.price_version,
                "tool_calls": call.tool_calls or None,
            },
        )
    except NotWaiting:
        by = run_repo.cancel_requested_by(run.app.engine, run.team_id, run.rid) or "?"
        _record_step_failure(run.app, step.step_id, CANCELLED, cancelled_message(by), 0, call=call)
        raise _Stopped(CANCELLED, cancelled_message(by), p.position) from None


def _check_daily_limit(run: RunContext, position: int) -> None:
    """The workspace's daily limit, before a later step (the first was asked when claimed)."""
    if run.daily_limit is None:
        return
    with transaction(run.app.sessions) as s:
        over = daily_limit_problem(s, run.team_id, run.daily_limit, position)
    if over is not None:
        raise _Stopped(over.kind, over.message, position)


def _start_later_step(run: RunContext, p: PlannedStep, current: str) -> StepStart:
    """Record a later step as running with its agent and key as they are now; an agent
    deleted while earlier steps ran breaks the live link cleanly (_Stopped)."""
    with transaction(run.app.sessions) as s:
        agent = agent_repo.get_agent(s, run.team_id, p.agent_id) if p.agent_id else None
        if agent is not None:
            provider_id, _ = parse_model_ref(agent.model)
            keys = {provider_id: effective_key(s, run.app, run.team_id, provider_id)}
            return start_step(s, run.rid, p.position, agent, current, keys)
    raise _Stopped(FailureKind.ORPHANED_STEP, messages.orphaned_step(p.position, p.agent_name), p.position)


def _run_step(run: RunContext, start: RunStart, p: PlannedStep, step: StepStart, current: str) -> StepCall:
    """Call the step's model: what it produced and cost, with its latency; a failure is
    recorded on the step and stops the run (_Stopped). A cancelled run's step keeps what
    the model had written and what it cost so far."""
    snap, provider_id = step.snap, step.provider_id
    plan = StepPlan(p.position, snap["name"], snap["model"], catalog.display_name(snap["model"]))
    named = f"Step {p.position} ({snap['name']}, {catalog.display_name(snap['model'])})"
    run.reporter.step_started(run.info, plan)
    t0 = time.monotonic()

    def failed(kind: str, message: str, shown: str, **kept: Any) -> _Stopped:
        _record_step_failure(run.app, step.step_id, kind, message, int((time.monotonic() - t0) * 1000), **kept)
        return _Stopped(kind, shown, p.position)

    try:
        if not step.key:
            raise RunRejected(FailureKind.MISSING_KEY, messages.missing_key(provider_id))
        timeout = max(1.0, min(run.app.settings.PIPEBOT_PROVIDER_TIMEOUT_SECONDS, run.deadline - time.monotonic()))
        extra = _step_inputs(run, start, p.position, snap)
        asks = bool(selected_servers(snap.get("tools") or []))  # only MCP tools may have paused a step
        resume = tool_decision(run.app.sessions, run.rid, p.position) if asks else None
        request = StepRequest(snap, current, step.key, plan, timeout, extra.context, extra.attachments, resume)
        call = call_agent(run, request)
    except ToolApprovalNeeded as paused:
        raise _Waiting(_ask_tool(run, p, step, paused)) from None
    except StateUnreadable as exc:
        raise failed(FailureKind.INTERNAL_ERROR, str(exc), f"{named}: {exc}") from None
    except RunCancelled as exc:
        raise failed(CANCELLED, str(exc), str(exc), output=exc.output, call=exc.call) from None
    except ProviderError as exc:
        kind = exc.kind.value
        shown = messages.provider_failure(
            p.position, snap["name"], catalog.display_name(snap["model"]), provider_id, kind, exc.message
        )
        raise failed(kind, str(exc), shown) from None
    except StepFailed as exc:
        raise failed(exc.kind, exc.message, f"{named}: {exc.message}", output=exc.output, call=exc.call) from None
    except RunRejected as exc:
        _record_step_failure(run.app, step.step_id, exc.kind, exc.message, 0)
        raise _Stopped(exc.kind, exc.message, p.position) from None
    call.latency_ms = int((time.monotonic() - t0) * 1000)
    return call


def _finish_step(run: RunContext, p: PlannedStep, step: StepStart, call: StepCall) -> None:
    """Commit a step that succeeded (before the next begins: a re-run never pays for it
    again) and report it."""
    with transaction(run.app.sessions) as s:
        run_repo.finish_step(
            s,
            step.step_id,
            status=StepStatus.SUCCEEDED,
            output=call.output,
            latency_ms=call.latency_ms,
            usage=call.usage.to_dict(),
            raw_usage=call.raw_usage,
            cost_usd=call.cost_usd,
            price_version=call.price_version,
            tool_calls=call.tool_calls or None,
        )
    result = StepResult(
        p.position,
        step.snap["name"],
        step.snap["model"],
        call.output,
        call.cost_usd,
        call.usage.input_tokens,
        call.usage.output_tokens,
        call.latency_ms,
    )
    run.reporter.step_finished(run.info, result)


def _record_step_failure(
    ctx: AppContext,
    step_id: int,
    kind: str,
    message: str,
    latency_ms: int,
    *,
    output: str | None = None,
    call: StepCall | None = None,
) -> None:
    values: dict[str, Any] = {}
    if output is not None:
        values["output"] = clean_text(output)
    if call is not None and call.rounds:  # an answer came (and was paid for), it just cannot go on
        values.update(
            usage=call.usage.to_dict(),
            raw_usage=call.raw_usage,
            cost_usd=call.cost_usd,
            price_version=call.price_version,
            tool_calls=call.tool_calls or None,
        )
    with transaction(ctx.sessions) as s:
        run_repo.finish_step(
            s,
            step_id,
            status=StepStatus.FAILED,
            error_kind=kind,
            error_message=clean_text(message)[:4000],
            latency_ms=latency_ms,
            **values,
        )


def _fail_running_step(ctx: AppContext, rid: uuid.UUID, kind: str, message: str) -> None:
    with transaction(ctx.sessions) as s:
        run_repo.fail_running_steps(s, rid, kind, clean_text(message)[:4000])


def _fail(
    run: RunContext, kind: str, message: str, step: int | None = None, *, files: list[StoredFile] | None = None
) -> RunOutcome:
    """Close the run as failed (its artifact written) and tell its reporters. ``files``: the
    run's files as the executor knows them (None: read them)."""
    log.info("run %s failed: %s: %s", run.rid, kind, message)
    outcome = write_outcome(
        run.app,
        run.team_id,
        run.rid,
        status=RunStatus.FAILED,
        error_kind=kind,
        error_message=clean_text(message),
        error_step=step,
        files=files,
    )
    run.reporter.run_finished(run.info, outcome)
    _notice_spend(run)
    return outcome


def _load_artifact(ctx: AppContext, team_id: str, gate: ArtifactGate, artifact_id: str) -> dict[str, Any] | None:
    """The artifact's content when ``gate`` lets this run read it (else None, as if missing)."""
    with transaction(ctx.sessions) as s:
        art = artifact_repo.get_artifact(s, team_id, artifact_id)
        if art is None:
            return None
        content, channel = dict(art.content), art.channel_id
    return content if gate(channel) else None
