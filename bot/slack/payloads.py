"""Reading Slack's signed payloads: the fields every listener needs, whatever the kind."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from slack_bolt import BoltContext


def team_of(body: Mapping[str, Any], context: BoltContext | None = None) -> str:
    """The workspace of a signed payload. Slash commands carry ``team_id``; interactions
    ``team.id``; view submissions also ``view.team_id``; Bolt's context has it for all."""
    team = (context.team_id if context is not None else None) or body.get("team_id")
    if not team:
        team = (
            (body.get("team") or {}).get("id")
            or (body.get("user") or {}).get("team_id")
            or (body.get("view") or {}).get("team_id")
        )
    if not team:
        raise ValueError("payload without a team id")
    return str(team)
