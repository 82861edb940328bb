"""Typed ``private_metadata``: one small frozen dataclass per modal, with real field names,
encoded through the one size-checked codec (``blocks.common.encode_metadata``).

Why: Slack echoes a modal's ``private_metadata`` back in every payload of that modal, so
it is the modal's memory, and it is untrusted (anyone can post a crafted payload through a
forged client; the signature proves only that it came through Slack). :meth:`ModalState.decode`
therefore checks every field's type and says clearly what is wrong (``StateUnreadable``, with
a text for the user) instead of raising somewhere deeper. The workspace and the user always
come from the signed payload (bot/slack/payloads.py), never from here.
"""

from __future__ import annotations

import json
from dataclasses import MISSING, dataclass, fields
from typing import Any, ClassVar, Self

from bot.slack.blocks.common import encode_metadata

__all__ = [
    "STATE_UNREADABLE",
    "AgentModalState",
    "ApprovalState",
    "CompareState",
    "EditState",
    "McpFormState",
    "ModalState",
    "PipelineModalState",
    "RerunState",
    "RunModalState",
    "SettingsState",
    "StateUnreadable",
]

STATE_UNREADABLE = "This form's saved state could not be read (it may be out of date). Close it and open it again."

_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "str | None": (str, type(None)),
    "int": (int,),
    "int | None": (int, type(None)),
    "bool": (bool,),
    "tuple[str | None, ...]": (list,),  # JSON has no tuple; each item is checked too
}


class StateUnreadable(ValueError):
    """``private_metadata`` that is not what this modal wrote (truncated, crafted, from an
    older release). ``str(exc)`` is the text for the user; ``detail`` is for the log."""

    def __init__(self, detail: str) -> None:
        super().__init__(STATE_UNREADABLE)
        self.detail = detail


@dataclass(frozen=True)
class ModalState:
    """Base of the modal states: fields of type str, int, bool (optionally None) only."""

    droppable: ClassVar[tuple[str, ...]] = ()  # fields left out first when the 3,000 limit is hit

    def encode(self) -> str:
        """Compact JSON within Slack's 3,000 characters (ValueError past it)."""
        return encode_metadata({f.name: getattr(self, f.name) for f in fields(self)}, droppable=self.droppable)

    @classmethod
    def decode(cls, text: str | None) -> Self:
        """The state :meth:`encode` wrote; StateUnreadable for anything else."""
        try:
            data = json.loads(text or "{}")
        except ValueError:
            raise StateUnreadable(f"{cls.__name__}: not JSON") from None
        if not isinstance(data, dict):
            raise StateUnreadable(f"{cls.__name__}: not an object")
        known = {f.name for f in fields(cls)}
        if unknown := sorted(set(data) - known):  # another modal's state, or an older release's
            raise StateUnreadable(f"{cls.__name__}: unknown {', '.join(unknown)[:200]}")
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in data or data[f.name] is None:
                if f.default is MISSING and f.default_factory is MISSING:
                    raise StateUnreadable(f"{cls.__name__}: {f.name} missing")
                continue
            value, allowed = data[f.name], _TYPES[str(f.type)]
            if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
                raise StateUnreadable(f"{cls.__name__}: {f.name} is {type(value).__name__}")
            if isinstance(value, list):
                if not all(item is None or isinstance(item, str) for item in value):
                    raise StateUnreadable(f"{cls.__name__}: {f.name} holds a non-text item")
                value = tuple(value)
            values[f.name] = value
        return cls(**values)


@dataclass(frozen=True)
class RunModalState(ModalState):
    """The run modal (bot/slack/listeners/runs.py). From the message shortcut: the message's
    conversation and thread, where the results go; from App Home the modal has a channel
    picker instead. ``stash``: the Redis key of a message too long for the input field.
    ``file_ids``: the message's files, completed with ``files.info`` on submission (the
    payload's file objects may be Slack Connect stubs, and would not fit here anyway)."""

    from_message: bool = False
    channel_id: str | None = None
    thread_ts: str | None = None
    message_ts: str | None = None
    channel_name: str | None = None
    stash: str | None = None
    file_ids: tuple[str | None, ...] = ()


@dataclass(frozen=True)
class RerunState(ModalState):
    """The "Re-run from…" modal: which artifact version, the step the form shows now, and
    where the branch reports (the source run's thread; none: a DM to the requester)."""

    artifact_id: str
    version: int = 1
    step_shown: int = 0
    channel_id: str | None = None
    thread_ts: str | None = None


@dataclass(frozen=True)
class EditState(ModalState):
    """The edit modal: the artifact, the version the edit is based on, and the thread the
    "edited" reply goes to."""

    artifact_id: str
    version: int
    channel_id: str | None = None
    thread_ts: str | None = None


@dataclass(frozen=True)
class CompareState(ModalState):
    """The compare picker: the artifact it was opened from."""

    artifact_id: str


@dataclass(frozen=True)
class AgentModalState(ModalState):
    """The agent modal: the agent edited (None: a new one), and where the command came from,
    so the confirmation goes back there (its response_url, else the channel)."""

    droppable: ClassVar[tuple[str, ...]] = ("response_url",)

    agent_id: int | None = None
    channel_id: str | None = None
    response_url: str | None = None


@dataclass(frozen=True)
class PipelineModalState(ModalState):
    """The pipeline builder: the pipeline edited (None: a new one), the form's revision (a new
    one per rebuild, so Slack shows fresh step selects), where the command came from, and the
    name of each step's deleted agent (None for a step whose agent exists), and each step's
    kind (storage.states.StepKind: "agent" or "approval"; an approval step's inputs differ)."""

    droppable: ClassVar[tuple[str, ...]] = ("response_url",)

    pipeline_id: int | None = None
    rev: int = 0
    channel_id: str | None = None
    response_url: str | None = None
    deleted_agents: tuple[str | None, ...] = ()
    step_kinds: tuple[str | None, ...] = ()


@dataclass(frozen=True)
class ApprovalState(ModalState):
    """The Edit & approve and Reject modals: the approval decided, and the run's thread, where
    a refusal is told (ephemeral) after the modal closed."""

    approval_id: str
    channel_id: str | None = None
    thread_ts: str | None = None


@dataclass(frozen=True)
class SettingsState(ModalState):
    """The settings modal: where the command came from, for the confirmation (never a key)."""

    droppable: ClassVar[tuple[str, ...]] = ("response_url",)

    channel_id: str | None = None
    response_url: str | None = None


@dataclass(frozen=True)
class McpFormState(ModalState):
    """The form adding an MCP server: where the command came from, for the confirmation
    (never the token: Slack echoes this back in every payload)."""

    droppable: ClassVar[tuple[str, ...]] = ("response_url",)

    channel_id: str | None = None
    response_url: str | None = None
