"""URLs a run hands out: the signed artifact permalink and a link back to its Slack thread."""

from __future__ import annotations

from core.context import AppContext
from core.permalinks import derive_key, permalink


def signing_keys(ctx: AppContext) -> list[bytes]:
    """Newest first, like PIPEBOT_SECRET_KEY, so rotation keeps old links working."""
    return [derive_key(k) for k in ctx.keys]


def artifact_permalink(ctx: AppContext, team_id: str, artifact_id: str, suffix: str = "") -> str:
    return permalink(ctx.settings.public_url, artifact_id, team_id, signing_keys(ctx), suffix=suffix)


def thread_url(channel_id: str | None, thread_ts: str | None, team_id: str) -> str | None:
    if not channel_id or not thread_ts:
        return None
    return f"https://app.slack.com/client/{team_id}/{channel_id}/thread/{channel_id}-{thread_ts}"
