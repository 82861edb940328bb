"""Cron and time zones (core/schedules/cron.py): 5 fields only, unknown zones named, the
shortest interval measured, and wall-clock times that hold across DST in Europe/Berlin."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.schedules import cron

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    ("expr", "says"),
    [
        ("61 * * * *", "not a cron"),
        ("* * * * * *", "5 fields"),
        ("* * *", "has 3"),
        ("", "Enter when it runs"),
        ("0 9 31 2 *", "day-of-month"),
        ("banana", "has 1"),
    ],
)
def test_bad_crons_are_named(expr, says):
    with pytest.raises(cron.CronProblem) as err:
        cron.check(expr, "UTC")
    assert says in str(err.value)


def test_an_unknown_time_zone_is_named():
    with pytest.raises(cron.CronProblem) as err:
        cron.check("0 9 * * *", "Mars/Olympus_Mons")
    assert "Mars/Olympus_Mons" in str(err.value) and "Europe/Berlin" in str(err.value)


def test_next_times_are_wall_clock_times_in_the_zone():
    after = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)  # a Monday
    times = cron.next_times("0 9 * * 1-5", "Europe/Berlin", after)
    assert [t.astimezone(BERLIN).strftime("%a %H:%M") for t in times] == ["Tue 09:00", "Wed 09:00", "Thu 09:00"]
    assert all(t.tzinfo is not None and t.utcoffset() == timedelta(0) for t in times)


def test_a_daily_time_holds_across_both_dst_changes_in_berlin():
    # 2026: spring forward on 29 March (02:00 -> 03:00), fall back on 25 October (03:00 -> 02:00)
    spring = cron.next_times("30 9 * * *", "Europe/Berlin", datetime(2026, 3, 28, 12, tzinfo=UTC))
    assert [t.astimezone(BERLIN).strftime("%d %H:%M") for t in spring] == ["29 09:30", "30 09:30", "31 09:30"]
    assert spring[1] - spring[0] == timedelta(hours=24)
    autumn = cron.next_times("30 2 * * *", "Europe/Berlin", datetime(2026, 10, 24, 12, tzinfo=UTC))
    # on the autumn day 02:30 happens twice; a daily schedule fires once
    assert [t.astimezone(BERLIN).strftime("%d %H:%M") for t in autumn] == ["25 02:30", "26 02:30", "27 02:30"]
    skipped = cron.next_times("30 2 * * *", "Europe/Berlin", datetime(2026, 3, 28, 12, tzinfo=UTC), 1)
    assert skipped[0].astimezone(BERLIN).strftime("%d %H:%M") == "29 03:00"  # the hour that does not exist


def test_the_shortest_interval_is_measured_not_read_from_the_fields():
    now = datetime(2026, 12, 7, tzinfo=UTC)
    assert cron.shortest_gap("* * * * *", "UTC", now) == timedelta(minutes=1)
    assert cron.shortest_gap("0,1 9 * * *", "UTC", now) == timedelta(minutes=1)
    assert cron.shortest_gap("*/20 * * * *", "UTC", now) == timedelta(minutes=20)
    assert cron.interval_problem("* * * * *", "UTC", 15, now) is not None
    assert "every minute" in (cron.interval_problem("* * * * *", "UTC", 15, now) or "")
    assert cron.interval_problem("*/20 * * * *", "UTC", 15, now) is None
    assert cron.interval_problem("0 9 * * *", "UTC", 15, now) is None
