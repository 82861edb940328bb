"""core.formatting: one way to write money, durations, token counts and dates for people."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from core.formatting import (
    COST_UNKNOWN,
    UNKNOWN,
    format_cost,
    format_datetime,
    format_duration,
    format_token_usage,
    format_tokens,
    format_usd,
    parse_datetime,
)


@pytest.mark.parametrize(
    "value, expected",
    [
        ("0.0123", "$0.0123"),
        ("0.001234", "$0.0012"),
        (None, "—"),
        ("", "—"),
        ("abc", "—"),
        ("0", "$0.00"),
        ("12.5", "$12.50"),
        ("1234.5", "$1,234.50"),
        ("0.0000123", "$0.000012"),
        ("1e-12", "<$0.000001"),
        (0.5, "$0.5000"),
    ],
)
def test_format_usd(value: Any, expected: str) -> None:
    assert format_usd(value) == expected


@pytest.mark.parametrize(
    "value, expected",
    [
        (Decimal(0), "$0.00"),
        (0, "$0.00"),  # zero is free, and says so
        (Decimal("0.0001"), "$0.0001"),  # the four-decimal rule starts here
        (Decimal("0.00009999"), "$0.000100"),  # below it: two significant digits
        (Decimal("0.000001"), "$0.0000010"),
        (Decimal("0.00000099"), "<$0.000001"),
        (Decimal(1), "$1.00"),  # $1 and up: cents
        (Decimal("1234567.891"), "$1,234,567.89"),  # large: thousands separators
        (Decimal(-1), "—"),
        ("NaN", "—"),
        ("Infinity", "—"),
        (True, "—"),
        (" 0.5 ", "$0.5000"),
    ],
)
def test_format_usd_edges(value: Any, expected: str) -> None:
    assert format_usd(value) == expected


def test_unknown_cost_is_never_zero_and_reads_as_words_in_a_sentence() -> None:
    assert format_usd(None) == UNKNOWN == "—"
    assert format_cost(None) == COST_UNKNOWN == "cost unknown"
    assert format_cost("abc") == "cost unknown" and format_cost("") == "cost unknown"
    assert format_usd(None, unknown="n/a") == "n/a"
    # the same digits on every surface: Slack and the CLI call format_cost, the page format_usd
    for value in ("0", "0.0000123", "0.001234", "0.5", "12.5", "1234.5"):
        assert format_cost(value) == format_usd(value)
    assert format_cost(Decimal("0.000012")) == "$0.000012"  # not "< $0.0001"


def test_format_duration_and_tokens() -> None:
    assert format_duration(850) == "850 ms"
    assert format_duration(1234) == "1.2 s"
    assert format_duration(125_000) == "2 min 05 s"
    assert format_duration(3_720_000) == "1 h 02 min"
    assert format_duration(None) == "—"
    assert format_tokens(1234567) == "1,234,567" and format_tokens(None) == "—"


@pytest.mark.parametrize(
    "ms, expected",
    [
        (0, "0 ms"),
        (999, "999 ms"),
        (1000, "1.0 s"),
        (59_949, "59.9 s"),
        (60_000, "1 min 00 s"),
        (125_000, "2 min 05 s"),
        (3_599_000, "59 min 59 s"),
        (3_600_000, "1 h 00 min"),
        (4_500_000, "1 h 15 min"),
        (90_061_000, "25 h 01 min"),
        (None, "—"),
        (-5, "—"),
        ("n/a", "—"),
        ("1500", "1.5 s"),
        (1500.7, "1.5 s"),
        (float("nan"), "—"),
    ],
)
def test_format_duration_edges(ms: Any, expected: str) -> None:
    assert format_duration(ms) == expected


def test_format_duration_unknown_can_be_worded() -> None:
    assert format_duration(None, unknown="?") == "?"
    assert format_duration(0, unknown="?") == "0 ms"


@pytest.mark.parametrize(
    "value, expected",
    [
        (0, "0"),
        (7, "7"),
        (1000, "1,000"),
        (12_345_678_901, "12,345,678,901"),
        ("42", "42"),
        (None, "—"),
        ("x", "—"),
        (True, "—"),
    ],
)
def test_format_tokens_edges(value: Any, expected: str) -> None:
    assert format_tokens(value) == expected


def test_format_token_usage() -> None:
    assert format_token_usage(1520, 812, 64, 0) == "2,332 (1,520 in · 812 out · 64 cache read)"
    assert format_token_usage(1000, 500) == "1,500 (1,000 in · 500 out)"
    assert format_token_usage(10, 0, 0, 5) == "10 (10 in · 0 out · 5 cache write)"
    assert format_token_usage(0, 0) == "0 (0 in · 0 out)"
    assert format_token_usage(7, None) == "7 (7 in · 0 out)"
    assert format_token_usage(None, None, 5, 5) == "—"
    assert format_token_usage(2_000_000, 1_000_000) == "3,000,000 (2,000,000 in · 1,000,000 out)"


def test_dates_are_utc_minutes() -> None:
    assert format_datetime("2026-11-24T10:00:00+00:00") == "2026-11-24 10:00 UTC"
    assert format_datetime("2026-11-24T10:00:59Z") == "2026-11-24 10:00 UTC"
    assert format_datetime("2026-11-24T12:30:00+02:00") == "2026-11-24 10:30 UTC"
    assert format_datetime("2026-11-24T10:00:00") == "2026-11-24 10:00 UTC"  # naive means UTC
    tz = timezone(timedelta(hours=-5))
    assert format_datetime(datetime(2026, 11, 24, 5, 0, tzinfo=tz)) == "2026-11-24 10:00 UTC"
    assert format_datetime(datetime(1, 1, 1)) == "0001-01-01 00:00 UTC"
    assert format_datetime(None) == "—" and format_datetime("") == "—"
    assert format_datetime("not a date") == "not a date"  # shown as stored rather than hidden


def test_parse_datetime() -> None:
    parsed = parse_datetime("2026-11-24T10:00:03.400000+00:00")
    assert parsed == datetime(2026, 11, 24, 10, 0, 3, 400000, tzinfo=UTC)
    assert parse_datetime("2026-11-24T10:00:00") == datetime(2026, 11, 24, 10, tzinfo=UTC)
    assert parse_datetime("nope") is None and parse_datetime(None) is None and parse_datetime("  ") is None
