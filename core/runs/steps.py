"""One step's model call: the request built from the agent as the step snapshotted it, the
rounds of tool use, a reply that broke off mid-stream asked again, and the answers that
cannot go on down the pipeline (a refusal, no text at all) turned into a step failure."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from core.credentials import base_url
from core.mcp.tools import McpTool
from core.reporter import StepPlan, ToolCallView
from core.runs import step_state
from core.runs.cancel_watch import RunCancelled
from core.runs.run_context import RunContext, StepRequest
from core.runs.step_state import Conversation, Spent, ToolDecision
from core.runs.step_tools import StepTools, answer, approval_for, server_record, server_view, step_tools
from core.text import clean_text
from core.timings import STREAM_RETRY_DELAY_S, STREAM_RETRY_MAX_WAIT_S
from core.tools import MAX_TOOL_ROUNDS
from providers import catalog
from providers.base import Provider
from providers.errors import ErrorKind, ProviderError
from providers.registry import get_provider, parse_model_ref
from providers.types import (
    ChatRequest,
    Done,
    Message,
    Part,
    Response,
    ServerToolEvent,
    TextDelta,
    TextPart,
    ToolCall,
    Usage,
)
from storage.states import FailureKind

log = logging.getLogger(__name__)

DEFAULT_MAX_OUTPUT_TOKENS = 4096
# A reply that broke off after some of it had streamed (the provider layer retries only
# before the first byte) is asked again this many times when the failure is transient.
STREAM_RETRIES = 2


@dataclass
class StepCall:
    """What a step's model call produced and cost, over all its rounds."""

    output: str
    usage: Usage
    raw_usage: list[dict[str, Any]] = field(default_factory=list)
    cost_usd: Decimal | None = Decimal(0)
    price_version: str | None = None
    rounds: int = 0
    latency_ms: int = 0  # the whole step's, set by the executor
    tool_calls: list[dict[str, Any]] = field(default_factory=list)  # core/tool_calls.py records


class StepFailed(Exception):
    """A step that got an answer which cannot go on down the pipeline (a refusal, nothing
    at all); ``output`` is what the step shows for it, ``call`` what it cost."""

    def __init__(self, kind: str, message: str, output: str | None = None, call: StepCall | None = None) -> None:
        super().__init__(message)
        self.kind, self.message, self.output, self.call = kind, message, output, call


class ToolApprovalNeeded(Exception):  # noqa: N818 - not an error: the step pauses for a person
    """The model called a tool of a server that asks before every call (DESIGN §12): the step
    stops here, its conversation kept (``state``, core/runs/step_state.py) with what it cost
    so far (``call``), and the run waits for Allow / Deny on ``tool`` called as ``tc``."""

    def __init__(self, tool: McpTool, tc: ToolCall, state: dict[str, Any], call: StepCall, said: str) -> None:
        super().__init__(tool.label)
        self.tool, self.tc, self.state, self.call, self.said = tool, tc, state, call, said


