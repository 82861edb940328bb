"""Run progress as JSON on a Redis pub/sub channel, so a process that did not run the job
(the `pipebot run` CLI, a web page) can follow it live."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from decimal import Decimal
from typing import Any

from redis import Redis

from core.reporter import ApprovalView, RunInfo, RunOutcome, StepPlan, StepResult, ToolCallView


def channel(run_id: str) -> str:
    return f"pipebot:run:{run_id}"


def _default(o: Any) -> Any:
    if isinstance(o, Decimal):
        return format(o, "f")
    if isinstance(o, datetime):
        return o.isoformat()
    raise TypeError(type(o).__name__)


class RedisEventReporter:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    def _publish(self, info: RunInfo, event: str, **data: Any) -> None:
        self._redis.publish(channel(info.run_id), json.dumps({"event": event, **data}, default=_default))

    def run_started(self, info: RunInfo) -> None:
        self._publish(
            info,
            "run_started",
            pipeline=info.pipeline_name,
            steps=[asdict(s) for s in info.steps],
            resumed_from=info.resumed_from,
        )

    def step_started(self, info: RunInfo, step: StepPlan) -> None:
        self._publish(info, "step_started", step=asdict(step))

    def text_delta(self, info: RunInfo, step: StepPlan, text: str) -> None:
        self._publish(info, "text_delta", position=step.position, text=text)

    def step_retrying(self, info: RunInfo, step: StepPlan, reason: str) -> None:
        self._publish(info, "step_retrying", position=step.position, reason=reason)

    def step_finished(self, info: RunInfo, result: StepResult) -> None:
        self._publish(info, "step_finished", result=asdict(result))

    def run_finished(self, info: RunInfo, outcome: RunOutcome) -> None:
        self._publish(info, "run_finished", outcome=asdict(outcome))

    def approval_requested(self, info: RunInfo, approval: ApprovalView) -> None:
        self._publish(info, "approval_requested", approval=asdict(approval))

    def approval_decided(self, info: RunInfo, approval: ApprovalView) -> None:
        self._publish(info, "approval_decided", approval=asdict(approval))

    def tool_call(self, info: RunInfo, step: StepPlan, call: ToolCallView) -> None:
        self._publish(info, "tool_call", call=asdict(call))
