"""GET/POST /artifacts/{id}/edit?t=TOKEN — the web editor, for outputs too long for a Slack modal.

The token is an edit link (core/artifacts/edit_links.py): made for one Slack user, one
artifact, valid for minutes, spent by the save. The page is a plain form (no script) that
posts back here with the link's CSRF token; a save makes version N+1 through
core/artifacts/editing.py and answers 303 to that version's permalink. Every refusal is a
page that says why. The URL carries the token: the responses are ``no-store`` and send no
referrer.

What was posted is shown back only in the editor's own form, and only once the link and its
CSRF token have checked out (an edit that is empty, unchanged, or met someone else's save):
that text came from the person's own page. A refusal page (a link expired, used, forged, a
form from elsewhere, a body or text over its cap) never contains the posted text: otherwise
anyone could make this origin display a text of their choosing by posting it with a stale
link. The browser's Back button still has what was typed.

The form is read with a ceiling (:data:`MAX_FORM_BYTES`) before anything parses it.
"""

from __future__ import annotations

from urllib.parse import parse_qs, quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from bot.web.access import MembershipUnknown, Verdict, editor_verdict, membership_unknown, refused, viewer_of
from bot.web.bodies import BodyTooLarge, capped_body
from bot.web.editor_view import EditorPage, PartLink, RefusalPage, part_label
from bot.web.pages import render_editor_html, render_not_found_html, render_refusal_html
from bot.web.security import FORM_HEADERS
from core.artifacts import edit_links, messages
from core.artifacts.editing import (
    EDIT_TEXT_MAX_LABEL,
    ArtifactNotFound,
    Editor,
    EditTooLong,
    VersionConflict,
    open_editor,
    save_from_link,
)
from core.artifacts.versions import EditRefused
from core.context import AppContext
from core.links import signing_keys, version_permalink

#: The largest form read, checked before anything parses it. A maximal edit
#: (core/artifacts/editing.EDIT_TEXT_MAX_BYTES, 512 KB of UTF-8) is at most 1.5 MiB
#: form-encoded (3 bytes per byte: ``%E2``), plus the note and the tokens: it always fits.
MAX_FORM_BYTES = 2 * 1024 * 1024
MAX_FORM_LABEL = "2 MiB"

_HEADINGS = {
    edit_links.Reason.EXPIRED: "This edit link has expired",
    edit_links.Reason.REUSED: "This edit link was used already",
    edit_links.Reason.CSRF: "This form was not sent from its edit link",
}


def _query(token: str, target: str | None = None) -> str:
    """A URL relative to the editor's own path, so it works under any public URL prefix."""
    q = f"?t={quote(token, safe='')}"
    return q + edit_links.part_query(target)


def _page(
    editor: Editor,
    token: str,
    *,
    text: str | None = None,
    note: str = "",
    error: str = "",
    can_save: bool = True,
    latest_href: str | None = None,
) -> EditorPage:
    targets = ["output", *[f"step:{n}" for n in editor.steps]]
    return EditorPage(
        title="Edit artifact · pipebot",
        pipeline="Edit artifact",
        action=_query(token, editor.target),
        target=editor.target,
        target_label=part_label(editor.target),
        text=editor.text if text is None else text,
        note=note,
        csrf=editor.csrf,
        base_version=editor.link.base_version,
        latest=editor.latest,
        user=editor.link.user_id,
        parts=[PartLink(part_label(t), _query(token, t), t == editor.target) for t in targets],
        error=error,
        can_save=can_save,
        latest_href=latest_href,
    )


def _refused(err: edit_links.EditLinkError) -> Response:
    """A refused link: says why, never what was posted (see the module's docstring)."""
    page = RefusalPage(_HEADINGS.get(err.reason, "This edit link doesn't work"), str(err))
    status = 410 if err.reason in (edit_links.Reason.EXPIRED, edit_links.Reason.REUSED) else 403
    return HTMLResponse(render_refusal_html(page), status_code=status, headers=FORM_HEADERS)


