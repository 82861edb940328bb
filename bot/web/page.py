"""Server-rendered artifact viewer (HTML) and Markdown export.

The page behind a permalink is opened from Slack, very often on a phone, by
people who are not logged in to anything. Everything in an artifact is
untrusted: model output, step inputs, pipeline and agent names, error messages
(which may echo provider responses). So the page:

* contains no JavaScript at all, and is served with a CSP that forbids scripts
  (:data:`CSP`), so even an escaping bug could not execute anything;
* escapes every value with :func:`html.escape` and renders Markdown with
  markdown-it-py in CommonMark mode with raw HTML disabled, a link allow-list
  (http, https, mailto, relative) and ``rel="nofollow noopener noreferrer"``;
* never loads third-party resources (remote Markdown images become links),
  so opening a page cannot leak the viewer's IP or the signed URL;
* is self-contained: one inline stylesheet whitelisted by hash in the CSP,
  responsive, with dark mode via ``prefers-color-scheme``.

The artifact dict is JSONB written by the run executor; old artifacts may lack
keys or carry unexpected types, so every accessor here is tolerant and a
missing value is shown as "—" rather than raising.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token

__all__ = [
    "CSP",
    "META_CSP",
    "SECURITY_HEADERS",
    "render_artifact_html",
    "render_not_found_html",
    "render_artifact_markdown",
    "render_markdown_safe",
    "format_usd",
    "format_duration",
    "format_tokens",
    "format_datetime",
]

# --------------------------------------------------------------------------- #
# Stylesheet and Content-Security-Policy
# --------------------------------------------------------------------------- #

_CSS = """
:root{color-scheme:light dark;--bg:#f6f7f9;--fg:#1d1f23;--muted:#5f6672;--card:#ffffff;
--border:#e1e4ea;--accent:#4a3aff;--accent-fg:#ffffff;--code-bg:#f0f2f5;--ok:#0f7b3f;--ok-bg:#e3f6ea;
--bad:#b3261e;--bad-bg:#fde8e6;--warn-bg:#fff6df;--neutral-bg:#eceef2;--shadow:0 1px 2px rgba(16,24,40,.06)}
@media (prefers-color-scheme:dark){:root{--bg:#111318;--fg:#e6e8ec;--muted:#9aa2ae;--card:#1a1d24;
--border:#2c313b;--accent:#9b8cff;--accent-fg:#111318;--code-bg:#232833;--ok:#6fdc9b;--ok-bg:#173324;
--bad:#ff8a80;--bad-bg:#3a1c1b;--warn-bg:#3a3220;--neutral-bg:#262b35;--shadow:none}}
*,*::before,*::after{box-sizing:border-box}
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--fg);
font:16px/1.6 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans",sans-serif}
.wrap{max-width:48rem;margin:0 auto;padding:1.25rem 1rem 3rem}
a{color:var(--accent);text-underline-offset:2px}
a:focus-visible,summary:focus-visible{outline:2px solid var(--accent);outline-offset:2px;border-radius:4px}
.brand{margin:0 0 .25rem;font-size:.8rem;letter-spacing:.06em;text-transform:uppercase;color:var(--muted);font-weight:600}
h1{margin:0 0 .4rem;font-size:1.6rem;line-height:1.25;overflow-wrap:anywhere}
h2{margin:2rem 0 .6rem;font-size:1.05rem;text-transform:uppercase;letter-spacing:.05em;color:var(--muted)}
.sub{margin:0;color:var(--muted);font-size:.95rem;display:flex;flex-wrap:wrap;gap:.25rem .6rem;align-items:center}
.badge{display:inline-block;padding:.05rem .55rem;border-radius:999px;font-size:.8rem;font-weight:600;
background:var(--neutral-bg);color:var(--fg);white-space:nowrap}
.badge.ok{background:var(--ok-bg);color:var(--ok)}.badge.bad{background:var(--bad-bg);color:var(--bad)}
.actions{display:flex;flex-wrap:wrap;gap:.5rem;margin:1rem 0 0}
.btn{display:inline-flex;align-items:center;min-height:2.5rem;padding:.4rem .9rem;border-radius:.6rem;
border:1px solid var(--border);background:var(--card);color:var(--fg);text-decoration:none;font-weight:500;
font-size:.92rem;box-shadow:var(--shadow)}
.btn.primary{background:var(--accent);border-color:var(--accent);color:var(--accent-fg)}
.card{background:var(--card);border:1px solid var(--border);border-radius:.8rem;padding:1rem 1.1rem;box-shadow:var(--shadow)}
.alert{background:var(--bad-bg);border:1px solid var(--bad);border-radius:.8rem;padding:.8rem 1rem;margin:1.25rem 0 0}
.alert strong{color:var(--bad)}
.alert p{margin:.3rem 0 0}
.card>:first-child{margin-top:0}.card>:last-child{margin-bottom:0}
.md{overflow-wrap:anywhere}
.md>:first-child{margin-top:0}.md>:last-child{margin-bottom:0}
.md h1,.md h2,.md h3,.md h4,.md h5,.md h6{margin:1.2rem 0 .5rem;line-height:1.3;color:var(--fg);
text-transform:none;letter-spacing:normal}
.md h1{font-size:1.35rem}.md h2{font-size:1.2rem}.md h3{font-size:1.08rem}.md h4,.md h5,.md h6{font-size:1rem}
.md p,.md ul,.md ol,.md blockquote,.md pre,.md table{margin:0 0 .9rem}
.md ul,.md ol{padding-left:1.4rem}
.md li+li{margin-top:.2rem}
.md blockquote{padding:.1rem 0 .1rem .9rem;border-left:3px solid var(--border);color:var(--muted)}
.md hr{border:0;border-top:1px solid var(--border);margin:1.2rem 0}
.md img{max-width:100%;height:auto}
code,pre,.raw{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;font-size:.88em}
:not(pre)>code{background:var(--code-bg);padding:.1em .35em;border-radius:.3em;overflow-wrap:anywhere}
pre{background:var(--code-bg);padding:.8rem .9rem;border-radius:.6rem;overflow-x:auto;line-height:1.45;
-webkit-overflow-scrolling:touch}
pre code{background:none;padding:0;font-size:inherit}
.raw{white-space:pre-wrap;overflow-wrap:anywhere;margin:0;font-size:.85rem}
.md table{display:block;max-width:100%;overflow-x:auto;border-collapse:collapse;font-size:.92rem}
.md th,.md td{border:1px solid var(--border);padding:.35rem .6rem;vertical-align:top;overflow-wrap:normal;min-width:4rem}
.md th{background:var(--code-bg);text-align:left}
.md .al-left{text-align:left}.md .al-center{text-align:center}.md .al-right{text-align:right}
.meta{display:grid;grid-template-columns:minmax(6.5rem,auto) 1fr;gap:.45rem 1rem;margin:0}
.meta dt{color:var(--muted);font-size:.9rem}
.meta dd{margin:0;overflow-wrap:anywhere}
.muted{color:var(--muted)}
.small{font-size:.85rem}
.models{margin:0;padding:0;list-style:none}
details{background:var(--card);border:1px solid var(--border);border-radius:.8rem;box-shadow:var(--shadow)}
details+details{margin-top:.6rem}
summary{cursor:pointer;padding:.8rem 1rem .8rem 2.1rem;position:relative;list-style:none;overflow-wrap:anywhere}
summary::-webkit-details-marker{display:none}
summary::before{content:"";position:absolute;left:.95rem;top:1.3rem;width:.45rem;height:.45rem;
border-right:2px solid var(--muted);border-bottom:2px solid var(--muted);transform:rotate(-45deg);transition:transform .15s}
details[open]>summary::before{transform:rotate(45deg);top:1.15rem}
summary .name{font-weight:600}
summary .facts{display:block;color:var(--muted);font-size:.85rem}
details>.body{padding:0 1rem 1rem;border-top:1px solid var(--border)}
details>.body>:first-child{margin-top:.9rem}
details details{box-shadow:none;background:transparent;margin-top:.8rem}
details details summary{padding:.55rem .8rem .55rem 1.9rem;font-size:.92rem}
details details summary::before{left:.8rem;top:1rem}
details details[open]>summary::before{top:.85rem}
details details>.body{padding:0 .8rem .8rem}
.step-n{display:inline-block;min-width:1.6rem;padding:0 .4rem;margin-right:.35rem;border-radius:999px;
background:var(--neutral-bg);text-align:center;font-size:.8rem;font-weight:600}
.step-meta{margin-bottom:1rem}
.label{margin:1rem 0 .4rem;font-size:.8rem;text-transform:uppercase;letter-spacing:.05em;color:var(--muted);font-weight:600}
footer{margin-top:2.5rem;padding-top:1rem;border-top:1px solid var(--border);color:var(--muted);font-size:.85rem}
footer p{margin:.25rem 0}
.notfound{text-align:center;padding-top:18vh}
.notfound h1{font-size:1.5rem}
@media (max-width:480px){.wrap{padding:1rem .8rem 2.5rem}h1{font-size:1.4rem}
.card{padding:.85rem .9rem}.meta{grid-template-columns:1fr;gap:0}.meta dt{margin-top:.55rem}
.meta dt:first-child{margin-top:0}}
@media print{.actions{display:none}details>.body{display:block}body{background:#fff}}
""".strip()

_STYLE_HASH = base64.b64encode(hashlib.sha256(_CSS.encode("utf-8")).digest()).decode("ascii")

#: Content-Security-Policy header for the artifact pages. No script source at
#: all; only our own stylesheet (by hash, so even injected ``<style>`` or
#: ``style=`` could not apply); images only as ``data:`` (favicon); no forms,
#: no ``<base>``, no framing (clickjacking). Meant for the pages rendered by
#: this module only: any other inline ``<style>`` would be blocked by it.
CSP: str = (
    "default-src 'none'; script-src 'none'; "
    f"style-src 'sha256-{_STYLE_HASH}'; img-src data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

#: Same policy for the ``<meta>`` tag (defence in depth if a proxy drops the
#: header). ``frame-ancestors`` is not allowed in ``<meta>`` (browsers log an
#: error), so it is left out here; the header carries it.
META_CSP: str = (
    "default-src 'none'; script-src 'none'; "
    f"style-src 'sha256-{_STYLE_HASH}'; img-src data:; "
    "base-uri 'none'; form-action 'none'"
)

#: Headers the web server should send with every artifact page (HTML, JSON,
#: Markdown). ``no-referrer`` matters: the URL carries the signature, and
#: clicking a link in model output must not hand it to a third party.
SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "X-Robots-Tag": "noindex, nofollow",
    "Cache-Control": "private, max-age=0, must-revalidate",
    "Cross-Origin-Opener-Policy": "same-origin",
}

_FAVICON = (
    "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 32 32'%3E"
    "%3Crect width='32' height='32' rx='7' fill='%234a3aff'/%3E"
    "%3Cpath d='M8 11h10M8 16h16M8 21h12' stroke='white' stroke-width='3' stroke-linecap='round'/%3E"
    "%3C/svg%3E"
)

# --------------------------------------------------------------------------- #
# Safe Markdown
# --------------------------------------------------------------------------- #

_SCHEME_RE = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*):")
_SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
_DATA_IMAGE_RE = re.compile(r"^data:image/(?:gif|png|jpeg|webp);", re.IGNORECASE)
_LINK_REL = "nofollow noopener noreferrer ugc"


def _validate_link(url: str) -> bool:
    """Allow-list link targets: http(s), mailto, scheme-less, and raster data: images.

    markdown-it's default already refuses ``javascript:``, ``vbscript:``,
    ``file:`` and most ``data:``; an allow-list is stricter and also refuses
    schemes we have never heard of (``intent:``, ``ms-*:``…). A refused link is
    rendered as its literal, escaped source text, i.e. not clickable.
    """
    m = _SCHEME_RE.match(url.strip())
    if not m:
        return True  # relative, fragment, or percent-encoded garbage: no scheme
    scheme = m.group(1).lower()
    if scheme in _SAFE_SCHEMES:
        return True
    return scheme == "data" and bool(_DATA_IMAGE_RE.match(url.strip()))


def _render_image(self: Any, tokens: list[Token], idx: int, options: Any, env: Any) -> str:
    """Render ``![alt](src)`` without fetching anything remote.

    A remote image would be blocked by the CSP anyway (showing a broken icon),
    and fetching it would leak the viewer's IP to whoever wrote the URL. So
    remote images become a plain link; inline ``data:`` rasters are shown.
    """
    token = tokens[idx]
    src = token.attrGet("src") or ""
    alt = self.renderInlineAsText(token.children or [], options, env)
    if _DATA_IMAGE_RE.match(src):
        return f'<img src="{html.escape(src)}" alt="{html.escape(alt)}">'
    label = alt or src or "image"
    return (
        f'<a href="{html.escape(src)}" rel="{_LINK_REL}">'
        f"[image: {html.escape(label)}]</a>"
    )


def _new_markdown() -> MarkdownIt:
    # breaks=True: model output is chat text; a single newline means a new line.
    md = MarkdownIt(
        "commonmark",
        {"html": False, "linkify": False, "typographer": False, "breaks": True},
    )
    md.enable(["table", "strikethrough"])
    md.validateLink = _validate_link  # type: ignore[method-assign]
    md.add_render_rule("image", _render_image)
    return md


_MD = _new_markdown()


def _walk(tokens: Iterable[Token]) -> Iterable[Token]:
    for tok in tokens:
        yield tok
        if tok.children:
            yield from _walk(tok.children)


def render_markdown_safe(text: Any) -> str:
    """Render untrusted Markdown to HTML that is safe to embed.

    Raw HTML is escaped (``html: False``), links are allow-listed, every link
    gets ``rel="nofollow noopener noreferrer ugc"``, and table alignment becomes
    a class rather than a ``style=`` attribute (which the hash-based CSP would
    block). Non-string input is stringified; ``None`` gives ``""``.
    """
    if text is None:
        return ""
    if not isinstance(text, str):
        text = str(text)
    env: dict[str, Any] = {}
    tokens = _MD.parse(text, env)
    for tok in _walk(tokens):
        if tok.type == "link_open":
            tok.attrSet("rel", _LINK_REL)
        elif tok.type in ("th_open", "td_open") and tok.attrs:
            style = str(tok.attrs.pop("style", "") or "")
            m = re.fullmatch(r"text-align:(left|center|right)", style)
            if m:
                tok.attrSet("class", f"al-{m.group(1)}")
    return _MD.renderer.render(tokens, _MD.options, env)


# --------------------------------------------------------------------------- #
# Tolerant accessors and formatting
# --------------------------------------------------------------------------- #

_MISSING = "—"


def _esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _get(obj: Any, key: str, default: Any = None) -> Any:
    if isinstance(obj, Mapping):
        value = obj.get(key, default)
        return default if value is None else value
    return default


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value == value and abs(value) != float("inf"):
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def format_usd(value: Any) -> str:
    """Format a USD amount for people: ``"$0.0123"``, ``"$1.50"``, ``"—"`` if unknown.

    Costs per run are often fractions of a cent, so amounts under $1 keep four
    decimals, and tiny ones keep two significant digits rather than "$0.0000".
    ``None`` (price unknown for some model) is "—", never "$0": unknown is not free.
    """
    if value is None or value == "" or isinstance(value, bool):
        return _MISSING
    try:
        d = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return _MISSING
    if not d.is_finite() or d < 0:
        return _MISSING
    if d == 0:
        return "$0.00"
    if d >= 1:
        return f"${d:,.2f}"
    if d >= Decimal("0.0001"):
        return f"${d:.4f}"
    if d < Decimal("0.000001"):
        return "<$0.000001"
    return f"${d:.{-d.adjusted() + 1}f}"


def format_tokens(value: Any) -> str:
    """Thousands-separated token count, ``"—"`` when unknown."""
    n = _int(value)
    return _MISSING if n is None else f"{n:,}"


def format_duration(ms: Any) -> str:
    """Human duration from milliseconds: ``850 ms``, ``1.2 s``, ``2 min 05 s``, ``1 h 02 min``."""
    n = _int(ms)
    if n is None or n < 0:
        return _MISSING
    if n < 1000:
        return f"{n} ms"
    seconds = n / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    total = int(round(seconds))
    if total < 3600:
        return f"{total // 60} min {total % 60:02d} s"
    return f"{total // 3600} h {(total % 3600) // 60:02d} min"


def _parse_dt(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str) and value.strip():
        try:
            dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def format_datetime(value: Any) -> str:
    """``2026-11-24 10:00 UTC``; unparseable strings are returned as given, missing as "—".

    UTC because the page is shared across time zones and has no script to
    localise; the ``<time datetime>`` attribute keeps the exact instant.
    """
    dt = _parse_dt(value)
    if dt is None:
        return _text(value) or _MISSING
    return dt.strftime("%Y-%m-%d %H:%M UTC")


_STATUS_LABELS = {
    "succeeded": ("Succeeded", "ok"),
    "failed": ("Failed", "bad"),
    "running": ("Running", ""),
    "queued": ("Queued", ""),
}


def _status(value: Any) -> tuple[str, str]:
    s = _text(value).strip()
    if not s:
        return "Unknown", ""
    return _STATUS_LABELS.get(s.lower(), (s, ""))


def _badge_cls(kind: str) -> str:
    return f"badge {kind}" if kind else "badge"


def _safe_href(url: Any, *, absolute_only: bool = False) -> str | None:
    """Return ``url`` if it is http(s) (or relative, unless ``absolute_only``), else None."""
    u = _text(url).strip()
    if not u or any(ch in u for ch in "\x00\r\n\t"):
        return None
    m = _SCHEME_RE.match(u)
    if m:
        return u if m.group(1).lower() in ("http", "https") else None
    if absolute_only or u.startswith("//"):
        return None
    return u


def _steps(artifact: Any) -> list[Mapping[str, Any]]:
    steps = _get(artifact, "steps", [])
    if not isinstance(steps, list):
        return []
    return [s for s in steps if isinstance(s, Mapping)]


def _usage_totals(artifact: Any) -> dict[str, int] | None:
    """Top-level usage, or the sum of the steps' usage for artifacts that lack it."""
    keys = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")
    usage = _get(artifact, "usage")
    sources: list[Any] = [usage] if isinstance(usage, Mapping) else [_get(s, "usage") for s in _steps(artifact)]
    totals = {k: 0 for k in keys}
    seen = False
    for u in sources:
        if not isinstance(u, Mapping):
            continue
        for k in keys:
            n = _int(u.get(k))
            if n is not None:
                totals[k] += n
                seen = True
    return totals if seen else None


def _format_usage(usage: Any) -> str:
    if not isinstance(usage, Mapping):
        return _MISSING
    i, o = _int(usage.get("input_tokens")), _int(usage.get("output_tokens"))
    if i is None and o is None:
        return _MISSING
    text = f"{(i or 0) + (o or 0):,} ({i or 0:,} in · {o or 0:,} out"
    cr, cw = _int(usage.get("cache_read_tokens")), _int(usage.get("cache_write_tokens"))
    if cr:
        text += f" · {cr:,} cache read"
    if cw:
        text += f" · {cw:,} cache write"
    return text + ")"


def _model_names(artifact: Any) -> list[tuple[str, str]]:
    """(model id, display name) pairs, from ``models`` or else from the steps."""
    display: dict[str, str] = {}
    order: list[str] = []
    for s in _steps(artifact):
        mid = _text(_get(s, "model") or _get(_get(s, "agent"), "model"))
        if mid:
            if mid not in order:
                order.append(mid)
            if _get(s, "model_display") and mid not in display:
                display[mid] = _text(_get(s, "model_display"))
    models = _get(artifact, "models")
    if isinstance(models, list) and models:
        order = [_text(m) for m in models if _text(m)]
    seen: set[str] = set()
    out = []
    for mid in order:
        if mid not in seen:
            seen.add(mid)
            out.append((mid, display.get(mid, "")))
    return out


def _duration_ms(obj: Any, key: str = "duration_ms") -> int | None:
    n = _int(_get(obj, key))
    if n is not None:
        return n
    start, end = _parse_dt(_get(obj, "started_at")), _parse_dt(_get(obj, "finished_at"))
    if start and end and end >= start:
        return int((end - start).total_seconds() * 1000)
    return None


def _error_parts(err: Any) -> tuple[str, str, int | None] | None:
    """(kind, message, step) of an error that may be a dict, a string, or absent."""
    if err is None or err == "" or err == {}:
        return None
    if isinstance(err, Mapping):
        kind = _text(err.get("kind") or err.get("type") or "error")
        message = _text(err.get("message") or err.get("detail") or "")
        return kind, message, _int(err.get("step"))
    return "error", _text(err), None


def _pipeline_name(artifact: Any) -> str:
    p = _get(artifact, "pipeline")
    if isinstance(p, Mapping):
        return _text(p.get("name")).strip() or "Untitled pipeline"
    return _text(p).strip() or "Untitled pipeline"


def _agent_name(step: Mapping[str, Any]) -> str:
    agent = _get(step, "agent")
    if isinstance(agent, Mapping):
        name = _text(agent.get("name")).strip()
    else:
        name = _text(agent).strip()
    return name or "Unnamed agent"


# --------------------------------------------------------------------------- #
# HTML
# --------------------------------------------------------------------------- #


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html>\n"
        '<html lang="en">\n<head>\n'
        '<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_esc(META_CSP)}">\n'
        '<meta name="referrer" content="no-referrer">\n'
        '<meta name="robots" content="noindex, nofollow">\n'
        '<meta name="color-scheme" content="light dark">\n'
        f"<title>{_esc(title)}</title>\n"
        f'<link rel="icon" href="{_FAVICON}">\n'
        f"<style>{_CSS}</style>\n"
        "</head>\n<body>\n"
        f'<main class="wrap">\n{body}\n</main>\n'
        "</body>\n</html>\n"
    )


def _dl(rows: Iterable[tuple[str, str]], cls: str = "meta") -> str:
    """``rows`` are (label, already-escaped HTML value)."""
    items = "".join(f"<dt>{_esc(label)}</dt><dd>{value}</dd>" for label, value in rows)
    return f'<dl class="{cls}">{items}</dl>'


#: At most this many characters of one output are rendered as Markdown...
MARKDOWN_OUTPUT_LIMIT = 64_000
#: ...and of all the outputs on one page together (the final output first, then the steps').
#: Rendering costs about 0.3-1.5 µs a character (links and emphasis are the dear part): a page
#: with two 2 MB outputs took 5-6 s rendered in full, 0.17 s with these limits. Past them an
#: output is shown as escaped plain text, in full, and the download links carry it as Markdown.
MARKDOWN_PAGE_LIMIT = 160_000

# Top-level block structure as _MD sees it (raw HTML off, tables on), without inline parsing:
# finds where a long output can be cut between blocks, at a tenth of the cost of rendering.
_MD_CUT = MarkdownIt("commonmark", {"html": False}).enable(["table"]).disable(["inline", "text_join"])


class _Budget:
    """What is left of :data:`MARKDOWN_PAGE_LIMIT` while one page is rendered."""

    def __init__(self, chars: int, markdown_href: str | None) -> None:
        self.chars = chars
        self.markdown_href = markdown_href


def _split_markdown(text: str, limit: int) -> tuple[str, str]:
    """(head, tail): ``head`` is at most ``limit`` characters and ends between two top-level
    blocks (never inside a code fence, list or table), or at a line end if the first block is
    already longer than ``limit``."""
    if len(text) <= limit:
        return text, ""
    if limit <= 0:
        return "", text
    window = text[:limit]
    blocks = [tok for tok in _MD_CUT.parse(window) if tok.level == 0 and tok.map and tok.nesting >= 0]
    # the last block may run past the window: cut before it
    cut_line = blocks[-1].map[0] if len(blocks) >= 2 else 0
    if cut_line > 0:
        lines = window.split("\n")
        cut = sum(len(line) + 1 for line in lines[:cut_line])
    else:
        cut = window.rfind("\n") + 1 or limit
    return text[:cut], text[cut:]


def _size(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB" if n >= 1_000_000 else f"{max(1, round(n / 1000))} KB"


def _md_block(text: Any, empty: str, budget: _Budget | None = None) -> str:
    t = _text(text)
    if not t.strip():
        return f'<p class="muted">{_esc(empty)}</p>'
    limit = MARKDOWN_OUTPUT_LIMIT if budget is None else min(MARKDOWN_OUTPUT_LIMIT, budget.chars)
    head, tail = _split_markdown(t, limit)
    if budget is not None:  # a cut output uses up its whole allowance: no scraps for the next
        budget.chars -= limit if tail else len(head)
    rendered = render_markdown_safe(head).strip() if head.strip() else ""
    out = f'<div class="md">{rendered}</div>' if rendered else ""
    if not tail:
        return out or f'<p class="muted">{_esc(empty)}</p>'
    download = ""
    if budget is not None and budget.markdown_href:
        download = f' <a href="{_esc(budget.markdown_href)}" download>Download as Markdown</a> for all of it formatted.'
    raw = f'<pre class="raw">{_esc(tail)}</pre>'
    if not out:
        note = f"This output is long ({_size(len(t))}): it is shown as plain text.{download}"
        return f'<p class="muted small" role="note">{note}</p>{raw}'
    note = (f"This output is long ({_size(len(t))}): the first {_size(len(head))} are shown formatted, "
            f"the remaining {_size(len(tail))} as plain text below.{download}")
    return (f'{out}<p class="muted small" role="note">{note}</p>'
            f'{_collapsible(f"Rest of the output ({_esc(_size(len(tail)))}, plain text)", raw, cls="rest")}')


def _raw_block(text: Any) -> str:
    t = _text(text)
    if not t.strip():
        return f'<p class="muted">{_MISSING}</p>'
    return f'<pre class="raw">{_esc(t)}</pre>'


def _collapsible(summary: str, body: str, *, open_: bool = False, cls: str = "") -> str:
    attrs = (f' class="{cls}"' if cls else "") + (" open" if open_ else "")
    return f"<details{attrs}><summary>{summary}</summary><div class=\"body\">{body}</div></details>"


def _model_html(mid: str, display: str) -> str:
    if display and display != mid:
        return f'{_esc(display)} <code class="small">{_esc(mid)}</code>'
    return f"<code>{_esc(mid)}</code>" if mid else _MISSING


def _step_html(step: Mapping[str, Any], index: int, *, open_: bool, budget: _Budget | None = None) -> str:
    pos = _int(_get(step, "position")) or index
    agent = _get(step, "agent")
    name = _agent_name(step)
    mid = _text(_get(step, "model") or _get(agent, "model"))
    display = _text(_get(step, "model_display"))
    label, cls = _status(_get(step, "status"))
    cost = format_usd(_get(step, "cost_usd"))
    latency = format_duration(_get(step, "latency_ms"))

    facts = [display or mid or "", cost if cost != _MISSING else "", latency if latency != _MISSING else ""]
    facts_html = " · ".join(_esc(f) for f in facts if f)
    badge = f' <span class="badge {cls}">{_esc(label)}</span>' if cls == "bad" else ""
    summary = (
        f'<span class="step-n">{_esc(pos)}</span><span class="name">{_esc(name)}</span>{badge}'
        + (f'<span class="facts">{facts_html}</span>' if facts_html else "")
    )

    rows = [
        ("Agent", _esc(name)),
        ("Model", _model_html(mid, display)),
        ("Status", f'<span class="{_badge_cls(cls)}">{_esc(label)}</span>'),
        ("Cost", _esc(cost)),
        ("Tokens", _esc(_format_usage(_get(step, "usage")))),
        ("Latency", _esc(latency)),
    ]
    temperature = _get(agent, "temperature")
    if temperature is not None and temperature != "":
        rows.append(("Temperature", _esc(temperature)))
    max_out = _get(agent, "max_output_tokens")
    if max_out is not None and max_out != "":
        rows.append(("Max output", _esc(format_tokens(max_out) if _int(max_out) is not None else max_out)))

    parts = [f'<div class="step-meta">{_dl(rows)}</div>']
    err = _error_parts(_get(step, "error"))
    if err:
        kind, message, _ = err
        parts.append(
            f'<div class="alert" role="note"><strong>{_esc(kind)}</strong>'
            + (f'<p class="raw">{_esc(message)}</p>' if message else "")
            + "</div>"
        )
    parts.append('<p class="label">Output</p>')
    parts.append(_md_block(_get(step, "output"), "No output.", budget))
    parts.append(_collapsible("Input", _raw_block(_get(step, "input"))))
    system_prompt = _get(agent, "system_prompt")
    if _text(system_prompt).strip():
        parts.append(_collapsible("System prompt", _raw_block(system_prompt)))
    return _collapsible(summary, "".join(parts), open_=open_, cls="step")


def render_artifact_html(
    artifact: dict[str, Any],
    *,
    slack_thread_url: str | None,
    json_url: str,
    markdown_url: str,
) -> str:
    """Render the permalink page for one artifact as a complete HTML document.

    Why server-rendered and script-free: it must open instantly from Slack on a
    phone, and it displays untrusted model output, so the safest page is one
    in which nothing can execute. All values from ``artifact`` are escaped.

    ``slack_thread_url`` is the link back to the run's thread; when ``None`` the
    artifact's own ``slack.thread_url`` is used if it is an http(s) URL.
    ``json_url`` / ``markdown_url`` are the signed URLs of the other formats
    (build them with :func:`core.permalinks.permalink` and ``suffix``).
    Serve the result with :data:`SECURITY_HEADERS`.

    Markdown is rendered for at most :data:`MARKDOWN_OUTPUT_LIMIT` characters of an output
    and :data:`MARKDOWN_PAGE_LIMIT` for the page (final output first): two 2 MB outputs took
    6 s to render in full. The rest of a long output follows as escaped plain text, collapsed,
    with a note and the Markdown download link.
    """
    a: Any = artifact if isinstance(artifact, Mapping) else {}
    pipeline = _pipeline_name(a)
    created_raw = _get(a, "created_at") or _get(a, "finished_at") or _get(a, "started_at")
    created = format_datetime(created_raw)
    created_dt = _parse_dt(created_raw)
    status_label, status_cls = _status(_get(a, "status"))
    cost = format_usd(_get(a, "cost_usd"))
    duration = format_duration(_duration_ms(a))
    usage = _usage_totals(a)
    steps = _steps(a)

    thread = _safe_href(slack_thread_url, absolute_only=True) if slack_thread_url else None
    if thread is None and slack_thread_url is None:
        thread = _safe_href(_get(_get(a, "slack"), "thread_url"), absolute_only=True)
    json_href = _safe_href(json_url)
    md_href = _safe_href(markdown_url)

    actions = []
    if thread:
        actions.append(f'<a class="btn primary" href="{_esc(thread)}" rel="noopener noreferrer">Open in Slack</a>')
    if md_href:
        actions.append(f'<a class="btn" href="{_esc(md_href)}" download>Download as Markdown</a>')
    if json_href:
        actions.append(f'<a class="btn" href="{_esc(json_href)}">JSON</a>')
    actions_html = f'<nav class="actions" aria-label="Artifact links">{"".join(actions)}</nav>' if actions else ""

    time_html = (
        f'<time datetime="{_esc(created_dt.isoformat())}">{_esc(created)}</time>' if created_dt else _esc(created)
    )
    sub = [f'<span class="{_badge_cls(status_cls)}">{_esc(status_label)}</span>', f"<span>{time_html}</span>"]
    if cost != _MISSING:
        sub.append(f"<span>{_esc(cost)}</span>")
    if duration != _MISSING:
        sub.append(f"<span>{_esc(duration)}</span>")

    body: list[str] = [
        "<header>",
        '<p class="brand">pipebot · run artifact</p>',
        f"<h1>{_esc(pipeline)}</h1>",
        f'<p class="sub">{"".join(sub)}</p>',
        actions_html,
        "</header>",
    ]

    err = _error_parts(_get(a, "error"))
    if err:
        kind, message, step_no = err
        where = ""
        if step_no is not None:
            step_name = next(
                (_agent_name(s) for s in steps if _int(_get(s, "position")) == step_no), ""
            )
            where = f"At step {step_no}" + (f" ({step_name})" if step_name else "")
        body.append(
            '<section class="alert" role="alert">'
            f"<strong>Run failed: {_esc(kind)}</strong>"
            + (f'<p class="small">{_esc(where)}</p>' if where else "")
            + (f'<p class="raw">{_esc(message)}</p>' if message else "")
            + "</section>"
        )

    output = _get(a, "output")
    empty_output = "No output: the run failed before producing one." if err else "No output."
    body.append('<section aria-labelledby="h-output"><h2 id="h-output">Output</h2>')
    budget = _Budget(MARKDOWN_PAGE_LIMIT, md_href)
    body.append(f'<div class="card">{_md_block(output, empty_output, budget)}</div></section>')

    models = _model_names(a)
    models_html = (
        '<ul class="models">' + "".join(f"<li>{_model_html(m, d)}</li>" for m, d in models) + "</ul>"
        if models
        else _MISSING
    )
    requested_by = _text(_get(a, "requested_by")).strip()
    rows = [
        ("Date", time_html),
        ("Pipeline", _esc(pipeline)),
        ("Run by", f"<code>{_esc(requested_by)}</code>" if requested_by else _MISSING),
        ("Status", f'<span class="{_badge_cls(status_cls)}">{_esc(status_label)}</span>'),
        ("Cost", _esc(cost)),
        ("Models", models_html),
        ("Tokens", _esc(_format_usage(usage))),
        ("Duration", _esc(duration)),
        ("Steps", _esc(len(steps)) if steps else _MISSING),
    ]
    run_id = _text(_get(a, "run_id")).strip()
    if run_id:
        rows.append(("Run ID", f'<code class="small">{_esc(run_id)}</code>'))
    body.append('<section aria-labelledby="h-details"><h2 id="h-details">Details</h2>')
    body.append(f'<div class="card">{_dl(rows)}</div></section>')

    if _text(_get(a, "input")).strip():
        body.append('<section aria-labelledby="h-input"><h2 id="h-input">Input</h2>')
        body.append(f'<div class="card">{_raw_block(_get(a, "input"))}</div></section>')

    if steps:
        failed_pos = err[2] if err else None
        body.append(f'<section aria-labelledby="h-steps"><h2 id="h-steps">Steps ({len(steps)})</h2>')
        for i, s in enumerate(steps, start=1):
            pos = _int(_get(s, "position")) or i
            is_failed = _text(_get(s, "status")).lower() == "failed" or (failed_pos is not None and pos == failed_pos)
            body.append(_step_html(s, i, open_=is_failed, budget=budget))
        body.append("</section>")

    links = []
    if thread:
        links.append(f'<a href="{_esc(thread)}" rel="noopener noreferrer">Slack thread</a>')
    if json_href:
        links.append(f'<a href="{_esc(json_href)}">JSON</a>')
    if md_href:
        links.append(f'<a href="{_esc(md_href)}" download>Markdown</a>')
    body.append("<footer>")
    body.append(f"<p>Generated by pipebot · {_esc(created)}</p>")
    if links:
        body.append(f"<p>{' · '.join(links)}</p>")
    body.append("</footer>")

    title = f"{pipeline} · {created if created != _MISSING else 'artifact'} · pipebot"
    return _page(title, "\n".join(b for b in body if b))


def render_not_found_html() -> str:
    """The page for a missing artifact *and* a bad signature alike.

    One page for 404 and 403 on purpose: telling them apart would let anyone
    probe which artifact ids exist.
    """
    body = (
        '<div class="notfound">'
        '<p class="brand">pipebot</p>'
        "<h1>This artifact link doesn't work</h1>"
        '<p class="muted">The link may be incomplete, or the artifact may have been deleted. '
        "Open the link again from the Slack thread, or run <code>/pipebot artifacts</code> "
        "in Slack for fresh links.</p>"
        "</div>"
    )
    return _page("Artifact not found · pipebot", body)


# --------------------------------------------------------------------------- #
# Markdown export
# --------------------------------------------------------------------------- #

_MD_ESCAPE_RE = re.compile(r"([\\`*_\[\]<>|~&])")


def _md_inline(value: Any) -> str:
    """Escape a value for a single-line Markdown context (table cell, heading)."""
    text = " ".join(_text(value).split())
    return _MD_ESCAPE_RE.sub(r"\\\1", text)


def _md_fence(text: Any, info: str = "text") -> str:
    """Fence raw text with a fence longer than any backtick run inside it."""
    t = _text(text).rstrip("\n")
    longest = max((len(m) for m in re.findall(r"`+", t)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{t}\n{fence}"


def _md_code(value: Any) -> str:
    """Inline code span (for ids). ``|`` is backslash-escaped because these
    spans sit in table cells, where GFM splits cells before parsing code."""
    t = " ".join(_text(value).split()).replace("|", "\\|")
    longest = max((len(m) for m in re.findall(r"`+", t)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if t.startswith("`") or t.endswith("`") else ""
    return f"{ticks}{pad}{t}{pad}{ticks}"


# Block structure only (raw HTML on, as GitHub and most viewers parse it): inline parsing is
# not needed to find an open fence, and would cost 10x more on a long output.
_MD_BLOCKS = MarkdownIt("commonmark").disable(["inline", "text_join"])
_HTML_BLOCK_ENDS = (
    (re.compile(r"^ {0,3}<(pre|script|style|textarea)(?:\s|>|$)", re.IGNORECASE), None),
    (re.compile(r"^ {0,3}<!--"), "-->"),
    (re.compile(r"^ {0,3}<\?"), "?>"),
    (re.compile(r"^ {0,3}<!\[CDATA\["), "]]>"),
    (re.compile(r"^ {0,3}<![A-Za-z]"), ">"),
)


def _md_verbatim(text: Any) -> str:
    """Model output, verbatim, but with any block it leaves open closed at its end.

    Outputs are pasted into the export as Markdown; an unclosed code fence (a
    reply cut at max tokens does that) or an unterminated ``<!--``/``<pre>``
    HTML block would otherwise run on and swallow every later section. Only
    top-level blocks matter: a fence inside a list item or block quote ends
    with its container at the next unindented line.
    """
    t = _text(text).strip("\n")
    if not t.strip():
        return t
    tokens = [tok for tok in _MD_BLOCKS.parse(t) if tok.level == 0 and tok.map]
    if not tokens:
        return t
    last = tokens[-1]
    lines = t.split("\n")
    if last.type == "fence" and last.map[1] >= len(lines):
        opener = last.markup
        closer = re.compile(rf"^ {{0,3}}{re.escape(opener[0])}{{{len(opener)},}}[ \t]*$")
        end = last.map[1] - 1
        if end == last.map[0] or not closer.match(lines[end]):
            t += "\n" + opener
    elif last.type == "html_block" and last.map[1] >= len(lines):
        first = lines[last.map[0]]
        for start, end_marker in _HTML_BLOCK_ENDS:
            m = start.match(first)
            if m:
                rest = last.content.lower()[m.end():]
                ends = [end_marker] if end_marker else ["</pre>", "</script>", "</style>", "</textarea>"]
                if not any(e in rest for e in ends):
                    t += "\n" + (end_marker or f"</{m.group(1).lower()}>")
                break
    return t


def render_artifact_markdown(artifact: dict[str, Any]) -> str:
    """The artifact as a standalone Markdown document ("Download as Markdown").

    Same content as the HTML page. Model output is already Markdown and is
    included verbatim; inputs and system prompts go in fences so they cannot
    reshape the document; short values are escaped for table cells.
    """
    a: Any = artifact if isinstance(artifact, Mapping) else {}
    pipeline = _pipeline_name(a)
    status_label, _ = _status(_get(a, "status"))
    steps = _steps(a)
    models = _model_names(a)
    thread = _safe_href(_get(_get(a, "slack"), "thread_url"), absolute_only=True)
    requested_by = _text(_get(a, "requested_by")).strip()
    run_id = _text(_get(a, "run_id")).strip()

    out: list[str] = [f"# {_md_inline(pipeline)}", ""]
    rows = [
        ("Date", _md_inline(format_datetime(_get(a, "created_at") or _get(a, "finished_at")))),
        ("Pipeline", _md_inline(pipeline)),
        ("Run by", _md_code(requested_by) if requested_by else _MISSING),
        ("Status", _md_inline(status_label)),
        ("Cost", _md_inline(format_usd(_get(a, "cost_usd")))),
        (
            "Models",
            ", ".join(
                (f"{_md_inline(d)} ({_md_code(m)})" if d and d != m else _md_code(m)) for m, d in models
            )
            or _MISSING,
        ),
        ("Tokens", _md_inline(_format_usage(_usage_totals(a)))),
        ("Duration", _md_inline(format_duration(_duration_ms(a)))),
        ("Steps", str(len(steps)) if steps else _MISSING),
    ]
    if run_id:
        rows.append(("Run ID", _md_code(run_id)))
    if thread:
        rows.append(("Slack thread", f"<{thread.replace('>', '%3E').replace(' ', '%20')}>"))
    out += ["| Field | Value |", "| --- | --- |"]
    out += [f"| {k} | {v} |" for k, v in rows]
    out.append("")

    err = _error_parts(_get(a, "error"))
    if err:
        kind, message, step_no = err
        out += ["## Error", ""]
        where = f" (step {step_no})" if step_no is not None else ""
        out.append(f"**{_md_inline(kind)}**{where}")
        if message:
            out += ["", _md_fence(message)]
        out.append("")

    if _text(_get(a, "input")).strip():
        out += ["## Input", "", _md_fence(_get(a, "input")), ""]

    out += ["## Output", ""]
    output = _md_verbatim(_get(a, "output"))
    out += [output if output.strip() else "_No output._", ""]

    if steps:
        out += ["## Steps", ""]
        for i, s in enumerate(steps, start=1):
            pos = _int(_get(s, "position")) or i
            agent = _get(s, "agent")
            mid = _text(_get(s, "model") or _get(agent, "model"))
            display = _text(_get(s, "model_display"))
            label, _ = _status(_get(s, "status"))
            out += [f"### Step {pos}: {_md_inline(_agent_name(s))}", ""]
            model_md = f"{_md_inline(display)} ({_md_code(mid)})" if display and display != mid else (
                _md_code(mid) if mid else _MISSING
            )
            out += [
                f"- Model: {model_md}",
                f"- Status: {_md_inline(label)}",
                f"- Cost: {_md_inline(format_usd(_get(s, 'cost_usd')))}",
                f"- Tokens: {_md_inline(_format_usage(_get(s, 'usage')))}",
                f"- Latency: {_md_inline(format_duration(_get(s, 'latency_ms')))}",
            ]
            temperature = _get(agent, "temperature")
            if temperature is not None and temperature != "":
                out.append(f"- Temperature: {_md_inline(temperature)}")
            serr = _error_parts(_get(s, "error"))
            if serr:
                out.append(f"- Error: **{_md_inline(serr[0])}** {_md_inline(serr[1])}".rstrip())
            out.append("")
            if _text(_get(agent, "system_prompt")).strip():
                out += ["#### System prompt", "", _md_fence(_get(agent, "system_prompt")), ""]
            out += ["#### Input", "", _md_fence(_get(s, "input")) if _text(_get(s, "input")).strip() else "_None._", ""]
            step_out = _md_verbatim(_get(s, "output"))
            out += ["#### Output", "", step_out if step_out.strip() else "_No output._", ""]

    return "\n".join(out).rstrip("\n") + "\n"
