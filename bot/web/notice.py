"""A short page that says one thing: a refusal, a failed sign-in, a cancelled one.

Shared by the access guard and the sign-in routes, so every such page has the same look,
headers (no script, no referrer, not cached) and escaping.
"""

from __future__ import annotations

from starlette.responses import HTMLResponse

from bot.web.notice_view import Notice
from bot.web.pages import render_notice_html
from bot.web.security import SECURITY_HEADERS

__all__ = ["HEADERS", "Notice", "notice_response"]

HEADERS = dict(SECURITY_HEADERS, **{"Cache-Control": "private, no-store"})


def notice_response(notice: Notice, status: int) -> HTMLResponse:
    return HTMLResponse(render_notice_html(notice), status_code=status, headers=HEADERS)
