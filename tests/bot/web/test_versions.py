"""The permalink page with versions, lineage and feedback, over real HTTP on real PostgreSQL."""

from __future__ import annotations

import re

import httpx
import pytest

from core.links import artifact_permalink, version_permalink
from tests.support.viewer_data import HOSTILE, branch, content, local, make_artifact, save_version, site, vote


@pytest.fixture
def web(ctx):
    with site(ctx) as url:
        yield url


def test_permalink_shows_the_latest_and_lists_every_version_with_its_own_link(ctx, web):
    aid, _ = make_artifact(ctx, "T1", content(["draft one", "the original final text"]))
    assert save_version(ctx, "T1", aid, 1, content(["draft one", "second text"]), note="tightened " + HOSTILE) == 2
    assert save_version(ctx, "T1", aid, 2, content(["draft edited", "second text"]), edited="step:1", author="U3") == 3
    page = httpx.get(local(artifact_permalink(ctx, "T1", aid), web))
    assert page.status_code == 200
    assert "Version 3 (latest)" in page.text and "draft edited" in page.text
    assert "the original final text" not in page.text  # version 1's output is not the one shown
    # every version listed, newest first, with what it changed, its author and note (escaped)
    listed = re.findall(r'<a href="([^"]+)">Version (\d+)</a>', page.text)
    assert [n for _, n in listed] == ["3", "2", "1"]
    assert "Edited the output of step 1" in page.text and "Edited the final output" in page.text
    assert "As the run produced it" in page.text and "<code>U3</code>" in page.text
    assert "Note: tightened &lt;script&gt;" in page.text and "<script>alert" not in page.text
    # each version's own signed permalink opens that version
    hrefs = {n: href.replace("&amp;", "&") for href, n in listed}
    assert hrefs["1"] == version_permalink(ctx, "T1", aid, 1)
    v1 = httpx.get(local(hrefs["1"], web))
    assert v1.status_code == 200 and "the original final text" in v1.text
    assert "You are looking at version 1. The latest is version 3." in v1.text
    v2 = httpx.get(local(hrefs["2"], web))
    assert "second text" in v2.text and "draft one" in v2.text and "Version 2 of 3" in v2.text
    # a version that does not exist, and a malformed one, get the not-found page
    for bad in ("4", "0", "x", "-1"):
        r = httpx.get(local(artifact_permalink(ctx, "T1", aid), web) + f"&v={bad}")
        assert r.status_code == 404, bad
        assert "draft" not in r.text


def test_exports_take_a_version(ctx, web):
    aid, _ = make_artifact(ctx, "T1", content(["first final"]))
    save_version(ctx, "T1", aid, 1, content(["edited final"]))
    latest = httpx.get(local(artifact_permalink(ctx, "T1", aid, ".json"), web)).json()
    assert (latest["output"], latest["artifact_version"], latest["latest_version"]) == ("edited final", 2, 2)
    v1 = httpx.get(local(version_permalink(ctx, "T1", aid, 1, ".json"), web)).json()
    assert (v1["output"], v1["artifact_version"]) == ("first final", 1)
    md1 = httpx.get(local(version_permalink(ctx, "T1", aid, 1, ".md"), web))
    assert md1.status_code == 200 and "first final" in md1.text and "edited final" not in md1.text
    assert f"artifact-{aid}-v1.md" in md1.headers["content-disposition"]
    md = httpx.get(local(artifact_permalink(ctx, "T1", aid, ".md"), web))
    assert "edited final" in md.text
    # the page of a version links that version's exports
    page = httpx.get(local(version_permalink(ctx, "T1", aid, 1), web)).text
    assert version_permalink(ctx, "T1", aid, 1, ".json").replace("&", "&amp;") in page
    assert httpx.get(local(version_permalink(ctx, "T1", aid, 3, ".json"), web)).status_code == 404


def test_lineage_and_feedback_counts_of_the_shown_version(ctx, web):
    parent, pid = make_artifact(ctx, "T1", content(["p1", "p2", "parent final"]))
    save_version(ctx, "T1", parent, 1, content(["p1", "p2 edited", "parent final"]), edited="step:2")
    child, _ = make_artifact(ctx, "T1", content(["p1", "p2 edited", "branch final"]), pipeline_id=pid)
    branch(ctx, "T1", child, parent, version=2, step=3, changes={"model": "openai:gpt-5-mini", "input": HOSTILE})
    vote(ctx, "T1", parent, 2, "U1", 1)
    vote(ctx, "T1", parent, 2, "U2", 1)
    vote(ctx, "T1", parent, 2, "U3", -1)
    vote(ctx, "T1", parent, 1, "U4", -1)

    page = httpx.get(local(artifact_permalink(ctx, "T1", child), web)).text
    assert "Version 2 of the parent artifact" in page and "re-run from step 3" in page
    assert "Model: openai:gpt-5-mini" in page and "Input: &lt;script&gt;" in page and "<script>" not in page
    assert version_permalink(ctx, "T1", parent, 2).replace("&", "&amp;") in page
    assert "Compare with the parent" in page

    ppage = httpx.get(local(artifact_permalink(ctx, "T1", parent), web)).text
    assert "(from step 3 of version 2)" in ppage and artifact_permalink(ctx, "T1", child) in ppage
    assert "👍 2 · 👎 1" in ppage  # version 2, the latest
    v1 = httpx.get(local(version_permalink(ctx, "T1", parent, 1), web)).text
    assert "👍 0 · 👎 1" in v1
    assert "None: this is an original run" in ppage


def test_another_workspaces_version_link_is_refused(ctx, web):
    mine, _ = make_artifact(ctx, "T1", content(["mine"]))
    theirs, _ = make_artifact(ctx, "T2", content(["their secret"]))
    save_version(ctx, "T2", theirs, 1, content(["their secret v2"]))
    sig = artifact_permalink(ctx, "T1", mine).split("?s=")[1]
    for url in (
        f"{web}/artifacts/{theirs}?s={sig}&v=2",
        f"{web}/artifacts/{theirs}.json?s={sig}&v=1",
        f"{web}/artifacts/{theirs}.md?s={sig}&v=2",
    ):
        r = httpx.get(url)
        assert r.status_code == 404, url
        assert "their secret" not in r.text
