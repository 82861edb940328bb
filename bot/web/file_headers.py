"""How one of a run's files is served: its media type, disposition and headers (pure).

The bytes are whatever someone shared in Slack, and the name and media type are Slack's
description of them: neither is ours to trust. So only the four raster image types are served
inline, under their own type (an ``<img>`` on the page shows them); everything else, HTML and
SVG included, is ``application/octet-stream`` as an attachment, which no browser renders.
``nosniff`` stops a browser from guessing a type for the bytes, and the response's own
policy (``sandbox``, no sources at all) leaves nothing to run even if one did.

The file name goes in ``Content-Disposition`` as RFC 6266 asks: a plain ASCII ``filename``
for old clients and the exact name, UTF-8 percent-encoded, as ``filename*`` (RFC 8187).
"""

from __future__ import annotations

import re
from urllib.parse import quote

from bot.web.inputs_view import UNNAMED_FILE, inline_image_type

__all__ = ["FILE_CSP", "ascii_filename", "content_disposition", "file_headers"]

#: The policy of a served file: nothing loads, nothing runs, no framing.
FILE_CSP = "default-src 'none'; sandbox; frame-ancestors 'none'"
#: Characters an ASCII ``filename="…"`` keeps; the rest become ``_``.
_UNSAFE_ASCII = re.compile(r"[^A-Za-z0-9 ._()\[\]+,=@~-]")
_MAX_NAME = 200


def _base_name(name: str | None) -> str:
    """The name without any path, control characters or surrounding dots and spaces."""
    raw = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(ch for ch in raw if ch.isprintable()).strip(" .")
    return cleaned[:_MAX_NAME] or UNNAMED_FILE


def ascii_filename(name: str | None) -> str:
    """The plain ``filename`` parameter: printable ASCII only, no quotes or backslashes."""
    return _UNSAFE_ASCII.sub("_", _base_name(name)).strip(" .") or "file"


def content_disposition(name: str | None, *, inline: bool) -> str:
    """``inline``/``attachment`` with both ``filename`` and ``filename*`` (RFC 6266 §4.3)."""
    base = _base_name(name)
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{ascii_filename(base)}\"; filename*=UTF-8''{quote(base, safe='')}"


def file_headers(name: str | None, mimetype: str | None, size: int | None) -> tuple[str, dict[str, str]]:
    """The media type and headers to serve a stored file with."""
    image = inline_image_type(mimetype)
    headers = {
        "Content-Disposition": content_disposition(name, inline=image is not None),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": FILE_CSP,
        "Cache-Control": "private, no-store",
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Resource-Policy": "same-origin",
        "X-Robots-Tag": "noindex, nofollow",
    }
    if size is not None and size >= 0:
        headers["Content-Length"] = str(size)
    return image or "application/octet-stream", headers