def call_agent(run: RunContext, step: StepRequest) -> StepCall:
    """One step: stream the reply, run requested tools, loop a bounded number of rounds.

    The run's cancel watch is asked between stream events and between rounds; a cancelled
    run's step raises RunCancelled carrying what it had written and what it cost so far. A
    call that needs a person's Allow raises ToolApprovalNeeded; the step then goes on from
    ``step.resume`` when the run is taken up again."""
    snap = step.snap
    provider_id, model_id = parse_model_ref(snap["model"])
    model = catalog.resolve(snap["model"])
    max_out = snap.get("max_output_tokens") or min(
        DEFAULT_MAX_OUTPUT_TOKENS, model.max_output_tokens or DEFAULT_MAX_OUTPUT_TOKENS
    )
    tools = step_tools(run, list(snap.get("tools") or []), model)
    if (problem := tools.problem()) is not None:
        raise StepFailed(FailureKind.TOOL_UNAVAILABLE, problem)
    provider = get_provider(provider_id, step.key, base_url=base_url(run.app, provider_id), timeout=step.timeout)
    call = StepCall(output="", usage=Usage(0, 0))
    conv, decided = Conversation(), step.resume
    if decided is not None:
        conv, spent = step_state.load(decided.state)
        _restore(call, spent)
    first = Message(role="user", parts=_first_turn(step))
    response: Response | None = None
    try:
        while True:
            if conv.pending:
                _answer_pending(run, step, tools, conv, call, decided)
                decided = None
                conv.later.append(Message(role="user", parts=list(conv.answered)))
                conv.pending, conv.answered = [], []
                conv.round_no += 1
                if run.cancel is not None:
                    run.cancel.check(clean_text(response.text if response is not None else ""))
            last = conv.round_no >= MAX_TOOL_ROUNDS
            req = ChatRequest(
                model=model_id,
                system=snap.get("system_prompt") or None,
                messages=[first, *conv.later],
                tools=tools.specs,
                temperature=snap.get("temperature"),
                max_output_tokens=max_out,
                deadline=run.deadline,
                server_tools=tools.server_tools,
                tool_choice="none" if last else "auto",
            )
            response = _one_round(run, step.plan, provider, req, model.supports_streaming, call)
            _count(call, response)
            call.tool_calls += [dict(server_record(c)) for c in response.server_tool_calls]
            if not response.tool_calls or last:
                break
            conv.later.append(response.to_message())  # keeps signed thinking blocks the API wants back
            conv.pending = list(response.tool_calls)
    except RunCancelled as exc:
        exc.call = call
        raise
    finally:
        tools.close()
    call.output = _usable_text(response, call, max_out)
    return call


def _answer_pending(
    run: RunContext,
    step: StepRequest,
    tools: StepTools,
    conv: Conversation,
    call: StepCall,
    decided: ToolDecision | None,
) -> None:
    """Answer the last turn's calls not answered yet, in order; the one a person decided
    (``decided``) as they said. A call that needs a person's Allow stops the step there."""
    position = step.plan.position
    for tc in conv.pending[len(conv.answered) :]:
        if decided is not None and tc.id == decided.call_id:
            result, record = answer(run, step.plan, tools, tc, denied_by=None if decided.allowed else decided.by)
            record["approval"] = {"verdict": "allowed" if decided.allowed else "denied", "by": decided.by}
            decided = None
        elif (tool := approval_for(tools, tc)) is not None:
            label = tool.label
            run.reporter.tool_call(run.info, step.plan, ToolCallView(tc.id, position, label, "", "waiting"))
            said = "".join(p.text for p in conv.later[-1].parts if isinstance(p, TextPart)) if conv.later else ""
            state = step_state.dump(conv, _spent(call))
            raise ToolApprovalNeeded(tool, tc, state, call, clean_text(said))
        else:
            result, record = answer(run, step.plan, tools, tc)
        conv.answered.append(result)
        call.tool_calls.append(dict(record))


def _spent(call: StepCall) -> Spent:
    return Spent(call.usage, call.raw_usage, call.cost_usd, call.price_version, call.rounds, call.tool_calls)


def _restore(call: StepCall, spent: Spent) -> None:
    call.usage, call.raw_usage, call.cost_usd = spent.usage, spent.raw_usage, spent.cost_usd
    call.price_version, call.rounds, call.tool_calls = spent.price_version, spent.rounds, spent.tool_calls


def _first_turn(step: StepRequest) -> list[Part]:
    """One user turn: the context (step 1: the thread, marked as such), the files, then the
    input; empty text left out (the APIs reject empty text blocks). A run of files alone
    has no input text."""
    parts: list[Part] = [TextPart(step.context)] if step.context else []
    parts += step.attachments
    if step.user_input or not parts:
        parts.append(TextPart(step.user_input))
    return parts


