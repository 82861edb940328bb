"""Open a URL or an HTML string in headless Chromium and report what happened.

Why this exists: escaping bugs in pages that show model output only show up in
a real browser (parsers differ from regexes). This helper drives Debian's
``/usr/bin/chromium`` through Playwright (Playwright's own browser download is
not reachable in our environments) and reports console errors, uncaught page
errors, dialogs, every network request, whether any page script ran, links
with ``javascript:`` URLs, and optionally a screenshot.

Use from tests::

    from tests.support.browser import browser_session, serve_html
    with browser_session() as b, serve_html(html, headers) as url:
        report = b.open(url, screenshot="/tmp/x.png")
        assert not report.scripts_ran

or from a shell::

    .venv/bin/python tests/support/browser.py page.html --screenshot /tmp/page.png
    .venv/bin/python tests/support/browser.py http://127.0.0.1:3000/artifacts/... --desktop

Install the browser with ``scripts/install-chromium.sh`` (needs root or sudo).
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "CHROMIUM_ARGS",
    "PageReport",
    "BrowserSession",
    "chromium_path",
    "ensure_chromium",
    "browser_session",
    "serve_html",
    "open_page",
]

ROOT = Path(__file__).resolve().parents[2]
INSTALL_SCRIPT = ROOT / "scripts" / "install-chromium.sh"
DEFAULT_CHROMIUM = "/usr/bin/chromium"

#: Flags that keep Chromium quiet and offline apart from what the page loads.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

MOBILE_VIEWPORT = {"width": 390, "height": 844}
DESKTOP_VIEWPORT = {"width": 1280, "height": 900}


def chromium_path() -> str | None:
    """Path of the Chromium binary to drive (``$PIPEBOT_CHROMIUM`` overrides), or None."""
    for candidate in (os.environ.get("PIPEBOT_CHROMIUM"), DEFAULT_CHROMIUM, shutil.which("chromium")):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def ensure_chromium(*, install: bool = True) -> str | None:
    """Return a Chromium path, installing Debian's package first if it is missing.

    Installation is attempted only when we can actually do it (root, or
    passwordless sudo, and apt-get present); otherwise None, and the caller
    decides whether to skip. Install output goes to stderr so a slow first
    run is visibly doing something.
    """
    path = chromium_path()
    if path or not install:
        return path
    if not shutil.which("apt-get") or not INSTALL_SCRIPT.exists():
        return None
    if os.geteuid() != 0:
        sudo = shutil.which("sudo")
        if not sudo or subprocess.run([sudo, "-n", "true"], capture_output=True).returncode != 0:
            return None
    try:
        subprocess.run(["sh", str(INSTALL_SCRIPT)], check=True, stdout=sys.stderr, stderr=sys.stderr, timeout=900)
    except (subprocess.SubprocessError, OSError):
        return None
    return chromium_path()


@dataclass
class PageReport:
    """What happened while a page loaded (and optionally while links were clicked)."""

    url: str
    status: int | None = None
    title: str = ""
    text: str = ""
    console: list[dict[str, str]] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    clicked_navigations: list[str] = field(default_factory=list)
    scripts_ran: list[str] = field(default_factory=list)
    script_elements: int = 0
    inline_handlers: list[str] = field(default_factory=list)
    javascript_links: list[str] = field(default_factory=list)
    link_protocols: list[str] = field(default_factory=list)
    evaluated: Any = None
    screenshot: str | None = None

    @property
    def any_script(self) -> bool:
        """True if anything script-like ran or could run in the page."""
        return bool(self.scripts_ran or self.script_elements or self.inline_handlers or self.javascript_links)


# Inspect the DOM for anything that could run script: <script>, on* attributes,
# javascript:/vbscript: URLs in href/src/action/formaction/xlink:href.
_DOM_PROBE = """() => {
  const handlers = [], jsLinks = [], protocols = [];
  for (const el of document.querySelectorAll('*')) {
    for (const attr of el.attributes) {
      const n = attr.name.toLowerCase();
      if (n.startsWith('on')) handlers.push(el.tagName.toLowerCase() + '[' + n + ']');
      if (['href', 'src', 'action', 'formaction', 'xlink:href', 'data', 'srcdoc'].includes(n)) {
        const v = attr.value.replace(/[\\u0000-\\u0020]/g, '').toLowerCase();
        if (v.startsWith('javascript:') || v.startsWith('vbscript:') || n === 'srcdoc') jsLinks.push(attr.value);
      }
    }
  }
  for (const a of document.querySelectorAll('a[href]')) protocols.push(a.protocol);
  return {scripts: document.scripts.length, handlers, jsLinks, protocols,
          title: document.title, text: document.body ? document.body.innerText : ''};
}"""


class BrowserSession:
    """One headless Chromium, many pages. Reuse it: launching costs ~0.5 s.

    Browser contexts are cached per (viewport, colour scheme, CSP bypass) with
    an idle page kept open, because a fresh context costs ~0.4 s for its first
    page; each :meth:`open` still gets a new page (own console, own routes).
    """

    def __init__(self, executable: str | None = None) -> None:
        from playwright.sync_api import sync_playwright

        exe = executable or ensure_chromium()
        if not exe:
            raise RuntimeError("Chromium not found: run scripts/install-chromium.sh (as root)")
        self._pw_cm = sync_playwright()
        self._pw = self._pw_cm.__enter__()
        self._contexts: dict[tuple[bool, str, bool], Any] = {}
        try:
            self.browser = self._pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, headless=True)
        except Exception:
            self._pw_cm.__exit__(*sys.exc_info())
            raise

    def _context(self, mobile: bool, color_scheme: str, bypass_csp: bool) -> Any:
        key = (mobile, color_scheme, bypass_csp)
        if key not in self._contexts:
            context = self.browser.new_context(
                viewport=MOBILE_VIEWPORT if mobile else DESKTOP_VIEWPORT,
                device_scale_factor=2 if mobile else 1,
                is_mobile=mobile,
                has_touch=mobile,
                color_scheme=color_scheme,  # type: ignore[arg-type]
                bypass_csp=bypass_csp,
                java_script_enabled=True,
            )
            context.new_page()  # keeps the context warm
            self._contexts[key] = context
        return self._contexts[key]

    def close(self) -> None:
        for context in self._contexts.values():
            with contextlib.suppress(Exception):
                context.close()
        with contextlib.suppress(Exception):
            self.browser.close()
        self._pw_cm.__exit__(None, None, None)

    def open(
        self,
        url: str,
        *,
        mobile: bool = True,
        color_scheme: str = "light",
        bypass_csp: bool = False,
        screenshot: str | None = None,
        full_page: bool = True,
        click_links: bool = False,
        evaluate: str | None = None,
        settle_ms: int = 50,
    ) -> PageReport:
        """Load ``url`` and report.

        ``bypass_csp=True`` ignores the page's CSP, to prove that escaping alone
        keeps scripts out (the CSP is a second line of defence, not the first).
        ``click_links=True`` clicks every same-document ``<a>`` after load
        (navigations are blocked) so ``javascript:`` links would fire.
        ``evaluate`` is a JS expression evaluated after load; its value lands in
        ``report.evaluated`` (e.g. ``"typeof window.__pwned"``).
        """
        context = self._context(mobile, color_scheme, bypass_csp)
        report = PageReport(url=url)
        page = context.new_page()
        try:

            def on_console(msg: Any) -> None:
                report.console.append({"type": msg.type, "text": msg.text})
                if msg.type in ("error", "assert"):
                    report.console_errors.append(msg.text)

            def on_dialog(dialog: Any) -> None:
                report.dialogs.append(f"{dialog.type}: {dialog.message}")
                with contextlib.suppress(Exception):
                    dialog.dismiss()

            page.on("console", on_console)
            page.on("pageerror", lambda exc: report.page_errors.append(str(exc)))
            page.on("dialog", on_dialog)
            requests = report.requests  # load-time requests; clicks go to clicked_navigations
            page.on("request", lambda req: requests.append(req.url))

            # Scripts the page itself runs (inline, handlers, external) are
            # parsed in the main world with the document's URL or their own;
            # Playwright's evaluations have an empty URL, so they are excluded.
            cdp = context.new_cdp_session(page)
            parsed: list[str] = []

            def on_script(ev: Mapping[str, Any]) -> None:
                aux = ev.get("executionContextAuxData") or {}
                if aux.get("type") == "default" and ev.get("url"):
                    parsed.append(str(ev["url"]))

            cdp.on("Debugger.scriptParsed", on_script)
            cdp.send("Debugger.enable")

            response = page.goto(url, wait_until="load")
            report.status = response.status if response else None
            if settle_ms:
                page.wait_for_timeout(settle_ms)

            probe = page.evaluate(_DOM_PROBE)
            report.title = probe["title"]
            report.text = probe["text"]
            report.script_elements = probe["scripts"]
            report.inline_handlers = probe["handlers"]
            report.javascript_links = probe["jsLinks"]
            report.link_protocols = probe["protocols"]

            if screenshot:
                Path(screenshot).parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=screenshot, full_page=full_page)
                report.screenshot = screenshot

            if click_links:
                # Answer every navigation with 204 No Content: the browser then
                # stays on this document, so each click is judged in this page
                # (a javascript: URL would run here). Synthetic clicks also
                # reach links inside closed <details>.
                requests = report.clicked_navigations
                page.route(
                    "**/*",
                    lambda route: (
                        route.fulfill(status=204) if route.request.is_navigation_request() else route.continue_()
                    ),
                )
                anchors = page.locator("a")
                for i in range(anchors.count()):
                    anchors.nth(i).dispatch_event("click")
                page.wait_for_timeout(settle_ms)
                if page.url != url:
                    report.page_errors.append(f"page navigated away to {page.url} while clicking links")

            if evaluate:
                report.evaluated = page.evaluate(evaluate)
            report.scripts_ran = parsed
        finally:
            page.close()
        return report


@contextlib.contextmanager
def browser_session(executable: str | None = None) -> Iterator[BrowserSession]:
    """Context manager around :class:`BrowserSession`."""
    session = BrowserSession(executable)
    try:
        yield session
    finally:
        session.close()


@contextlib.contextmanager
def serve_html(
    pages: str | bytes | Mapping[str, str | bytes],
    headers: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """Serve HTML from 127.0.0.1 on a free port; yields the base URL of ``/``.

    Why a server and not ``file://`` or ``set_content``: response headers (the
    CSP, Referrer-Policy) only apply over HTTP, and pages get a real origin.
    ``pages`` is one document (served at ``/``) or a mapping path -> body;
    unknown paths are 404.
    """
    docs = {"/": pages} if isinstance(pages, (str, bytes)) else dict(pages)
    extra = dict(headers or {})

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server API)
            path = self.path.split("?", 1)[0]
            body = docs.get(path)
            if body is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            data = body.encode("utf-8") if isinstance(body, str) else body
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for k, v in extra.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def open_page(
    url: str | None = None,
    *,
    html: str | None = None,
    headers: Mapping[str, str] | None = None,
    **kwargs: Any,
) -> PageReport:
    """One-shot: open ``url`` (or serve ``html`` locally) in a fresh browser."""
    if (url is None) == (html is None):
        raise ValueError("pass exactly one of url= or html=")
    with browser_session() as session:
        if html is not None:
            with serve_html(html, headers) as served:
                return session.open(served, **kwargs)
        return session.open(url, **kwargs)  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> int:
    """CLI: print a JSON report for a URL or an HTML file; exit 1 if a script ran."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("target", help="http(s) URL or path to an .html file")
    parser.add_argument("--screenshot", help="save a full-page PNG here")
    parser.add_argument("--desktop", action="store_true", help="desktop viewport instead of a phone")
    parser.add_argument("--dark", action="store_true", help="prefers-color-scheme: dark")
    parser.add_argument("--click-links", action="store_true", help="click every link after load")
    args = parser.parse_args(argv)

    opts: dict[str, Any] = {
        "mobile": not args.desktop,
        "color_scheme": "dark" if args.dark else "light",
        "screenshot": args.screenshot,
        "click_links": args.click_links,
    }
    if args.target.startswith(("http://", "https://")):
        report = open_page(args.target, **opts)
    else:
        report = open_page(html=Path(args.target).read_text(encoding="utf-8"), **opts)
    data = asdict(report)
    data["text"] = data["text"][:2000]
    data["any_script"] = report.any_script
    print(json.dumps(data, indent=2))
    return 1 if report.any_script or report.page_errors or report.dialogs else 0


if __name__ == "__main__":
    raise SystemExit(main())
