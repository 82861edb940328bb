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

from bot.web.page import SECURITY_HEADERS, render_artifact_html, render_artifact_markdown, render_not_found_html
from core.context import AppContext
from core.links import artifact_permalink, signing_keys
from core.permalinks import verify
from storage import repos

SUFFIXES = {"": "html", ".json": "json", ".md": "md"}


def _split(raw: str) -> tuple[str, str]:
    for suffix in (".json", ".md"):
        if raw.endswith(suffix):
            return raw[: -len(suffix)], suffix
    return raw, ""


def artifact_routes(ctx: AppContext) -> list[Route]:
    keys = signing_keys(ctx)

    def load(artifact_id: str, sig: str | None) -> dict | None:
        try:
            uuid.UUID(artifact_id)
        except ValueError:
            return None
        # One read: no ORM session, and autocommit spares the BEGIN and ROLLBACK round trips.
        with ctx.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            found = repos.artifact_content_unscoped(conn, artifact_id)
        if found is None:
            return None
        team_id, content = found
        if not verify(artifact_id, team_id, sig, keys):
            return None
        return dict(content, artifact_id=str(uuid.UUID(artifact_id)), team_id=team_id)

    async def artifact(request: Request) -> Response:
        artifact_id, suffix = _split(request.path_params["ident"])
        content = await run_in_threadpool(load, artifact_id, request.query_params.get("s"))
        headers = dict(SECURITY_HEADERS, **{"Cache-Control": "private, no-store", "Referrer-Policy": "no-referrer"})
        if content is None:
            if suffix == ".json":
                return JSONResponse({"error": "not_found"}, status_code=404, headers=headers)
            return HTMLResponse(render_not_found_html(), status_code=404, headers=headers)
        team_id = content["team_id"]
        if suffix == ".json":
            # "<", ">" and "&" as \u escapes: the same JSON, but inert even if something sniffs it as HTML
            body = (json.dumps(content, ensure_ascii=False, default=str)
                    .replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))
            return Response(body, media_type="application/json", headers=headers)
        if suffix == ".md":
            md_headers = dict(headers, **{"Content-Disposition": f'attachment; filename="artifact-{artifact_id}.md"'})
            return PlainTextResponse(render_artifact_markdown(content), media_type="text/markdown; charset=utf-8",
                                     headers=md_headers)
        html = render_artifact_html(
            content,
            slack_thread_url=None,
            json_url=artifact_permalink(ctx, team_id, artifact_id, ".json"),
            markdown_url=artifact_permalink(ctx, team_id, artifact_id, ".md"),
        )
        return HTMLResponse(html, headers=headers)

    return [Route("/artifacts/{ident}", artifact, methods=["GET", "HEAD"])]
