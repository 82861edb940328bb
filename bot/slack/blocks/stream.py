"""Pure builders for a run's live output: the markdown streamed beside the task plan and,
where streaming is refused, the tail of it shown in the progress reply.

Model text is untrusted and goes out the way the final message sends it: as standard
Markdown with Slack's mention syntax defused by :func:`messages.safe_markdown` (one rule,
one source). Streamed text arrives in pieces, so a ``<`` at the end of one piece is held
back until the next shows whether it starts ``<!channel>`` (:func:`escape_live`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import Block, MarkdownBlock
from slack_sdk.models.messages.chunk import MarkdownTextChunk, PlanUpdateChunk

from bot.slack.blocks.common import safe_markdown
from bot.slack.blocks.runs import (
    StepView,
    ToolTaskView,
    plan_title,
    progress_message,
    task_chunk,
    task_title,
    tool_task_chunk,
)
from bot.slack.text import ELLIPSIS, PRACTICAL_MESSAGE_LIMIT, STREAM_CHUNK_LIMIT, split_for_stream

APPEND_MARKDOWN_LIMIT = STREAM_CHUNK_LIMIT  # markdown per start/append/stop call
LIVE_TAIL_MIN = 500  # the fallback reply always shows at least this much
STEP_SEPARATOR = "\n\n"
RETRY_NOTE = "\n\n_The reply broke off; asking the model again…_\n\n"
_FENCE = "```"
_MD_SPECIAL = re.compile(r"([\\`*_~\[\]])")


def escape_live(carry: str, delta: str) -> tuple[str, str]:
    """``(safe text to show now, carry)`` for the next piece of a step's text.

    Escaping is local (a ``<`` is defused by the character after it), so escaping piece by
    piece equals escaping the whole, provided a trailing ``<`` waits for its successor.
    """
    text = carry + delta
    if text.endswith("<"):
        return safe_markdown(text[:-1]), "<"
    return safe_markdown(text), ""


def _label(step: StepView) -> str:
    """The step's title (agent names are typed by people) as literal Markdown."""
    return safe_markdown(_MD_SPECIAL.sub(r"\\\1", task_title(step)))


def step_heading(step: StepView) -> str:
    """What precedes a step's text in the stream."""
    return f"**{_label(step)}**\n\n"


def continued_heading(step: StepView) -> str:
    """What opens a new stream that picks up a step's text in the middle."""
    return f"_{_label(step)}, continued_\n\n{ELLIPSIS}"


def next_piece(pending: str, limit: int = APPEND_MARKDOWN_LIMIT) -> str:
    """The prefix of ``pending`` one call may carry: all of it, or a piece of at most
    ``limit`` characters cut at a clean boundary (the rest goes in the next call)."""
    if len(pending) <= limit:
        return pending
    return split_for_stream(pending, limit)[0]


def markdown_chunk(text: str) -> MarkdownTextChunk:
    return MarkdownTextChunk(text=text)


def plan_chunks(pipeline_name: str, steps: Sequence[StepView], tools: Sequence[ToolTaskView] = ()) -> list[Any]:
    """Everything a (new) stream needs to show the whole plan: its title and every task."""
    return [
        PlanUpdateChunk(title=plan_title(pipeline_name, len(steps))),
        *[task_chunk(v) for v in steps],
        *[tool_task_chunk(t) for t in tools],
    ]


def live_tail(text: str, limit: int) -> str:
    """The last ``limit`` characters or so of ``text``, starting at a line or word, with
    ``…`` in front when something was left out; a code block cut open is reopened."""
    if len(text) <= limit:
        return text
    room = max(1, limit - len(ELLIPSIS) - len(_FENCE) - 1)
    start = len(text) - room
    for sep in ("\n", " "):
        found = text.find(sep, start, start + room // 2)
        if found != -1:
            start = found + 1
            break
    head, tail = text[:start], text[start:]
    if head.count(_FENCE) % 2 == 1:  # a fence only opens at the start of a line
        return f"{ELLIPSIS}\n{_FENCE}\n{tail}"
    return f"{ELLIPSIS} {tail.lstrip()}"


def _text_of(block: Block) -> str:
    text = block.to_dict().get("text")
    return text if isinstance(text, str) else (text or {}).get("text", "")


def live_progress_message(
    pipeline_name: str,
    steps: Sequence[StepView],
    live: StepView | None,
    text: str,
    *,
    finished: str | None = None,
    limit: int = PRACTICAL_MESSAGE_LIMIT,
    tools: Sequence[ToolTaskView] = (),
) -> tuple[str, list[Block]]:
    """The fallback progress reply (edited with chat.update) with the words the running
    step has written so far: its tail, so the whole message stays within ``limit``."""
    fallback, blocks = progress_message(pipeline_name, steps, finished=finished, tools=tools)
    if finished is not None or live is None or not text.strip():
        return fallback, blocks
    used = sum(len(_text_of(b)) for b in blocks)
    head = f"**{_label(live)}** is writing…\n\n"
    room = max(LIVE_TAIL_MIN, limit - used - len(head))
    return fallback, [*blocks, MarkdownBlock(text=head + live_tail(text, room))]