def _usable_text(response: Response, call: StepCall, max_out: int) -> str:
    """The reply's text, or StepFailed for an answer that cannot go on down the pipeline (a
    refusal, no text at all). Which words are the refusal's reason is the provider's to say
    (``Response.stop_detail``)."""
    text_out = clean_text(response.text)
    stop = response.stop_reason
    if stop == "refusal":
        said = text_out.strip()
        detail = clean_text(response.stop_detail or "").strip()
        if response.raw_stop_reason == "content_filter" and not detail:
            detail = "the provider's content filter stopped the reply"
        why = f": {detail}" if detail else " (no reason given)"
        note = f"The model declined to answer{why}"
        call.output = f"{said}\n\n[{note}]" if said else note
        raise StepFailed(
            FailureKind.REFUSAL, f"{note}. Rephrase the input or pick another model for this agent.", call.output, call
        )
    if not text_out.strip():
        if stop == "max_tokens":
            why = (
                f"it used its whole output budget ({max_out:,} tokens) before writing any text; raise "
                f"Max output tokens on the agent"
            )
        else:
            why = f"the model returned no text (stop reason: {response.raw_stop_reason or stop})"
        raise StepFailed(FailureKind.EMPTY_OUTPUT, f"no text came back: {why}.", "", call)
    return text_out


def _close(events: Any) -> None:
    close = getattr(events, "close", None)
    if close is not None:
        try:
            close()
        except Exception:  # noqa: BLE001 - closing a stream that already broke must not hide the cancel
            log.info("closing a cancelled stream failed", exc_info=True)


def _count(call: StepCall, response: Response) -> None:
    call.rounds += 1
    call.usage = call.usage + response.usage
    call.raw_usage.append(response.raw_usage)
    call.price_version = response.price_version or call.price_version
    call.cost_usd = None if call.cost_usd is None or response.cost_usd is None else call.cost_usd + response.cost_usd


def _one_round(
    run: RunContext, step: StepPlan, provider: Provider, req: ChatRequest, streaming: bool, call: StepCall
) -> Response:
    """One model call. The provider retries transient failures before the first byte; a
    stream that breaks off after some text (an `error` event inside a 200 stream, a cut
    connection, a stall) is asked again here, a bounded number of times within the run's
    time, and the reporters are told the text so far is void. What the broken attempt
    cost is counted.

    A cancelled run closes the stream (closing the provider's generator closes the HTTP
    response, so the model stops writing) and raises RunCancelled; a non-streaming call
    cannot be interrupted and ends first."""
    reporter, info, cancel, deadline = run.reporter, run.info, run.cancel, run.deadline
    if not streaming:
        answer = provider.complete(req)
        if answer.text:
            reporter.text_delta(info, step, answer.text)
        return answer
    for attempt in range(STREAM_RETRIES + 1):
        response: Response | None = None
        written: list[str] = []
        events = provider.stream(req)
        try:
            for ev in events:
                if isinstance(ev, TextDelta):
                    written.append(ev.text)
                    reporter.text_delta(info, step, ev.text)
                elif isinstance(ev, ServerToolEvent):
                    reporter.tool_call(info, step, server_view(ev.call, step.position))
                elif isinstance(ev, Done):
                    response = ev.response
                if cancel is not None and response is None and cancel.requested() is not None:
                    _close(events)
                    raise RunCancelled(cancel.requested() or "", clean_text("".join(written)))
        except ProviderError as exc:
            partial = exc.partial
            streamed = partial is not None and bool(partial.text or partial.tool_calls)
            if partial is not None and streamed:
                _count(call, partial)  # the provider bills what it sent before it broke off
                call.rounds -= 1
            wait = min(max(exc.retry_after or STREAM_RETRY_DELAY_S * (attempt + 1), 0.0), STREAM_RETRY_MAX_WAIT_S)
            if (
                not streamed
                or not exc.retryable
                or attempt >= STREAM_RETRIES
                or (deadline is not None and time.monotonic() + wait + 1 >= deadline)
            ):
                raise
            log.info("step %s of run %s: the reply broke off (%s); asking again", step.position, info.run_id, exc)
            reporter.step_retrying(info, step, f"{exc.kind.value}: {exc.message}")
            time.sleep(wait)
            continue
        if response is None:  # a provider bug, not a fault: fail the step, never hang or crash
            raise ProviderError(ErrorKind.SERVER, "the reply ended without its final event", provider=provider.id)
        return response
    raise AssertionError("unreachable")
