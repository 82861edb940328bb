"""What a new run is, said once: a :class:`RunRequest` value that every way in builds.

Each surface (a slash command, the run modal, the message shortcut, a re-run, the CLI, and
the coming ones: mentions, DMs, schedules, reactions, message triggers, webhooks) only turns
what it received into a RunRequest; ``core.runs.intake.submit`` then checks, dedupes,
records and enqueues it the same way for all of them. Adding a way in is writing a builder.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum

from core.inputs.refs import FileRef, ThreadRef

__all__ = ["INPUT_MAX", "BranchFrom", "Origin", "ReportTo", "RunRequest", "input_too_long"]

INPUT_MAX = 100_000  # characters of input a run takes


def input_too_long(chars: int) -> str:
    return f"The input is too long ({chars:,} characters; the limit is {INPUT_MAX:,})."


class Origin(StrEnum):
    """Where a run came from. ``surface`` is what the run row and its artifact record."""

    SLASH_COMMAND = "slash_command"
    RUN_MODAL = "run_modal"
    MESSAGE_SHORTCUT = "message_shortcut"
    RERUN = "rerun"
    CLI = "cli"
    MENTION = "mention"
    DM = "dm"
    SCHEDULE = "schedule"
    REACTION = "reaction"
    MESSAGE_TRIGGER = "message_trigger"
    WEBHOOK = "webhook"

    @property
    def surface(self) -> str:
        """The ``runs.source`` value (``slack`` or ``cli`` today; the artifact shows it)."""
        return "cli" if self is Origin.CLI else "webhook" if self is Origin.WEBHOOK else "slack"


@dataclass(frozen=True)
class ReportTo:
    """Where the run reports: a Slack channel and the thread its messages go in (None for the
    CLI, which follows the run over Redis instead). The requester is the recipient of chat
    streaming; ``RunRequest.requester_team_id`` says their workspace (Slack Connect)."""

    channel_id: str | None = None
    thread_ts: str | None = None


@dataclass(frozen=True)
class BranchFrom:
    """A re-run from step ``from_step`` of an artifact (core/runs/branch.py): which version's
    outputs it reuses (None: the latest) and what that step uses instead (None: unchanged)."""

    artifact_id: str
    from_step: int
    version: int | None = None
    agent_id: int | None = None
    model: str | None = None
    input_text: str | None = None


@dataclass(frozen=True)
class RunRequest:
    """Everything about a run that does not exist yet.

    ``pipeline_id`` wins over ``pipeline_name`` when both are given (a modal's pick is an id;
    a typed command is a name). A branch takes its pipeline and input from the artifact, so
    both may be empty for one. ``dedupe_key``: a retried request (Slack's retries, a double
    submit) carries the same key and gets the first run back. ``run_id``: the id to give the
    run, for a surface that shows it before the run exists (the Cancel button).
    """

    team_id: str
    origin: Origin
    pipeline_name: str = ""
    pipeline_id: int | None = None
    input_text: str = ""
    requested_by: str | None = None
    requester_team_id: str | None = None
    report_to: ReportTo = field(default_factory=ReportTo)
    dedupe_key: str | None = None
    branch: BranchFrom | None = None
    run_id: uuid.UUID | None = None
    # What the run takes in besides its text (DESIGN §11): the shared files (checked from
    # their description before anything is downloaded) and the thread whose earlier
    # messages reach step 1. The worker fetches both once and keeps them with the run.
    files: tuple[FileRef, ...] = ()
    thread: ThreadRef | None = None
    # What started a run nobody typed (DESIGN §13), kept as ``runs.origin``: {"kind":
    # "schedule", "id", "by", "fire_at", "missed"} or a trigger's; None for a person's run.
    origin_detail: dict[str, object] | None = None

    @property
    def recipient_team_id(self) -> str:
        """The requester's own workspace (their team in a Slack Connect channel), else ours."""
        return self.requester_team_id or self.team_id

    def run_columns(self) -> dict[str, object]:
        """The run row's columns that come from the request as they are."""
        return {
            "requested_by": self.requested_by,
            "source": self.origin.surface,
            "channel_id": self.report_to.channel_id,
            "thread_ts": self.report_to.thread_ts,
            "recipient_team_id": self.recipient_team_id,
            "origin": self.origin_detail,
            "dedupe_key": self.dedupe_key,
            **({"id": self.run_id} if self.run_id is not None else {}),
        }
