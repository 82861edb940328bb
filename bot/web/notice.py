"""A short page that says one thing: a refusal, a failed sign-in, a cancelled one.

Shared by the access guard and the sign-in routes, so every such page has the same look,
headers (no script, no referrer, not cached) and escaping.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.responses import HTMLResponse

from bot.web.pages import render_notice_html
from bot.web.security import SECURITY_HEADERS

HEADERS = dict(SECURITY_HEADERS, **{"Cache-Control": "private, no-store"})


@dataclass(frozen=True)
class Notice:
    heading: str
    message: str
    link_text: str = ""
    link_href: str = ""


def notice_response(notice: Notice, status: int) -> HTMLResponse:
    return HTMLResponse(render_notice_html(notice), status_code=status, headers=HEADERS)
