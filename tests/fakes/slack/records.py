"""What the fake records and answers: a received request (:class:`Call`), an ``ok: false``
answer (:class:`ApiError`), and the scripted faults and rate limits a test sets."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class ApiError(Exception):
    """An ``ok: false`` answer; ``messages`` become ``response_metadata.messages``."""

    def __init__(self, error: str, messages: list[str] | None = None, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.messages = messages or []
        self.extra = extra


@dataclass
class Call:
    """One request the fake received, as the app sent it and as the fake answered.

    ``params`` merges query string and body; JSON-string fields sent in form bodies
    (``blocks``, ``view``, ``chunks``...) are decoded so tests can inspect them the
    same way whichever encoding the SDK chose. ``encoding`` says which it chose.
    """

    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    time: float
    token: str | None
    encoding: str  # "json" | "form" | "multipart" | "query"
    raw_body: bytes = b""
    status: int = 0
    response: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether the fake answered ``ok: true``."""
        return bool(self.response.get("ok"))

    @property
    def error(self) -> str | None:
        """The Slack error code the fake answered with, if any."""
        return self.response.get("error")


@dataclass
class Fault:
    method: str
    error: str | None
    status: int
    retry_after: int | None
    times: int
    when: Callable[[dict[str, Any]], bool] | None


@dataclass
class RateLimit:
    max_calls: int
    per_seconds: float
    per_channel: bool
    retry_after: int
    hits: dict[str, list[float]] = field(default_factory=dict)
