"""Images and PDFs inside a model request, as the fake Anthropic and OpenAI servers see
them: base64 and data URLs decoded, file types told from their first bytes (as the
APIs do: a PNG sent as image/jpeg is refused), PDF pages counted for usage, and every
image or document of a recorded request listed for tests.

Both fakes check media the same way, so the rules live here once; each fake words its
errors in its own API's format.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

__all__ = [
    "IMAGE_MEDIA_TYPES",
    "IMAGE_TOKENS",
    "PDF_PAGE_TOKENS",
    "Refused",
    "decode_base64",
    "media_in",
    "parse_data_url",
    "pdf_pages",
    "sniff_image",
]

#: What both APIs take as images (Anthropic's Base64ImageSource, OpenAI's vision guide).
IMAGE_MEDIA_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")

#: Tokens the fakes count per image and per PDF page, on top of the text estimate: round
#: numbers near what the APIs charge (a ~1.2 MP image, a page of text plus its image), so
#: tests can see media in usage and cost.
IMAGE_TOKENS = 1_600
PDF_PAGE_TOKENS = 1_500


class Refused(Exception):
    """A block the API refuses: what its 400 says (``param`` and ``code`` for OpenAI's
    error JSON). Each fake turns it into its own error answer."""

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code


_PAGE = re.compile(rb"/Type\s*/Page(?![A-Za-z])")
_DATA_URL = re.compile(r"data:([^;,]*);base64,")


def decode_base64(data: Any) -> bytes | None:
    """The bytes of strict base64 text; None when it is not a string or not base64."""
    if not isinstance(data, str) or not data:
        return None
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return None


def sniff_image(raw: bytes) -> str | None:
    """The image media type ``raw`` starts like, or None when it is none of the four."""
    if raw.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if raw.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if raw.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if len(raw) >= 12 and raw.startswith(b"RIFF") and raw[8:12] == b"WEBP":
        return "image/webp"
    return None


def pdf_pages(raw: bytes) -> int:
    """Pages of a PDF, counted as ``/Type /Page`` objects (not ``/Pages``); at least 1."""
    return max(1, len(_PAGE.findall(raw)))


def parse_data_url(url: Any) -> tuple[str, str] | None:
    """``(media_type, base64 text)`` of a ``data:<type>;base64,<data>`` URL, else None.
    Matched at the start only, so a 7 MB URL is not copied to be split."""
    if not isinstance(url, str):
        return None
    m = _DATA_URL.match(url)
    if m is None:
        return None
    return m.group(1), url[m.end() :]


def media_in(body: Any) -> tuple[list[tuple[str, bytes]], list[tuple[str, bytes]]]:
    """Every image and document in a request body of either API, in order, as
    ``(media_type, decoded bytes)``: Anthropic ``image``/``document`` blocks with a
    base64 source, OpenAI ``input_image``/``input_file`` data URLs. What does not decode
    is left out (the fakes refuse such requests anyway)."""
    images: list[tuple[str, bytes]] = []
    documents: list[tuple[str, bytes]] = []
    if not isinstance(body, dict):
        return images, documents
    turns = body.get("messages") if "messages" in body else body.get("input")
    for turn in turns if isinstance(turns, list) else ():
        content = turn.get("content") if isinstance(turn, dict) else None
        for block in content if isinstance(content, list) else ():
            if not isinstance(block, dict):
                continue
            found = _block_media(block)
            if found is not None:
                kind, media_type, raw = found
                (images if kind == "image" else documents).append((media_type, raw))
    return images, documents


def _block_media(block: dict[str, Any]) -> tuple[str, str, bytes] | None:
    btype = block.get("type")
    if btype in ("image", "document"):
        source = block.get("source")
        if not isinstance(source, dict) or source.get("type") != "base64":
            return None
        raw = decode_base64(source.get("data"))
        return None if raw is None else (btype, str(source.get("media_type")), raw)
    if btype in ("input_image", "input_file"):
        parsed = parse_data_url(block.get("image_url" if btype == "input_image" else "file_data"))
        if parsed is None:
            return None
        raw = decode_base64(parsed[1])
        return None if raw is None else ("image" if btype == "input_image" else "document", parsed[0], raw)
    return None
