"""Cron expressions as people type them, and the wall-clock times they fire in a time zone.

Why cronsim (NOTES-integrations §8): it follows cron's own daylight-saving rules, so "30 2
* * *" fires once on the autumn day and at 03:00 on the spring day, where croniter fires a
daily job twice in autumn; and it takes a time zone per expression, where RQ's scheduler
matches in the process's zone. Only the 5-field form is accepted: cronsim reads a sixth
field as *seconds first*, the opposite of other tools, so "0 9 * * 1-5 *" would mean
something nobody meant.

Why the shortest interval is measured over a year of fire times and not read from the
fields: "0,1 9 * * *" fires a minute apart although no field says "every minute"; the
smallest gap between consecutive fires over the next year is what a workspace's setting
(Shortest schedule interval) limits.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import islice
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from cronsim import CronSim, CronSimError

from core.schedules import texts

#: How many fire times are looked at to find the shortest gap (a minutely cron reaches
#: its gap at once; a sparse one is done after a year).
GAP_SAMPLE = 600
GAP_HORIZON = timedelta(days=366)
MAX_CRON_CHARS = 120


class CronProblem(ValueError):
    """What is wrong with a cron or a time zone, in words for the person who typed it."""


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name`` (CronProblem naming it when unknown)."""
    name = (name or "").strip()
    if not name or name not in _zone_names():
        raise CronProblem(texts.unknown_timezone(name))
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CronProblem(texts.unknown_timezone(name)) from None


def check(expr: str, tz: str) -> tuple[str, ZoneInfo]:
    """The expression, tidied (single spaces), and its zone; CronProblem for anything wrong."""
    tidy = " ".join((expr or "").split())
    if not tidy:
        raise CronProblem(texts.CRON_EMPTY)
    if len(tidy) > MAX_CRON_CHARS:
        raise CronProblem(texts.CRON_TOO_LONG)
    fields = tidy.split(" ")
    if len(fields) != 5:
        raise CronProblem(texts.cron_fields(len(fields)))
    where = zone(tz)
    try:
        it = CronSim(tidy, datetime.now(where))
        next(it)
    except CronSimError as exc:
        raise CronProblem(texts.cron_invalid(tidy, str(exc))) from None
    except StopIteration:
        raise CronProblem(texts.cron_never(tidy)) from None
    return tidy, where


def fire_times(expr: str, tz: str, after: datetime) -> Iterator[datetime]:
    """Every fire time strictly after ``after`` (aware), as aware UTC datetimes."""
    where = zone(tz)
    start = after.astimezone(where).replace(second=0, microsecond=0)
    for t in CronSim(expr, start):
        if t > after:
            yield t.astimezone(UTC)


def next_times(expr: str, tz: str, after: datetime, n: int = 3) -> list[datetime]:
    return list(islice(fire_times(expr, tz, after), n))


def next_after(expr: str, tz: str, after: datetime) -> datetime | None:
    return next(fire_times(expr, tz, after), None)


def shortest_gap(expr: str, tz: str, after: datetime) -> timedelta | None:
    """The smallest time between two consecutive fires over the next year (None: fewer than
    two fires in that time)."""
    gap: timedelta | None = None
    prev: datetime | None = None
    end = after + GAP_HORIZON
    for t in islice(fire_times(expr, tz, after), GAP_SAMPLE):
        if t > end:
            break
        if prev is not None:
            d = t - prev
            gap = d if gap is None or d < gap else gap
            if gap <= timedelta(minutes=1):
                break
        prev = t
    return gap


def interval_problem(expr: str, tz: str, min_minutes: int, after: datetime) -> str | None:
    """Why the schedule fires more often than the workspace allows, or None."""
    gap = shortest_gap(expr, tz, after)
    if gap is not None and gap < timedelta(minutes=min_minutes):
        return texts.too_frequent(int(gap.total_seconds() // 60), min_minutes)
    return None


def _zone_names() -> frozenset[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = frozenset(available_timezones())
    return _ZONES


_ZONES: frozenset[str] | None = None
