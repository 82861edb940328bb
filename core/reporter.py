"""How a run tells the world about its progress. `core` defines it; the CLI prints, the Slack
app posts into a thread. A reporter that fails must never fail the run: `SafeReporter`
logs and carries on."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StepPlan:
    position: int
    agent_name: str
    model: str
    model_display: str = ""


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    team_id: str
    pipeline_name: str
    input: str
    requested_by: str | None
    source: str
    channel_id: str | None
    thread_ts: str | None
    recipient_team_id: str | None
    steps: list[StepPlan]
    resumed_from: int = 0  # number of steps already finished by an earlier attempt
    # A branch's steps taken over from its source artifact: position -> what it cost there
    reused: dict[int, Decimal | None] = field(default_factory=dict)
    # What started a run nobody typed (runs.origin, DESIGN §13): its first message names it
    origin: dict[str, Any] | None = None


@dataclass(frozen=True)
class StepResult:
    position: int
    agent_name: str
    model: str
    output: str
    cost_usd: Decimal | None
    input_tokens: int
    output_tokens: int
    latency_ms: int


@dataclass(frozen=True)
class ApprovalView:
    """An approval request as a surface shows it (DESIGN §12): the output so far with
    Approve / Edit & approve / Reject (or a tool call with Allow / Deny), then how it was
    decided. ``approval_id`` is what the buttons carry back to core.runs.approvals.decide."""

    approval_id: str
    run_id: str
    team_id: str
    position: int
    kind: str  # storage.states.ApprovalKind
    status: str  # storage.states.ApprovalStatus
    approvers: list[str]  # empty: whoever started the run (``requested_by``)
    requested_by: str | None
    output: str  # the output so far, as shown to the approvers
    timeout_hours: int
    requested_at: datetime
    due_at: datetime
    payload: dict[str, Any] | None = None  # a tool call's {"server", "tool", "arguments"}
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str | None = None
    edited: bool = False
    channel_id: str | None = None  # where the surface showed it (set by the surface)
    message_ts: str | None = None


@dataclass(frozen=True)
class ToolCallView:
    """One tool call as a live plan shows it (DESIGN §12): a task under its step,
    "Web search: <query>" or "Tickets · lookup_ticket", with its status. ``call_id`` is
    stable for the call, so a surface updates the task it showed when the call started."""

    call_id: str
    position: int  # the step making the call
    label: str  # "Web search", "Tickets · lookup_ticket", "Current time"
    detail: str = ""  # what it is about, in a few words: the query, the URL (plain text)
    status: str = "running"  # running | done | error | waiting (for an Allow / Deny)
    error: str | None = None


@dataclass(frozen=True)
class RunOutcome:
    run_id: str
    status: str  # RunStatus.SUCCEEDED | RunStatus.FAILED (storage/states.py)
    output: str | None
    error_kind: str | None
    error_message: str | None
    cost_usd: Decimal | None
    models: list[str]
    duration_ms: int
    artifact_id: str | None
    permalink: str | None
    steps: list[StepResult] = field(default_factory=list)
    cancelled_by: str | None = None  # who cancelled the run (error kind "cancelled"), for a mention


class Reporter(Protocol):
    def run_started(self, info: RunInfo) -> None: ...
    def step_started(self, info: RunInfo, step: StepPlan) -> None: ...
    def text_delta(self, info: RunInfo, step: StepPlan, text: str) -> None: ...
    def step_finished(self, info: RunInfo, result: StepResult) -> None: ...
    def run_finished(self, info: RunInfo, outcome: RunOutcome) -> None: ...


# Optional: a reporter may also define
#     def step_retrying(self, info: RunInfo, step: StepPlan, reason: str) -> None
# called when a step's reply broke off after some text had been reported and the step is
# asked again from the start: what was reported for it since step_started is void; and
#     def daily_limit_near(self, team_id: str, spent: Decimal, limit: Decimal) -> None
# called at most once a day per workspace, after a run closed, when the workspace's spend
# today reached 80 % of its daily limit (core/spend_notice.py): tell its admins; and
#     def approval_requested(self, info: RunInfo, approval: ApprovalView) -> None
# called when the run stops to wait for a person (the run is ``waiting``, its worker gone
# on to other runs): show the output so far with the buttons; and
#     def approval_decided(self, info: RunInfo, approval: ApprovalView) -> None
# called when the request was approved, rejected, timed out or cancelled: update the
# buttons. A rejected or timed-out run then gets run_finished; an approved one is queued
# again and reports run_started (resumed_from > 0) when a worker takes it; and
#     def tool_call(self, info: RunInfo, step: StepPlan, call: ToolCallView) -> None
# called when a step's tool call starts and again when it ends (same ``call_id``); and
#     def tell_user(self, team_id: str, user_id: str, text: str) -> None
# called to tell one person something outside any run's thread (their schedule paused
# itself: core/schedules/fire.py): a surface sends it privately (Slack: a DM).


class NullReporter:
    def run_started(self, info: RunInfo) -> None:
        pass

    def step_started(self, info: RunInfo, step: StepPlan) -> None:
        pass

    def text_delta(self, info: RunInfo, step: StepPlan, text: str) -> None:
        pass

    def step_finished(self, info: RunInfo, result: StepResult) -> None:
        pass

    def run_finished(self, info: RunInfo, outcome: RunOutcome) -> None:
        pass

    def approval_requested(self, info: RunInfo, approval: ApprovalView) -> None:
        pass

    def approval_decided(self, info: RunInfo, approval: ApprovalView) -> None:
        pass

    def tool_call(self, info: RunInfo, step: StepPlan, call: ToolCallView) -> None:
        pass


class SafeReporter:
    """Wraps reporters so a Slack outage or a bug in a reporter cannot fail a paid-for run."""

    def __init__(self, *reporters: Reporter) -> None:
        self._reporters = reporters

    def _call(self, name: str, *args: Any) -> None:
        for r in self._reporters:
            try:
                method = getattr(r, name, None)
                if method is None:  # an optional method this reporter does without
                    continue
                method(*args)
            except Exception:  # noqa: BLE001
                log.exception("reporter %s.%s failed", type(r).__name__, name)

    def run_started(self, info: RunInfo) -> None:
        self._call("run_started", info)

    def step_started(self, info: RunInfo, step: StepPlan) -> None:
        self._call("step_started", info, step)

    def text_delta(self, info: RunInfo, step: StepPlan, text: str) -> None:
        self._call("text_delta", info, step, text)

    def step_finished(self, info: RunInfo, result: StepResult) -> None:
        self._call("step_finished", info, result)

    def run_finished(self, info: RunInfo, outcome: RunOutcome) -> None:
        self._call("run_finished", info, outcome)

    def step_retrying(self, info: RunInfo, step: StepPlan, reason: str) -> None:
        self._call("step_retrying", info, step, reason)

    def daily_limit_near(self, team_id: str, spent: Decimal, limit: Decimal) -> None:
        self._call("daily_limit_near", team_id, spent, limit)

    def approval_requested(self, info: RunInfo, approval: ApprovalView) -> None:
        self._call("approval_requested", info, approval)

    def approval_decided(self, info: RunInfo, approval: ApprovalView) -> None:
        self._call("approval_decided", info, approval)

    def tool_call(self, info: RunInfo, step: StepPlan, call: ToolCallView) -> None:
        self._call("tool_call", info, step, call)

    def tell_user(self, team_id: str, user_id: str, text: str) -> None:
        self._call("tell_user", team_id, user_id, text)


class DeferredReporter:
    """A reporter made from the run itself when it starts: what it needs (the Slack thread,
    who asked) is in the RunInfo the executor read while claiming the run, so building it
    then costs no database read of its own. Before that, and when ``build`` gives None,
    calls go nowhere."""

    def __init__(self, build: Callable[[RunInfo], Reporter | None]) -> None:
        self._build = build
        self._inner: Reporter | None = None
        self._started = False

    def run_started(self, info: RunInfo) -> None:
        self._started = True
        self._inner = self._build(info)
        if self._inner is not None:
            self._inner.run_started(info)

    def step_started(self, info: RunInfo, step: StepPlan) -> None:
        if self._inner is not None:
            self._inner.step_started(info, step)

    def text_delta(self, info: RunInfo, step: StepPlan, text: str) -> None:
        if self._inner is not None:
            self._inner.text_delta(info, step, text)

    def step_retrying(self, info: RunInfo, step: StepPlan, reason: str) -> None:
        method = getattr(self._inner, "step_retrying", None)
        if method is not None:
            method(info, step, reason)

    def step_finished(self, info: RunInfo, result: StepResult) -> None:
        if self._inner is not None:
            self._inner.step_finished(info, result)

    def run_finished(self, info: RunInfo, outcome: RunOutcome) -> None:
        if self._inner is None and not self._started:
            self._inner = self._build(info)  # a waiting run closed without a worker (rejected, timed out)
        if self._inner is not None:
            self._inner.run_finished(info, outcome)

    def approval_requested(self, info: RunInfo, approval: ApprovalView) -> None:
        method = getattr(self._inner, "approval_requested", None)
        if method is not None:
            method(info, approval)

    def approval_decided(self, info: RunInfo, approval: ApprovalView) -> None:
        if self._inner is None and not self._started:
            self._inner = self._build(info)  # decided where no run started: built from the run itself
        method = getattr(self._inner, "approval_decided", None)
        if method is not None:
            method(info, approval)

    def tool_call(self, info: RunInfo, step: StepPlan, call: ToolCallView) -> None:
        method = getattr(self._inner, "tool_call", None)
        if method is not None:
            method(info, step, call)
