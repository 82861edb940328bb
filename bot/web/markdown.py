"""Markdown on the artifact viewer: untrusted Markdown to safe HTML, within bounds, and the export.

Model output is Markdown written by something we do not control, so it is rendered with
markdown-it-py in CommonMark mode with raw HTML off, an allow-list of link schemes,
``rel="nofollow noopener noreferrer ugc"`` on every link, and remote images turned into
links (fetching them would leak the viewer's IP to whoever wrote the URL).

Rendering costs about 0.3-1.5 µs a character, so it is bounded: at most
:data:`MARKDOWN_OUTPUT_LIMIT` characters of one output and :data:`MARKDOWN_PAGE_LIMIT` of
one page are rendered; past that an output is shown as escaped plain text, in full.

The export ("Download as Markdown") is the same artifact as a standalone document.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token

from bot.web.inputs_view import file_views, thread_view
from bot.web.present import (
    agent_title,
    error_kind,
    pipeline_title,
    position,
    safe_href,
    status,
    temperature_text,
    usage_text,
)
from bot.web.tool_calls_view import tool_call_rows
from core.formatting import UNKNOWN, format_datetime, format_duration, format_usd
from core.messages import deleted_by
from core.runs.artifact import Artifact

__all__ = [
    "MARKDOWN_OUTPUT_LIMIT",
    "MARKDOWN_PAGE_LIMIT",
    "Bounded",
    "MarkdownBudget",
    "render_artifact_markdown",
    "render_bounded",
    "render_markdown_safe",
]

# ---- untrusted Markdown to safe HTML ---------------------------------------------------------

_SCHEME_RE = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*):")
_SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
_DATA_IMAGE_RE = re.compile(r"^data:image/(?:gif|png|jpeg|webp);", re.IGNORECASE)
_LINK_REL = "nofollow noopener noreferrer ugc"


def _validate_link(url: str) -> bool:
    """Allow-list link targets: http(s), mailto, scheme-less, and raster data: images.

    markdown-it's default already refuses ``javascript:``, ``vbscript:``, ``file:`` and
    most ``data:``; an allow-list is stricter and also refuses schemes we have never heard
    of (``intent:``, ``ms-*:``…). A refused link is rendered as its literal, escaped
    source text, i.e. not clickable.
    """
    m = _SCHEME_RE.match(url.strip())
    if not m:
        return True  # relative, fragment, or percent-encoded garbage: no scheme
    scheme = m.group(1).lower()
    if scheme in _SAFE_SCHEMES:
        return True
    return scheme == "data" and bool(_DATA_IMAGE_RE.match(url.strip()))


def _render_image(self: Any, tokens: list[Token], idx: int, options: Any, env: Any) -> str:
    """``![alt](src)`` without fetching anything remote: inline ``data:`` rasters are shown,
    remote images become a plain link (the CSP would block them anyway, as a broken icon)."""
    token = tokens[idx]
    src = str(token.attrGet("src") or "")
    alt = self.renderInlineAsText(token.children or [], options, env)
    if _DATA_IMAGE_RE.match(src):
        return f'<img src="{html.escape(src)}" alt="{html.escape(alt)}">'
    label = alt or src or "image"
    return f'<a href="{html.escape(src)}" rel="{_LINK_REL}">[image: {html.escape(label)}]</a>'


def _new_markdown() -> MarkdownIt:
    # breaks=True: model output is chat text; a single newline means a new line.
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False, "breaks": True})
    md.enable(["table", "strikethrough"])
    md.validateLink = _validate_link  # type: ignore[method-assign]  # markdown-it's documented hook is this attribute
    md.add_render_rule("image", _render_image)
    return md


_MD = _new_markdown()


def _walk(tokens: Iterable[Token]) -> Iterable[Token]:
    for tok in tokens:
        yield tok
        if tok.children:
            yield from _walk(tok.children)


def render_markdown_safe(text: str | None) -> str:
    """Untrusted Markdown to HTML that is safe to embed (``None`` gives ``""``).

    Table alignment becomes a class rather than a ``style=`` attribute, which the
    hash-based CSP would block.
    """
    if not text:
        return ""
    env: dict[str, Any] = {}
    tokens = _MD.parse(text, env)
    for tok in _walk(tokens):
        if tok.type == "link_open":
            tok.attrSet("rel", _LINK_REL)
        elif tok.type in ("th_open", "td_open") and tok.attrs:
            style = str(tok.attrs.pop("style", "") or "")
            m = re.fullmatch(r"text-align:(left|center|right)", style)
            if m:
                tok.attrSet("class", f"al-{m.group(1)}")
    return _MD.renderer.render(tokens, _MD.options, env)


# ---- bounded rendering ---------------------------------------------------------------------------

#: At most this many characters of one output are rendered as Markdown...
MARKDOWN_OUTPUT_LIMIT = 64_000
#: ...and of all the outputs on one page together (the final output first, then the steps').
#: A page with two 2 MB outputs took 5-6 s rendered in full, 0.17 s with these limits.
MARKDOWN_PAGE_LIMIT = 160_000

# Top-level block structure as _MD sees it (raw HTML off, tables on), without inline parsing:
# finds where a long output can be cut between blocks, at a tenth of the cost of rendering.
_MD_CUT = MarkdownIt("commonmark", {"html": False}).enable(["table"]).disable(["inline", "text_join"])


class MarkdownBudget:
    """What is left of :data:`MARKDOWN_PAGE_LIMIT` while one page is rendered."""

    def __init__(self, chars: int = MARKDOWN_PAGE_LIMIT) -> None:
        self.chars = chars


def _split_markdown(text: str, limit: int) -> tuple[str, str]:
    """(head, tail): ``head`` is at most ``limit`` characters and ends between two top-level
    blocks (never inside a code fence, list or table), or at a line end if the first block is
    already longer than ``limit``."""
    if len(text) <= limit:
        return text, ""
    if limit <= 0:
        return "", text
    window = text[:limit]
    blocks = [tok for tok in _MD_CUT.parse(window) if tok.level == 0 and tok.map and tok.nesting >= 0]
    # the last block may run past the window: cut before it
    cut_line = blocks[-1].map[0] if len(blocks) >= 2 and blocks[-1].map else 0
    if cut_line > 0:
        cut = sum(len(line) + 1 for line in window.split("\n")[:cut_line])
    else:
        cut = window.rfind("\n") + 1 or limit
    return text[:cut], text[cut:]


@dataclass(frozen=True)
class Bounded:
    """An output cut for the page: ``html`` is the rendered head (safe), ``tail`` the rest as text."""

    html: str
    tail: str
    head_chars: int
    total_chars: int


def render_bounded(text: str, budget: MarkdownBudget) -> Bounded:
    """Render as much of ``text`` as the output limit and the page's budget allow.

    A cut output uses up its whole allowance, so no scraps are left for the next one.
    """
    limit = min(MARKDOWN_OUTPUT_LIMIT, budget.chars)
    head, tail = _split_markdown(text, limit)
    budget.chars -= limit if tail else len(head)
    rendered = render_markdown_safe(head).strip() if head.strip() else ""
    return Bounded(rendered, tail, len(head), len(text))


# ---- the Markdown export -------------------------------------------------------------------------

_MD_ESCAPE_RE = re.compile(r"([\\`*_\[\]<>|~&])")


def _md_inline(value: object) -> str:
    """Escape a value for a single-line Markdown context (table cell, heading)."""
    text = " ".join(("" if value is None else str(value)).split())
    return _MD_ESCAPE_RE.sub(r"\\\1", text)


def _md_fence(text: str | None, info: str = "text") -> str:
    """Fence raw text with a fence longer than any backtick run inside it."""
    t = (text or "").rstrip("\n")
    longest = max((len(m) for m in re.findall(r"`+", t)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{t}\n{fence}"


def _md_code(value: str) -> str:
    """Inline code span (for ids). ``|`` is backslash-escaped because these spans sit in
    table cells, where GFM splits cells before parsing code."""
    t = " ".join(value.split()).replace("|", "\\|")
    longest = max((len(m) for m in re.findall(r"`+", t)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if t.startswith("`") or t.endswith("`") else ""
    return f"{ticks}{pad}{t}{pad}{ticks}"


def _md_model(ref: str, display: str) -> str:
    if display and display != ref:
        return f"{_md_inline(display)} ({_md_code(ref)})"
    return _md_code(ref) if ref else UNKNOWN


# Block structure only (raw HTML on, as GitHub and most viewers parse it): inline parsing is
# not needed to find an open fence, and would cost 10x more on a long output.
_MD_BLOCKS = MarkdownIt("commonmark").disable(["inline", "text_join"])
_HTML_BLOCK_ENDS = (
    (re.compile(r"^ {0,3}<(pre|script|style|textarea)(?:\s|>|$)", re.IGNORECASE), None),
    (re.compile(r"^ {0,3}<!--"), "-->"),
    (re.compile(r"^ {0,3}<\?"), "?>"),
    (re.compile(r"^ {0,3}<!\[CDATA\["), "]]>"),
    (re.compile(r"^ {0,3}<![A-Za-z]"), ">"),
)


def _md_verbatim(text: str | None) -> str:
    """Model output, verbatim, but with any block it leaves open closed at its end.

    An unclosed code fence (a reply cut at max tokens does that) or an unterminated
    ``<!--``/``<pre>`` HTML block would otherwise run on and swallow every later section.
    Only top-level blocks matter: a fence inside a list item or block quote ends with its
    container at the next unindented line.
    """
    t = (text or "").strip("\n")
    if not t.strip():
        return t
    tokens = [tok for tok in _MD_BLOCKS.parse(t) if tok.level == 0 and tok.map]
    if not tokens:
        return t
    last = tokens[-1]
    lines = t.split("\n")
    assert last.map is not None
    if last.type == "fence" and last.map[1] >= len(lines):
        opener = last.markup
        closer = re.compile(rf"^ {{0,3}}{re.escape(opener[0])}{{{len(opener)},}}[ \t]*$")
        end = last.map[1] - 1
        if end == last.map[0] or not closer.match(lines[end]):
            t += "\n" + opener
    elif last.type == "html_block" and last.map[1] >= len(lines):
        first = lines[last.map[0]]
        for start, end_marker in _HTML_BLOCK_ENDS:
            m = start.match(first)
            if m:
                rest = last.content.lower()[m.end() :]
                ends = [end_marker] if end_marker else ["</pre>", "</script>", "</style>", "</textarea>"]
                if not any(e in rest for e in ends):
                    t += "\n" + (end_marker or f"</{m.group(1).lower()}>")
                break
    return t


def _md_inputs(a: Artifact) -> list[str]:
    """The Files and Thread context sections: each file's name, type, size and full sha256
    (no links: the export is read away from the page's signed link), then the thread's
    messages, each author's words fenced so they cannot reshape the document."""
    out: list[str] = []
    files = file_views(a, None)
    if files:
        out += [f"## Files ({len(files)})", ""]
        for f in files:
            sha = f" · sha256 {_md_code(f.sha256)}" if f.sha256 else ""
            out.append(f"- **{_md_inline(f.name)}** · {_md_inline(f.facts)}{sha}")
        out.append("")
    thread = thread_view(a)
    if thread is not None:
        out += ["## Thread context", "", f"_{_md_inline(thread.summary)}_", ""]
        for line in thread.lines:
            named = f" (files: {_md_inline(', '.join(line.file_names))})" if line.file_names else ""
            out += [f"**{_md_inline(line.author)}**{named}", "", _md_fence(line.text), ""]
    return out


def _md_tool_calls(records: list[dict[str, Any]]) -> list[str]:
    """A step's tool calls (bot/web/tool_calls_view.py, as on the page): each call's summary
    and facts, then its arguments, result and error fenced (what a model or a server wrote)."""
    calls = tool_call_rows(records)
    if not calls:
        return []
    out = [f"#### Tool calls ({len(calls)})", ""]
    for n, c in enumerate(calls, start=1):
        facts = f" · {_md_inline(c.facts)}" if c.facts else ""
        out += [f"{n}. **{_md_inline(c.summary)}** ({_md_inline(c.label)}){facts}", ""]
        if c.arguments:
            out += ["Arguments:", "", _md_fence(c.arguments), ""]
        if c.result:
            out += ["Result:", "", _md_fence(c.result), ""]
        if c.error:
            out += ["Error:", "", _md_fence(c.error), ""]
    return out


def render_artifact_markdown(artifact: Artifact | Mapping[str, Any]) -> str:
    """The artifact as a standalone Markdown document, with the same content as the page.

    Model output is already Markdown and is included verbatim; inputs and system prompts
    go in fences so they cannot reshape the document; short values are escaped for table
    cells and headings. Stored content (a mapping) is read through the model first. One
    function because the document is written top to bottom, section by section.
    """
    a = Artifact.from_content(artifact)
    pipeline = pipeline_title(a.pipeline_name)
    thread = safe_href(a.slack.thread_url if a.slack else None, absolute_only=True)
    requested_by = (a.requested_by or "").strip()
    run_id = (a.run_id or "").strip()
    models = ", ".join(_md_model(ref, display) for ref, display in a.models_used())

    out: list[str] = [f"# {_md_inline(pipeline)}", ""]
    rows = [
        ("Date", _md_inline(format_datetime(a.when))),
        ("Pipeline", _md_inline(pipeline)),
        ("Run by", _md_code(requested_by) if requested_by else UNKNOWN),
        ("Status", _md_inline(status(a.status).label)),
        ("Cost", _md_inline(format_usd(a.cost_usd))),
        ("Models", models or UNKNOWN),
        ("Tokens", _md_inline(usage_text(a.total_usage()))),
        ("Duration", _md_inline(format_duration(a.elapsed_ms()))),
        ("Steps", str(len(a.steps)) if a.steps else UNKNOWN),
    ]
    if run_id:
        rows.append(("Run ID", _md_code(run_id)))
    if thread:
        rows.append(("Slack thread", f"<{thread.replace('>', '%3E').replace(' ', '%20')}>"))
    out += ["| Field | Value |", "| --- | --- |"]
    out += [f"| {k} | {v} |" for k, v in rows]
    out.append("")

    if a.deleted:  # a tombstone: the run's facts above, then who deleted it; nothing it said
        who = (a.deleted_by or "").strip() or "someone"
        out += [_md_inline(deleted_by(who, format_datetime(a.deleted_at))) + ".", ""]
        return "\n".join(out).rstrip("\n") + "\n"

    if a.error:
        where = f" (step {a.error.step})" if a.error.step is not None else ""
        out += ["## Error", "", f"**{_md_inline(error_kind(a.error))}**{where}"]
        if a.error.message:
            out += ["", _md_fence(a.error.message)]
        out.append("")

    if (a.input or "").strip():
        out += ["## Input", "", _md_fence(a.input), ""]
    out += _md_inputs(a)

    output = _md_verbatim(a.output)
    out += ["## Output", "", output if output.strip() else "_No output._", ""]

    if a.steps:
        out += ["## Steps", ""]
    for i, s in enumerate(a.steps, start=1):
        agent = s.agent
        out += [f"### Step {position(s, i)}: {_md_inline(agent_title(s))}", ""]
        out += [
            f"- Model: {_md_model(s.model_ref, s.model_display or '')}",
            f"- Status: {_md_inline(status(s.status).label)}",
            f"- Cost: {_md_inline(format_usd(s.cost_usd))}",
            f"- Tokens: {_md_inline(usage_text(s.usage))}",
            f"- Latency: {_md_inline(format_duration(s.latency_ms))}",
        ]
        temperature = temperature_text(agent.temperature if agent else None)
        if temperature is not None:
            out.append(f"- Temperature: {_md_inline(temperature)}")
        if s.files:
            out.append(f"- Files: {_md_inline(', '.join(s.files))}")
        if s.text_extracted_from:
            out.append(f"- Text extracted from: {_md_inline(', '.join(s.text_extracted_from))}")
        if s.error:
            out.append(f"- Error: **{_md_inline(error_kind(s.error))}** {_md_inline(s.error.message)}".rstrip())
        out.append("")
        if agent and (agent.system_prompt or "").strip():
            out += ["#### System prompt", "", _md_fence(agent.system_prompt), ""]
        out += ["#### Input", "", _md_fence(s.input) if (s.input or "").strip() else "_None._", ""]
        out += _md_tool_calls(s.tool_calls)
        step_out = _md_verbatim(s.output)
        out += ["#### Output", "", step_out if step_out.strip() else "_No output._", ""]

    return "\n".join(out).rstrip("\n") + "\n"
