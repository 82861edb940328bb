"""Waiting for something another thread or process does: one helper for the whole suite.

Tests poll for an outcome (a run's status, a post to the fake Slack, a worker's
subscription) instead of sleeping a fixed time, so they finish as soon as it happens and
never pass or fail on timing; the timeout only bounds how long a failure takes to report.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], timeout: float = 30.0, what: str = "condition", *, every: float = 0.01) -> T:
    """Call ``predicate`` every ``every`` seconds until it returns something truthy, and return
    that; AssertionError naming ``what`` if ``timeout`` seconds pass first."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(every)
