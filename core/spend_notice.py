"""The once-a-day notice to a workspace's admins that 80 % of its daily limit is spent
(DESIGN §10).

Why here, after a run closes: that is when its cost is recorded, in the worker. Exactly
one worker tells the admins per workspace and UTC day, however many runs close at once:
the day is claimed in the same UPDATE that tests it (storage.repos.workspaces.
claim_limit_notice). Telling them is the reporters' job (core must not know Slack): an
optional reporter method, ``daily_limit_near(team_id, spent, limit)``, which the Slack
surface implements with a DM to each admin. Best effort: nothing here may fail a run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from core.context import AppContext
from core.preflight import utc_midnight
from storage.db import transaction
from storage.repos import spend as spend_repo
from storage.repos import workspaces as workspace_repo

#: The share of the daily limit at which admins are told.
NOTICE_SHARE = Decimal("0.8")


@dataclass(frozen=True)
class Notice:
    spent: Decimal
    limit: Decimal


def claim_notice(ctx: AppContext, team_id: str, limit: Decimal | None, now: datetime | None = None) -> Notice | None:
    """The notice to send when the workspace's spend today reached NOTICE_SHARE of its daily
    limit ``limit`` and no one has claimed today's notice yet; None otherwise (no limit, under the
    share, or already told today)."""
    now = now or datetime.now(UTC)
    if limit is None:
        return None
    with transaction(ctx.sessions) as s:
        spent = spend_repo.spent_since(s, team_id, utc_midnight(now))
        if spent < limit * NOTICE_SHARE:
            return None
        if not workspace_repo.claim_limit_notice(s, team_id, utc_midnight(now).date()):
            return None
    return Notice(spent, limit)
