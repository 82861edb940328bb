"""URLs a run hands out: the signed artifact permalink (of the latest or of one version), the
signed compare link of two artifacts, and a link back to its Slack thread."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from core.context import AppContext
from core.permalinks import derive_key, permalink, sign, verify


def canonical_id(artifact_id: str) -> str:
    """The lowercase UUID form of an id (a URL may carry it in capitals); other text as given."""
    try:
        return str(uuid.UUID(str(artifact_id)))
    except ValueError:
        return str(artifact_id)


def signing_keys(ctx: AppContext) -> list[bytes]:
    """Newest first, like PIPEBOT_SECRET_KEY, so rotation keeps old links working."""
    return [derive_key(k) for k in ctx.keys]


def artifact_permalink(ctx: AppContext, team_id: str, artifact_id: str, suffix: str = "") -> str:
    return permalink(ctx.settings.public_url, artifact_id, team_id, signing_keys(ctx), suffix=suffix)


def thread_url(channel_id: str | None, thread_ts: str | None, team_id: str) -> str | None:
    if not channel_id or not thread_ts:
        return None
    return f"https://app.slack.com/client/{team_id}/{channel_id}/thread/{channel_id}-{thread_ts}"


def version_permalink(ctx: AppContext, team_id: str, artifact_id: str, version: int, suffix: str = "") -> str:
    """The permalink of one version: the artifact's signed link with ``&v=N``. The signature
    covers the artifact, so every version of it opens with the same one, and a link without
    ``v`` keeps showing the latest version."""
    return f"{artifact_permalink(ctx, team_id, artifact_id, suffix)}&v={int(version)}"


_COMPARE_TAG = "compare:"


def _compare_subject(left_id: str, right_id: str) -> str:
    # Tagged, so a compare signature is never valid as a permalink (which signs a bare UUID).
    return f"{_COMPARE_TAG}{canonical_id(left_id)}:{canonical_id(right_id)}"


def compare_signature(keys: Sequence[bytes], team_id: str, left_id: str, right_id: str) -> str:
    """The signature of a compare link: both artifacts and their workspace, in this order."""
    return sign(_compare_subject(left_id, right_id), team_id, keys[0])


def verify_compare(keys: Sequence[bytes], team_id: str, left_id: str, right_id: str, sig: str | None) -> bool:
    """Whether ``sig`` was made by :func:`compare_signature` for these two ids in ``team_id``."""
    return verify(_compare_subject(left_id, right_id), team_id, sig, keys)


def compare_url(
    ctx: AppContext,
    team_id: str,
    left_id: str,
    right_id: str,
    *,
    left_version: int | None = None,
    right_version: int | None = None,
) -> str:
    """``{public_url}/artifacts/{left}/compare/{right}?s=SIG[&av=N][&bv=M]``: the compare page.
    Versions are left out of the signature (the link opens both artifacts, any version)."""
    sig = compare_signature(signing_keys(ctx), team_id, left_id, right_id)
    base = (ctx.settings.public_url or "").strip().rstrip("/")
    url = f"{base}/artifacts/{canonical_id(left_id)}/compare/{canonical_id(right_id)}?s={sig}"
    if left_version is not None:
        url += f"&av={int(left_version)}"
    if right_version is not None:
        url += f"&bv={int(right_version)}"
    return url


def compare_permalink(
    ctx: AppContext, team_id: str, a_id: str, a_version: int | None, b_id: str, b_version: int | None
) -> str:
    """The compare page of version ``a_version`` of ``a_id`` (left) and ``b_version`` of
    ``b_id`` (right): :func:`compare_url` with the versions given in order."""
    return compare_url(ctx, team_id, a_id, b_id, left_version=a_version, right_version=b_version)
