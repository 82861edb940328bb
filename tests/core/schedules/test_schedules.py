"""Schedules (DESIGN §13, issue 19 item 1): made with every rule checked, and fired by the
workers' maintenance exactly once per fire time however many workers race, missed fires
caught up by one run that says so, a schedule whose pipeline is gone or whose run is refused
paused with its creator told. Real PostgreSQL, Redis and `pipebot worker` processes."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from core import limits
from core.errors import ValidationFailed
from core.reporter import SafeReporter
from core.runs.intake import start_run
from core.schedules import store
from core.schedules.fire import fire_due
from core.schedules.store import ScheduleDraft, ScheduleRefused
from storage.db import transaction
from storage.models import Run, Schedule
from storage.repos import pipelines as pipeline_repo
from tests.support.runs import HAIKU, make_agent, make_pipeline, start_worker, stop_worker, with_keys
from tests.support.waiting import wait_until

NOW = datetime(2026, 12, 7, 8, 0, 30, tzinfo=UTC)


class Told:
    """A reporter that keeps what people were told."""

    def __init__(self) -> None:
        self.said: list[tuple[str, str, str]] = []

    def tell_user(self, team_id: str, user_id: str, text: str) -> None:
        self.said.append((team_id, user_id, text))


def _pipeline(ctx, team: str = "T1", name: str = "Digest") -> int:
    with_keys(ctx, team, "anthropic")
    return make_pipeline(ctx, team, name, [make_agent(ctx, team, f"{name}er", HAIKU)])


def _schedule(ctx, pid: int, cron: str = "0 9 * * *", tz: str = "Europe/Berlin", team: str = "T1", **kw):
    draft = ScheduleDraft(pid, cron, tz, "C1", kw.pop("input", "summarise the week"), **kw)
    view, _ = store.create(ctx, team, "U1", draft, now=NOW)
    return view


def _due(ctx, schedule_id: str, at: datetime) -> None:
    with transaction(ctx.sessions) as s:
        s.execute(update(Schedule).where(Schedule.id == schedule_id).values(next_fire_at=at))


def _runs(ctx, team: str = "T1") -> list[Run]:
    with transaction(ctx.sessions) as s:
        rows = list(s.scalars(select(Run).where(Run.team_id == team).order_by(Run.created_at)))
        s.expunge_all()
    return rows


# ---- making one --------------------------------------------------------------------------


def test_a_schedule_is_saved_with_its_next_three_times(ctx):
    pid = _pipeline(ctx)
    view, times = store.create(
        ctx, "T1", "U1", ScheduleDraft(pid, "0  9 * * 1-5", "Europe/Berlin", "C1", "hi"), now=NOW
    )
    assert view.cron == "0 9 * * 1-5" and not view.paused and view.pipeline_name == "Digest"
    # 09:00 Berlin on Monday the 7th (08:00 UTC) is already past at 08:00:30 UTC
    assert [t.isoformat() for t in times] == [
        "2026-12-08T08:00:00+00:00",
        "2026-12-09T08:00:00+00:00",
        "2026-12-10T08:00:00+00:00",
    ]
    assert view.next_fire_at == times[0]


@pytest.mark.parametrize(
    ("cron", "tz", "field", "says"),
    [
        ("61 * * * *", "UTC", "cron", "not a cron"),
        ("* * * * * *", "UTC", "cron", "5 fields"),
        ("0 9 * * *", "Nowhere/City", "timezone", "Nowhere/City"),
    ],
)
def test_bad_forms_get_an_error_on_their_field_and_nothing_is_saved(ctx, cron, tz, field, says):
    pid = _pipeline(ctx)
    with pytest.raises(ValidationFailed) as err:
        store.create(ctx, "T1", "U1", ScheduleDraft(pid, cron, tz, "C1", "hi"), now=NOW)
    assert says in err.value.errors[field]
    assert store.list_schedules(ctx, "T1") == []


def test_the_admins_shortest_interval_refuses_a_more_frequent_cron(ctx):
    pid = _pipeline(ctx)
    store.set_min_minutes(ctx, "T1", 15)
    with pytest.raises(ValidationFailed) as err:
        store.create(ctx, "T1", "U1", ScheduleDraft(pid, "* * * * *", "UTC", "C1", "hi"), now=NOW)
    assert "every minute" in err.value.errors["cron"] and "15 minutes" in err.value.errors["cron"]
    view, _ = store.create(ctx, "T1", "U1", ScheduleDraft(pid, "*/15 * * * *", "UTC", "C1", "hi"), now=NOW)
    assert view.cron == "*/15 * * * *"


def test_a_missing_pipeline_and_channel_are_named(ctx):
    with pytest.raises(ValidationFailed) as err:
        store.create(ctx, "T1", "U1", ScheduleDraft(None, "0 9 * * *", "UTC", "", "hi"), now=NOW)
    assert set(err.value.errors) == {"pipeline", "channel"}


def test_only_its_creator_or_an_admin_changes_a_schedule(ctx):
    view = _schedule(ctx, _pipeline(ctx))
    with pytest.raises(ScheduleRefused):
        store.pause(ctx, "T1", view.id, "U2")
    assert store.pause(ctx, "T1", view.id, "U2", is_admin=True).paused
    resumed = store.resume(ctx, "T1", view.id, "U1", now=NOW + timedelta(days=2))
    assert not resumed.paused and resumed.next_fire_at and resumed.next_fire_at > NOW + timedelta(days=2)
    with pytest.raises(ScheduleRefused):
        store.delete(ctx, "T1", view.id, "U3")
    with pytest.raises(ScheduleRefused):
        store.pause(ctx, "T1", "not-a-uuid", "U1")
    store.delete(ctx, "T1", view.id, "U1")
    assert store.list_schedules(ctx, "T1") == []


# ---- firing ------------------------------------------------------------------------------


def test_a_due_schedule_fires_once_and_moves_on(ctx):
    view = _schedule(ctx, _pipeline(ctx))
    at = datetime(2026, 12, 8, 8, 0, tzinfo=UTC)
    (run_id,) = fire_due(ctx, now=at + timedelta(seconds=5), reporter=SafeReporter(Told()))
    assert fire_due(ctx, now=at + timedelta(seconds=20), reporter=SafeReporter(Told())) == []
    (run,) = _runs(ctx)
    assert str(run.id) == run_id and run.channel_id == "C1" and run.requested_by == "U1"
    assert run.input == "summarise the week" and run.status == "queued"
    assert run.origin["kind"] == "schedule" and run.origin["id"] == view.id and run.origin["missed"] == 0
    (row,) = store.list_schedules(ctx, "T1")
    assert row.last_fire_at == at and row.next_fire_at == datetime(2026, 12, 9, 8, 0, tzinfo=UTC)


def test_fires_missed_while_no_worker_ran_are_caught_up_by_one_run_that_says_so(ctx):
    view = _schedule(ctx, _pipeline(ctx))
    _due(ctx, view.id, datetime(2026, 12, 8, 8, 0, tzinfo=UTC))
    later = datetime(2026, 12, 11, 9, 0, tzinfo=UTC)  # 8th, 9th, 10th and 11th at 09:00 Berlin passed
    (run_id,) = fire_due(ctx, now=later, reporter=SafeReporter(Told()))
    (run,) = _runs(ctx)
    assert run.origin["missed"] == 3 and run.origin["fire_at"] == "2026-12-11T08:00:00+00:00"
    (row,) = store.list_schedules(ctx, "T1")
    assert row.next_fire_at == datetime(2026, 12, 12, 8, 0, tzinfo=UTC)


def test_many_rounds_racing_for_the_same_minute_start_each_fire_once(ctx):
    pid = _pipeline(ctx)
    at = datetime(2026, 12, 8, 8, 0, tzinfo=UTC)
    views = [_schedule(ctx, pid, cron="0 9 * * *", input=f"digest {i}") for i in range(30)]
    started: list[str] = []
    barrier = threading.Barrier(4)

    def worker() -> None:
        barrier.wait()
        started.extend(fire_due(ctx, now=at + timedelta(seconds=1), limit=7, reporter=SafeReporter(Told())))
        started.extend(fire_due(ctx, now=at + timedelta(seconds=2), limit=30, reporter=SafeReporter(Told())))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    runs = _runs(ctx)
    assert len(runs) == len(views) == len(set(started))
    assert sorted(r.input for r in runs) == sorted(f"digest {i}" for i in range(30))


def test_a_fire_taken_by_a_worker_that_died_before_its_run_is_started_by_the_next_round(ctx):
    view = _schedule(ctx, _pipeline(ctx))
    fire_at = datetime(2026, 12, 8, 8, 0, tzinfo=UTC)
    with transaction(ctx.sessions) as s:  # what a worker killed between its two transactions leaves
        s.execute(
            update(Schedule)
            .where(Schedule.id == view.id)
            .values(pending_fire_at=fire_at, last_fire_at=fire_at, next_fire_at=fire_at + timedelta(days=1))
        )
    (run_id,) = fire_due(ctx, now=fire_at + timedelta(minutes=1), reporter=SafeReporter(Told()))
    assert fire_due(ctx, now=fire_at + timedelta(minutes=2), reporter=SafeReporter(Told())) == []
    (run,) = _runs(ctx)
    assert run.origin["fire_at"] == fire_at.isoformat()


def test_a_schedule_whose_pipeline_was_deleted_pauses_and_tells_its_creator(ctx):
    pid = _pipeline(ctx)
    view = _schedule(ctx, pid)
    with transaction(ctx.sessions) as s:
        pipeline_repo.delete_pipeline(s, "T1", pid)
    told = Told()
    assert fire_due(ctx, now=datetime(2026, 12, 8, 8, 1, tzinfo=UTC), reporter=SafeReporter(told)) == []
    (row,) = store.list_schedules(ctx, "T1")
    assert row.paused and "deleted" in (row.paused_reason or "")
    assert told.said == [("T1", "U1", row.paused_reason)]
    assert _runs(ctx) == []
    with pytest.raises(ScheduleRefused):
        store.resume(ctx, "T1", view.id, "U1")


def test_a_refused_run_pauses_its_schedule_and_tells_why(ctx):
    pid = _pipeline(ctx)
    _schedule(ctx, pid)
    with transaction(ctx.sessions) as s:
        limits.save_limits(s, "T1", "U0", limits.parse_limits(None, "1", False))
    start_run(ctx, "T1", "Digest", "by hand", requested_by="U1")  # U1's one run this hour
    told = Told()
    assert fire_due(ctx, now=datetime(2026, 12, 8, 8, 1, tzinfo=UTC), reporter=SafeReporter(told)) == []
    (row,) = store.list_schedules(ctx, "T1")
    assert row.paused and told.said and told.said[0][1] == "U1" and "paused" in told.said[0][2]
    assert len(_runs(ctx)) == 1  # the one by hand
    with transaction(ctx.sessions) as s:
        assert s.scalar(select(func.count()).select_from(Schedule).where(Schedule.pending_fire_at.is_not(None))) == 0


def test_two_real_workers_fire_a_due_schedule_once(ctx, worker_env):
    view = _schedule(ctx, _pipeline(ctx))
    env = dict(worker_env, PIPEBOT_SCHEDULE_SECONDS="0.3")
    workers = [start_worker(env), start_worker(env)]
    try:
        _due(ctx, view.id, datetime.now(UTC) - timedelta(seconds=1))
        wait_until(lambda: len(_runs(ctx)) >= 1, timeout=30)
        wait_until(lambda: store.list_schedules(ctx, "T1")[0].last_fire_at is not None, timeout=30)
    finally:
        for w in workers:
            stop_worker(w)
    (run,) = _runs(ctx)
    assert run.origin["id"] == view.id
