"""How money, durations, token counts and dates are written for people, on every surface.

Slack messages, the artifact page, its Markdown export and the CLI all show the same
values (a run's cost, how long a step took, how many tokens it used, when it ran); they
call these functions so that a value reads the same wherever it is seen.

Every function takes what an artifact or a database row may hold (``None``, a number, a
numeric string, a ``Decimal``) and never raises: a value that is missing or cannot be
read is shown as ``unknown`` (:data:`UNKNOWN` unless the caller's sentence needs words,
such as :data:`COST_UNKNOWN`), never as zero.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

__all__ = [
    "COST_UNKNOWN",
    "UNKNOWN",
    "format_cost",
    "format_datetime",
    "format_duration",
    "format_token_usage",
    "format_tokens",
    "format_usd",
    "parse_datetime",
]

#: A value that is not known, where a label already says what it is (a table cell).
UNKNOWN = "—"
#: An unknown cost inside a sentence ("finished in 3.2 s · cost unknown").
COST_UNKNOWN = "cost unknown"

_CENT_HUNDREDTH = Decimal("0.0001")
_SMALLEST_SHOWN = Decimal("0.000001")


def _as_int(value: object) -> int | None:
    """An integer read from an int, an integral float or a numeric string; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def _as_decimal(value: object) -> Decimal | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        d = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return d if d.is_finite() else None


def format_usd(value: Decimal | str | float | None, *, unknown: str = UNKNOWN) -> str:
    """A USD amount: ``"$0.00"``, ``"$0.000012"``, ``"$0.0123"``, ``"$1.50"``, ``"$1,234.50"``.

    The web viewer's rule, now everywhere (Slack used to print ``"< $0.0001"``): a step
    of a small model often costs less than a hundredth of a cent, and hiding that behind
    "<" made such steps look alike. So amounts under $1 keep four decimals, tiny ones
    two significant digits, and only amounts under a millionth of a dollar are written
    ``"<$0.000001"``. ``None`` (a model without a known price) is ``unknown``, never
    ``"$0"``: unknown is not free. A negative or unreadable amount is ``unknown`` too.
    """
    d = _as_decimal(value)
    if d is None or d < 0:
        return unknown
    if d == 0:
        return "$0.00"
    if d >= 1:
        return f"${d:,.2f}"
    if d >= _CENT_HUNDREDTH:
        return f"${d:.4f}"
    if d < _SMALLEST_SHOWN:
        return "<$0.000001"
    return f"${d:.{-d.adjusted() + 1}f}"


def format_cost(value: Decimal | str | float | None) -> str:
    """A cost inside a sentence (Slack, the CLI): :func:`format_usd`, and "cost unknown"
    rather than a bare dash when the price is not known."""
    return format_usd(value, unknown=COST_UNKNOWN)


def format_duration(ms: float | str | None, *, unknown: str = UNKNOWN) -> str:
    """A duration given in milliseconds: ``850 ms``, ``1.2 s``, ``2 min 05 s``, ``1 h 02 min``.

    The web viewer's rule, now everywhere (Slack used to print ``"2 min 5 s"`` and had
    no hours, so a long run read ``"75 min 3 s"``): zero-padded seconds and minutes read
    like a clock and line up in lists. A missing or negative value is ``unknown``.
    """
    n = _as_int(ms)
    if n is None or n < 0:
        return unknown
    if n < 1000:
        return f"{n} ms"
    seconds = n / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    total = round(seconds)
    if total < 3600:
        return f"{total // 60} min {total % 60:02d} s"
    return f"{total // 3600} h {(total % 3600) // 60:02d} min"


def format_tokens(value: int | str | None, *, unknown: str = UNKNOWN) -> str:
    """A token count with thousands separators (``"1,234,567"``); ``unknown`` when missing."""
    n = _as_int(value)
    return unknown if n is None else f"{n:,}"


def format_token_usage(
    input_tokens: int | None,
    output_tokens: int | None,
    cache_read_tokens: int | None = None,
    cache_write_tokens: int | None = None,
    *,
    unknown: str = UNKNOWN,
) -> str:
    """Total, then the parts: ``"2,332 (1,520 in · 812 out · 64 cache read)"``.

    Cache counts appear only when there are any, so the common case stays short.
    ``unknown`` when neither input nor output is known.
    """
    i, o = _as_int(input_tokens), _as_int(output_tokens)
    if i is None and o is None:
        return unknown
    i, o = i or 0, o or 0
    text = f"{i + o:,} ({i:,} in · {o:,} out"
    cr, cw = _as_int(cache_read_tokens), _as_int(cache_write_tokens)
    if cr:
        text += f" · {cr:,} cache read"
    if cw:
        text += f" · {cw:,} cache write"
    return text + ")"


def parse_datetime(value: datetime | str | None) -> datetime | None:
    """An aware UTC datetime from a datetime or an ISO 8601 string (naive means UTC)."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str) and value.strip():
        try:
            dt = datetime.fromisoformat(value.strip())  # "Z" included, since Python 3.11
        except ValueError:
            return None
    else:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def format_datetime(value: datetime | str | None, *, unknown: str = UNKNOWN) -> str:
    """``2026-11-24 10:00 UTC``; a string that is not a date is shown as given.

    UTC because a permalink or a CLI log is read across time zones by people whose zone
    we do not know (Slack's ``<!date>`` localises it where it can, with this as its
    fallback text). A missing value is ``unknown``.
    """
    dt = parse_datetime(value)
    if dt is None:
        return value if isinstance(value, str) and value else unknown
    return f"{dt.year:04d}-{dt:%m-%d %H:%M} UTC"  # %Y drops the zero padding of years before 1000
