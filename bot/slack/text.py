"""Text helpers for everything pipebot shows in Slack (pure functions, no network).

Why they exist: model output is untrusted and unbounded, while Slack is strict.
Unescaped ``<``/``>``/``&`` in mrkdwn turn into mentions or links (or vanish), and
text past Slack's limits is rejected outright (``msg_too_long``,
``msg_blocks_too_long``, ``invalid_blocks``). A run's output must therefore be
escaped and cut to fit, at a place a reader finds natural, and must never be cut
inside a Slack entity (``&amp;``, ``<@U123>``, ``<https://x|label>``), inside a
surrogate pair, or between a character and its combining marks / emoji modifiers.
Lengths are counted in Python characters (code points).
"""

from __future__ import annotations

import re
import unicodedata

from bot.slack.blocks.limits import (
    PRACTICAL_MESSAGE_LIMIT,
    SECTION_TEXT_LIMIT,
    STREAM_CHUNK_LIMIT,
)

__all__ = [
    "PRACTICAL_MESSAGE_LIMIT",
    "SECTION_TEXT_LIMIT",
    "STREAM_CHUNK_LIMIT",
    "clip",
    "decode_slack_text",
    "escape_mrkdwn",
    "fit_message",
    "fit_section",
    "split_for_stream",
    "truncate_at_boundary",
]


ELLIPSIS = "…"
_FENCE = "```"

# A boundary is only used if it keeps at least this share of the room available;
# otherwise a finer boundary (line < sentence < word) is tried, so one early
# paragraph break does not throw away most of the text.
_MIN_FRACTION = 0.5

_PARAGRAPH = re.compile(r"\n[ \t]*\n\s*")
_LINE = re.compile(r"\n\s*")
_SENTENCE = re.compile(r"[.!?…][\"'”’)\]]*\s+")
_WORD = re.compile(r"\s+")
_ENTITY_HEAD = re.compile(r"&#?[A-Za-z0-9]{0,8}$")
_ENTITY = re.compile(r"&#?[A-Za-z0-9]{1,8};")

_ZWJ = "\u200d"
_MAX_ENTITY = 2000  # longest <...> entity (a link with its label) we look across


def escape_mrkdwn(text: str) -> str:
    """Escape ``&``, ``<`` and ``>`` as Slack requires for text it must show literally.

    Slack treats ``<...>`` as mentions/links and ``&`` as the start of an entity, so
    untrusted text (model output, user-typed names) goes through this first. Only
    these three characters are escaped; ``*_~``` stay so mrkdwn formatting still works.
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_SLACK_ENTITY = re.compile(r"<([^<>\n]*)>")


def _plain_entity(inner: str) -> str:
    """One ``<…>`` entity as a person reads it (``inner`` still has &amp; escapes)."""
    target, _, label = inner.partition("|")
    target, label = unescape_slack(target), unescape_slack(label)
    if target.startswith("@"):  # a user: <@U123|casey>
        return f"@{label}" if label else f"<{target}>"
    if target.startswith("#"):  # a channel: <#C123|general>
        return f"#{label}" if label else f"<{target}>"
    if target.startswith("!"):  # <!here>, <!subteam^S1|@devs>, <!date^…|fallback>
        if label:
            return label if label.startswith("@") or not target.startswith("!subteam") else f"@{label}"
        word = target[1:].split("^")[0]
        return f"@{word}" if word in ("here", "channel", "everyone") else f"<{target}>"
    if (
        label
        and label not in (target, target.removeprefix("mailto:"))
        and target.split("://", 1)[-1].rstrip("/") != label.rstrip("/")
    ):
        return f"{label} ({target.removeprefix('mailto:')})"
    return target.removeprefix("mailto:")


def unescape_slack(text: str) -> str:
    """``&lt;``, ``&gt;``, ``&amp;`` back to the characters (``&amp;`` last, so a typed
    ``&lt;`` — sent as ``&amp;lt;`` — stays ``&lt;``)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def decode_slack_text(text: str) -> str:
    """Text from Slack (a slash command's ``text``, a message's ``text``) as its author
    typed it: mentions, channels and links (``<@U1|casey>``, ``<#C1|general>``,
    ``<https://x|label>``) become ``@casey``, ``#general``, ``label (https://x)``, and the
    three escaped characters come back. Apply once: the result is plain text."""
    return unescape_slack(_SLACK_ENTITY.sub(lambda m: escape_mrkdwn(_plain_entity(m.group(1))), text))


def _escape_link_url(url: str) -> str:
    # Inside <url|label> a raw "|" or ">" would end the URL early.
    return escape_mrkdwn(url).replace("|", "%7C")


def _is_joiner(ch: str) -> bool:
    """Characters that attach to the previous one: cutting before them splits a glyph."""
    cp = ord(ch)
    return (
        unicodedata.combining(ch) != 0
        or ch == _ZWJ
        or 0xFE00 <= cp <= 0xFE0F  # variation selectors
        or 0x1F3FB <= cp <= 0x1F3FF  # skin tone modifiers
        or 0xE0020 <= cp <= 0xE007F  # tag characters (subdivision flags)
        or 0xDC00 <= cp <= 0xDFFF  # low surrogate (text decoded with surrogatepass)
        or unicodedata.category(ch) == "Me"
    )


