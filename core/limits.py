"""The workspace limits an admin sets in `/pipebot settings` (DESIGN §10): reading what was
typed, and saving a change with its audit event in the same transaction.

Why strict: a limit is money. "abc", "-5", "0", "1e9999" or "NaN" must be refused with a
line under the field, never stored as something the admin did not mean.
"""

from __future__ import annotations

import re
from decimal import Decimal

from core.audit import AuditAction
from core.errors import ValidationFailed
from storage.db import Session
from storage.repos import audit
from storage.repos import workspaces as workspace_repo
from storage.repos.workspaces import Limits

DAILY_FIELD = "daily_limit_usd"
PER_HOUR_FIELD = "runs_per_person_hour"

DAILY_MAX = Decimal(1_000_000)
PER_HOUR_MAX = 10_000

_AMOUNT = re.compile(r"\$?\s*(\d{1,7}(?:\.\d{1,2})?)")
_WHOLE = re.compile(r"\d{1,6}")

DAILY_ERROR = (
    f"Enter the daily limit in US dollars, more than 0 and at most {DAILY_MAX:,}, "
    "such as 25 or 12.50 (at most 2 decimals), or leave it empty for no limit."
)
PER_HOUR_ERROR = f"Enter a whole number of runs from 1 to {PER_HOUR_MAX:,}, such as 10, or leave it empty for no limit."


def parse_limits(daily: str | None, per_hour: str | None, public_links: bool) -> Limits:
    """What the admin typed, as Limits; ValidationFailed keyed by DAILY_FIELD/PER_HOUR_FIELD."""
    errors: dict[str, str] = {}
    daily_limit: Decimal | None = None
    text = (daily or "").strip()
    if text:
        m = _AMOUNT.fullmatch(text)
        daily_limit = Decimal(m.group(1)) if m else None
        if daily_limit is None or not 0 < daily_limit <= DAILY_MAX:
            errors[DAILY_FIELD] = DAILY_ERROR
    runs: int | None = None
    text = (per_hour or "").strip()
    if text:
        runs = int(text) if _WHOLE.fullmatch(text) else None
        if runs is None or not 1 <= runs <= PER_HOUR_MAX:
            errors[PER_HOUR_FIELD] = PER_HOUR_ERROR
    if errors:
        raise ValidationFailed(errors)
    return Limits(daily_limit, runs, public_links)


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def save_limits(s: Session, team_id: str, actor: str, new: Limits) -> list[str]:
    """Store ``new`` and record what changed (old and new values) in the audit trail, in the
    caller's transaction; one line per change for the admin (none: nothing changed)."""
    old = workspace_repo.limits(s, team_id)
    lines: list[str] = []
    if (old.daily_limit_usd, old.runs_per_person_hour) != (new.daily_limit_usd, new.runs_per_person_hour):
        detail = {
            "daily_limit_usd": {"old": _money(old.daily_limit_usd), "new": _money(new.daily_limit_usd)},
            "runs_per_person_hour": {"old": old.runs_per_person_hour, "new": new.runs_per_person_hour},
        }
        audit.record(s, team_id, actor, AuditAction.LIMITS_CHANGED, "limits", detail)
        if old.daily_limit_usd != new.daily_limit_usd:
            lines.append(
                f"Daily limit: ${new.daily_limit_usd:.2f}." if new.daily_limit_usd is not None else "No daily limit."
            )
        if old.runs_per_person_hour != new.runs_per_person_hour:
            lines.append(
                f"Runs per person per hour: {new.runs_per_person_hour}."
                if new.runs_per_person_hour is not None
                else "No limit of runs per person per hour."
            )
    if old.public_links != new.public_links:
        audit.record(
            s,
            team_id,
            actor,
            AuditAction.SETTING_CHANGED,
            "public_links",
            {"old": old.public_links, "new": new.public_links},
        )
        lines.append(
            "Anyone with the link can now open public-channel runs."
            if new.public_links
            else "Links to public-channel runs now open only for people signed in who can see them."
        )
    if lines:
        workspace_repo.set_limits(s, team_id, new)
    return lines
