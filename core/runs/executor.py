"""Running a pipeline: claim the run, resume after its last finished step, call each agent as it
is when its step starts, record every step, and write exactly one artifact.

Idempotent by construction: a finished step is committed before the next begins, and a
re-run (after a killed worker) skips every finished step, so none is paid for twice.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from core import agents as agents_mod
from core.context import AppContext
from core.credentials import base_url, deployment_key, effective_key
from core.errors import RunRejected
from core.reporter import NullReporter, Reporter, RunInfo, RunOutcome, SafeReporter, StepPlan, StepResult
from core.runs.queue import HEARTBEAT_S, RUN_TIME_LIMIT_S, STALE_AFTER_S
from core.text import clean_text
from core.tools import MAX_TOOL_ROUNDS, TOOLS, ToolContext, run_tool
from providers import catalog
from providers.errors import ProviderError
from providers.registry import PROVIDER_NAMES, get_provider, parse_model_ref
from providers.types import ChatRequest, Done, Message, Response, TextDelta, TextPart, ToolResult, Usage
from storage import repos
from storage.db import transaction
from storage.models import Agent, Artifact, Pipeline, PipelineStep, ProviderCredential, Run, RunStep

log = logging.getLogger(__name__)

DEFAULT_MAX_OUTPUT_TOKENS = 4096
# Longest wait for the provider's next bytes (a stalled stream ends as a timeout); tunable.
PROVIDER_TIMEOUT_S = float(os.environ.get("PIPEBOT_PROVIDER_TIMEOUT_SECONDS", "120"))
# A reply that broke off after some of it had streamed (the provider layer retries only
# before the first byte) is asked again this many times when the failure is transient.
STREAM_RETRIES = 2
STREAM_RETRY_DELAY_S = 1.0
ProviderFactory = Callable[..., Any]


@dataclass
class _Plan:
    position: int
    agent_id: int | None
    agent_name: str
    model: str = ""


@dataclass
class _StepCall:
    output: str
    usage: Usage
    raw_usage: list[dict[str, Any]] = field(default_factory=list)
    cost_usd: Decimal | None = Decimal(0)
    price_version: str | None = None
    rounds: int = 0


class _StepFailed(Exception):
    """A step that got an answer which cannot go on down the pipeline (a refusal, nothing
    at all); ``output`` is what the step shows for it, ``call`` what it cost."""

    def __init__(self, kind: str, message: str, output: str | None = None, call: _StepCall | None = None) -> None:
        super().__init__(message)
        self.kind, self.message, self.output, self.call = kind, message, output, call


_CLAIM = text(
    "UPDATE runs SET status = 'running', attempts = attempts + 1, heartbeat_at = now(), "
    "started_at = coalesce(started_at, now()) "
    "WHERE team_id = :t AND id = :id AND (status = 'queued' OR "
    "(status = 'running' AND heartbeat_at < now() - make_interval(secs => :stale))) "
    "RETURNING pipeline_id, pipeline_name, input, requested_by, source, channel_id, thread_ts, recipient_team_id")


@dataclass
class _Start:
    """What a claimed run needs, read in the transaction that claims it."""

    info: RunInfo
    plan: list[_Plan]
    done: dict[int, Any]  # position -> (output, cost_usd) of steps an earlier attempt finished
    budget: Decimal | None
    keys: dict[str, str | None]
    problem: RunRejected | None = None
    first: _StepStart | None = None  # the first pending step, already recorded as running


@dataclass
class _StepStart:
    step_id: int
    snap: dict[str, Any]
    provider_id: str
    key: str | None


def _claim_and_load(ctx: AppContext, team_id: str, rid: uuid.UUID) -> _Start | None:
    """Take the run (if queued, or running with a dead heartbeat: one winner, ever) and read
    its pipeline, agents, finished steps and keys in the same transaction; when nothing
    stands in the way, the first pending step is recorded as running there too. A forked
    work horse pays a round trip per statement, so a run's bookkeeping is kept to a few."""
    with transaction(ctx.sessions) as s:
        run = s.execute(_CLAIM, {"t": team_id, "id": rid, "stale": STALE_AFTER_S}).mappings().first()
        if run is None:
            return None
        done = {r.position: r for r in s.execute(_finished_steps(rid))}
        rows = s.execute(_pipeline_plan(team_id, run["pipeline_id"])).all() \
            if run["pipeline_id"] is not None else []
        stored = dict(s.execute(_stored_keys(team_id)).tuples().all())
        keys = {p: (ctx.box.decrypt(stored[p]) if p in stored else None) or deployment_key(ctx, p)
                for p in PROVIDER_NAMES}
        plan, agents = [], {}
        for row in rows:
            if row.position is None:  # a pipeline without steps
                continue
            agent = row.Agent if row.agent_id is not None else None
            plan.append(_Plan(row.position, agent.id if agent else None, agent.name if agent else row.agent_name,
                              agent.model if agent else ""))
            if agent is not None:
                agents[row.position] = agent
        info = RunInfo(
            run_id=str(rid), team_id=team_id, pipeline_name=run["pipeline_name"], input=run["input"],
            requested_by=run["requested_by"], source=run["source"], channel_id=run["channel_id"],
            thread_ts=run["thread_ts"], recipient_team_id=run["recipient_team_id"],
            steps=[StepPlan(p.position, p.agent_name, p.model, _display(p.model)) for p in plan],
            resumed_from=len(done),
        )
        start = _Start(info, plan, done, rows[0].budget_usd if rows else None, keys)
        try:
            _preflight(keys, bool(rows), plan, done)
        except RunRejected as exc:
            start.problem = exc
            return start
        pending = next((p for p in plan if p.position not in done), None)
        if pending is not None and not _over_budget(start.budget, _spent(done)):
            start.first = _start_step(s, rid, pending.position, agents[pending.position], _current(done, info), keys)
        return start