def _is_regional(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def _safe_cut(text: str, pos: int) -> int:
    """The largest position <= ``pos`` where cutting splits no glyph and no Slack entity."""
    pos = max(0, min(pos, len(text)))
    while 0 < pos < len(text):
        moved = pos
        # &amp; &lt; &#123; ... : never cut inside one.
        amp = text.rfind("&", max(0, pos - 10), pos)
        entity = _ENTITY.match(text, amp) if amp != -1 and _ENTITY_HEAD.match(text, amp, pos) else None
        if entity is not None and amp + len(entity.group(0)) > pos:
            moved = amp
        # <@U123>, <#C1|name>, <https://x|label>, <!here>: never cut inside one.
        lt = text.rfind("<", max(0, moved - _MAX_ENTITY), moved)
        if lt != -1 and text.find(">", lt, moved) == -1 and text.find(">", moved, lt + _MAX_ENTITY) != -1:
            moved = lt
        # Grapheme pieces: combining marks, ZWJ sequences, modifiers, surrogate pairs.
        if 0 < moved < len(text):
            if _is_joiner(text[moved]) or text[moved - 1] == _ZWJ:
                moved -= 1
            elif _is_regional(text[moved]) and _is_regional(text[moved - 1]):
                run = 0
                i = moved - 1
                while i >= 0 and _is_regional(text[i]):
                    run += 1
                    i -= 1
                if run % 2 == 1:  # text[moved-1] opens a flag that text[moved] closes
                    moved -= 1
        if moved == pos:
            return pos
        pos = moved
    return pos


def _last_boundary(text: str, room: int, floor: int, *, keep_separator: bool) -> int | None:
    """Best cut in ``text[:room]``: the latest paragraph break, else line break, else
    sentence end, else word gap, at or after ``floor``. ``keep_separator`` places the
    cut after the separator (lossless splitting) instead of before it."""
    window = text[: room + 1]  # a separator right at the edge still counts
    for pattern in (_PARAGRAPH, _LINE, _SENTENCE, _WORD):
        cuts = []
        for m in pattern.finditer(window):
            if pattern is _SENTENCE and not keep_separator:
                cut = m.start() + len(m.group(0).rstrip())
            else:
                cut = m.end() if keep_separator else m.start()
            if floor <= cut <= room and cut > 0:
                cuts.append(cut)
        for cut in reversed(cuts):  # latest first; the first safe one wins
            if _safe_cut(text, cut) == cut:
                return cut
    return None


def truncate_at_boundary(text: str, limit: int, suffix: str = "") -> str:
    """``text`` shortened to at most ``limit`` characters, ``suffix`` included.

    Text that fits is returned unchanged (no suffix). Otherwise the cut goes at the
    last paragraph break, else line break, else sentence end, else word gap that
    keeps at least half of the room; failing all, at the limit itself. The cut never
    lands inside a Slack entity or a glyph, trailing whitespace is dropped, then
    ``suffix`` (e.g. ``"…"``) is appended.
    """
    if limit < 0:
        raise ValueError("limit must be >= 0")
    if len(text) <= limit:
        return text
    room = limit - len(suffix)
    if room < 0:
        raise ValueError(f"suffix ({len(suffix)} chars) is longer than the limit ({limit})")
    cut = _last_boundary(text, room, int(room * _MIN_FRACTION), keep_separator=False)
    if cut is None:
        cut = _safe_cut(text, room)
    return text[:cut].rstrip() + suffix


def clip(text: str, limit: int) -> str:
    """Short labels (modal titles, option text, buttons): cut at a word with ``…``."""
    return truncate_at_boundary(text, limit, ELLIPSIS)


def _link_suffix(link: str | None, label: str) -> str:
    if not link:
        return ELLIPSIS
    return f"{ELLIPSIS}\n\nfull output: <{_escape_link_url(link)}|{escape_mrkdwn(label)}>"


def fit_message(
    text: str, link: str | None, limit: int = PRACTICAL_MESSAGE_LIMIT, label: str = "open the artifact"
) -> str:
    """``text`` if it fits in ``limit``; otherwise cut at a clean boundary with
    ``…\\n\\nfull output: <link|label>`` appended, the whole within ``limit``.

    ``text`` is expected to be mrkdwn that is already escaped (see
    :func:`escape_mrkdwn`). A code block left open by the cut is closed, so the rest
    of the message does not render as code.
    """
    if len(text) <= limit:
        return text
    suffix = _link_suffix(link, label)
    if len(suffix) >= limit:
        raise ValueError(f"limit {limit} leaves no room for the link line ({len(suffix)} chars)")
    head = truncate_at_boundary(text, limit - len(suffix))
    if head.count(_FENCE) % 2 == 1:
        closing = "\n" + _FENCE + "\n"  # own line, so Slack sees the fence close
        head = truncate_at_boundary(text, limit - len(suffix) - len(closing))
        if head.count(_FENCE) % 2 == 1:
            head += closing
    return head + suffix


def fit_section(text: str, link: str | None = None, label: str = "open the artifact") -> str:
    """Like :func:`fit_message` for a section block's text (3,000 characters)."""
    return fit_message(text, link, SECTION_TEXT_LIMIT, label)


def split_for_stream(text: str, chunk: int = STREAM_CHUNK_LIMIT) -> list[str]:
    """Pieces of at most ``chunk`` characters whose concatenation is exactly ``text``.

    For ``chat.appendStream``, which takes at most 12,000 characters of markdown per
    call and appends verbatim: each piece ends after a paragraph/line/sentence/word
    separator where possible (so no piece starts with whitespace Slack may drop) and
    never inside an entity or glyph. Empty text gives an empty list.
    """
    if chunk < 1:
        raise ValueError("chunk must be >= 1")
    pieces: list[str] = []
    rest = text
    while len(rest) > chunk:
        cut = _last_boundary(rest, chunk, int(chunk * _MIN_FRACTION), keep_separator=True)
        if cut is None:
            cut = _safe_cut(rest, chunk)
            if cut == 0:  # one indivisible run longer than chunk: cut anyway
                cut = chunk
        pieces.append(rest[:cut])
        rest = rest[cut:]
    if rest:
        pieces.append(rest)
    return pieces
