"""What every part of one run's execution shares, in one object instead of long argument
lists: the app, the run's identity, where progress is reported, the run's deadline, what
its tools may reach and how a cancel is noticed. The executor builds it once per run; a
step's model call (core/runs/steps.py) reads it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from core.context import AppContext
from core.reporter import RunInfo, SafeReporter, StepPlan
from core.runs.cancel_watch import CancelWatch
from core.runs.step_state import ToolDecision
from core.tools import ToolContext


@dataclass(frozen=True)
class RunContext:
    """One run being executed (built by core.runs.executor once the run is claimed)."""

    app: AppContext
    team_id: str
    rid: uuid.UUID
    info: RunInfo
    reporter: SafeReporter
    deadline: float  # time.monotonic() past which the run stops
    tools: ToolContext
    cancel: CancelWatch | None = None
    daily_limit: Decimal | None = None  # the workspace's, as the claim read it (core/runs/claim.py)


@dataclass(frozen=True)
class StepRequest:
    """One step's model call: the agent as the step snapshotted it, its input and key, and
    how long the call may take."""

    snap: dict[str, Any]
    user_input: str
    key: str
    plan: StepPlan
    timeout: float
    # What reaches the model besides ``user_input`` (DESIGN §11): for step 1 the thread's
    # earlier messages, marked as context; the run's files (images, documents, their text)
    # for step 1 and for an agent that sees the run's files. Built by core/inputs/parts.py.
    context: str | None = None
    attachments: tuple[Any, ...] = ()
    # A step that paused for a tool call's Allow / Deny goes on from here (core/runs/step_state.py).
    resume: ToolDecision | None = None