def _finished_steps(rid: uuid.UUID) -> Any:
    return (select(RunStep.position, RunStep.output, RunStep.cost_usd)
            .where(RunStep.run_id == rid, RunStep.status == "succeeded"))


def _pipeline_plan(team_id: str, pipeline_id: int) -> Any:
    """The pipeline's budget and steps, each with its agent as it is now (None: deleted)."""
    return (select(Pipeline.budget_usd, PipelineStep.position, PipelineStep.agent_id, PipelineStep.agent_name, Agent)
            .select_from(Pipeline)
            .outerjoin(PipelineStep, PipelineStep.pipeline_id == Pipeline.id)
            .outerjoin(Agent, and_(Agent.id == PipelineStep.agent_id, Agent.team_id == team_id))
            .where(Pipeline.team_id == team_id, Pipeline.id == pipeline_id)
            .order_by(PipelineStep.position))


def _stored_keys(team_id: str) -> Any:
    return select(ProviderCredential.provider, ProviderCredential.ciphertext).where(ProviderCredential.team_id == team_id)


def _spent(done: dict[int, Any]) -> Decimal:
    return sum((st.cost_usd or Decimal(0) for st in done.values()), Decimal(0))


def _current(done: dict[int, Any], info: RunInfo) -> str:
    return done[max(done)].output if done else info.input


def _over_budget(budget: Decimal | None, spent: Decimal) -> bool:
    return budget is not None and spent >= budget


