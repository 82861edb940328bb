"""Fair share's rule on real Redis: a workspace at its share takes another slot only when no
workspace below its own share has runs waiting; a failure of Redis or of the question is
logged and lets the run go ahead. (The same rule with real workers and queued runs in
PostgreSQL: tests/bot/worker/test_concurrency.py.)"""

from __future__ import annotations

import logging

import pytest
import redis

from core.runs.fair_share import WorkspaceSlot, slots_key
from tests.support.http_server import free_port


def _slot(ctx, team: str, run: str, waiting: tuple[str, ...] = ()) -> WorkspaceSlot:  # type: ignore[no-untyped-def]
    return WorkspaceSlot(ctx.redis, team, run, 1, waiting_elsewhere=lambda: waiting)


def test_beyond_its_share_a_workspace_yields_only_to_one_below_its_own(ctx) -> None:  # type: ignore[no-untyped-def]
    for team in ("TA", "TB", "TC"):
        ctx.redis.delete(slots_key(team))
    assert _slot(ctx, "TA", "a1").try_acquire()  # within its share of 1
    assert _slot(ctx, "TA", "a2").try_acquire()  # beyond it, nobody waits: no slot idles
    assert not _slot(ctx, "TA", "a3", waiting=("TB",)).try_acquire()  # TB waits with no slot
    assert _slot(ctx, "TB", "b1").try_acquire()
    assert _slot(ctx, "TA", "a3", waiting=("TB",)).try_acquire()  # TB at its share: not held for it
    assert not _slot(ctx, "TA", "a4", waiting=("TB", "TC")).try_acquire()  # TC waits with none
    assert ctx.redis.zcard(slots_key("TA")) == 3 and ctx.redis.zcard(slots_key("TB")) == 1


def test_fair_share_failures_are_logged_and_never_stop_a_run(caplog: pytest.LogCaptureFixture) -> None:
    away = redis.Redis(port=free_port(), socket_connect_timeout=0.5, socket_timeout=0.5)
    slot = WorkspaceSlot(away, "T1", "run-1", 1)
    with caplog.at_level(logging.WARNING, logger="core.runs.fair_share"):
        assert slot.wait(1.0)
        slot.release()
    assert "fair share unavailable for run run-1 of T1" in caplog.text
    assert "could not free the slot of run run-1" in caplog.text


def test_a_failing_question_about_other_workspaces_is_logged(ctx, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    ctx.redis.delete(slots_key("TQ"))
    assert _slot(ctx, "TQ", "q1").try_acquire()

    def database_away() -> tuple[str, ...]:
        raise OSError("database unreachable")

    slot = WorkspaceSlot(ctx.redis, "TQ", "q2", 1, waiting_elsewhere=database_away)
    with caplog.at_level(logging.WARNING, logger="core.runs.fair_share"):
        assert slot.try_acquire()
    assert "fair share unavailable for run q2 of TQ" in caplog.text and "database unreachable" in caplog.text
