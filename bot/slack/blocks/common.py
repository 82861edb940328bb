"""Block Kit pieces every surface uses: ids, private_metadata, formatting, small builders.

Pure functions, no network and no database. Why slack_sdk.models: the model classes check
Slack's limits when ``to_dict()`` runs, so a limit we forgot fails in a unit test instead
of as ``invalid_arguments`` in front of a user. The list messages answered inside a slash
command's ack are plain dicts instead (``section_dict`` and friends): the models'
validation cost more CPU than the rest of the ack, so their limits are kept by
construction (``clip``) and a test runs them through the models.

Untrusted text (model output, names people chose) goes into mrkdwn only through
``escape_mrkdwn`` and into standard-Markdown blocks through ``safe_markdown``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.slack.blocks.limits import (
    BUTTON_TEXT_LIMIT,
    HEADER_TEXT_LIMIT,
    MODAL_TITLE_LIMIT,
    PRIVATE_METADATA_LIMIT,
    SECTION_TEXT_LIMIT,
)
from bot.slack.text import ELLIPSIS, clip, escape_mrkdwn, truncate_at_boundary
from core.formatting import format_datetime
from providers import catalog
from storage.states import RunStatus

INFO_CALLBACK = "pipebot_info"  # views without inputs (no key yet, checking…, saved)
INPUT = "value"  # action_id of every modal input: block_ids say which field it is
NAME_MAX = 80
LIST_ITEMS_WITH_MENUS = 40  # 50 blocks per message: a header, items, a footer
DELETE_AGENT = "pipebot_delete_agent"
DELETE_PIPELINE = "pipebot_delete_pipeline"
DELETE_CANCEL = "pipebot_delete_cancel"
ZWSP = "\u200b"
_CONTROL = re.compile(r"<(?=[@#!])")
_SPACES = re.compile(r"\s+")
STATUS_EMOJI: dict[str, str] = {
    RunStatus.QUEUED: "⏳",
    RunStatus.RUNNING: "⏳",
    RunStatus.WAITING: "⏸️",
    RunStatus.SUCCEEDED: "✅",
    RunStatus.FAILED: "❌",
}
PREVIEW_CHARS = 200


# ---- private_metadata ----------------------------------------------------------------------


def encode_metadata(meta: Mapping[str, Any], *, droppable: tuple[str, ...] = ("r",)) -> str:
    """Compact JSON for ``private_metadata`` (≤ 3000 chars). Never put secrets in it: Slack
    echoes it back in every payload. The ``droppable`` keys (the response_url) are dropped
    first if space runs out; ValueError if it still does not fit."""
    data = {k: v for k, v in meta.items() if v is not None}
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    for key in droppable:
        if len(text) > PRIVATE_METADATA_LIMIT and key in data:
            data.pop(key)
            text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    if len(text) > PRIVATE_METADATA_LIMIT:
        raise ValueError(f"private_metadata would be {len(text)} chars (limit {PRIVATE_METADATA_LIMIT})")
    return text


# ---- text --------------------------------------------------------------------------------


def safe_markdown(text: str) -> str:
    """Standard-Markdown text with Slack's mention syntax defused.

    Why not escape_mrkdwn: markdown blocks and streamed markdown follow Markdown rules,
    where ``&lt;`` inside a code block may show literally. A zero-width space after
    ``<`` keeps ``<!channel>``/``<@U1>``/``<#C1>`` from pinging or linking while the text
    reads exactly the same.
    """
    return _CONTROL.sub("<" + ZWSP, text)


def one_line(text: str, limit: int = PREVIEW_CHARS) -> str:
    """Whitespace collapsed and cut at a word with an ellipsis (not escaped)."""
    return clip(_SPACES.sub(" ", text or "").strip(), limit)


def preview(text: str, limit: int = PREVIEW_CHARS) -> str:
    """A one-line, mrkdwn-escaped preview of untrusted text."""
    return escape_mrkdwn(one_line(text, limit))


def name_md(name: str) -> str:
    """A user-chosen name in bold, escaped for mrkdwn."""
    return f"*{escape_mrkdwn(name)}*"


def model_label(ref: str | None) -> str:
    """A model's display name for lists ("Claude Haiku 4.5"), or the raw ref if unknown."""
    if not ref:
        return "no model"
    try:
        info = catalog.lookup(ref)
    except ValueError:
        info = None
    return info.display_name if info else ref


