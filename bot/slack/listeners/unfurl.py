"""A pasted permalink unfurls into a card: ``link_shared`` → ``chat.unfurl``.

Slack sends ``link_shared`` for links to the app's ``unfurl_domains`` (the host of
PIPEBOT_PUBLIC_URL). A link becomes a card only when it is one of this deployment's
artifact permalinks, its signature is valid for the workspace the event comes from, and
that workspace holds the artifact: a permalink pasted in another workspace gets no card
(its signature names the workspace it was made for), and neither does a tampered one.
The card shows the version the link names (``&v=N``) or the latest, with *Re-run from…*
and *Compare*, only where everyone who reads the conversation may see the run
(core/visibility.shows_where_pasted: the run's own conversation, or any conversation not
shared with another organisation for a run of a public channel); elsewhere, and in the
composer (no conversation yet), the card says nothing of the run (DESIGN §10).
"""

from __future__ import annotations

import html
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import parse_qs, urlsplit

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.blocks import unfurl as msgs
from bot.slack.listeners.support import after_ack
from bot.slack.membership import MembershipUnknown
from bot.slack.payloads import team_of
from bot.slack.seeing import source
from core.context import AppContext
from core.links import artifact_permalink, signing_keys
from core.permalinks import verify
from core.visibility import shows_where_pasted
from storage.db import transaction
from storage.repos import artifacts as artifact_repo

log = logging.getLogger(__name__)

MAX_LINKS = 10  # links a message gets cards for; each costs a query
COMPOSER = "COMPOSER"  # link_shared's channel for a draft: no conversation yet
_SUFFIXES = (".json", ".md")


@dataclass(frozen=True)
class Permalink:
    artifact_id: str
    signature: str
    version: int | None


def read_permalink(public_url: str, url: str) -> Permalink | None:
    """The artifact, signature and version of ``url`` when it is a permalink of the deployment
    at ``public_url`` (same host, same path prefix); None for any other link."""
    base, link = urlsplit(public_url), urlsplit(html.unescape(url or ""))
    if link.scheme not in ("http", "https") or link.netloc.lower() != base.netloc.lower():
        return None
    prefix = base.path.rstrip("/") + "/artifacts/"
    if not link.path.startswith(prefix):
        return None
    rest = link.path[len(prefix) :]
    for suffix in _SUFFIXES:
        rest = rest.removesuffix(suffix)
    try:
        artifact_id = str(uuid.UUID(rest))
    except ValueError:
        return None  # a compare or editor page, or not ours
    query = parse_qs(link.query)
    sig = (query.get("s") or [""])[0]
    raw = query.get("v")
    if raw is not None and not raw[0].isdigit():
        return None
    return Permalink(artifact_id, sig, int(raw[0]) if raw is not None else None)


def _shows_here(ctx: AppContext, client: WebClient, team_id: str, run_channel: str | None, pasted_in: str) -> bool:
    """core.visibility.shows_where_pasted, with what Slack says of both conversations (asked
    only when the answer depends on it)."""
    where = None if pasted_in in ("", COMPOSER) else pasted_in
    public, shared = False, True
    if run_channel and where and run_channel != where:
        slack = source(ctx, client)
        try:
            public = run_channel in slack.public_channels(team_id)
        except MembershipUnknown as exc:
            log.info("unfurl without content: %s", exc)
        shared = public and slack.shared_outside(team_id, where)
    return shows_where_pasted(run_channel, where, run_public=public, pasted_shared=shared)


def card_for(ctx: AppContext, client: WebClient, team_id: str, url: str, pasted_in: str = "") -> dict[str, Any] | None:
    """The unfurl of ``url`` pasted in conversation ``pasted_in`` of workspace ``team_id``, or
    None when it gets none."""
    link = read_permalink(ctx.settings.public_url, url)
    if link is None or not verify(link.artifact_id, team_id, link.signature, signing_keys(ctx)):
        return None
    with transaction(ctx.sessions) as s:
        artifact = artifact_repo.get_artifact(s, team_id, link.artifact_id)
        if artifact is None:
            return None
        version = link.version or artifact.latest_version
        if not 1 <= version <= artifact.latest_version:
            return None
    if not _shows_here(ctx, client, team_id, artifact.channel_id, pasted_in):
        return msgs.hidden_card()
    return msgs.unfurl_card(
        artifact_id=artifact.id,
        pipeline_name=artifact.pipeline_name,
        status=artifact.status,
        version=version,
        latest=artifact.latest_version,
        cost_usd=artifact.cost_usd,
        models=list(artifact.models or []),
        created_at=artifact.created_at,
        permalink=artifact_permalink(ctx, team_id, str(artifact.id)),
    )


def unfurl(ctx: AppContext, client: WebClient, team_id: str, event: Mapping[str, Any]) -> None:
    """Answer one ``link_shared`` with the cards of its permalinks (one ``chat.unfurl``)."""
    unfurls: dict[str, dict[str, Any]] = {}
    for shared in list(event.get("links") or [])[:MAX_LINKS]:
        url = str((shared or {}).get("url") or "")
        card = card_for(ctx, client, team_id, url, str(event.get("channel") or ""))
        if card is not None:
            unfurls[url] = card
    if not unfurls:
        return
    where: dict[str, Any]
    if event.get("unfurl_id") and event.get("source"):
        where = {"unfurl_id": event["unfurl_id"], "source": event["source"]}
    else:
        where = {"channel": event.get("channel"), "ts": event.get("message_ts")}
    try:
        client.chat_unfurl(unfurls=unfurls, **where)
    except SlackApiError as exc:
        log.info("chat.unfurl refused: %s", exc.response.get("error"))


def link_shared(ctx: AppContext, body: dict[str, Any], event: dict[str, Any], client: WebClient) -> None:
    """``link_shared``: acked when this returns, the cards made after the ack."""
    after_ack(unfurl, ctx, client, team_of(body), event)


def register(app: App, ctx: AppContext) -> None:
    """``link_shared``."""
    app.event("link_shared")(partial(link_shared, ctx))
