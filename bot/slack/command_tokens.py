"""The words of a `/pipebot` command, split the way Slack delivers them (pure).

Why not :mod:`shlex`: Slack sends what the user's client typed, and macOS/iOS turn
``"`` into “smart quotes” and ``'`` into ’ (also inside words: ``don’t``). shlex
knows neither, and it raises a bare ``ValueError`` on an unbalanced quote. Run input
must also reach the pipeline exactly as typed (spacing, newlines, code blocks, stray
quotes), so only the words before it are tokenized and the rest is kept raw
(:func:`raw_rest`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["ArgumentError", "Token", "args_after_first_word", "raw_rest", "split_args", "tokenize"]

# Opening quote -> the characters that may close it. Clients pair them sloppily
# (“x“, „x“, ”x”), so any quote of the same family closes.
_DOUBLE = '"“”„‟'
_SINGLE = "'‘’‚‛"
_CLOSERS = {q: _DOUBLE for q in _DOUBLE} | {q: _SINGLE for q in _SINGLE}
_SPACE = re.compile(r"\s")


class ArgumentError(ValueError):
    """The command text cannot be split; ``str(err)`` is a message for the user."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.position = position


@dataclass(frozen=True)
class Token:
    """One word of the command: its value (quotes removed) and where it sat in the text."""

    value: str
    start: int
    end: int
    quoted: bool


def _closes(text: str, i: int, opener: str) -> bool:
    ch = text[i]
    if ch not in _CLOSERS[opener]:
        return False
    if opener in _SINGLE:
        # ’ is also an apostrophe (it’s, don’t): it closes only before a space/end.
        return i + 1 == len(text) or bool(_SPACE.match(text[i + 1])) or text[i + 1] in _DOUBLE + _SINGLE
    return True


def _read_token(text: str, pos: int) -> Token | None:
    n = len(text)
    while pos < n and text[pos].isspace():
        pos += 1
    if pos >= n:
        return None
    start = pos
    out: list[str] = []
    quoted = False
    while pos < n and not text[pos].isspace():
        ch = text[pos]
        if ch in _CLOSERS and pos == start:
            quoted = True
            opener, qstart = ch, pos
            pos += 1
            while True:
                if pos >= n:
                    snippet = text[qstart : qstart + 30].splitlines()[0] if text[qstart:] else opener
                    raise ArgumentError(
                        f"There is an opening {opener} with no closing quote ({snippet}…). "
                        f"Close it with a matching quote, or remove it.",
                        qstart,
                    )
                c = text[pos]
                if c == "\\" and pos + 1 < n and text[pos + 1] in _CLOSERS:
                    out.append(text[pos + 1])
                    pos += 2
                    continue
                if _closes(text, pos, opener):
                    pos += 1
                    break
                out.append(c)
                pos += 1
            continue
        if ch == "\\" and pos + 1 < n and text[pos + 1] in _CLOSERS:
            out.append(text[pos + 1])
            pos += 2
            continue
        out.append(ch)
        pos += 1
    return Token("".join(out), start, pos, quoted)


def tokenize(text: str, pos: int = 0) -> Iterator[Token]:
    """Tokens of ``text`` from ``pos``, lazily: a caller may stop early and keep the
    rest raw (so quotes in run input are never parsed).

    Quotes (``"..."``, “...”, ``'...'``, ‘...’) group words and are removed; they
    open only at the start of a word, and a single quote closes only before a space,
    so apostrophes stay literal. ``\\"`` is a literal quote. Raises
    :class:`ArgumentError` for an unbalanced quote.
    """
    while True:
        tok = _read_token(text, pos)
        if tok is None:
            return
        yield tok
        pos = tok.end


def split_args(text: str) -> list[str]:
    """All words of ``text`` (see :func:`tokenize`), like ``shlex.split`` but for Slack."""
    return [t.value for t in tokenize(text)]


def raw_rest(text: str, pos: int) -> str:
    """The text after ``pos`` as typed, minus the separator: leading blank lines go,
    the indentation of the first content line stays."""
    rest = text[pos:]
    m = re.match(r"(?:[ \t]*\r?\n)+", rest)
    return rest[m.end() :] if m else rest.lstrip(" \t")


def args_after_first_word(text: str) -> str:
    """What follows the subcommand word (``run``, ``artifacts``), as typed."""
    m = re.match(r"\s*\S+", text)
    return text[m.end() :].lstrip() if m else ""