def models_text(models: Sequence[str]) -> str:
    labels = list(dict.fromkeys(model_label(m) for m in models if m))
    return ", ".join(labels) if labels else "no model called"


def slack_date(when: datetime | None) -> str:
    """``<!date^…>``: Slack shows it in each reader's own time zone."""
    if when is None:
        return "unknown date"
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return f"<!date^{int(when.timestamp())}^{{date_short_pretty}} {{time}}|{format_datetime(when)}>"


def link(url: str | None, label: str) -> str:
    """An mrkdwn link; nothing when there is no URL."""
    if not url:
        return ""
    return f"<{escape_mrkdwn(url).replace('|', '%7C')}|{escape_mrkdwn(label)}>"


def blocks_size(blocks: Sequence[Block | Mapping[str, Any]]) -> int:
    """Characters of the blocks' JSON, as Slack counts them for ``msg_blocks_too_long``."""
    return len(json.dumps([b.to_dict() if isinstance(b, Block) else b for b in blocks], ensure_ascii=False))


def fit_markdown(text: str, url: str | None, limit: int) -> str:
    """Standard-Markdown ``text`` in at most ``limit`` characters: cut at a clean boundary
    with ``full output: [open the artifact](url)`` when it does not fit; an open code
    fence is closed so the link does not render as code."""
    if len(text) <= limit:
        return text
    tail = f"{ELLIPSIS}\n\nfull output: [open the artifact]({url})" if url else ELLIPSIS
    room = limit - len(tail)
    head = truncate_at_boundary(text, room)
    if head.count("```") % 2 == 1:
        closing = "\n```\n"  # on its own line, so Markdown sees the fence close
        head = truncate_at_boundary(text, room - len(closing))
        if head.count("```") % 2 == 1:
            head += closing
    return head + tail


def join_words(items: Sequence[str]) -> str:
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def text_value(values: Mapping[str, Any], block_id: str) -> str:
    state = (values.get(block_id) or {}).get(INPUT) or {}
    return state.get("value") or ""


def money(value: Decimal | float | str) -> str:
    d = Decimal(str(value)).normalize()
    return f"{d:f}"


# ---- Block Kit models ----------------------------------------------------------------------


def md(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=text)


def section(text: str, accessory: Any = None) -> SectionBlock:
    return SectionBlock(text=md(clip(text, SECTION_TEXT_LIMIT)), accessory=accessory)


def context(text: str) -> ContextBlock:
    return ContextBlock(elements=[md(clip(text, SECTION_TEXT_LIMIT))])


def modal_title(text: str) -> PlainTextObject:
    return PlainTextObject(text=clip(text, MODAL_TITLE_LIMIT))


def button(
    text: str, action_id: str, *, value: str | None = None, url: str | None = None, style: str | None = None
) -> ButtonElement:
    return ButtonElement(text=clip(text, BUTTON_TEXT_LIMIT), action_id=action_id, value=value, url=url, style=style)


def info_modal(title: str, text: str, *, close: str = "Close") -> View:
    """A modal with one message and no inputs (checking a key, saved, could not save)."""
    return View(
        type="modal",
        callback_id=INFO_CALLBACK,
        title=modal_title(title),
        close=PlainTextObject(text=close),
        blocks=[section(text)],
    )


