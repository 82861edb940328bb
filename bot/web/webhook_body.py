"""A webhook's body turned into a run's input, or the HTTP answer that says what is wrong.

The rule (also in the README): ``text/plain`` is the input as it is; ``application/json`` is
parsed, then a top-level string is the input as it is and any other JSON value is the input
as indented JSON (two spaces, non-ASCII kept). Both must be UTF-8. The body is read only up to
1 MiB and one byte (bot/web/bodies.py), and indenting stops as soon as the text passes what a
run takes, so a small hostile body cannot grow into a huge input.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from bot.web.bodies import BodyTooLarge, capped_body
from core.runs.request import INPUT_MAX
from core.triggers import webhook_texts as texts

__all__ = ["BODY_MAX", "BodyRefused", "input_of", "read_input"]

BODY_MAX = 1024 * 1024
_JSON = "application/json"
_TEXT = "text/plain"
_UTF8 = ("utf-8", "utf8", "us-ascii", "ascii")


class BodyRefused(Exception):
    """The body cannot be an input: the HTTP status, a short code and the message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def media_type(request: Request) -> tuple[str, str]:
    """(the type, its charset or "") of the request's Content-Type; a type other than JSON or
    plain text, or a charset other than UTF-8, is refused before the body is read."""
    raw = request.headers.get("content-type", "")
    kind, _, params = raw.partition(";")
    kind = kind.strip().lower()
    if kind not in (_JSON, _TEXT):
        raise BodyRefused(415, "unsupported_media_type", texts.UNSUPPORTED_TYPE)
    charset = ""
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    if charset and charset not in _UTF8:
        raise BodyRefused(415, "unsupported_media_type", texts.unsupported_charset(charset))
    return kind, charset


async def read_input(request: Request) -> str:
    """The run's input from ``request``'s body (see the module docstring), or BodyRefused."""
    kind, _ = media_type(request)
    try:
        raw = await capped_body(request, BODY_MAX)
    except BodyTooLarge:
        raise BodyRefused(413, "body_too_large", texts.BODY_TOO_LARGE) from None
    return input_of(kind, raw)


def input_of(kind: str, raw: bytes) -> str:
    """The input from a body already read, of media type ``kind`` (JSON or plain text)."""
    if not raw.strip():
        raise BodyRefused(422, "empty_input", texts.EMPTY_INPUT)
    try:
        body = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BodyRefused(400, "invalid_utf8", texts.NOT_UTF8) from None
    if kind == _TEXT:
        return body
    value = _parsed(body)
    return value if isinstance(value, str) else _indented(value)


def _parsed(body: str) -> Any:
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        raise BodyRefused(
            400, "invalid_json", texts.bad_json(f"{exc.msg} at line {exc.lineno} column {exc.colno}")
        ) from None
    except RecursionError:
        raise BodyRefused(400, "invalid_json", texts.NESTED_TOO_DEEPLY) from None
    except ValueError:  # an integer past Python's digit limit
        raise BodyRefused(400, "invalid_json", texts.NUMBER_TOO_LONG) from None


def _indented(value: Any) -> str:
    """``value`` as indented JSON, stopped as soon as it passes what a run takes."""
    parts: list[str] = []
    size = 0
    try:
        for chunk in json.JSONEncoder(ensure_ascii=False, indent=2).iterencode(value):
            size += len(chunk)
            if size > INPUT_MAX:
                raise BodyRefused(413, "input_too_long", texts.input_too_long(INPUT_MAX))
            parts.append(chunk)
    except RecursionError:
        raise BodyRefused(400, "invalid_json", texts.NESTED_TOO_DEEPLY) from None
    except ValueError:  # an integer too long to write back
        raise BodyRefused(400, "invalid_json", texts.NUMBER_TOO_LONG) from None
    return "".join(parts)
