"""Text as PostgreSQL will store it."""

from __future__ import annotations

import re

_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """Text PostgreSQL can store: no NUL (text and JSONB reject it) and no lone surrogates
    (what undecodable bytes on a command line become; they cannot be encoded as UTF-8)."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text = _SURROGATE.sub("\ufffd", text)
    return text
