"""The named states of runs and steps, and the kinds of error a run or step ends with.

One module for the vocabulary every layer speaks: the executor sets these, the database
CHECK constraints are built from them (storage/models.py and the migrations), and the
surfaces show them. ``str`` Enums (rq's ``JobStatus`` in rq/job.py is the model), so a
member compares equal to its literal and stores as it. It lives in storage, the lowest
layer that both storage and core may import (core -> storage, never the reverse).
"""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    """Where a run is (DESIGN §5/§12). ``waiting``: paused for a person (an approval step,
    core/runs/approvals.py); it holds no worker, no workspace slot and no RQ job, and lives
    in PostgreSQL alone until someone decides or its approval times out."""

    QUEUED = "queued"
    RUNNING = "running"
    WAITING = "waiting"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


#: The statuses a run never leaves.
FINISHED = frozenset({RunStatus.SUCCEEDED, RunStatus.FAILED})


class StepStatus(StrEnum):
    """Where one step of a run is: recorded as running when it starts, then one of the ends.
    ``waiting``: an approval step asked a person and has no answer yet."""

    RUNNING = "running"
    WAITING = "waiting"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class FailureKind(StrEnum):
    """Why a run or step failed, beyond the provider's own kinds (providers.errors.ErrorKind,
    stored as they are) and the refusals of a run that cannot start (core.errors.RunRejected)."""

    TIME_LIMIT = "time_limit"
    INTERNAL_ERROR = "internal_error"
    WORKER_LOST = "worker_lost"
    CANCELLED = "cancelled"
    BUDGET_EXCEEDED = "budget_exceeded"
    UNPRICED_BUDGET = "unpriced_budget"
    ORPHANED_STEP = "orphaned_step"
    MISSING_KEY = "missing_key"
    UNKNOWN_MODEL = "unknown_model"
    EMPTY_PIPELINE = "empty_pipeline"
    PIPELINE_DELETED = "pipeline_deleted"
    REFUSAL = "refusal"
    EMPTY_OUTPUT = "empty_output"
    # What a run takes in (DESIGN §11): a file or thread that could not be fetched, a file
    # pipebot could not read (a password, a damaged PDF, too many pages), a file a step's
    # model cannot take (an image for a model without image input, a scan for one without PDFs).
    INPUT_UNAVAILABLE = "input_unavailable"
    BAD_FILE = "bad_file"
    UNSUPPORTED_FILE = "unsupported_file"
    # A person in the loop (DESIGN §12): an approver said no, or nobody answered in time.
    REJECTED = "rejected"
    APPROVAL_TIMED_OUT = "approval_timed_out"
    APPROVAL_FIRST = "approval_first"
    # An agent's tool that cannot be reached: its MCP server was removed (DESIGN §12).
    TOOL_UNAVAILABLE = "tool_unavailable"


class StepKind(StrEnum):
    """What a pipeline step is: an agent's model call, or a person's approval (DESIGN §12)."""

    AGENT = "agent"
    APPROVAL = "approval"


class ApprovalKind(StrEnum):
    """What an approval asks about: an approval step, or one tool call of a server marked
    "Ask before calling: every call" (its payload holds the tool and its arguments)."""

    STEP = "step"
    TOOL_CALL = "tool_call"


class ApprovalStatus(StrEnum):
    """An approval request's life: pending until decided, timed out or cancelled, once."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"


def check_in(enum: type[StrEnum], column: str = "status") -> str:
    """The SQL of a CHECK that a column holds one of ``enum``'s values."""
    return f"{column} IN (" + ", ".join(f"'{m.value}'" for m in enum) + ")"
