"""Helpers for the approval tests: a pipeline with an approval step, a reporter that records
what it is told, and reading a run's approvals back."""

from __future__ import annotations

from typing import Any

from core import pipelines
from core.pipelines import ApprovalStep
from core.reporter import ApprovalView, RunInfo, RunOutcome
from storage.db import transaction
from storage.models import Approval
from storage.repos import approvals as approval_repo
from tests.support.runs import HAIKU, make_agent, make_pipeline, with_keys


def agent_approval_agent(
    ctx, team: str = "T1", name: str = "Reviewed", approvers: tuple[str, ...] = (), hours: int = 24
) -> int:
    """A 3-step pipeline: Drafter → Approval → Publisher; its id."""
    with_keys(ctx, team, "anthropic")
    drafter = make_agent(ctx, team, f"{name} drafter", HAIKU, "Draft it.")
    publisher = make_agent(ctx, team, f"{name} publisher", HAIKU, "Publish it.")
    pid = make_pipeline(ctx, team, name, [drafter, publisher])
    with transaction(ctx.sessions) as s:
        pipelines.add_approval(
            s, team, pid, pipelines.approval_step(approvers=list(approvers), timeout_hours=hours), position=2
        )
    return pid


def approvals_of(ctx, run_id) -> list[Approval]:
    with transaction(ctx.sessions) as s:
        rows = list(approval_repo.of_run(s, run_id))
        s.expunge_all()
    return rows


class Recorder:
    """A reporter that keeps every event it gets (only the approval ones and the finish)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def run_started(self, info: RunInfo) -> None:
        self.events.append(("run_started", info))

    def step_started(self, *args: Any) -> None:
        pass

    def text_delta(self, *args: Any) -> None:
        pass

    def step_finished(self, *args: Any) -> None:
        pass

    def run_finished(self, info: RunInfo, outcome: RunOutcome) -> None:
        self.events.append(("run_finished", outcome))

    def approval_requested(self, info: RunInfo, approval: ApprovalView) -> None:
        self.events.append(("approval_requested", approval))

    def approval_decided(self, info: RunInfo, approval: ApprovalView) -> None:
        self.events.append(("approval_decided", approval))

    def names(self) -> list[str]:
        return [name for name, _ in self.events]


__all__ = ["ApprovalStep", "Recorder", "agent_approval_agent", "approvals_of"]
