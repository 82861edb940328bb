"""GET /artifacts/{left}/compare/{right}?s=SIG[&av=N][&bv=M] — two artifacts side by side.

The link is signed over both ids and their workspace (core/links.py), so it only opens two
artifacts of one workspace that someone was given together; anything else (a forged or
altered link, ids of two workspaces, a missing version) gets the same 404 as a bad permalink.
The related runs it offers are links signed the same way; the version picker is a GET form
that keeps the signature (versions are not part of it: the link opens both artifacts). Where
people sign in with Slack, the signed-in person must see both runs, and the picker offers
only runs they may see (bot/web/access.py).
"""

from __future__ import annotations

import uuid

from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from bot.web.access import Gate, MembershipUnknown, Verdict, here_of, membership_unknown, refused, viewer_of
from bot.web.compare_view import ComparePage, PickLink, SideView, compare_page
from bot.web.loading import Loaded, load_version, read_conn, requested_version
from bot.web.pages import render_compare_html, render_not_found_html
from bot.web.security import FORM_HEADERS
from core.context import AppContext
from core.formatting import format_datetime
from core.links import compare_url, signing_keys, verify_compare, version_permalink
from storage.repos import artifact_versions as versions
from storage.repos import lineage

#: Related runs offered in the picker, and versions offered per side.
RELATED_LIMIT = 20
VERSION_LIMIT = 200


def _canonical(raw: str) -> str | None:
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        return None


def _side(ctx: AppContext, loaded: Loaded, aid: str, other: str | None) -> SideView:
    when = format_datetime(loaded.artifact.when)
    same = other == aid
    label = f"Version {loaded.number}" if same else f"Version {loaded.number} of run {aid[:8]}"
    return SideView(
        label=label,
        title=loaded.artifact.pipeline_name or "Untitled pipeline",
        created=when,
        href=version_permalink(ctx, loaded.team_id, aid, loaded.number),
    )


def _related(ctx: AppContext, conn: Connection, team: str, left: str, right: str, gate: Gate) -> list[PickLink]:
    """Parent, branches, and the newest runs of the same pipeline, each a signed compare link;
    only those the viewer may see (``gate``)."""
    links: list[PickLink] = []
    seen = {right}
    scope = gate.scope(team)
    parent = lineage.parent_of(conn, team, left)
    if (
        parent is not None
        and parent.artifact_id is not None
        and str(parent.artifact_id) not in seen
        and gate.sees(conn, team, str(parent.artifact_id))
    ):
        pid = str(parent.artifact_id)
        seen.add(pid)
        links.append(
            PickLink(
                f"The parent (version {parent.version})", compare_url(ctx, team, pid, left, left_version=parent.version)
            )
        )
    for b in lineage.list_branches(conn, team, left, limit=RELATED_LIMIT, scope=scope):
        if str(b.id) not in seen:
            seen.add(str(b.id))
            links.append(
                PickLink(
                    f"Branch from step {b.branched_from_step} · {format_datetime(b.created_at)}",
                    compare_url(ctx, team, left, str(b.id)),
                )
            )
    for r in lineage.related_artifacts(conn, team, left, limit=RELATED_LIMIT, scope=scope):
        if str(r.id) not in seen:
            seen.add(str(r.id))
            links.append(
                PickLink(
                    f"Run of {format_datetime(r.created_at)} · {r.status}", compare_url(ctx, team, left, str(r.id))
                )
            )
    if left != right:
        links.append(PickLink("Its own versions", compare_url(ctx, team, left, left)))
    return links


def compare_routes(ctx: AppContext) -> list[Route]:
    keys = signing_keys(ctx)

    def build(
        left_raw: str, right_raw: str, sig: str | None, av: int | None, bv: int | None, gate: Gate
    ) -> ComparePage | Verdict | None:
        left, right = _canonical(left_raw), _canonical(right_raw)
        if left is None or right is None or av == 0 or bv == 0:
            return None
        with read_conn(ctx) as conn:
            a = load_version(conn, keys, left, av, None, verified=True)
            b = load_version(conn, keys, right, bv, None, verified=True)
            if a is None or b is None or a.team_id != b.team_id:
                return None
            if not verify_compare(keys, a.team_id, left, right, sig):
                return None
            team = a.team_id
            verdict = gate.check(conn, team, [left, right])
            if verdict is not Verdict.OPEN:
                return verdict
            lv = [v.number for v in versions.list_versions(conn, team, left, limit=VERSION_LIMIT)]
            rv = (
                lv
                if left == right
                else [v.number for v in versions.list_versions(conn, team, right, limit=VERSION_LIMIT)]
            )
            related = _related(ctx, conn, team, left, right, gate)
        return compare_page(
            a.artifact,
            b.artifact,
            left_side=_side(ctx, a, left, right),
            right_side=_side(ctx, b, right, left),
            left_content=a.content,
            right_content=b.content,
            signature=sig or "",
            left_version=a.number,
            right_version=b.number,
            left_versions=lv,
            right_versions=rv,
            swap_href=compare_url(ctx, team, right, left, left_version=b.number, right_version=a.number),
            related=related,
        )

    async def compare(request: Request) -> Response:
        q = request.query_params
        viewer = viewer_of(ctx, request)
        try:
            page = await run_in_threadpool(
                build,
                request.path_params["left"],
                request.path_params["right"],
                q.get("s"),
                requested_version(q.get("av")),
                requested_version(q.get("bv")),
                Gate(ctx, viewer),
            )
        except MembershipUnknown as exc:
            return membership_unknown(exc)

        def not_found() -> Response:
            return HTMLResponse(render_not_found_html(), status_code=404, headers=FORM_HEADERS)

        if page is None:
            return not_found()
        if isinstance(page, Verdict):
            return refused(page, request, "", not_found)
        return HTMLResponse(render_compare_html(page, viewer.who(here_of(request))), headers=FORM_HEADERS)

    return [Route("/artifacts/{left}/compare/{right}", compare, methods=["GET", "HEAD"])]
