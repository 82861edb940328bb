"""``link_shared`` events and ``chat.unfurl``."""

from __future__ import annotations

import secrets
import urllib.parse
from typing import Any

from tests.fakes.slack.blocks import fill_ids, validate_blocks
from tests.fakes.slack.limits import GENERAL, MSG_BLOCKS_LIMIT, TEAM_ID, USER_ID
from tests.fakes.slack.records import ApiError, Call
from tests.fakes.slack.state import SlackState


class UnfurlsMixin(SlackState):
    """Link unfurling."""

    def share_links(
        self,
        urls: list[str],
        *,
        channel: str = GENERAL,
        user_id: str = USER_ID,
        team_id: str = TEAM_ID,
        source: str = "conversations_history",
        thread_ts: str | None = None,
    ) -> dict[str, Any]:
        """A person posts ``urls`` (``source="conversations_history"``: a message in
        ``channel``; ``"composer"``: still a draft, so there is no message yet) and Slack
        tells the app: returns the ``link_shared`` event to send to it (``signer.event(...)``)."""
        with self._lock:
            unfurl_id = f"U{next(self._ids)}.{secrets.token_hex(8)}"
            links = [{"domain": urllib.parse.urlsplit(u).hostname or "", "url": u} for u in urls]
            if source == "composer":
                where, ts = "COMPOSER", f"{user_id}-{secrets.token_hex(8)}"
            else:
                where, ts = channel, self._next_ts()
                msg = {"type": "message", "ts": ts, "user": user_id, "team": team_id, "text": " ".join(urls)}
                if thread_ts:
                    msg["thread_ts"] = thread_ts
                self._store(self.channels[channel], msg)
            self._shared[unfurl_id] = {
                "channel": where,
                "ts": ts,
                "urls": set(urls),
                "team_id": team_id,
                "source": source,
            }
            event: dict[str, Any] = {
                "type": "link_shared",
                "channel": where,
                "is_bot_user_member": True,
                "user": user_id,
                "message_ts": ts,
                "unfurl_id": unfurl_id,
                "source": source,
                "links": links,
            }
            if thread_ts:
                event["thread_ts"] = thread_ts
            return event

    def unfurls(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Cards set with chat.unfurl (``url``, ``blocks``, ``channel``, ``ts``, ``unfurl_id``)."""
        with self._lock:
            return [dict(u) for u in self._unfurls if channel is None or u["channel"] == channel]

    def _m_chat_unfurl(self, params: dict[str, Any], ctx: dict[str, Any], call: Call) -> dict[str, Any]:
        unfurl_id, source = params.get("unfurl_id"), params.get("source")
        if unfurl_id or source:
            if not unfurl_id:
                raise ApiError("missing_unfurl_id")
            if source not in ("composer", "conversations_history"):
                raise ApiError("invalid_source")
            shared = self._shared.get(str(unfurl_id))
            if shared is None or shared["source"] != source:
                raise ApiError("invalid_unfurl_id")
        else:
            if not params.get("channel"):
                raise ApiError("missing_channel")
            if not params.get("ts"):
                raise ApiError("missing_ts")
            shared = next(
                (sh for sh in self._shared.values() if sh["channel"] == params["channel"] and sh["ts"] == params["ts"]),
                None,
            )
            if shared is None:
                raise ApiError("cannot_unfurl_message")
        if shared["team_id"] != ctx["team"]["id"]:
            raise ApiError("cannot_unfurl_message")
        unfurls = params.get("unfurls")
        if unfurls in (None, ""):
            raise ApiError("missing_unfurls")
        if not isinstance(unfurls, dict):
            raise ApiError("invalid_unfurls_format")
        for url, card in unfurls.items():
            if url not in shared["urls"]:
                raise ApiError("cannot_unfurl_url")
            if not isinstance(card, dict):
                raise ApiError("invalid_unfurls_format")
            if card.get("blocks") is not None:
                errs: list[str] = []
                validate_blocks(
                    card["blocks"], f"/unfurls/{url}/blocks", MSG_BLOCKS_LIMIT, errs, self.max_total_options
                )
                if errs:
                    raise ApiError("invalid_blocks", errs)
        for url, card in unfurls.items():
            self._unfurls.append(
                {
                    "url": url,
                    "blocks": fill_ids(card.get("blocks") or []),
                    "channel": shared["channel"],
                    "ts": shared["ts"],
                    "unfurl_id": unfurl_id,
                }
            )
        return {}
