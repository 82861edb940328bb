"""URLs a run hands out: the signed artifact permalink, the signed compare link of two
artifacts, and a link back to its Slack thread."""

from __future__ import annotations

import uuid

from core.context import AppContext
from core.permalinks import derive_key, permalink, sign


def signing_keys(ctx: AppContext) -> list[bytes]:
    """Newest first, like PIPEBOT_SECRET_KEY, so rotation keeps old links working."""
    return [derive_key(k) for k in ctx.keys]


def artifact_permalink(ctx: AppContext, team_id: str, artifact_id: str, suffix: str = "") -> str:
    return permalink(ctx.settings.public_url, artifact_id, team_id, signing_keys(ctx), suffix=suffix)


def thread_url(channel_id: str | None, thread_ts: str | None, team_id: str) -> str | None:
    if not channel_id or not thread_ts:
        return None
    return f"https://app.slack.com/client/{team_id}/{channel_id}/thread/{channel_id}-{thread_ts}"


def _canonical(artifact_id: str) -> str:
    try:
        return str(uuid.UUID(str(artifact_id)))
    except ValueError:
        return str(artifact_id)


def compare_permalink(ctx: AppContext, team_id: str, a_id: str, a_version: int | None, b_id: str,
                      b_version: int | None) -> str:
    """``{public_url}/artifacts/{a}/compare/{b}?s=SIG[&av=N][&bv=M]``: the compare page of
    version ``a_version`` of ``a_id`` (left) and ``b_version`` of ``b_id`` (right).

    The signature binds both artifacts, in this order, to the workspace, and is tagged
    ``compare:`` so that it is never valid as a permalink (which signs a bare artifact id).
    Versions are outside it: a link that opens two artifacts may show any of their versions.
    """
    left, right = _canonical(a_id), _canonical(b_id)
    sig = sign(f"compare:{left}:{right}", team_id, signing_keys(ctx)[0])
    base = (ctx.settings.public_url or "").strip().rstrip("/")
    url = f"{base}/artifacts/{left}/compare/{right}?s={sig}"
    if a_version is not None:
        url += f"&av={int(a_version)}"
    if b_version is not None:
        url += f"&bv={int(b_version)}"
    return url
