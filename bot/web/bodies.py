"""A request body read with a ceiling, before anything authenticates or parses it.

Starlette's ``request.body()`` buffers whatever arrives: an unsigned 300 MiB chunked POST to
``/slack/events`` was held in memory before its signature was refused. Here a declared
``Content-Length`` over the ceiling is refused before reading, and a chunked body is read
only until it passes the ceiling. (Written here because Starlette has no size limit of its
own and uvicorn's are for headers only.)
"""

from __future__ import annotations

from starlette.requests import Request


class BodyTooLarge(Exception):
    """The body is over the ceiling; nothing past it was read."""


async def capped_body(request: Request, limit: int) -> bytes:
    """The whole body, or BodyTooLarge as soon as it is known to pass ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)
