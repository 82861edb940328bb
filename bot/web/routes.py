"""GET /artifacts/{id}[.json|.md]?s=SIG — the signed permalink is the only credential.

A wrong signature and an unknown id get the same 404, so a link reveals nothing about
artifacts it does not open, and another workspace's artifact never verifies.
"""

from __future__ import annotations

import json
import uuid

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.web.markdown import render_artifact_markdown
from bot.web.pages import render_artifact_html, render_not_found_html
from bot.web.security import SECURITY_HEADERS
from core.context import AppContext
from core.links import artifact_permalink, signing_keys
from core.permalinks import verify
from core.runs.artifact import Artifact
from storage.repos import artifacts as artifact_repo

_HEADERS = dict(SECURITY_HEADERS, **{"Cache-Control": "private, no-store", "Referrer-Policy": "no-referrer"})


def _split(raw: str) -> tuple[str, str]:
    for suffix in (".json", ".md"):
        if raw.endswith(suffix):
            return raw[: -len(suffix)], suffix
    return raw, ""


def _json_body(artifact: Artifact) -> str:
    """The content as stored; "<", ">" and "&" as \\u escapes, so it stays inert even if
    something sniffs it as HTML."""
    return (json.dumps(artifact.to_content(), ensure_ascii=False, default=str)
            .replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def artifact_routes(ctx: AppContext) -> list[Route]:
    keys = signing_keys(ctx)

    def load(artifact_id: str, sig: str | None) -> tuple[str, Artifact] | None:
        try:
            uuid.UUID(artifact_id)
        except ValueError:
            return None
        # One read: no ORM session, and autocommit spares the BEGIN and ROLLBACK round trips.
        with ctx.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            found = artifact_repo.artifact_content_unscoped(conn, artifact_id)
        if found is None:
            return None
        team_id, content = found
        if not verify(artifact_id, team_id, sig, keys):
            return None
        return team_id, Artifact.from_content(dict(content, artifact_id=str(uuid.UUID(artifact_id)), team_id=team_id))

    async def artifact(request: Request) -> Response:
        artifact_id, suffix = _split(request.path_params["ident"])
        found = await run_in_threadpool(load, artifact_id, request.query_params.get("s"))
        if found is None:
            if suffix == ".json":
                return JSONResponse({"error": "not_found"}, status_code=404, headers=_HEADERS)
            return HTMLResponse(render_not_found_html(), status_code=404, headers=_HEADERS)
        team_id, art = found
        if suffix == ".json":
            return Response(_json_body(art), media_type="application/json", headers=_HEADERS)
        if suffix == ".md":
            md_headers = dict(_HEADERS, **{"Content-Disposition": f'attachment; filename="artifact-{artifact_id}.md"'})
            return PlainTextResponse(render_artifact_markdown(art), media_type="text/markdown; charset=utf-8",
                                     headers=md_headers)
        html = render_artifact_html(
            art,
            slack_thread_url=None,
            json_url=artifact_permalink(ctx, team_id, artifact_id, ".json"),
            markdown_url=artifact_permalink(ctx, team_id, artifact_id, ".md"),
        )
        return HTMLResponse(html, headers=_HEADERS)

    return [Route("/artifacts/{ident}", artifact, methods=["GET", "HEAD"])]
