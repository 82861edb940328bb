"""How an artifact's values are named on the viewer: shared by the HTML page and the Markdown export.

Both show the same artifact, so the words for a status, the name shown when a pipeline
or agent has none, and the rule for which links may be shown live here once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.formatting import UNKNOWN, format_token_usage
from core.runs.artifact import RunError, StepError, StepRecord, TokenUsage
from storage.states import RunStatus

UNTITLED_PIPELINE = "Untitled pipeline"
UNNAMED_AGENT = "Unnamed agent"

_SCHEME_RE = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*):")

_STATUS_LABELS: dict[str, tuple[str, str]] = {
    RunStatus.SUCCEEDED: ("Succeeded", "ok"),
    RunStatus.FAILED: ("Failed", "bad"),
    RunStatus.RUNNING: ("Running", ""),
    RunStatus.WAITING: ("Waiting", ""),
    RunStatus.QUEUED: ("Queued", ""),
}


@dataclass(frozen=True)
class Status:
    """A run or step status for people: its label and its tone (``ok``, ``bad`` or ``""``)."""

    label: str
    tone: str

    @property
    def badge_class(self) -> str:
        return f"badge {self.tone}" if self.tone else "badge"


def status(value: str | None) -> Status:
    """Known statuses get their label; anything else is shown as stored (escaped by the caller)."""
    s = (value or "").strip()
    if not s:
        return Status("Unknown", "")
    return Status(*_STATUS_LABELS.get(s.lower(), (s, "")))


def pipeline_title(name: str) -> str:
    return name or UNTITLED_PIPELINE


def agent_title(step: StepRecord) -> str:
    return step.agent_name or UNNAMED_AGENT


def position(step: StepRecord, index: int) -> int:
    """The step's recorded position, else its place in the list (1-based)."""
    return step.position or index


def error_kind(error: StepError | RunError) -> str:
    return error.kind or "error"


def temperature_text(value: float | None) -> str | None:
    """``0.3``, ``1`` (not ``1.0``); None when the agent left it to the model."""
    if value is None:
        return None
    return str(int(value)) if value.is_integer() else str(value)


def safe_href(url: str | None, *, absolute_only: bool = False) -> str | None:
    """``url`` if it is http(s) (or relative, unless ``absolute_only``), else None.

    Links the page builds itself still pass through here: a thread URL comes from the
    artifact's content, which is data, not something we vouch for.
    """
    u = (url or "").strip()
    if not u or any(ch in u for ch in "\x00\r\n\t"):
        return None
    m = _SCHEME_RE.match(u)
    if m:
        return u if m.group(1).lower() in ("http", "https") else None
    if absolute_only or u.startswith("//"):
        return None
    return u


def size_text(chars: int) -> str:
    """A length for a note about long output: ``"64 KB"``, ``"2.0 MB"``."""
    return f"{chars / 1_000_000:.1f} MB" if chars >= 1_000_000 else f"{max(1, round(chars / 1000))} KB"


def usage_text(usage: TokenUsage | None) -> str:
    """Token usage as the page and the export show it: ``"2,332 (1,520 in · 812 out)"``."""
    if usage is None:
        return UNKNOWN
    return format_token_usage(
        usage.input_tokens, usage.output_tokens, usage.cache_read_tokens, usage.cache_write_tokens
    )