def form_modal(callback_id: str, title: str, submit: str, metadata: str, blocks: Sequence[Block]) -> View:
    """A modal with inputs, a submit button and Cancel: every form reads the same to the person."""
    return View(
        type="modal",
        callback_id=callback_id,
        title=modal_title(title),
        submit=PlainTextObject(text=submit),
        close=PlainTextObject(text="Cancel"),
        private_metadata=metadata,
        blocks=list(blocks),
    )


def confirm_delete_message(kind: str, item_id: int, name: str, used_by: Sequence[str] = ()) -> tuple[str, list[Block]]:
    """The ephemeral question before a delete; the Delete button carries the id, not the name."""
    what = f"the {kind} *{escape_mrkdwn(name)}*"
    text = f"Delete {what}? This cannot be undone."
    if used_by:
        names = join_words([f"*{escape_mrkdwn(n)}*" for n in used_by[:10]])
        more = f" and {len(used_by) - 10} more" if len(used_by) > 10 else ""
        text += (
            f"\n⚠️ It is used by {len(used_by)} pipeline(s): {names}{more}. Their steps will be "
            "marked as using a deleted agent and those pipelines won't run until someone picks another."
        )
    action = DELETE_AGENT if kind == "agent" else DELETE_PIPELINE
    blocks: list[Block] = [
        section(text),
        ActionsBlock(
            elements=[
                ButtonElement(action_id=action, text="Delete", style="danger", value=json.dumps({"id": item_id})),
                ButtonElement(action_id=DELETE_CANCEL, text="Cancel", value="cancel"),
            ]
        ),
    ]
    return f"Delete the {kind} {name}?", blocks


# ---- plain dicts for the lists answered in the ack ----------------------------------------


def md_dict(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def plain_dict(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def section_dict(text: str, accessory: dict[str, Any] | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "section", "text": md_dict(clip(text, SECTION_TEXT_LIMIT))}
    if accessory is not None:
        block["accessory"] = accessory
    return block


def context_dict(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [md_dict(clip(text, SECTION_TEXT_LIMIT))]}


def header_dict(text: str) -> dict[str, Any]:
    return {"type": "header", "text": plain_dict(clip(text, HEADER_TEXT_LIMIT))}


def item_menu(action_id: str, item_id: int) -> dict[str, Any]:
    """Edit / Delete… overflow next to a list item; the value carries the id, never the name."""
    return {
        "type": "overflow",
        "action_id": action_id,
        "options": [
            {"text": plain_dict("Edit"), "value": json.dumps({"do": "edit", "id": item_id})},
            {"text": plain_dict("Delete…"), "value": json.dumps({"do": "delete", "id": item_id})},
        ],
    }


def packed_sections(lines: list[str], budget: int = 11000) -> list[dict[str, Any]]:
    """Lines packed into as few sections as fit (3000 chars each, ~11k in all: Slack rejects
    messages past about 13k chars of blocks), with a note when some had to be left out."""
    sections: list[list[str]] = [[]]
    size = used = 0
    shown = 0
    for line in (clip(x, 2900) for x in lines):
        if used + len(line) > budget:
            break
        if size + len(line) + 1 > 2900:
            sections.append([])
            size = 0
        sections[-1].append(line)
        size += len(line) + 1
        used += len(line) + 1
        shown += 1
    blocks = [section_dict("\n".join(chunk)) for chunk in sections if chunk]
    if shown < len(lines):
        blocks.append(context_dict(f"…and {len(lines) - shown} more."))
    return blocks


def list_message(
    kind: str, lines: list[str], ids: list[int], menu: str, empty: str, footer: str
) -> tuple[str, list[dict[str, Any]]]:
    if not lines:
        return empty, [section_dict(empty)]
    blocks = [header_dict(f"{kind.capitalize()}s ({len(lines)})")]
    if len(lines) <= LIST_ITEMS_WITH_MENUS:
        blocks += [section_dict(line, item_menu(menu, item_id)) for line, item_id in zip(lines, ids, strict=True)]
    else:
        blocks += packed_sections(lines)
    blocks.append(context_dict(footer))
    return f"{len(lines)} {kind}(s)", blocks
