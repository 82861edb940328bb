"""The artifact pages' stylesheet, Content-Security-Policy and security headers.

Everything on an artifact page is untrusted (model output, names, provider errors), so
the pages carry no script at all and a policy that forbids scripts: even an escaping
bug could not execute anything. The one stylesheet, ``static/artifact.css``, is inlined
and allowed by its SHA-256, which is computed from the file when this module is
imported, so editing the CSS can never leave a stale hash behind (a stale hash would
leave the page unstyled). Allowing it by hash rather than ``'unsafe-inline'`` keeps an
injected ``<style>`` or ``style=`` attribute inert too.
"""

from __future__ import annotations

import base64
import hashlib
from importlib.resources import files

__all__ = [
    "CSP",
    "FORM_CSP",
    "FORM_HEADERS",
    "FORM_META_CSP",
    "META_CSP",
    "SECURITY_HEADERS",
    "STYLESHEET",
    "STYLE_HASH",
]

_CSS_BYTES: bytes = files("bot.web").joinpath("static", "artifact.css").read_bytes()

#: The stylesheet's text, inlined verbatim in every page (the hash covers exactly these bytes).
STYLESHEET: str = _CSS_BYTES.decode("utf-8")
#: ``sha256-…`` source expression for :data:`STYLESHEET`.
STYLE_HASH: str = "sha256-" + base64.b64encode(hashlib.sha256(_CSS_BYTES).digest()).decode("ascii")

_POLICY = (
    "default-src 'none'; script-src 'none'; "
    f"style-src '{STYLE_HASH}'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'"
)

#: Content-Security-Policy header for the artifact pages. No script source at all; only
#: our own stylesheet (by hash); images only as ``data:`` (the favicon, inline rasters in
#: Markdown) or from this site (a run's images, bot/web/file_routes.py, which serves only
#: raster types inline); no forms, no ``<base>``, no framing (clickjacking).
CSP: str = _POLICY + "; frame-ancestors 'none'"

#: The same policy for the ``<meta>`` tag (defence in depth if a proxy drops the header).
#: ``frame-ancestors`` is not allowed in ``<meta>`` (browsers log an error), so it is
#: left out here; the header carries it.
META_CSP: str = _POLICY

#: Headers sent with every artifact response (HTML, JSON, Markdown). ``no-referrer``
#: matters: the URL carries the signature, and following a link in model output must not
#: hand it to a third party.
SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "X-Robots-Tag": "noindex, nofollow",
    "Cache-Control": "private, max-age=0, must-revalidate",
    "Cross-Origin-Opener-Policy": "same-origin",
}

_FORM_POLICY = _POLICY.replace("form-action 'none'", "form-action 'self'")

#: The policy of the two pages that have a form (the editor, and the compare page's version
#: picker): the same, except that a form may be sent to this site. Still no script.
FORM_CSP: str = _FORM_POLICY + "; frame-ancestors 'none'"
FORM_META_CSP: str = _FORM_POLICY

#: Headers of a page with a form. ``no-store``: the editor's URL carries its edit link, and
#: neither the page nor the typed text should stay in a cache.
FORM_HEADERS: dict[str, str] = dict(
    SECURITY_HEADERS, **{"Content-Security-Policy": FORM_CSP, "Cache-Control": "private, no-store"}
)
