"""The artifact page shows untrusted model output: it must be inert and readable.

Unit tests check the generated HTML/Markdown; the browser test loads the page
in real headless Chromium (Debian's, via Playwright) and checks that nothing
executed, then saves phone-sized screenshots under /tmp for a human look.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import html as html_mod
import re
import tomllib
from fnmatch import fnmatch
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

import bot.web
from bot.web.markdown import MARKDOWN_OUTPUT_LIMIT, MARKDOWN_PAGE_LIMIT, render_artifact_markdown, render_markdown_safe
from bot.web.pages import render_artifact_html, render_not_found_html
from bot.web.security import CSP, META_CSP, SECURITY_HEADERS
from tests.support import browser as browser_helpers
from tests.support.artifact_data import URLS, make_artifact

# Everything an attacker might get a model (or a pipeline/agent name) to emit.
HOSTILE = [
    "<script>window.__pwned=1</script>",
    '<img src=x onerror="window.__pwned=1">',
    '"><svg onload=window.__pwned=1>',
    "'><iframe srcdoc='<script>parent.__pwned=1</script>'>",
    '<a href="javascript:window.__pwned=1">click</a>',
    "</textarea></title></style><script>window.__pwned=1</script>",
    "<details open ontoggle=window.__pwned=1>",
    "<body onload=window.__pwned=1>",
    "<math><mtext><table><mglyph><style><img src=x onerror=window.__pwned=1>",
]
HOSTILE_MD = [
    "[x](javascript:window.__pwned=1)",
    "[y](JaVaScRiPt:window.__pwned=1)",
    "[z](java&#x09;script:window.__pwned=1)",
    "<javascript:window.__pwned=1>",
    "[v](vbscript:msgbox(1))",
    "[d](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![i](javascript:window.__pwned=1)",
    '[t](https://ok.example "x\\" onmouseover=\\"window.__pwned=1")',
    "![remote](https://tracker.example/pixel.png)",
]
ALL_HOSTILE = "\n\n".join(HOSTILE + HOSTILE_MD)


def hostile_artifact() -> dict[str, Any]:
    """Every free-text field carries every hostile string."""
    art = make_artifact(status="failed", output="Result:\n\n" + ALL_HOSTILE, input=ALL_HOSTILE, requested_by=HOSTILE[2])
    art["pipeline"]["name"] = "Digest " + HOSTILE[0] + HOSTILE[2]
    art["error"] = {"kind": "rate_limit" + HOSTILE[1], "message": "429 " + ALL_HOSTILE, "step": 2}
    art["models"] = [HOSTILE[2]]
    for step in art["steps"]:
        step["agent"]["name"] = "Agent " + HOSTILE[2] + HOSTILE[0]
        step["agent"]["system_prompt"] = ALL_HOSTILE
        step["model_display"] = HOSTILE[1]
        step["input"] = ALL_HOSTILE
        step["output"] = ALL_HOSTILE
    art["steps"][1]["status"] = "failed"
    art["steps"][1]["error"] = {"kind": HOSTILE[0], "message": HOSTILE[1]}
    return art


def _body(page: str) -> str:
    return page.split("<body>", 1)[1]


class _Tags(HTMLParser):
    """Collect (tag, attrs) the way a browser tokenizer would see them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def _tags(markup: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    parser = _Tags()
    parser.feed(markup)
    parser.close()
    return parser.tags


def assert_inert(markup: str) -> None:
    """No script-capable tag, no on* attribute, no script URL in any URL attribute."""
    allowed = {
        "html",
        "head",
        "meta",
        "title",
        "link",
        "style",
        "body",
        "main",
        "header",
        "nav",
        "section",
        "footer",
        "div",
        "p",
        "span",
        "strong",
        "em",
        "s",
        "code",
        "pre",
        "a",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "ul",
        "ol",
        "li",
        "blockquote",
        "hr",
        "br",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
        "dl",
        "dt",
        "dd",
        "details",
        "summary",
        "time",
        "img",
    }
    styles = 0
    for tag, attrs in _tags(markup):
        assert tag in allowed, tag
        styles += tag == "style"
        for name, value in attrs:
            assert not name.startswith("on"), (tag, name)
            assert name not in ("style", "srcdoc", "formaction", "action"), (tag, name)
            if name in ("href", "src"):
                v = re.sub(r"[\x00-\x20]", "", value or "").lower()
                assert not v.startswith(("javascript:", "vbscript:", "data:text")), (tag, value)
                if tag == "img":
                    assert v.startswith("data:image/"), value
    assert styles <= 1


# --------------------------------------------------------------------------- #
# HTML: escaping
# --------------------------------------------------------------------------- #


def test_no_markup_from_artifact_survives() -> None:
    page = render_artifact_html(hostile_artifact(), **URLS)
    body = _body(page)
    assert_inert(page)
    for tag in ("<script", "<img", "<svg", "<iframe", "<math", "<body", "<style", "<textarea"):
        assert tag not in body.lower(), tag
    # The hostile text is shown, escaped, not dropped.
    assert html_mod.escape(HOSTILE[0]) in body
    assert html_mod.escape("<img src=x onerror=") in body
    assert "&lt;script&gt;" in page.split("<title>", 1)[1].split("</title>", 1)[0]


@pytest.mark.parametrize(
    "field",
    [
        "output",
        "input",
        "pipeline",
        "requested_by",
        "error_message",
        "error_kind",
        "agent_name",
        "system_prompt",
        "step_input",
        "step_output",
        "step_error",
        "model_display",
        "models",
    ],
)
def test_each_field_is_escaped(field: str) -> None:
    marker = '<script>window.__pwned="FIELD"</script><img src=x onerror=alert(1)>"><svg onload=alert(1)>'
    art = make_artifact()
    step = art["steps"][0]
    if field == "pipeline":
        art["pipeline"]["name"] = marker
    elif field == "error_message":
        art["error"] = {"kind": "provider_error", "message": marker, "step": 1}
    elif field == "error_kind":
        art["error"] = {"kind": marker, "message": "boom"}
    elif field == "agent_name":
        step["agent"]["name"] = marker
    elif field == "system_prompt":
        step["agent"]["system_prompt"] = marker
    elif field == "step_input":
        step["input"] = marker
    elif field == "step_output":
        step["output"] = marker
    elif field == "step_error":
        step["error"] = {"kind": marker, "message": marker}
    elif field == "model_display":
        step["model_display"] = marker
    elif field == "models":
        art["models"] = [marker]
        step["model"] = marker
    else:
        art[field] = marker
    page = render_artifact_html(art, **URLS)
    body = _body(page)
    assert "<script" not in body and "<img" not in body and "<svg" not in body
    assert "&lt;script&gt;" in body
    assert_inert(page)


def test_javascript_links_are_not_clickable() -> None:
    out = render_markdown_safe("\n\n".join(HOSTILE_MD))
    hrefs = re.findall(r'href="([^"]*)"', out)
    srcs = re.findall(r'src="([^"]*)"', out)
    for url in hrefs + srcs:
        scheme = url.split(":", 1)[0].lower() if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", url) else ""
        assert scheme in ("", "http", "https", "mailto"), url
    assert "javascript:" not in "".join(hrefs + srcs).lower()
    # Refused links are left as their (escaped) source text.
    assert "[x](javascript:window.__pwned=1)" in out
    # The title attribute cannot break out into an event handler.
    assert_inert(out)
    assert 'title="x&quot; onmouseover=&quot;window.__pwned=1"' in out


def test_markdown_features_and_link_hardening() -> None:
    out = render_markdown_safe(make_artifact()["output"] + "\n![remote](https://tracker.example/p.png)\n<b>raw</b>")
    assert "<h1>Weekly digest</h1>" in out
    assert "<strong>billing v2</strong>" in out
    assert "<table>" in out and "<s>old plan</s>" in out
    assert '<code class="language-python">' in out
    assert 'href="https://github.com/acme/app/pull/123" rel="nofollow noopener noreferrer ugc"' in out
    # Table alignment is a class, not style= (the hash-based CSP blocks style attributes).
    assert "style=" not in out and 'class="al-center"' in out and 'class="al-right"' in out
    # Remote images become links: nothing is fetched from third parties.
    assert "<img" not in out and 'href="https://tracker.example/p.png"' in out
    assert "&lt;b&gt;raw&lt;/b&gt;" in out


def test_inline_data_images_allowed_but_not_svg() -> None:
    png = "data:image/png;base64,iVBORw0KGgo="
    out = render_markdown_safe(f"![dot]({png}) ![svg](data:image/svg+xml;base64,PHN2Zz4=)")
    assert f'<img src="{png}" alt="dot">' in out
    assert "image/svg" not in re.sub(r"\[svg\]\([^)]*\)", "", out)  # left as text, not rendered


def test_slack_thread_link_only_for_http_urls() -> None:
    page = render_artifact_html(make_artifact(), **{**URLS, "slack_thread_url": "javascript:alert(1)"})
    assert "javascript:" not in page
    assert "Open in Slack" not in page
    # None falls back to the artifact's own https thread URL.
    page = render_artifact_html(make_artifact(), **{**URLS, "slack_thread_url": None})
    assert f'href="{URLS["slack_thread_url"]}"' in page
    art = make_artifact(slack={"thread_url": "javascript:alert(1)"})
    page = render_artifact_html(art, **{**URLS, "slack_thread_url": None})
    assert "javascript:" not in page and "Open in Slack" not in page


# --------------------------------------------------------------------------- #
# HTML: content, structure, tolerance
# --------------------------------------------------------------------------- #


def test_page_content_and_structure() -> None:
    page = render_artifact_html(make_artifact(), **URLS)
    assert page.startswith("<!doctype html>")
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert "prefers-color-scheme:dark" in page
    assert "<script" not in page.lower()
    assert "<title>Weekly digest · 2026-11-24 10:00 UTC · pipebot</title>" in page
    for text in (
        "Weekly digest",
        "U123ABC",
        "Succeeded",
        "$0.0012",
        "Claude Haiku 4.5",
        "GPT-5 mini",
        "anthropic:claude-haiku-4-5",
        "2,332 (1,520 in · 812 out · 64 cache read)",
        "3.4 s",
        "2026-11-24 10:00 UTC",
        "Summariser",
        "Editor",
        "$0.0008",
        "1.9 s",
        "Draft: billing v2 shipped.",
        "Final: billing v2 shipped.",
        "You summarise Slack channels.",
        "0b5c7d0e-8d5b-4c59-9d0a-1a2b3c4d5e6f",
    ):
        assert text in page, text
    assert page.count("<details") >= 2 + 2 * 2  # each step, its input and its system prompt
    assert f'href="{html_mod.escape(URLS["json_url"])}"' in page
    assert f'href="{html_mod.escape(URLS["markdown_url"])}" download' in page
    assert "Download as Markdown" in page and "Open in Slack" in page
    assert 'datetime="2026-11-24T10:00:00+00:00"' in page


def test_failed_run_shows_error_and_opens_failed_step() -> None:
    art = make_artifact(status="failed", output=None, cost_usd=None)
    art["error"] = {"kind": "rate_limit", "message": "Anthropic said 429 after 5 retries", "step": 2}
    art["steps"][1].update(status="failed", output=None, error={"kind": "rate_limit", "message": "429"})
    page = render_artifact_html(art, **URLS)
    assert "Run failed: rate_limit" in page
    assert "At step 2 (Editor)" in page
    assert "Anthropic said 429 after 5 retries" in page
    assert "No output: the run failed before producing one." in page
    assert '<details class="step" open>' in page
    assert page.count('<details class="step" open>') == 1
    # Unknown cost is a dash, never "$0".
    assert re.search(r"<dt>Cost</dt><dd>—</dd>", page)


@pytest.mark.parametrize(
    "art",
    [
        {},
        {"version": 1},
        {"pipeline": None, "steps": None, "usage": None, "slack": None, "error": None},
        {"pipeline": "Old style name", "steps": [{"output": "x"}, "junk", None], "models": "not-a-list"},
        {"steps": [{"agent": None, "usage": "bad", "cost_usd": "abc", "latency_ms": "n/a", "position": "x"}]},
        {"created_at": "not a date", "duration_ms": -5, "cost_usd": -1, "usage": {"input_tokens": "7"}},
        {"error": "plain string error", "status": "weird<status>"},
    ],
)
def test_missing_or_odd_keys_are_tolerated(art: dict[str, Any]) -> None:
    page = render_artifact_html(art, slack_thread_url=None, json_url="/a.json", markdown_url="/a.md")
    assert "<h1>" in page and "</html>" in page
    assert "<script" not in page
    md = render_artifact_markdown(art)
    assert md.startswith("# ")


def test_usage_and_models_derived_from_steps_for_old_artifacts() -> None:
    art = make_artifact()
    del art["usage"], art["models"], art["duration_ms"]
    page = render_artifact_html(art, **URLS)
    assert "2,332 (1,520 in · 812 out)" in page
    assert "Claude Haiku 4.5" in page and "GPT-5 mini" in page
    assert "3.4 s" in page  # from started_at / finished_at


def test_csp_constants() -> None:
    for directive in (
        "default-src 'none'",
        "script-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "img-src 'self' data:;",
    ):
        assert directive in CSP and directive in META_CSP
    assert "frame-ancestors 'none'" in CSP
    assert "frame-ancestors" not in META_CSP  # ignored (and logged) in <meta>
    assert "unsafe-inline" not in CSP and "style-src 'sha256-" in CSP
    assert SECURITY_HEADERS["Content-Security-Policy"] == CSP
    assert SECURITY_HEADERS["Referrer-Policy"] == "no-referrer"
    page = render_artifact_html(make_artifact(), **URLS)
    assert f'content="{html_mod.escape(META_CSP)}"' in page
    assert ' style="' not in _body(page)  # inline style attributes would be blocked by the CSP


WEB_ROOT = Path(bot.web.__file__).parent


def test_csp_style_hash_is_the_hash_of_the_stylesheet_file() -> None:
    css = (WEB_ROOT / "static" / "artifact.css").read_bytes()
    digest = base64.b64encode(hashlib.sha256(css).digest()).decode("ascii")
    assert f"style-src 'sha256-{digest}';" in CSP and f"style-src 'sha256-{digest}';" in META_CSP
    for page in (render_artifact_html(make_artifact(), **URLS), render_not_found_html()):
        (inline,) = re.findall(r"<style>(.*?)</style>", page, flags=re.DOTALL)
        assert inline.encode("utf-8") == css  # the browser hashes exactly what is between the tags


def test_templates_and_stylesheet_ship_as_package_data() -> None:
    """A plain `pip install .` must carry the templates and the CSS, or every page fails."""
    pyproject = tomllib.loads((WEB_ROOT.parents[1] / "pyproject.toml").read_text())
    globs = pyproject["tool"]["setuptools"]["package-data"]["bot.web"]
    files = [
        p.relative_to(WEB_ROOT).as_posix()
        for folder in ("templates", "static")
        for p in (WEB_ROOT / folder).iterdir()
        if p.is_file()
    ]
    assert "templates/artifact.html" in files and "static/artifact.css" in files
    assert all(any(fnmatch(f, g) for g in globs) for f in files), (files, globs)
    assert any(d.lower().startswith("jinja2>=3.1") for d in pyproject["project"]["dependencies"])


OUTPUT_SCRIPT = "<script>window.__pwned=1</script>"


@pytest.mark.parametrize("shape", ["short", "long", "past-page-budget"])
def test_template_shows_script_in_model_output_as_text(shape: str) -> None:
    """Each way the template lays out an output: rendered, rendered + plain rest, plain only."""
    long = _long_markdown(MARKDOWN_OUTPUT_LIMIT, "Fill")
    art = make_artifact(output=("" if shape == "short" else long) + "Done " + OUTPUT_SCRIPT)
    steps = art["steps"]
    if shape == "past-page-budget":  # two long steps spend what the final output left
        for step in steps:
            step["output"] = long
        steps.append(dict(steps[0], position=3, output="Step " + OUTPUT_SCRIPT))
    else:
        steps[0]["output"] = "Step " + OUTPUT_SCRIPT
    page = render_artifact_html(art, **URLS)
    assert "<script" not in page
    assert page.count("&lt;script&gt;window.__pwned=1&lt;/script&gt;") == 2  # final output and one step
    last_step = page.split('<span class="step-n">')[-1]
    assert "Step &lt;script&gt;window.__pwned=1&lt;/script&gt;" in last_step or shape != "past-page-budget"
    if shape == "long":
        assert "the remaining" in page and '<details class="rest">' in page
    if shape == "past-page-budget":
        assert "it is shown as plain text." in last_step and '<pre class="raw">Step &lt;script&gt;' in last_step


def test_not_found_page() -> None:
    page = render_not_found_html()
    assert page.startswith("<!doctype html>") and "<script" not in page.lower()
    assert "doesn't work" in page and 'name="robots" content="noindex, nofollow"' in page


# --------------------------------------------------------------------------- #
# Markdown export
# --------------------------------------------------------------------------- #


def test_markdown_export_content() -> None:
    md = render_artifact_markdown(make_artifact())
    assert md.startswith("# Weekly digest\n")
    assert "| Cost | $0.0012 |" in md
    assert "| Run by | `U123ABC` |" in md
    assert "Claude Haiku 4.5 (`anthropic:claude-haiku-4-5`)" in md
    assert "| Slack thread | <https://acme.slack.com/archives/C1/p1700000000000100> |" in md
    assert "## Output\n\n# Weekly digest\n" in md  # model output verbatim
    assert "### Step 1: Summariser" in md and "### Step 2: Editor" in md
    assert "- Cost: —" in md  # step 2's price unknown
    assert "```text\nSummarise this week's #eng channel\n```" in md


def test_markdown_export_is_well_formed_when_hostile() -> None:
    art = hostile_artifact()
    art["pipeline"]["name"] = "A | B\nC ``` D"
    art["input"] = "contains ``` a fence\n````\nand more"
    md = render_artifact_markdown(art)
    # Metadata table stays one row per line with escaped pipes.
    assert "| Pipeline | A \\| B C \\`\\`\\` D |" in md
    # The input fence is longer than any backtick run inside it.
    assert "`````text\ncontains ``` a fence\n````\nand more\n`````" in md
    # Rendering the export itself with the safe renderer produces no live markup.
    rendered = render_markdown_safe(md)
    assert "<script" not in rendered and "<img" not in rendered
    assert_inert(rendered)
    assert "## Error" in md and "rate\\_limit" in md


def test_markdown_export_failed_run() -> None:
    art = make_artifact(status="failed", output="")
    art["error"] = {"kind": "auth", "message": "Anthropic key rejected", "step": 1}
    md = render_artifact_markdown(art)
    assert "**auth** (step 1)" in md and "Anthropic key rejected" in md and "_No output._" in md


def _md_headings(md: str) -> list[str]:
    """The headings a CommonMark viewer with raw HTML on (GitHub, most editors) shows."""
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").parse(md)
    return [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]


EXPORT_HEADINGS = [
    "Weekly digest",
    "Input",
    "Output",
    "Steps",
    "Step 1: Summariser",
    "System prompt",
    "Input",
    "Output",
    "Step 2: Editor",
    "System prompt",
    "Input",
    "Output",
]


@pytest.mark.parametrize(
    "unclosed",
    [
        "```python\nprint('cut off at max tokens",
        "~~~~\ncode\n~~~",  # a shorter fence does not close a longer one
        "````\n```\nstill inside",  # nor does a shorter backtick run
        "<!-- a comment never closed",
        "<pre>\npreformatted, never closed",
    ],
)
def test_markdown_export_unclosed_blocks_do_not_swallow_later_sections(unclosed: str) -> None:
    art = make_artifact(output="Final answer.\n\n" + unclosed)
    art["steps"][0]["output"] = "Draft.\n\n" + unclosed
    art["steps"][1]["output"] = unclosed
    md = render_artifact_markdown(art)
    assert _md_headings(md) == EXPORT_HEADINGS
    assert md.count(unclosed) == 3  # the outputs themselves are kept verbatim


def test_markdown_export_leaves_closed_blocks_alone() -> None:
    closed = "```python\nprint(1)\n```\n\n<!-- note -->\n\nDone."
    art = make_artifact(output=closed)
    md = render_artifact_markdown(art)
    assert "## Output\n\n" + closed + "\n\n## Steps" in md
    assert _md_headings(md) == EXPORT_HEADINGS


# --------------------------------------------------------------------------- #
# Real browser
# --------------------------------------------------------------------------- #

SCREENSHOT_DIR = Path("/tmp/pipebot-artifact-screenshots")


@pytest.fixture(scope="module")
def browser() -> Any:
    exe = browser_helpers.ensure_chromium()  # installs Debian's chromium if missing and we are root
    if exe is None:
        pytest.fail("Chromium is missing and could not be installed: run scripts/install-chromium.sh as root")
    with browser_helpers.browser_session(exe) as session:
        yield session


@pytest.fixture(scope="module")
def served() -> Any:
    pages = {
        "/hostile": render_artifact_html(hostile_artifact(), **URLS),
        "/ok": render_artifact_html(make_artifact(), **URLS),
        "/notfound": render_not_found_html(),
    }
    with browser_helpers.serve_html(pages, SECURITY_HEADERS) as base:
        yield base


PWNED = "JSON.stringify({p: typeof window.__pwned, alerted: typeof window.__alerted})"


@pytest.mark.parametrize("bypass_csp", [False, True], ids=["with-csp", "escaping-only"])
def test_hostile_artifact_is_inert_in_chromium(browser: Any, served: str, bypass_csp: bool) -> None:
    report = browser.open(served + "hostile", bypass_csp=bypass_csp, click_links=True, evaluate=PWNED)
    assert report.status == 200
    assert report.evaluated == '{"p":"undefined","alerted":"undefined"}'
    assert report.dialogs == []
    assert report.page_errors == []
    assert report.scripts_ran == []
    assert report.script_elements == 0 and report.inline_handlers == [] and report.javascript_links == []
    assert set(report.link_protocols) <= {"http:", "https:", "mailto:"}
    assert report.console_errors == []  # incl. no CSP violations: our own stylesheet passes the hash
    # Only the page itself was fetched: no remote images, no script, no iframe.
    assert all(u.startswith(served) for u in report.requests), report.requests
    # Clicking every link only ever navigates to http(s) URLs.
    assert report.clicked_navigations, "links were clicked"
    assert all(u.startswith(("http://", "https://")) for u in report.clicked_navigations), report.clicked_navigations
    assert "Digest <script>window.__pwned=1</script>" in report.title
    assert "<script>window.__pwned=1</script>" in report.text
    assert "[x](javascript:window.__pwned=1)" in report.text


def test_page_renders_on_a_phone(browser: Any, served: str) -> None:
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    light = browser.open(served + "ok", screenshot=str(SCREENSHOT_DIR / "artifact-mobile.png"))
    assert light.title == "Weekly digest · 2026-11-24 10:00 UTC · pipebot"
    assert "Weekly digest" in light.text and "Final: billing v2 shipped." not in light.text  # steps collapsed
    assert "Claude Haiku 4.5" in light.text
    assert light.console_errors == [] and light.scripts_ran == []
    # The page fits the phone: nothing forces horizontal scrolling of the whole page.
    width = browser_page_width(browser, served + "ok")
    assert width <= 390, width
    dark = browser.open(
        served + "ok", color_scheme="dark", screenshot=str(SCREENSHOT_DIR / "artifact-mobile-dark.png"), full_page=False
    )
    assert dark.console_errors == []
    hostile = browser.open(
        served + "hostile", screenshot=str(SCREENSHOT_DIR / "artifact-hostile-mobile.png"), full_page=False
    )
    assert hostile.console_errors == []
    nf = browser.open(served + "notfound", screenshot=str(SCREENSHOT_DIR / "notfound-mobile.png"))
    assert "doesn't work" in nf.text and nf.console_errors == []
    for name in ("artifact-mobile.png", "artifact-mobile-dark.png", "artifact-hostile-mobile.png"):
        assert (SCREENSHOT_DIR / name).stat().st_size > 10_000


def browser_page_width(browser: Any, url: str) -> int:
    report = browser.open(url, evaluate="document.documentElement.scrollWidth", settle_ms=0)
    return int(report.evaluated)


def test_styles_apply_under_csp(browser: Any, served: str) -> None:
    """If the CSP style hash were wrong the page would be unstyled (and log an error)."""
    report = browser.open(
        served + "ok",
        evaluate="getComputedStyle(document.querySelector('.wrap')).maxWidth",
        settle_ms=0,
    )
    assert report.evaluated == "768px"  # 48rem
    assert report.console_errors == []


def test_copy_is_not_mutated() -> None:
    art = make_artifact()
    before = copy.deepcopy(art)
    render_artifact_html(art, **URLS)
    render_artifact_markdown(art)
    assert art == before


# --------------------------------------------------------------------------- #
# Long outputs: Markdown is rendered for a bounded prefix, the rest as plain text
# --------------------------------------------------------------------------- #


def _long_markdown(n_chars: int, marker: str) -> str:
    para = f"{marker} paragraph with **bold** text and a [link](https://example.com/{marker}).\n\n"
    return para * (n_chars // len(para) + 1)


def test_long_output_is_rendered_as_markdown_up_to_the_limit_then_as_plain_text() -> None:
    fence = "```python\nprint('inside the fence')\n```\n\n"
    head = _long_markdown(MARKDOWN_OUTPUT_LIMIT - 30, "Head")  # the fence straddles the limit
    tail = "After **the fence** <script>window.__pwned=1</script>\n\nTHE-END"
    art = make_artifact(output=head + fence + tail, steps=[])
    page = render_artifact_html(art, **URLS)
    output = page.split('id="h-output"')[1].split('id="h-details"')[0]
    assert output.count("<strong>bold</strong>") > 100  # the head is rendered
    assert "<strong>the fence</strong>" not in output  # the tail is not...
    assert "After **the fence** &lt;script&gt;" in output and "THE-END" in output  # ...but shown, escaped
    assert "<script>" not in page
    # cut between blocks: the fence is not split, it is all in the plain-text rest
    assert "<code" not in output.split('<details class="rest"')[0].split("</strong>")[-1]
    assert "```python\nprint(&#x27;inside the fence&#x27;)\n```" in output
    assert re.search(
        r'<p class="muted small" role="note">This output is long \(\d+ KB\): the first \d+ KB '
        r"are shown formatted, the remaining \d+ KB as plain text below\.",
        output,
    )
    assert f'href="{html_mod.escape(URLS["markdown_url"])}" download>Download as Markdown</a>' in output
    rest = output.split('<details class="rest">')[1]
    assert rest.startswith("<summary>Rest of the output (") and '<pre class="raw">' in rest


def test_markdown_budget_is_shared_by_the_page_final_output_first() -> None:
    big = MARKDOWN_OUTPUT_LIMIT + 5_000
    steps = [dict(make_artifact()["steps"][0], position=i, output=_long_markdown(big, f"Step{i}")) for i in (1, 2, 3)]
    art = make_artifact(output=_long_markdown(big, "Final"), steps=steps)
    page = render_artifact_html(art, **URLS)
    rendered = {name: page.count(f'href="https://example.com/{name}"') for name in ("Final", "Step1", "Step2", "Step3")}
    per_output = len(_long_markdown(0, "Final"))
    assert rendered["Final"] * per_output <= MARKDOWN_OUTPUT_LIMIT and rendered["Final"] > 0
    assert rendered["Step1"] > 0
    assert sum(rendered.values()) * per_output <= MARKDOWN_PAGE_LIMIT
    assert rendered["Step3"] == 0  # nothing left for it: plain text only, and said so
    assert "it is shown as plain text." in page
    assert page.count("Step3 paragraph with **bold**") == big // per_output + 1  # every line still there


def test_short_output_has_no_long_output_note() -> None:
    page = render_artifact_html(make_artifact(), **URLS)
    assert "This output is long" not in page and 'class="rest"' not in page
