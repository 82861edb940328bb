"""The compare page over real HTTP: word-level marks, escaping, totals, signed access."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from core.links import artifact_permalink, compare_url
from tests.support.viewer_data import HOSTILE, branch, content, local, make_artifact, save_version, site


@pytest.fixture
def web(ctx):
    with site(ctx) as url:
        yield url


def _marks(html: str, tag: str) -> list[str]:
    return re.findall(rf"<{tag}>(.*?)</{tag}>", html, flags=re.S)


def test_two_versions_side_by_side_with_word_marks_escaped_and_totals(ctx, web):
    aid, _ = make_artifact(ctx, "T1", content(["the quick brown fox", "alpha beta gamma " + HOSTILE]))
    save_version(ctx, "T1", aid, 1, content(["the quick red fox", "alpha beta delta " + HOSTILE + " <b>new</b>"]))
    r = httpx.get(local(compare_url(ctx, "T1", aid, aid, left_version=1, right_version=2), web))
    assert r.status_code == 200
    page = r.text
    assert "<del>brown</del>" in page and "<ins>red</ins>" in page
    assert "<del>gamma</del>" in page and "<ins>delta</ins>" in page
    # model text is escaped inside and outside the marks: no tag from it survives
    assert "<script>" not in page and "<b>new</b>" not in page and "&lt;b&gt;new" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "script-src 'none'" in r.headers["content-security-policy"]
    assert "form-action 'self'" in r.headers["content-security-policy"]
    assert r.headers["referrer-policy"] == "no-referrer"
    # per step: model, tokens, cost and time on both sides; totals with their differences
    assert page.count("claude-haiku-4-5") >= 4 and "100 in · 50 out" in page and "$0.0100" in page
    assert re.search(r"<th scope=\"row\">Cost</th><td>\$0\.02\d*</td><td>\$0\.02\d*</td><td>no change</td>", page)
    # the version picker is a plain GET form that keeps the signature
    assert '<form class="picker" method="get"' in page and 'name="av"' in page and 'name="bv"' in page
    sig = compare_url(ctx, "T1", aid, aid).split("?s=")[1]
    assert f'name="s" value="{sig}"' in page
    same = httpx.get(f"{web}/artifacts/{aid}/compare/{aid}?s={sig}&av=2&bv=2").text
    assert "The two sides have the same outputs." in same and not _marks(same, "ins")


def test_parent_and_branch_and_sibling_runs_with_totals_difference(ctx, web):
    parent, pid = make_artifact(
        ctx, "T1", content(["one", "two", "parent end"], cost="0.0100", tokens=(100, 50), duration_ms=4000)
    )
    child, _ = make_artifact(
        ctx,
        "T1",
        content(
            ["one", "two", "branch end"],
            cost="0.0300",
            tokens=(300, 80),
            duration_ms=6000,
            models=("openai:gpt-5-mini",),
        ),
        pipeline_id=pid,
    )
    branch(ctx, "T1", child, parent, version=1, step=3, changes={"model": "openai:gpt-5-mini"})
    sibling, _ = make_artifact(ctx, "T1", content(["other"]), pipeline_id=pid)
    page = httpx.get(local(compare_url(ctx, "T1", parent, child), web)).text
    assert "<del>parent</del>" in page and "<ins>branch</ins>" in page
    assert "+$0.0600" in page  # 3 × 0.03 − 3 × 0.01
    rows = dict(
        (label, (left, right, diff))
        for label, left, right, diff in re.findall(
            r'<tr><th scope="row">([^<]+)</th><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td></tr>', page
        )
    )
    assert rows["Input tokens"] == ("300", "900", "+600")
    assert rows["Output tokens"] == ("150", "240", "+90")
    assert rows["Duration"] == ("4.0 s", "6.0 s", "+2.0 s")
    assert "gpt-5-mini" in page and "model changed" in page
    # the picker offers the branch's relatives as signed compare links
    assert compare_url(ctx, "T1", parent, sibling).replace("&", "&amp;") in page
    sib = httpx.get(local(compare_url(ctx, "T1", parent, sibling), web))
    assert sib.status_code == 200 and "Only in the left side" in sib.text
    # the artifact page links the compare with its parent
    child_page = httpx.get(local(artifact_permalink(ctx, "T1", child), web)).text
    assert compare_url(ctx, "T1", parent, child, left_version=1, right_version=1).replace("&", "&amp;") in child_page


def test_compare_links_only_open_what_they_were_signed_for(ctx, web):
    a, _ = make_artifact(ctx, "T1", content(["mine"]))
    b, _ = make_artifact(ctx, "T1", content(["mine too"]))
    theirs, _ = make_artifact(ctx, "T2", content(["their secret"]))
    good = local(compare_url(ctx, "T1", a, b), web)
    assert httpx.get(good).status_code == 200
    sig = good.split("?s=")[1]
    permalink_sig = artifact_permalink(ctx, "T1", a).split("?s=")[1]
    bad = [
        f"{web}/artifacts/{a}/compare/{theirs}?s={sig}",  # swapped in another workspace's id
        f"{web}/artifacts/{a}/compare/{theirs}?s=" + local(compare_url(ctx, "T2", a, theirs), web).split("?s=")[1],
        f"{web}/artifacts/{b}/compare/{a}?s={sig}",  # the order is signed too
        f"{web}/artifacts/{a}/compare/{uuid.uuid4()}?s={sig}",
        f"{web}/artifacts/{a}/compare/{a}?s={permalink_sig}",  # a permalink is not a compare link
        f"{web}/artifacts/{a}/compare/{b}",
        f"{web}/artifacts/{a}/compare/{b}?s={sig}&av=9",
        f"{web}/artifacts/{a}/compare/not-a-uuid?s={sig}",
    ]
    for url in bad:
        r = httpx.get(url)
        assert r.status_code == 404, url
        assert "their secret" not in r.text and "mine" not in r.text


def test_long_outputs_are_compared_whole(ctx, web):
    words = [f"word{i}" for i in range(20_000)]
    left = " ".join(words)
    right = " ".join(w if i != 15_000 else "CHANGED" for i, w in enumerate(words))
    aid, _ = make_artifact(ctx, "T1", content([left]))
    save_version(ctx, "T1", aid, 1, content([right]))
    page = httpx.get(local(compare_url(ctx, "T1", aid, aid, left_version=1, right_version=2), web)).text
    assert "<ins>CHANGED</ins>" in page and "<del>word15000</del>" in page and "word19999" in page
    assert "This comparison is coarse" not in page  # one word changed: compared word by word


def test_a_compare_past_the_budget_says_it_is_coarse(ctx, web):
    """The issue's crafting: the same distinct lines, each neighbouring pair swapped. The page
    still shows both whole texts, and says the comparison is coarse."""
    lines = [f"line {i} says something distinct {i * 7919}\n" for i in range(12_000)]
    swapped = [lines[i ^ 1] for i in range(len(lines))]
    left, right = "".join(lines), "".join(swapped)
    aid, _ = make_artifact(ctx, "T1", content([left]))
    save_version(ctx, "T1", aid, 1, content([right]))
    r = httpx.get(local(compare_url(ctx, "T1", aid, aid, left_version=1, right_version=2), web), timeout=30)
    assert r.status_code == 200
    assert "This comparison is coarse: the texts differ in too many places to compare word by word" in r.text
    assert "line 11999 says something distinct" in r.text


# --------------------------------------------------------------------------- #
# Real headless Chromium
# --------------------------------------------------------------------------- #

SCREENSHOT_DIR = "/tmp/pipebot-viewer-screenshots"

_LAYOUT_PROBE = """() => {
  const diffs = [...document.querySelectorAll('pre.diff')];
  const cols = [...document.querySelectorAll('.cols')].map(c => [...c.children].map(ch => ch.getBoundingClientRect().left));
  return {doc: document.documentElement.scrollWidth, view: window.innerWidth,
          overflowing: diffs.filter(d => d.scrollWidth > d.clientWidth + 1).length, diffs: diffs.length,
          stacked: cols.every(lefts => lefts.every(x => Math.abs(x - lefts[0]) < 1)),
          ins: document.querySelectorAll('pre.diff ins').length, del: document.querySelectorAll('pre.diff del').length};
}"""


def test_compare_page_runs_no_script_and_reads_on_a_420px_phone(ctx, web):
    from tests.support.browser import browser_session, ensure_chromium

    exe = ensure_chromium()
    assert exe, "Chromium is missing: run scripts/install-chromium.sh as root"
    unbroken = "x" * 3000  # one 3,000-character word: must wrap, not widen the page
    left = "Intro paragraph about the quarter. " * 40 + HOSTILE + " " + unbroken
    right = "Intro paragraph about the year. " * 40 + HOSTILE + ' <a href="javascript:alert(3)">x</a> ' + unbroken
    aid, _ = make_artifact(ctx, "T1", content(["step one " + HOSTILE, left]))
    save_version(ctx, "T1", aid, 1, content(["step one changed " + HOSTILE, right]))
    url = local(compare_url(ctx, "T1", aid, aid, left_version=1, right_version=2), web)
    with browser_session(exe) as b:
        for bypass in (False, True):  # escaping alone keeps script out, the CSP is a second line
            report = b.open(url, bypass_csp=bypass, click_links=True, evaluate="typeof window.__pwned")
            assert report.status == 200
            assert not report.any_script and not report.scripts_ran and not report.dialogs, report
            assert not report.page_errors
        context = b.browser.new_context(viewport={"width": 420, "height": 900}, is_mobile=True, has_touch=True)
        try:
            page = context.new_page()
            page.goto(url, wait_until="load")
            layout = page.evaluate(_LAYOUT_PROBE)
            page.screenshot(path=f"{SCREENSHOT_DIR}/compare-420.png", full_page=False)
        finally:
            context.close()
    assert layout["view"] == 420 and layout["doc"] <= layout["view"], layout
    assert layout["overflowing"] == 0 and layout["diffs"] >= 4 and layout["stacked"], layout
    assert layout["ins"] >= 2 and layout["del"] >= 2, layout
