"""What the short pages and the header line show, as plain values (the templates escape them).

A leaf module, so the renderers (bot/web/pages.py) and the access rules (bot/web/access.py)
share these types without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Notice:
    """A page that says one thing: a heading, a sentence, and perhaps a link (sign in again)."""

    heading: str
    message: str
    link_text: str = ""
    link_href: str = ""


@dataclass(frozen=True)
class WhoLine:
    """The header line of a page: who is looking, and the link to sign in or out."""

    text: str
    link_text: str = ""
    link_href: str = ""


@dataclass(frozen=True)
class DeleteForm:
    """The *Delete* form of a page (the artifact page's button, then the confirm page):
    where it posts, its CSRF token, and on the confirm page where *Keep it* goes back to."""

    action: str
    csrf: str
    back_href: str = ""
