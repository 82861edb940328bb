"""One error type for every provider failure.

Callers branch on ``kind`` and ``retryable`` only; they never see an SDK exception.
The retry loop (providers/retry.py) has already retried transient failures when a
ProviderError reaches the caller, so ``retryable=True`` there means "worth retrying
later" (e.g. re-queueing a run), and ``retry_after`` is the server's hint, if any.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .types import Response


class ErrorKind(StrEnum):
    AUTH = "auth"
    PERMISSION = "permission"
    NOT_FOUND = "not_found"
    RATE_LIMIT = "rate_limit"
    OVERLOADED = "overloaded"
    BAD_REQUEST = "bad_request"
    CONTEXT_TOO_LONG = "context_too_long"
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    SERVER = "server"

    def __str__(self) -> str:  # "rate_limit", not "ErrorKind.RATE_LIMIT"
        return self.value


#: Kinds that are transient by nature (a later identical request may succeed).
TRANSIENT_KINDS = frozenset(
    {ErrorKind.RATE_LIMIT, ErrorKind.OVERLOADED, ErrorKind.TIMEOUT, ErrorKind.CONNECTION, ErrorKind.SERVER}
)


class ProviderError(Exception):
    """A failed provider call.

    ``partial`` holds what a stream had produced before it failed (text, tool calls,
    usage so far) so that a caller can show or account for it.
    """

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        retryable: bool | None = None,
        retry_after: float | None = None,
        status: int | None = None,
        provider: str | None = None,
        request_id: str | None = None,
        code: str | None = None,
        partial: Response | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = ErrorKind(kind)
        self.message = message
        self.retryable = (self.kind in TRANSIENT_KINDS) if retryable is None else retryable
        self.retry_after = retry_after
        self.status = status
        self.provider = provider
        self.request_id = request_id
        self.code = code  # provider's own error type/code, e.g. "overloaded_error"
        self.partial = partial
        self.attempts = 1

    def __str__(self) -> str:
        where = f"{self.provider} " if self.provider else ""
        extra = []
        if self.status is not None:
            extra.append(f"HTTP {self.status}")
        if self.code:
            extra.append(self.code)
        if self.request_id:
            extra.append(f"request id {self.request_id}")
        if self.attempts > 1:
            extra.append(f"after {self.attempts} attempts")
        tail = f" ({', '.join(extra)})" if extra else ""
        return f"{where}{self.kind.value} error: {self.message}{tail}"

    def __repr__(self) -> str:
        return f"ProviderError(kind={self.kind.value!r}, retryable={self.retryable}, message={self.message!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Picklable (RQ stores exceptions); ``partial`` and attempts travel in the state.
        return (_rebuild, (self.kind.value, self.message), self.__dict__)


def _rebuild(kind: str, message: str) -> ProviderError:
    return ProviderError(ErrorKind(kind), message)


# ---- helpers shared by the provider mappings -----------------------------------

_CONTEXT_MARKERS = (
    "prompt is too long",
    "context window",
    "context_length_exceeded",
    "maximum context length",
    "too many tokens",
    "input is too long",
)


def looks_like_context_overflow(message: str | None, code: str | None = None) -> bool:
    if code and code in ("context_length_exceeded", "string_above_max_length"):
        return True
    text = (message or "").lower()
    return any(marker in text for marker in _CONTEXT_MARKERS)


def kind_for_status(status: int) -> ErrorKind:
    """Default kind for an HTTP status when the body says nothing more specific."""
    if status == 401:
        return ErrorKind.AUTH
    if status in (402, 403):
        return ErrorKind.PERMISSION
    if status == 404:
        return ErrorKind.NOT_FOUND
    if status == 429:
        return ErrorKind.RATE_LIMIT
    if status in (408, 504):
        return ErrorKind.TIMEOUT
    if status in (503, 529):
        return ErrorKind.OVERLOADED
    if status == 409:
        return ErrorKind.SERVER  # lock/conflict timeouts: both SDKs treat 409 as transient
    if status >= 500:
        return ErrorKind.SERVER
    return ErrorKind.BAD_REQUEST


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``retry-after`` (seconds or HTTP date)."""
    if not headers:
        return None
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            value = float(ms) / 1000.0
            if value >= 0:
                return value
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        value = float(raw)
        return value if value >= 0 else None
    except ValueError:
        pass
    parsed = email.utils.parsedate_tz(raw)
    if parsed is None:
        return None
    return max(0.0, float(email.utils.mktime_tz(parsed) - time.time()))


def should_retry_header(headers: Mapping[str, str] | None) -> bool | None:
    """The servers' ``x-should-retry`` override, if present."""
    if not headers:
        return None
    value = headers.get("x-should-retry")
    if value == "true":
        return True
    if value == "false":
        return False
    return None


@contextmanager
def mapped_errors(map_error: Callable[[BaseException], ProviderError | None]) -> Iterator[None]:
    """Raise an SDK or transport exception as the ProviderError ``map_error`` makes of it
    (anything it does not know goes on as it was): the one shape of every SDK call site."""
    try:
        yield
    except Exception as exc:
        mapped = map_error(exc)
        if mapped is None:
            raise
        raise mapped from exc
