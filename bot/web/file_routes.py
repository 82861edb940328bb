"""GET /artifacts/{id}/files/{position}?s=SIG — one of a run's files, from PostgreSQL.

Opened by exactly the page's rule, in the page's order: the permalink's signature (the one the
page was opened with), then, where people sign in with Slack, whether the signed-in person
sees the run's conversation (bot/web/access.Gate). A wrong signature, an unknown id, a hidden
run, a deleted result (its files went with it), a position the run has no file at and a file
whose bytes were never stored all get the page's same 404, so a link reveals nothing.

The bytes are the run's own copy (storage/repos/run_files: the artifact row's run, its files,
their chunks), never Slack's: a file deleted in Slack still opens here for as long as the run
keeps it. They are streamed a chunk at a time from one server-side cursor, so a 20 MB PDF is
never held whole by the web process. How they are served (inline image or attachment, the
name in the header) is bot/web/file_headers.py's.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from urllib.parse import quote

import anyio
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from bot.web.access import Gate, MembershipUnknown, Verdict, membership_unknown, refused, viewer_of
from bot.web.file_headers import file_headers
from bot.web.loading import load_version, read_conn
from bot.web.pages import render_not_found_html
from bot.web.security import SECURITY_HEADERS
from core.context import AppContext
from core.links import signing_keys
from storage.db import Session
from storage.repos import artifacts as artifact_repo
from storage.repos.run_files import file_at, iter_chunks

__all__ = ["file_path", "file_routes"]

_NOT_FOUND_HEADERS = dict(SECURITY_HEADERS, **{"Cache-Control": "private, no-store"})


def file_path(artifact_id: str, position: int, sig: str) -> str:
    """The file's link relative to its artifact page (``/artifacts/{id}``): it resolves on the
    page's own origin and path, whatever PIPEBOT_PUBLIC_URL says, so the page's images stay
    within its CSP's ``img-src 'self'``."""
    return f"{artifact_id}/files/{int(position)}?s={quote(sig, safe='')}"


@dataclass
class _Open:
    """A stored file being read: its description, the session its cursor lives in, the chunks
    still to come and the first one (read before answering, so a file that vanished between the
    look-up and the read is a 404, not a response cut short)."""

    name: str
    mimetype: str
    size: int | None
    session: Session
    chunks: Iterator[bytes]
    first: bytes


def _open_file(ctx: AppContext, team_id: str, artifact_id: str, position: int) -> _Open | None:
    session = ctx.sessions()
    try:
        row = artifact_repo.get_artifact(session, team_id, artifact_id)
        run_id = row.run_id if row is not None else None
        found = file_at(session, run_id, position) if run_id else None
        if found is None or found.stored_at is None:
            session.close()
            return None
        chunks = iter_chunks(session, found.id)
        first = next(chunks, b"")
        if not first and found.size:
            session.close()
            return None
        return _Open(found.name, found.mimetype, found.size, session, chunks, first)
    except BaseException:
        session.close()
        raise


async def _chunks(opened: _Open) -> AsyncIterator[bytes]:
    if opened.first:
        yield opened.first
    while True:
        chunk = await run_in_threadpool(next, opened.chunks, None)
        if chunk is None:
            return
        yield chunk


class _FileResponse(StreamingResponse):
    """The stream, and its session closed however the response ends. A client that has all
    the bytes (Content-Length) hangs up at once, and Starlette then cancels the stream: a
    ``finally`` inside the generator would be cancelled too and leave the session's
    transaction open (holding its locks), so the close is here, shielded."""

    def __init__(self, opened: _Open, *, media_type: str, headers: dict[str, str]) -> None:
        super().__init__(_chunks(opened), media_type=media_type, headers=headers)
        self._session = opened.session

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await run_in_threadpool(self._session.close)


def file_routes(ctx: AppContext) -> list[Route]:
    keys = signing_keys(ctx)

    def find(raw_id: str, position: int, sig: str | None, gate: Gate) -> _Open | Verdict | None:
        try:
            canonical = str(uuid.UUID(raw_id))
        except ValueError:
            return None
        with read_conn(ctx) as conn:
            loaded = load_version(conn, keys, canonical, None, sig)
            if loaded is None or loaded.artifact.deleted:
                return None
            verdict = gate.check(conn, loaded.team_id, [canonical])
            if verdict is not Verdict.OPEN:
                return verdict
        return _open_file(ctx, loaded.team_id, canonical, position)

    async def file(request: Request) -> Response:
        viewer = viewer_of(ctx, request)

        def not_found() -> Response:
            return HTMLResponse(render_not_found_html(), status_code=404, headers=_NOT_FOUND_HEADERS)

        try:
            found = await run_in_threadpool(
                find,
                request.path_params["ident"],
                request.path_params["position"],
                request.query_params.get("s"),
                Gate(ctx, viewer),
            )
        except MembershipUnknown as exc:
            return membership_unknown(exc)
        if found is None:
            return not_found()
        if isinstance(found, Verdict):
            return refused(found, request, "", not_found)
        media_type, headers = file_headers(found.name, found.mimetype, found.size)
        return _FileResponse(found, media_type=media_type, headers=headers)

    return [Route("/artifacts/{ident}/files/{position:int}", file, methods=["GET"])]