def _too_large(message: str) -> Response:
    page = RefusalPage("This edit is too large", message)
    return HTMLResponse(render_refusal_html(page), status_code=413, headers=FORM_HEADERS)


def _not_found() -> Response:
    return HTMLResponse(render_not_found_html(), status_code=404, headers=FORM_HEADERS)


def editor_routes(ctx: AppContext) -> list[Route]:
    """The editor's two routes (show, save) over one signed single-use link; the handlers are
    closures over the signing keys, so the whole flow reads in one place (hence its length)."""
    keys = signing_keys(ctx)

    async def show(request: Request, artifact_id: str, token: str) -> Response:
        target = request.query_params.get(edit_links.PART_PARAM) or "output"
        try:
            editor = await run_in_threadpool(open_editor, ctx, token, artifact_id, target=target)
        except edit_links.EditLinkError as err:
            return _refused(err)
        except ArtifactNotFound:
            return _not_found()
        except EditRefused as err:
            page = RefusalPage("This part cannot be edited", str(err))
            return HTMLResponse(render_refusal_html(page), status_code=400, headers=FORM_HEADERS)
        return HTMLResponse(render_editor_html(_page(editor, token)), headers=FORM_HEADERS)

    async def save(request: Request, artifact_id: str, token: str) -> Response:
        try:
            body = await capped_body(request, MAX_FORM_BYTES)
        except BodyTooLarge:
            return _too_large(messages.EDIT_FORM_TOO_LARGE.format(limit=MAX_FORM_LABEL, text_limit=EDIT_TEXT_MAX_LABEL))
        form = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)

        def field(name: str) -> str:
            return (form.get(name) or [""])[0]

        text, note, target = field("text"), field("note"), field("target") or "output"
        csrf = form.get("csrf", [None])[0]
        try:
            number = await run_in_threadpool(
                save_from_link, ctx, token, artifact_id, csrf=csrf, target=target, text=text, note=note or None
            )
        except edit_links.EditLinkError as err:
            return _refused(err)
        except ArtifactNotFound:
            return _not_found()
        except EditTooLong as err:
            return _too_large(str(err))
        except (VersionConflict, EditRefused) as err:
            try:
                editor = await run_in_threadpool(open_editor, ctx, token, artifact_id, target=target)
            except edit_links.EditLinkError as again:
                return _refused(again)
            except (EditRefused, ArtifactNotFound):
                return _refused(edit_links.EditLinkError(edit_links.Reason.TAMPERED, str(err)))
            if isinstance(err, VersionConflict):
                latest_href = version_permalink(ctx, editor.link.team_id, editor.link.artifact_id, err.latest)
                page = _page(
                    editor,
                    token,
                    text=text,
                    note=note,
                    can_save=False,
                    latest_href=latest_href,
                    error=messages.VERSION_CONFLICT.format(version=err.latest),
                )
                return HTMLResponse(render_editor_html(page), status_code=409, headers=FORM_HEADERS)
            page = _page(editor, token, text=text, note=note, error=str(err))
            return HTMLResponse(render_editor_html(page), status_code=400, headers=FORM_HEADERS)
        link = edit_links.read(token, keys, artifact_id=artifact_id)
        location = version_permalink(ctx, link.team_id, link.artifact_id, number)
        return RedirectResponse(location, status_code=303, headers=FORM_HEADERS)

    async def edit(request: Request) -> Response:
        artifact_id = request.path_params["ident"]
        token = request.query_params.get("t") or ""
        try:  # where people sign in: the link's person, signed in, still seeing the run
            verdict = await run_in_threadpool(editor_verdict, ctx, viewer_of(ctx, request), token, artifact_id)
        except MembershipUnknown as exc:
            return membership_unknown(exc)
        if verdict is not Verdict.OPEN:
            return refused(verdict, request, "", _not_found)
        if request.method == "POST":
            return await save(request, artifact_id, token)
        return await show(request, artifact_id, token)

    return [Route("/artifacts/{ident}/edit", edit, methods=["GET", "HEAD", "POST"])]
