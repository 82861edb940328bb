"""The workspace's spend limits (DESIGN §10) against real PostgreSQL: core/limits.py reads
what an admin typed, core/preflight.limits_problem refuses a run over the daily limit or
the runs per person per hour with the time each resets, every request to start a run
(branches included) goes through it, and core/spend_notice claims the 80 % notice exactly
once a day however many workers try at once."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from core import limits as core_limits
from core import messages
from core.errors import RunRejected, ValidationFailed
from core.preflight import limits_problem
from core.runs.intake import submit
from core.runs.request import BranchFrom, Origin, RunRequest
from core.spend_notice import claim_notice
from storage.db import transaction
from storage.models import AuditEvent, Run
from storage.repos import workspaces as workspace_repo
from storage.repos.workspaces import Limits
from tests.support.finished_runs import finished_run
from tests.support.runs import make_agent, make_pipeline, with_keys


def _limit(ctx) -> Decimal | None:
    with transaction(ctx.sessions) as s:
        return workspace_repo.limits(s, "T1").daily_limit_usd


def _limits(ctx, daily: str | None = None, per_hour: int | None = None, public: bool = False) -> None:
    with transaction(ctx.sessions) as s:
        workspace_repo.set_limits(s, "T1", Limits(Decimal(daily) if daily else None, per_hour, public))


@pytest.fixture
def essay(ctx) -> int:
    with_keys(ctx, "T1", "anthropic")
    return make_pipeline(ctx, "T1", "Essay", [make_agent(ctx, "T1", "Drafter")])


def _request(user: str = "U1", **kw) -> RunRequest:
    return RunRequest("T1", Origin.SLASH_COMMAND, pipeline_name="Essay", input_text="otters", requested_by=user, **kw)


def _runs(ctx) -> int:
    with transaction(ctx.sessions) as s:
        return int(s.scalar(select(func.count()).select_from(Run)) or 0)


@pytest.mark.parametrize(
    ("daily", "per_hour", "bad"),
    [
        ("-5", "", {"daily_limit_usd"}),
        ("abc", "", {"daily_limit_usd"}),
        ("0", "", {"daily_limit_usd"}),
        ("1e9999", "", {"daily_limit_usd"}),
        ("NaN", "", {"daily_limit_usd"}),
        ("12.345", "", {"daily_limit_usd"}),
        ("", "-5", {"runs_per_person_hour"}),
        ("", "abc", {"runs_per_person_hour"}),
        ("", "0", {"runs_per_person_hour"}),
        ("", "1.5", {"runs_per_person_hour"}),
        ("Infinity", "1e9999", {"daily_limit_usd", "runs_per_person_hour"}),
    ],
    ids=["neg", "abc", "zero", "huge", "nan", "3dp", "h-neg", "h-abc", "h-zero", "h-frac", "both"],
)
def test_bad_limits_are_refused_per_field(daily: str, per_hour: str, bad: set[str]) -> None:
    with pytest.raises(ValidationFailed) as exc:
        core_limits.parse_limits(daily, per_hour, False)
    assert set(exc.value.errors) == bad


def test_good_limits_parse_and_blank_means_none() -> None:
    assert core_limits.parse_limits(" $12.50 ", "20", True) == Limits(Decimal("12.50"), 20, True)
    assert core_limits.parse_limits("", "  ", False) == Limits(None, None, False)


def test_saving_limits_records_old_and_new_in_the_audit_trail(ctx) -> None:
    with transaction(ctx.sessions) as s:
        lines = core_limits.save_limits(s, "T1", "U0ADMIN", Limits(Decimal("10"), 5, True))
    assert lines == [
        "Daily limit: $10.00.",
        "Runs per person per hour: 5.",
        "Anyone with the link can now open public-channel runs.",
    ]
    with transaction(ctx.sessions) as s:
        assert core_limits.save_limits(s, "T1", "U0ADMIN", Limits(Decimal("10.00"), 5, True)) == []  # unchanged
        assert workspace_repo.public_links(s, "T1") is True
        events = {e.action: e.detail for e in s.scalars(select(AuditEvent))}
    assert events == {
        "limits_changed": {
            "daily_limit_usd": {"old": None, "new": "10.00"},
            "runs_per_person_hour": {"old": None, "new": 5},
        },
        "setting_changed": {"old": False, "new": True},
    }


def test_wait_words() -> None:
    assert messages.wait_words(3 * 3600 + 12 * 60) == "3 h 12 min"
    assert messages.wait_words(2 * 3600) == "2 h"
    assert messages.wait_words(45 * 60 - 30) == "45 min"
    assert messages.wait_words(20) == "under a minute"


def test_the_daily_limit_refuses_new_runs_saying_when_it_resets(ctx, essay: int) -> None:
    _limits(ctx, daily="5")
    finished_run(ctx, "T1", essay, "one", steps=[("Drafter", "one", "3.00", 10)])
    with ctx.sessions() as s:
        assert limits_problem(s, "T1", "U1") is None  # $3 of $5
    finished_run(ctx, "T1", essay, "two", steps=[("Drafter", "two", "2.00", 10)])
    finished_run(ctx, "T1", essay, "yesterday", steps=[("Drafter", "y", "50", 10)], minutes_ago=60 * 25)
    before = _runs(ctx)
    with pytest.raises(RunRejected) as exc:
        submit(ctx, _request())
    assert exc.value.kind == "daily_limit"
    assert "daily limit of $5.00 ($5.00 spent today)" in exc.value.message
    now = datetime.now(UTC)
    left = (now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1) - now).total_seconds()
    assert re.search(r"resets at 00:00 UTC, in (\d+ h( \d+ min)?|\d+ min|under a minute)\.$", exc.value.message)
    assert messages.wait_words(left) in exc.value.message or messages.wait_words(left - 60) in exc.value.message
    assert _runs(ctx) == before  # nothing recorded


def test_a_branch_is_refused_by_the_daily_limit_too(ctx, essay: int) -> None:
    source = finished_run(ctx, "T1", essay, "one", steps=[("Drafter", "one", "9.00", 10)])
    _limits(ctx, daily="5")
    with pytest.raises(RunRejected) as exc:
        submit(ctx, RunRequest("T1", Origin.RERUN, requested_by="U1", branch=BranchFrom(source.artifact_id, 1)))
    assert exc.value.kind == "daily_limit"


def test_runs_per_person_refuse_until_the_oldest_is_an_hour_old(ctx, essay: int) -> None:
    _limits(ctx, per_hour=2)
    finished_run(ctx, "T1", essay, "old", user_id="U1", minutes_ago=61)  # outside the window
    finished_run(ctx, "T1", essay, "a", user_id="U1", minutes_ago=50)
    assert submit(ctx, _request("U1")).run is not None  # the second in the window
    with transaction(ctx.sessions) as s:
        oldest = s.scalar(
            select(func.min(Run.created_at)).where(
                Run.requested_by == "U1", Run.created_at >= datetime.now(UTC) - timedelta(hours=1)
            )
        )
    with pytest.raises(RunRejected) as exc:
        submit(ctx, _request("U1"))
    assert exc.value.kind == "person_rate"
    at = (oldest + timedelta(hours=1)).astimezone(UTC).strftime("%H:%M")
    assert "You started 2 runs in the last hour" in exc.value.message
    assert f"You can start another at {at} UTC, in 10 min." in exc.value.message or f"at {at} UTC, in 9 min" in (
        exc.value.message
    )
    assert submit(ctx, _request("U2")).run is not None  # someone else is not limited by U1's runs


def test_the_notice_is_claimed_once_a_day_however_many_try_at_once(ctx, essay: int) -> None:
    _limits(ctx, daily="10")
    finished_run(ctx, "T1", essay, "one", steps=[("Drafter", "one", "7.99", 10)])
    assert claim_notice(ctx, "T1", _limit(ctx)) is None  # under 80 %
    finished_run(ctx, "T1", essay, "two", steps=[("Drafter", "two", "0.01", 10)])
    gate = threading.Barrier(2)
    got: list[object] = []

    def attempt() -> None:
        gate.wait(10)
        got.append(claim_notice(ctx, "T1", _limit(ctx)))

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    notices = [n for n in got if n is not None]
    assert len(got) == 2 and len(notices) == 1
    assert notices[0].spent == Decimal("8.00") and notices[0].limit == Decimal("10")
    assert claim_notice(ctx, "T1", _limit(ctx)) is None  # later the same day: already told
    assert (
        claim_notice(ctx, "T1", _limit(ctx), datetime.now(UTC) + timedelta(days=1)) is None
    )  # tomorrow: nothing spent yet
