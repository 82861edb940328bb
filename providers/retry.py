"""The one retry loop for provider calls.

Both SDKs are built with ``max_retries=0`` so that this is the only place that
retries: exponential backoff with jitter, ``retry-after`` honoured (capped), a
bounded number of attempts, and the final error keeping its kind. ``sleep`` and
``random`` are injectable so tests never sleep for real.
"""

from __future__ import annotations

import logging
import random as _random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from .errors import ProviderError

log = logging.getLogger("providers.retry")

T = TypeVar("T")


@dataclass
class RetryPolicy:
    max_attempts: int = 4  # total attempts, first one included
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0  # a server's retry-after is honoured up to this
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    random: Callable[[], float] = field(default=_random.random, repr=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    def delay(self, attempt: int, error: ProviderError) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        if error.retry_after is not None:
            return min(max(error.retry_after, 0.0), self.max_retry_after)
        backoff = min(self.base_delay * (2 ** (attempt - 1)), self.max_delay)
        # "equal jitter": never less than half the backoff, so retries do spread out
        # but a fleet of workers does not retry in lockstep.
        return float(backoff / 2 + backoff / 2 * self.random())

    def attempts(self) -> Iterator[int]:
        return iter(range(1, self.max_attempts + 1))

    def should_retry(self, attempt: int, error: ProviderError) -> bool:
        return error.retryable and attempt < self.max_attempts

    def wait(self, attempt: int, error: ProviderError, deadline: float | None = None) -> bool:
        """Sleep before the next attempt; False (no sleep) when the wait would end past
        ``deadline`` (a ``time.monotonic()`` value): the caller gives up instead, and the
        error says why."""
        seconds = self.delay(attempt, error)
        if deadline is not None and time.monotonic() + seconds >= deadline:
            hint = (
                f"the server asked to wait {error.retry_after:g} s"
                if error.retry_after
                else f"a retry in {seconds:.1f} s"
            )
            error.message = f"{error.message} (not retried: {hint} would pass the time limit)"
            error.args = (error.message,)
            return False
        log.info(
            "%s: %s; retrying in %.2fs (attempt %d of %d)",
            error.provider or "provider",
            error.kind.value,
            seconds,
            attempt + 1,
            self.max_attempts,
        )
        if seconds > 0:
            self.sleep(seconds)
        return True

    def run(self, fn: Callable[[], T], deadline: float | None = None) -> T:
        """Call ``fn`` until it succeeds, fails for good, or attempts run out."""
        attempt = 1
        while True:
            try:
                return fn()
            except ProviderError as error:
                error.attempts = attempt
                if not self.should_retry(attempt, error) or not self.wait(attempt, error, deadline):
                    raise
                attempt += 1
