"""GET /artifacts/{id}[.json|.md]?s=SIG[&v=N] — the signed permalink, then who is looking.

A wrong signature and an unknown id get the same 404, so a link reveals nothing about
artifacts it does not open, and another workspace's artifact never verifies. Without ``v``
the page shows the latest version; ``v=N`` shows version N (the signature covers the
artifact, so it opens every version). Where people sign in with Slack the link is not
enough: the signed-in person must see the run's conversation, and the page lists only the
branches they may see (bot/web/access.py); the run's requester or an admin gets a *Delete*
button there (bot/web/deleting.py, bot/web/delete_routes.py). The compare page, the editor and
the run's files have their own modules (bot/web/compare_routes.py, bot/web/editor_routes.py,
bot/web/file_routes.py); the page links the files with the signature it was opened with.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.web.access import Gate, MembershipUnknown, Verdict, here_of, membership_unknown, refused, viewer_of
from bot.web.compare_routes import compare_routes
from bot.web.delete_routes import delete_routes
from bot.web.deleting import offer
from bot.web.editor_routes import editor_routes
from bot.web.file_routes import file_path, file_routes
from bot.web.lineage_view import LifecycleView, lifecycle_view
from bot.web.loading import Loaded, load_version, read_conn, requested_version
from bot.web.markdown import render_artifact_markdown
from bot.web.notice_view import DeleteForm
from bot.web.pages import render_artifact_html, render_not_found_html
from bot.web.security import FORM_HEADERS, SECURITY_HEADERS
from core.context import AppContext
from core.links import artifact_permalink, compare_url, signing_keys, version_permalink
from core.runs.artifact import Artifact
from storage.repos import artifact_versions as versions
from storage.repos import feedback, lineage

_HEADERS = dict(SECURITY_HEADERS, **{"Cache-Control": "private, no-store", "Referrer-Policy": "no-referrer"})

#: Versions listed on the page (newest first); older ones are reached from the compare picker.
PAGE_VERSIONS = 50
#: Branches listed on the page.
PAGE_BRANCHES = 20


def _split(raw: str) -> tuple[str, str]:
    for suffix in (".json", ".md"):
        if raw.endswith(suffix):
            return raw[: -len(suffix)], suffix
    return raw, ""


def _json_body(artifact: Artifact, number: int, latest: int) -> str:
    """The content as stored, with which version it is; "<", ">" and "&" as \\u escapes, so it
    stays inert even if something sniffs it as HTML."""
    body = dict(artifact.to_content(), artifact_version=number, latest_version=latest)
    return (
        json.dumps(body, ensure_ascii=False, default=str)
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
    )


def lifecycle(ctx: AppContext, conn: Connection, loaded: Loaded, artifact_id: str, gate: Gate) -> LifecycleView:
    """The versions, lineage and 👍/👎 of the shown version (four small indexed queries), the
    parent and branches only as far as the viewer may see them."""
    team = loaded.team_id
    listed = versions.list_versions(conn, team, artifact_id, limit=PAGE_VERSIONS)
    parent = lineage.parent_of(conn, team, artifact_id)
    branches = lineage.list_branches(conn, team, artifact_id, limit=PAGE_BRANCHES, scope=gate.scope(team))
    parent_visible = bool(parent and parent.artifact_id and gate.sees(conn, team, str(parent.artifact_id)))
    votes = feedback.counts(conn, team, artifact_id, loaded.number)

    def parent_href(aid: str, version: int | None) -> str:
        return version_permalink(ctx, team, aid, version) if version else artifact_permalink(ctx, team, aid)

    def compare_href(left: str, right: str, av: int | None, bv: int | None) -> str:
        return compare_url(ctx, team, left, right, left_version=av, right_version=bv)

    return lifecycle_view(
        shown=loaded.number,
        latest=loaded.latest,
        versions=listed,
        parent=parent,
        branches=branches,
        up=votes.up,
        down=votes.down,
        version_href=lambda n: version_permalink(ctx, team, artifact_id, n),
        parent_href=parent_href,
        compare_href=compare_href,
        artifact_id=artifact_id,
        parent_visible=parent_visible,
    )


def artifact_routes(ctx: AppContext) -> list[Route]:
    keys = signing_keys(ctx)

    def load(
        artifact_id: str, number: int | None, sig: str | None, page: bool, gate: Gate
    ) -> tuple[Loaded, Any, DeleteForm | None] | Verdict | None:
        with read_conn(ctx) as conn:
            loaded = load_version(conn, keys, artifact_id, number, sig)
            if loaded is None:
                return None
            canonical = str(uuid.UUID(artifact_id))
            verdict = gate.check(conn, loaded.team_id, [canonical])
            if verdict is not Verdict.OPEN:
                return verdict
            if not page:
                return loaded, None, None
            deletable = gate.viewer.signin and not loaded.artifact.deleted
            form = offer(ctx, conn, gate.viewer.session, loaded.team_id, canonical, sig or "") if deletable else None
            return loaded, lifecycle(ctx, conn, loaded, canonical, gate), form

    async def artifact(request: Request) -> Response:
        artifact_id, suffix = _split(request.path_params["ident"])
        number = requested_version(request.query_params.get("v"))
        viewer = viewer_of(ctx, request)

        def not_found() -> Response:
            if suffix == ".json":
                return JSONResponse({"error": "not_found"}, status_code=404, headers=_HEADERS)
            return HTMLResponse(render_not_found_html(), status_code=404, headers=_HEADERS)

        try:
            found = await run_in_threadpool(
                load, artifact_id, number, request.query_params.get("s"), suffix == "", Gate(ctx, viewer)
            )
        except MembershipUnknown as exc:
            return membership_unknown(exc)
        if found is None:
            return not_found()
        if isinstance(found, Verdict):
            return refused(found, request, suffix, not_found)
        loaded, life, delete_form = found
        team_id, art = loaded.team_id, loaded.artifact
        if suffix == ".json":
            return Response(
                _json_body(art, loaded.number, loaded.latest), media_type="application/json", headers=_HEADERS
            )
        if suffix == ".md":
            name = f"artifact-{artifact_id}" + (f"-v{loaded.number}" if number is not None else "")
            md_headers = dict(_HEADERS, **{"Content-Disposition": f'attachment; filename="{name}.md"'})
            return PlainTextResponse(
                render_artifact_markdown(art), media_type="text/markdown; charset=utf-8", headers=md_headers
            )

        sig = request.query_params.get("s") or ""

        def file_href(position: int) -> str:
            return file_path(str(uuid.UUID(artifact_id)), position, sig)

        def other(fmt: str) -> str:
            if number is None:
                return artifact_permalink(ctx, team_id, artifact_id, fmt)
            return version_permalink(ctx, team_id, artifact_id, loaded.number, fmt)

        html = render_artifact_html(
            art,
            slack_thread_url=None,
            json_url=other(".json"),
            markdown_url=other(".md"),
            lifecycle=life,
            slack_undelivered=loaded.slack_undelivered,
            who=viewer.who(here_of(request)),
            delete_form=delete_form,
            file_href=file_href,
        )
        return HTMLResponse(html, headers=FORM_HEADERS if delete_form else _HEADERS)

    return [
        Route("/artifacts/{ident}", artifact, methods=["GET", "HEAD"]),
        *compare_routes(ctx),
        *editor_routes(ctx),
        *delete_routes(ctx),
        *file_routes(ctx),
    ]