def _start_step(s: Any, rid: uuid.UUID, position: int, agent: Agent, step_input: str,
                keys: dict[str, str | None]) -> _StepStart:
    """Record the step as running with the agent as it is now (a retry of the step replaces
    the row its failed attempt left)."""
    snap = agents_mod.snapshot(agent)
    provider_id, _ = parse_model_ref(agent.model)
    fields = {"status": "running", "agent_id": agent.id, "agent_snapshot": snap, "model": agent.model,
              "input": step_input}
    reset = {"output": None, "usage": None, "raw_usage": None, "cost_usd": None, "price_version": None,
             "latency_ms": None, "error_kind": None, "error_message": None, "finished_at": None,
             "started_at": func.now()}
    step_id = s.execute(
        pg_insert(RunStep).values(run_id=rid, position=position, **fields)
        .on_conflict_do_update(constraint="uq_run_steps_run_position", set_={**fields, **reset})
        .returning(RunStep.id)).scalar_one()
    return _StepStart(step_id, snap, provider_id, keys.get(provider_id))


class _Heartbeat(threading.Thread):
    """Proves the worker is alive; the reaper requeues runs whose heartbeat stops."""

    def __init__(self, ctx: AppContext, team_id: str, run_id: uuid.UUID) -> None:
        super().__init__(daemon=True, name=f"heartbeat-{run_id}")
        self._ctx, self._team_id, self._run_id = ctx, team_id, run_id
        self._stop = threading.Event()

    def run(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            try:
                with self._ctx.engine.begin() as conn:
                    conn.execute(text("UPDATE runs SET heartbeat_at = now() WHERE team_id = :t AND id = :id "
                                      "AND status = 'running'"), {"t": self._team_id, "id": self._run_id})
            except Exception:  # noqa: BLE001 - a missed beat is not fatal; many are
                log.exception("heartbeat for run %s failed", self._run_id)

    def stop(self) -> None:
        self._stop.set()


def warm_statements(ctx: AppContext, team_id: str, rid: uuid.UUID) -> None:
    """Run the executor's statements against ids that match nothing, then roll back (see
    bot.worker.main.warm_up): a forked horse inherits them compiled."""
    with ctx.sessions() as s:
        s.execute(_CLAIM, {"t": team_id, "id": rid, "stale": STALE_AFTER_S})
        s.execute(_finished_steps(rid)).all()
        s.execute(_pipeline_plan(team_id, 0)).all()
        s.execute(_stored_keys(team_id)).all()
        repos.get_agent(s, team_id, 0)
        repos.get_credential(s, team_id, "anthropic", ctx.box)
        _finish_step(s, 0, status="succeeded", output="", latency_ms=0, usage={}, raw_usage=[], cost_usd=None,
                     price_version=None)
        _finish_step(s, 0, status="failed", error_kind="", error_message="", latency_ms=0)
        s.execute(_close_run_stmt(team_id, rid, "succeeded", "", None, None))
        s.execute(_steps_of(rid)).all()
        s.rollback()


def execute(ctx: AppContext, team_id: str, run_id: str | uuid.UUID, reporter: Reporter | None = None, *,
            provider_factory: ProviderFactory = get_provider) -> RunOutcome | None:
    """Run the pipeline of `run_id`; None when another worker owns it or it already finished."""
    rid = uuid.UUID(str(run_id))
    start = _claim_and_load(ctx, team_id, rid)
    if start is None:
        log.info("run %s is not claimable (finished or owned by a live worker)", rid)
        return None
    beat = _Heartbeat(ctx, team_id, rid)
    beat.start()
    safe = SafeReporter(reporter or NullReporter())
    try:
        return _execute(ctx, team_id, rid, start, safe, provider_factory)
    except Exception as exc:  # noqa: BLE001 - a bug or an outage must not leave the run "running"
        timed_out = type(exc).__name__ == "JobTimeoutException"  # RQ's job timeout, raised in the job
        log.exception("run %s stopped by an unexpected error", rid)
        try:
            _fail_running_step(ctx, rid, "time_limit" if timed_out else "internal_error", str(exc))
            if timed_out:
                return _fail(ctx, team_id, rid, start.info, safe, "time_limit",
                             f"The run hit its time limit of {RUN_TIME_LIMIT_S // 60} minutes and was stopped.")
            return _fail(ctx, team_id, rid, start.info, safe, "internal_error",
                         f"pipebot hit an internal error running this pipeline ({type(exc).__name__}). "
                         "Try again; if it keeps happening, tell the admin of this app.")
        except Exception:  # noqa: BLE001 - e.g. the database is gone too: the reaper takes over
            log.exception("could not mark run %s failed", rid)
            raise exc from None
    finally:
        beat.stop()


def _execute(ctx: AppContext, team_id: str, rid: uuid.UUID, start: _Start, reporter: SafeReporter,
             factory: ProviderFactory) -> RunOutcome:
    deadline = time.monotonic() + RUN_TIME_LIMIT_S
    info, done = start.info, start.done
    reporter.run_started(info)
    if start.problem is not None:
        return _fail(ctx, team_id, rid, info, reporter, start.problem.kind, start.problem.message)
    current, spent = _current(done, info), _spent(done)
    tool_ctx = ToolContext(team_id, lambda aid: _load_artifact(ctx, team_id, aid))
    for p in start.plan:
        if p.position in done:
            continue
        if time.monotonic() > deadline:
            return _fail(ctx, team_id, rid, info, reporter, "time_limit",
                         f"The run hit its time limit of {RUN_TIME_LIMIT_S // 60} minutes before step {p.position}.", p.position)
        if _over_budget(start.budget, spent):
            return _fail(ctx, team_id, rid, info, reporter, "budget_exceeded",
                         f"The pipeline's budget of ${start.budget:.2f} was used up (${spent:.4f}) before step {p.position}.", p.position)
        step, start.first = start.first, None
        if step is None:  # a later step: the agent and the key as they are now (live link)
            with transaction(ctx.sessions) as s:
                agent = repos.get_agent(s, team_id, p.agent_id) if p.agent_id else None
                if agent is None:  # deleted while earlier steps ran: the live link breaks cleanly
                    return _fail(ctx, team_id, rid, info, reporter, "orphaned_step", _orphan_message(p), p.position)
                provider_id, _ = parse_model_ref(agent.model)
                keys = {provider_id: effective_key(s, ctx, team_id, provider_id)}
                step = _start_step(s, rid, p.position, agent, current, keys)
        snap, provider_id = step.snap, step.provider_id
        step_plan = StepPlan(p.position, snap["name"], snap["model"], _display(snap["model"]))
        reporter.step_started(info, step_plan)
        t0 = time.monotonic()
        try:
            if not step.key:
                raise RunRejected("missing_key", _missing_key_message(provider_id))
            call = _call_agent(ctx, snap, current, step.key, factory, reporter, info, step_plan, tool_ctx,
                               timeout=max(1.0, min(PROVIDER_TIMEOUT_S, deadline - time.monotonic())),
                               deadline=deadline)
        except ProviderError as exc:
            _record_step_failure(ctx, step.step_id, exc.kind.value, str(exc), int((time.monotonic() - t0) * 1000))
            return _fail(ctx, team_id, rid, info, reporter, exc.kind.value,
                         f"Step {p.position} ({snap['name']}, {_display(snap['model'])}) failed: "
                         f"{PROVIDER_NAMES.get(provider_id, provider_id)} {_kind_words(exc.kind.value)}. "
                         f"{exc.message.rstrip('.')}.{_kind_advice(exc.kind.value, provider_id)}", p.position)
        except _StepFailed as exc:
            _record_step_failure(ctx, step.step_id, exc.kind, exc.message, int((time.monotonic() - t0) * 1000),
                                 output=exc.output, call=exc.call)
            return _fail(ctx, team_id, rid, info, reporter, exc.kind,
                         f"Step {p.position} ({snap['name']}, {_display(snap['model'])}): {exc.message}", p.position)
        except RunRejected as exc:
            _record_step_failure(ctx, step.step_id, exc.kind, exc.message, 0)
            return _fail(ctx, team_id, rid, info, reporter, exc.kind, exc.message, p.position)
        latency = int((time.monotonic() - t0) * 1000)
        with transaction(ctx.sessions) as s:
            _finish_step(s, step.step_id, status="succeeded", output=call.output, latency_ms=latency,
                         usage=call.usage.to_dict(), raw_usage=call.raw_usage, cost_usd=call.cost_usd,
                         price_version=call.price_version)
        spent += call.cost_usd or Decimal(0)
        current = call.output
        reporter.step_finished(info, StepResult(p.position, snap["name"], snap["model"], call.output, call.cost_usd,
                                                call.usage.input_tokens, call.usage.output_tokens, latency))
    outcome = write_outcome(ctx, team_id, rid, status="succeeded", output=current)
    reporter.run_finished(info, outcome)
    return outcome


def _finish_step(s: Any, step_id: int, **values: Any) -> None:
    s.execute(update(RunStep).where(RunStep.id == step_id).values(finished_at=func.now(), **values),
              execution_options={"synchronize_session": False})


def _preflight(keys: dict[str, str | None], pipeline_exists: bool, plan: list[_Plan], done: dict[int, Any]) -> None:
    """Fail before any provider is called: deleted pipeline, orphaned steps, missing keys."""
    if not pipeline_exists:
        raise RunRejected("pipeline_deleted", "The pipeline was deleted before this run started.")
    if not plan:
        raise RunRejected("empty_pipeline", "The pipeline has no steps. Add a step with `/pipebot pipeline edit`.")
    for p in plan:
        if p.position not in done and p.agent_id is None:
            raise RunRejected("orphaned_step", _orphan_message(p))
    for p in plan:
        if p.position in done or not p.model:
            continue
        provider_id, _ = parse_model_ref(p.model)
        if not keys.get(provider_id):
            raise RunRejected("missing_key", _missing_key_message(provider_id))


def _orphan_message(p: _Plan) -> str:
    return (f"Step {p.position} uses the agent “{p.agent_name}”, which was deleted. "
            f"Edit the pipeline and pick another agent for step {p.position}.")


def _missing_key_message(provider_id: str) -> str:
    name = PROVIDER_NAMES.get(provider_id, provider_id)
    return f"No {name} API key is set for this workspace. An admin can add one with `/pipebot settings`."


def _kind_words(kind: str) -> str:
    return {
        "auth": "rejected the API key", "permission": "refused access", "not_found": "does not know the model",
        "rate_limit": "kept rate-limiting the request", "overloaded": "stayed overloaded",
        "bad_request": "rejected the request", "context_too_long": "found the input too long for the model",
        "timeout": "timed out", "connection": "could not be reached", "server": "kept failing with server errors",
    }.get(kind, f"failed ({kind})")


def _kind_advice(kind: str, provider_id: str) -> str:
    """What a person can do about a failure of this kind (leading space), or nothing."""
    name = PROVIDER_NAMES.get(provider_id, provider_id)
    return {
        "auth": f" The workspace's {name} API key may have been revoked or rotated: an admin can set a "
                f"working key with `/pipebot settings`.",
        "permission": f" Check the {name} account's access and billing, or have an admin set another key "
                      f"with `/pipebot settings`.",
        "not_found": " Edit the agent and pick another model.",
        "context_too_long": " Try a shorter input, or an agent whose model has a larger context window.",
    }.get(kind, "")


def _display(model_ref: str) -> str:
    if not model_ref:
        return ""
    info = catalog.lookup(model_ref)
    return info.display_name if info else model_ref


def _call_agent(ctx: AppContext, snap: dict[str, Any], user_input: str, key: str, factory: ProviderFactory,
                reporter: SafeReporter, info: RunInfo, step: StepPlan, tool_ctx: ToolContext,
                *, timeout: float, deadline: float | None = None) -> _StepCall:
    """One step: stream the reply, run requested tools, loop a bounded number of rounds."""
    provider_id, model_id = parse_model_ref(snap["model"])
    model = catalog.resolve(snap["model"])
    provider = factory(provider_id, key, base_url=base_url(ctx, provider_id), timeout=timeout)
    max_out = snap.get("max_output_tokens") or min(DEFAULT_MAX_OUTPUT_TOKENS, model.max_output_tokens or DEFAULT_MAX_OUTPUT_TOKENS)
    tools = [TOOLS[n].spec for n in snap.get("tools") or [] if n in TOOLS] if model.supports_tools else []
    messages = [Message(role="user", parts=[TextPart(user_input)])]
    call = _StepCall(output="", usage=Usage(0, 0))
    response = None
    for round_no in range(MAX_TOOL_ROUNDS + 1):
        req = ChatRequest(model=model_id, system=snap.get("system_prompt") or None, messages=messages,
                          tools=tools if round_no < MAX_TOOL_ROUNDS else [],
                          temperature=snap.get("temperature"), max_output_tokens=max_out, deadline=deadline)
        response = _one_round(provider, req, model.supports_streaming, reporter, info, step, call, deadline)
        _count(call, response)
        if not response.tool_calls:
            break
        messages.append(response.to_message())  # keeps signed thinking blocks the API wants back
        results = []
        for tc in response.tool_calls:
            if tc.arguments_error:
                results.append(ToolResult(tc.id, f"invalid arguments: {tc.arguments_error}", True))
                continue
            content, is_error = run_tool(tool_ctx, tc.name, tc.arguments)
            results.append(ToolResult(tc.id, content, is_error))
        messages.append(Message(role="user", parts=results))
    assert response is not None  # the loop runs at least once, and each round answers or raises
    text_out = clean_text(response.text)
    stop = response.stop_reason
    if stop == "refusal":
        said = text_out.strip()
        detail = response.stop_detail or ""
        raw = response.raw_stop_reason
        if raw == "refusal" and response.provider == "openai" and said and not detail:
            detail, said = said, ""  # OpenAI's refusal part is the model's own words of refusal
        elif raw == "content_filter" and not detail:
            detail = "the provider's content filter stopped the reply"
        why = f": {detail}" if detail else " (no reason given)"
        note = f"The model declined to answer{why}"
        call.output = f"{said}\n\n[{note}]" if said else note
        raise _StepFailed("refusal", f"{note}. Rephrase the input or pick another model for this agent.",
                          call.output, call)
    if not text_out.strip():
        if stop == "max_tokens":
            why = (f"it used its whole output budget ({max_out:,} tokens) before writing any text; raise "
                   f"Max output tokens on the agent")
        else:
            why = f"the model returned no text (stop reason: {response.raw_stop_reason or stop})"
        raise _StepFailed("empty_output", f"no text came back: {why}.", "", call)
    call.output = text_out
    return call


def _count(call: _StepCall, response: Response) -> None:
    call.rounds += 1
    call.usage = call.usage + response.usage
    call.raw_usage.append(response.raw_usage)
    call.price_version = response.price_version or call.price_version
    call.cost_usd = None if call.cost_usd is None or response.cost_usd is None else call.cost_usd + response.cost_usd


def _one_round(provider: Any, req: ChatRequest, streaming: bool, reporter: SafeReporter, info: RunInfo,
               step: StepPlan, call: _StepCall, deadline: float | None) -> Response:
    """One model call. The provider retries transient failures before the first byte; a
    stream that breaks off after some text (an `error` event inside a 200 stream, a cut
    connection, a stall) is asked again here, a bounded number of times within the run's
    time, and the reporters are told the text so far is void. What the broken attempt
    cost is counted."""
    if not streaming:
        response = provider.complete(req)
        if response.text:
            reporter.text_delta(info, step, response.text)
        return response
    for attempt in range(STREAM_RETRIES + 1):
        response = None
        try:
            for ev in provider.stream(req):
                if isinstance(ev, TextDelta):
                    reporter.text_delta(info, step, ev.text)
                elif isinstance(ev, Done):
                    response = ev.response
        except ProviderError as exc:
            partial = exc.partial
            streamed = partial is not None and (partial.text or partial.tool_calls)
            if streamed:
                _count(call, partial)  # the provider bills what it sent before it broke off
                call.rounds -= 1
            wait = min(max(exc.retry_after or STREAM_RETRY_DELAY_S * (attempt + 1), 0.0), 30.0)
            if (not streamed or not exc.retryable or attempt >= STREAM_RETRIES
                    or (deadline is not None and time.monotonic() + wait + 1 >= deadline)):
                raise
            log.info("step %s of run %s: the reply broke off (%s); asking again", step.position, info.run_id, exc)
            reporter.step_retrying(info, step, f"{exc.kind.value}: {exc.message}")
            time.sleep(wait)
            continue
        if response is None:  # a provider bug, not a fault: fail the step, never hang or crash
            raise ProviderError("server", "the reply ended without its final event", provider=provider.id)
        return response
    raise AssertionError("unreachable")


def _record_step_failure(ctx: AppContext, step_id: int, kind: str, message: str, latency_ms: int, *,
                         output: str | None = None, call: _StepCall | None = None) -> None:
    values: dict[str, Any] = {}
    if output is not None:
        values["output"] = clean_text(output)
    if call is not None and call.rounds:  # an answer came (and was paid for), it just cannot go on
        values.update(usage=call.usage.to_dict(), raw_usage=call.raw_usage, cost_usd=call.cost_usd,
                      price_version=call.price_version)
    with transaction(ctx.sessions) as s:
        _finish_step(s, step_id, status="failed", error_kind=kind, error_message=clean_text(message)[:4000],
                     latency_ms=latency_ms, **values)


def _fail_running_step(ctx: AppContext, rid: uuid.UUID, kind: str, message: str) -> None:
    with transaction(ctx.sessions) as s:
        s.execute(update(RunStep).where(RunStep.run_id == rid, RunStep.status == "running")
                  .values(status="failed", error_kind=kind, error_message=clean_text(message)[:4000],
                          finished_at=func.now()), execution_options={"synchronize_session": False})


def _fail(ctx: AppContext, team_id: str, rid: uuid.UUID, info: RunInfo, reporter: SafeReporter,
          kind: str, message: str, step: int | None = None) -> RunOutcome:
    log.info("run %s failed: %s: %s", rid, kind, message)
    message = clean_text(message)
    outcome = write_outcome(ctx, team_id, rid, status="failed", error_kind=kind, error_message=message, error_step=step)
    reporter.run_finished(info, outcome)
    return outcome


def _load_artifact(ctx: AppContext, team_id: str, artifact_id: str) -> dict[str, Any] | None:
    with transaction(ctx.sessions) as s:
        art = repos.get_artifact(s, team_id, artifact_id)
        return dict(art.content) if art else None


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f")


def _close_run_stmt(team_id: str, rid: uuid.UUID, status: str, output: str | None, error_kind: str | None,
                    error_message: str | None) -> Any:
    return (update(Run).where(Run.team_id == team_id, Run.id == rid, Run.status.not_in(("succeeded", "failed")))
            .values(status=status, output=output, error_kind=error_kind, error_message=error_message,
                    finished_at=func.now()).execution_options(synchronize_session=False))


def _steps_of(rid: uuid.UUID) -> Any:
    return select(RunStep).where(RunStep.run_id == rid).order_by(RunStep.position)


def write_outcome(ctx: AppContext, team_id: str, rid: uuid.UUID, *, status: str | None = None,
                  output: str | None = None, error_kind: str | None = None, error_message: str | None = None,
                  error_step: int | None = None) -> RunOutcome:
    """Close the run and write its one artifact, in one transaction (the artifact insert is
    idempotent on run_id, so a second call changes nothing)."""
    from core.links import artifact_permalink, thread_url

    with transaction(ctx.sessions) as s:
        if status is not None:  # a run that already ended keeps how it ended
            s.execute(_close_run_stmt(team_id, rid, status, output, error_kind, error_message))
        steps = s.execute(_steps_of(rid)).scalars().all()
        finished = [st for st in steps if st.status == "succeeded"]
        # What the run cost: every finished step (an unknown price makes the total unknown),
        # plus whatever a failed step was charged before it failed (a refusal is paid for).
        costs = [st.cost_usd for st in finished] + [st.cost_usd for st in steps
                                                     if st.status == "failed" and st.cost_usd is not None]
        total = None if any(c is None for c in costs) else sum(costs, Decimal(0))
        run = s.execute(update(Run.__table__).where(Run.team_id == team_id, Run.id == rid).values(cost_usd=total)
                        .returning(*Run.__table__.c)).one()
        usage = Usage(0, 0)
        for st in finished:
            if st.usage:
                usage = usage + Usage(**{k: st.usage.get(k, 0) for k in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")})
        models = list(dict.fromkeys(st.model for st in steps))
        duration = int(((run.finished_at or datetime.now(timezone.utc)) - (run.started_at or run.created_at)).total_seconds() * 1000)
        content = {
            "version": 1, "run_id": str(run.id), "team_id": team_id, "status": run.status,
            "pipeline": {"id": run.pipeline_id, "name": run.pipeline_name},
            "input": run.input, "output": run.output, "requested_by": run.requested_by, "source": run.source,
            "created_at": _iso(run.created_at), "started_at": _iso(run.started_at), "finished_at": _iso(run.finished_at),
            "duration_ms": duration, "cost_usd": _dec(total), "models": models, "usage": usage.to_dict(),
            "attempts": run.attempts,
            "slack": ({"channel_id": run.channel_id, "thread_ts": run.thread_ts,
                       "thread_url": thread_url(run.channel_id, run.thread_ts, team_id)} if run.channel_id else None),
            "error": ({"kind": run.error_kind, "message": run.error_message, "step": error_step}
                      if run.status == "failed" else None),
            "steps": [{
                "position": st.position, "status": st.status, "agent": st.agent_snapshot, "model": st.model,
                "model_display": _display(st.model), "input": st.input, "output": st.output,
                "usage": st.usage, "raw_usage": st.raw_usage, "cost_usd": _dec(st.cost_usd),
                "price_version": st.price_version, "latency_ms": st.latency_ms,
                "error": {"kind": st.error_kind, "message": st.error_message} if st.error_kind else None,
            } for st in steps],
        }
        stmt = pg_insert(Artifact).values(
            team_id=team_id, run_id=run.id, pipeline_id=run.pipeline_id, pipeline_name=run.pipeline_name,
            status=run.status, cost_usd=total, models=models, created_by=run.requested_by, content=content,
        ).on_conflict_do_nothing(index_elements=[Artifact.run_id]).returning(Artifact.id)
        artifact_id = s.execute(stmt).scalar()
        if artifact_id is None:
            artifact_id = repos.get_artifact_for_run(s, team_id, run.id).id
        outcome = RunOutcome(
            run_id=str(run.id), status=run.status, output=run.output, error_kind=run.error_kind,
            error_message=run.error_message, cost_usd=total, models=models, duration_ms=duration,
            artifact_id=str(artifact_id), permalink=artifact_permalink(ctx, team_id, str(artifact_id)),
            steps=[StepResult(st.position, (st.agent_snapshot or {}).get("name", ""), st.model, st.output or "",
                              st.cost_usd, (st.usage or {}).get("input_tokens", 0),
                              (st.usage or {}).get("output_tokens", 0), st.latency_ms or 0) for st in finished],
        )
    return outcome
