"""POST /artifacts/{id}/delete?s=SIG — *Delete* on the artifact page (DESIGN §10 "Taking back").

Two steps and no script: the page's button posts here and gets the confirm page
(core/messages.DELETE_CONFIRM) with a second button, which posts here again with
``confirm=yes``; then the result is deleted (core/artifacts/deletion.delete_result, which
records the audit event) and the answer is a 303 to the page, now the tombstone.

Each POST checks everything again, in this order: the mode (without sign-in nobody is known,
so nothing is deleted here: "Delete it from Slack"), the body's size (read with a small
ceiling before parsing), the signed link, the session, the visibility rule (a run the person
cannot see is the same 404 as a missing one), the form's token (bound to the session and the
artifact: bot/web/deleting.py), then requester-or-admin. Every refusal is a short page that
says why; none shows anything that was posted.
"""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from bot.web import texts
from bot.web.access import Gate, MembershipUnknown, Verdict, Viewer, membership_unknown, signin_path, viewer_of
from bot.web.bodies import BodyTooLarge, capped_body
from bot.web.deleting import DeleteCheckFailed, right_of, token_ok
from bot.web.loading import load_version, read_conn
from bot.web.notice import Notice, notice_response
from bot.web.notice_view import DeleteForm
from bot.web.pages import render_delete_confirm_html, render_not_found_html
from bot.web.security import FORM_HEADERS
from core.artifacts.deletion import NotAllowed, delete_result
from core.context import AppContext
from core.links import artifact_permalink, signing_keys
from core.messages import ALREADY_DELETED, DELETE_CONFIRM, DELETE_REFUSED
from storage.repos import artifacts as artifact_repo

#: The largest Delete form read: it holds a token and ``confirm=yes``, far under this.
MAX_DELETE_FORM_BYTES = 4 * 1024
MAX_DELETE_FORM_LABEL = "4 KB"


def _not_found() -> Response:
    return HTMLResponse(render_not_found_html(), status_code=404, headers=FORM_HEADERS)


def delete_routes(ctx: AppContext) -> list[Route]:
    keys = signing_keys(ctx)

    def decide(viewer: Viewer, artifact_id: str, sig: str, csrf: str, confirm: bool) -> Response:
        """Every check, then the confirm page or the delete (call from a worker thread)."""
        with read_conn(ctx) as conn:
            loaded = load_version(conn, keys, artifact_id, None, sig)
            if loaded is None:
                return _not_found()
            canonical = str(uuid.UUID(artifact_id))
            session = viewer.session
            if session is None:  # back to the page after signing in (a POST cannot be replayed)
                back = signin_path(f"/artifacts/{canonical}?s={quote(sig, safe='')}")
                return RedirectResponse(back, status_code=303, headers=FORM_HEADERS)
            team = loaded.team_id
            if Gate(ctx, viewer).check(conn, team, [canonical]) is not Verdict.OPEN:
                return _not_found()
            created_by = artifact_repo.created_by_of(conn, team, canonical)
        page = artifact_permalink(ctx, team, canonical)
        if not token_ok(ctx.keys, session, team, canonical, csrf):
            return notice_response(Notice(texts.DELETE_FORM_STALE_TITLE, texts.DELETE_FORM_STALE), 403)
        try:
            right = right_of(ctx, session.user_id, team, created_by)
        except DeleteCheckFailed as exc:
            failed = Notice(texts.DELETE_CHECK_FAILED_TITLE, texts.DELETE_CHECK_FAILED.format(reason=exc))
            return notice_response(failed, 503)
        if not right.allowed:
            return notice_response(Notice(texts.DELETE_REFUSED_TITLE, DELETE_REFUSED), 403)
        if loaded.artifact.deleted:
            return notice_response(Notice(ALREADY_DELETED, ALREADY_DELETED, texts.OPEN_THE_PAGE, page), 200)
        if not confirm:
            form = DeleteForm(f"?s={quote(sig, safe='')}", csrf, page)
            html = render_delete_confirm_html(form, DELETE_CONFIRM, viewer.who(page))
            return HTMLResponse(html, headers=FORM_HEADERS)
        try:
            done = delete_result(ctx, team, canonical, session.user_id, admin=right.admin)
        except NotAllowed:
            return notice_response(Notice(texts.DELETE_REFUSED_TITLE, DELETE_REFUSED), 403)
        if done is None:
            return _not_found()
        return RedirectResponse(page, status_code=303, headers=FORM_HEADERS)

    async def delete(request: Request) -> Response:
        viewer = viewer_of(ctx, request)
        if not viewer.signin:
            return notice_response(Notice(texts.DELETE_FROM_SLACK_TITLE, texts.DELETE_FROM_SLACK), 403)
        try:
            body = await capped_body(request, MAX_DELETE_FORM_BYTES)
        except BodyTooLarge:
            too_large = Notice(texts.DELETE_TOO_LARGE_TITLE, texts.DELETE_TOO_LARGE.format(limit=MAX_DELETE_FORM_LABEL))
            return notice_response(too_large, 413)
        form = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
        csrf = (form.get("csrf") or [""])[0]
        confirm = (form.get("confirm") or [""])[0] == "yes"
        sig = request.query_params.get("s") or ""
        try:
            return await run_in_threadpool(decide, viewer, request.path_params["ident"], sig, csrf, confirm)
        except MembershipUnknown as exc:
            return membership_unknown(exc)

    return [Route("/artifacts/{ident}/delete", delete, methods=["POST"])]
