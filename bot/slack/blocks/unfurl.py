"""Block Kit for the card a pasted permalink unfurls into, with the buttons of the
version it shows.

A pure builder (no I/O); the listener gives it a card only when the pasting workspace owns
the artifact. Names are untrusted and go into mrkdwn through ``escape_mrkdwn``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from slack_sdk.models.blocks import ActionsBlock, Block, SectionBlock

from bot.slack.blocks.artifact_buttons import lifecycle_buttons
from bot.slack.blocks.common import STATUS_EMOJI, md, models_text, one_line, slack_date
from bot.slack.text import escape_mrkdwn
from core.formatting import format_cost

# ---- the unfurl card ----------------------------------------------------------------------------

#: The card of a run whose content may not show where its link was pasted (DESIGN §10: "a
#: private run's unfurl shows nothing of it", not even its pipeline's name).
HIDDEN_CARD_TEXT = "A pipebot result — open the link to see it if you have access."


def hidden_card() -> dict[str, Any]:
    """A card that says nothing of the run: no name, status, date or buttons."""
    return {"blocks": [SectionBlock(text=md(HIDDEN_CARD_TEXT)).to_dict()]}


def unfurl_card(
    *,
    artifact_id: Any,
    pipeline_name: str,
    status: str,
    version: int,
    latest: int,
    cost_usd: Decimal | None,
    models: Sequence[str],
    created_at: datetime | None,
    permalink: str,
) -> dict[str, Any]:
    """What a pasted permalink unfurls into: pipeline, status, version, cost, models, date,
    with *Re-run from…* and *Compare* for the version the link shows."""
    emoji = STATUS_EMOJI.get(status, "•")
    shown = f"{version} of {latest}" if latest > 1 else "1"
    fields = [
        md(f"*Status*\n{emoji} {status}"),
        md(f"*Version*\n{shown}"),
        md(f"*Cost*\n{format_cost(cost_usd)}"),
        md(f"*Models*\n{escape_mrkdwn(models_text(list(models)))}"),
        md(f"*Date*\n{slack_date(created_at)}"),
    ]
    link = f"<{escape_mrkdwn(permalink).replace('|', '%7C')}|{escape_mrkdwn(one_line(pipeline_name, 80))}>"
    blocks: list[Block] = [
        SectionBlock(text=md(f"{emoji} *{link}*"), fields=fields),
        ActionsBlock(elements=lifecycle_buttons(artifact_id, version, edit=False)),
    ]
    return {"blocks": [b.to_dict() for b in blocks]}
