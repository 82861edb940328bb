"""Render the artifact viewer's pages from Jinja2 templates (``bot/web/templates``).

One Environment, built once, with autoescaping on: every value a template prints is
escaped unless it is explicitly marked safe, and the only such value is sanitised
Markdown (see bot/web/markdown.py). Printed values go through :func:`html.escape` (quotes
included, so text is inert in attributes as well as in content) rather than MarkupSafe's
equivalent: both are safe, and this keeps the page's escaped text exactly as it always was
(``&#x27;`` for ``'``). Serve the pages with :data:`bot.web.security.SECURITY_HEADERS`.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from bot.web import texts
from bot.web.compare_view import ComparePage
from bot.web.editor_view import EditorPage, RefusalPage
from bot.web.lineage_view import LifecycleView
from bot.web.notice_view import DeleteForm, Notice, WhoLine
from bot.web.security import FORM_META_CSP, META_CSP, STYLESHEET
from bot.web.view import artifact_page
from core.runs.artifact import Artifact

__all__ = [
    "render_artifact_html",
    "render_compare_html",
    "render_delete_confirm_html",
    "render_editor_html",
    "render_not_found_html",
    "render_notice_html",
    "render_refusal_html",
]


def _escape(value: Any) -> Any:
    """Every printed value: markup stays as it is, ``None`` prints nothing, the rest is escaped."""
    if isinstance(value, Markup):
        return value
    return Markup(html.escape("" if value is None else str(value), quote=True))


_ENV = Environment(
    loader=PackageLoader("bot.web", "templates"),
    autoescape=True,
    finalize=_escape,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
_ENV.globals.update(meta_csp=META_CSP, form_meta_csp=FORM_META_CSP, stylesheet=Markup(STYLESHEET))


def render_artifact_html(
    artifact: Artifact | Mapping[str, Any],
    *,
    slack_thread_url: str | None,
    json_url: str,
    markdown_url: str,
    lifecycle: LifecycleView | None = None,
    slack_undelivered: str | None = None,
    who: WhoLine | None = None,
    delete_form: DeleteForm | None = None,
    file_href: Callable[[int], str] | None = None,
) -> str:
    """The permalink page of one artifact, as a complete HTML document.

    ``json_url`` / ``markdown_url`` are the signed URLs of the other formats. Stored
    content (a mapping) is read through :class:`~core.runs.artifact.Artifact` first.
    ``lifecycle`` adds the versions, lineage and feedback (the live page always has it).
    ``slack_undelivered`` names what of the run Slack never took (the thread is incomplete).
    ``who`` is the header line saying who is looking (bot/web/access.py).
    ``delete_form`` adds the *Delete* button (then serve the page with
    :data:`bot.web.security.FORM_HEADERS`: it has a form).
    ``file_href(position)`` links the run's files (and shows its images) from the page.
    """
    page = artifact_page(
        Artifact.from_content(artifact),
        slack_thread_url=slack_thread_url,
        json_url=json_url,
        markdown_url=markdown_url,
        file_href=file_href,
    )
    return _ENV.get_template("artifact.html").render(
        page=page,
        life=lifecycle,
        undelivered=slack_undelivered,
        who=who,
        delete_form=delete_form,
        form_page=delete_form is not None,
        texts=texts,
    )


def render_delete_confirm_html(form: DeleteForm, message: str, who: WhoLine | None = None) -> str:
    """The confirm step of *Delete* (a form: serve it with :data:`bot.web.security.FORM_HEADERS`)."""
    return _ENV.get_template("delete_confirm.html").render(
        form=form, message=message, who=who, form_page=True, texts=texts
    )


def render_compare_html(page: ComparePage, who: WhoLine | None = None) -> str:
    """The compare page of two artifacts or two versions (it has a GET form: serve it with
    :data:`bot.web.security.FORM_HEADERS`)."""
    return _ENV.get_template("compare.html").render(page=page, form_page=True, who=who)


def render_editor_html(page: EditorPage, who: WhoLine | None = None) -> str:
    """The web editor of one artifact (serve it with :data:`bot.web.security.FORM_HEADERS`)."""
    return _ENV.get_template("editor.html").render(page=page, form_page=True, who=who)


def render_refusal_html(page: RefusalPage) -> str:
    """The page of an edit link refused (expired, used, altered, form not from the link)."""
    return _ENV.get_template("refused.html").render(page=page)


def render_not_found_html() -> str:
    """The page for a missing artifact and a bad signature alike (they must look the same)."""
    return _ENV.get_template("not_found.html").render()


def render_notice_html(page: Notice) -> str:
    """A page that says one thing (a refusal, a failed or cancelled sign-in): bot/web/notice.py."""
    return _ENV.get_template("notice.html").render(page=page)
