"""Permalinks over real HTTP: signed links open, tampered and cross-workspace ones never do."""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from importlib.resources import files
from urllib.parse import urlsplit

import httpx
import pytest

from bot.web.server import build_app
from core.links import artifact_permalink
from core.runs.outcome import write_outcome
from storage.db import transaction
from storage.repos import agents as agent_repo
from storage.repos import artifacts as artifact_repo
from storage.repos import pipelines as pipeline_repo
from storage.repos import runs as run_repo
from tests.support.http_server import serve

HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)">'


def _finished_run(ctx, team: str, output: str) -> str:
    with transaction(ctx.sessions) as s:
        a = agent_repo.create_agent(s, team, name="Writer", model="anthropic:claude-haiku-4-5", system_prompt="")
        p = pipeline_repo.create_pipeline(s, team, "Digest", [a.id])
        run = run_repo.create_run(s, team, p, "the input", requested_by="U1")
        run_id = run.id
    return write_outcome(ctx, team, run_id, status="succeeded", output=output).artifact_id


@pytest.fixture
def site(ctx):
    with serve(build_app(ctx)) as url:
        yield url


def _local(link: str, base: str) -> str:
    parts = urlsplit(link)
    return f"{base}{parts.path}?{parts.query}"


def test_signed_link_opens_page_json_and_markdown(ctx, site):
    aid = _finished_run(ctx, "T1", "Hello **world** " + HOSTILE)
    link = artifact_permalink(ctx, "T1", aid)
    assert link.startswith("http://pipebot.test/artifacts/")
    r = httpx.get(_local(link, site))
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    assert "<script>alert(1)" not in r.text and "&lt;script&gt;" in r.text
    assert "script-src 'none'" in r.headers["content-security-policy"]
    assert "Digest" in r.text
    j = httpx.get(_local(artifact_permalink(ctx, "T1", aid, ".json"), site))
    assert j.status_code == 200 and j.json()["output"].startswith("Hello **world**")
    assert j.json()["pipeline"]["name"] == "Digest" and j.json()["status"] == "succeeded"
    md = httpx.get(_local(artifact_permalink(ctx, "T1", aid, ".md"), site))
    assert md.status_code == 200 and "Hello **world**" in md.text
    assert "attachment" in md.headers["content-disposition"]


def test_tampered_and_cross_workspace_links_are_refused(ctx, site):
    aid = _finished_run(ctx, "T1", "secret output")
    other = _finished_run(ctx, "T2", "other team's output")
    good = _local(artifact_permalink(ctx, "T1", aid), site)
    path, sig = good.split("?s=")
    bad = [
        f"{path}?s={sig[:-1]}{'A' if sig[-1] != 'A' else 'B'}",  # changed signature
        f"{path}",  # no signature
        f"{site}/artifacts/{uuid.uuid4()}?s={sig}",  # changed id
        f"{site}/artifacts/{other}?s={sig}",  # another workspace's artifact, our signature
        f"{site}/artifacts/not-a-uuid?s={sig}",
        f"{path}.json?s=" + "x" * 24,
    ]
    for url in bad:
        r = httpx.get(url)
        assert r.status_code == 404, url
        assert "secret output" not in r.text and "other team" not in r.text


def test_healthz_over_http(ctx, site):
    r = httpx.get(f"{site}/healthz")
    assert r.status_code == 200 and r.json()["status"] == "ok"


NAMES = ['<script>alert("p")</script>', "<img src=x onerror=alert('a')>"]


def _run_with_steps(
    ctx,
    team: str,
    *,
    pipeline: str,
    agent: str,
    steps: list[dict],
    status: str,
    output: str | None,
    error: tuple[str, str, int] | None = None,
) -> str:
    with transaction(ctx.sessions) as s:
        a = agent_repo.create_agent(s, team, name=agent, model="anthropic:claude-haiku-4-5", system_prompt=HOSTILE)
        p = pipeline_repo.create_pipeline(s, team, pipeline, [a.id])
        run = run_repo.create_run(s, team, p, "input " + HOSTILE, requested_by="U1")
        for st in steps:
            fields = dict(st)
            step_id = run_repo.start_step(
                s,
                run.id,
                fields.pop("position"),
                agent_id=a.id,
                model="anthropic:claude-haiku-4-5",
                step_input=fields.pop("input"),
                agent_snapshot={"name": agent, "model": "anthropic:claude-haiku-4-5", "system_prompt": HOSTILE},
            )
            run_repo.finish_step(s, step_id, **fields)
        run_id = run.id
    kind, message, step = error or (None, None, None)
    return write_outcome(
        ctx, team, run_id, status=status, output=output, error_kind=kind, error_message=message, error_step=step
    ).artifact_id


def _all_formats(ctx, site: str, team: str, aid: str) -> tuple[httpx.Response, httpx.Response, httpx.Response]:
    out = tuple(
        httpx.get(_local(artifact_permalink(ctx, team, aid, sfx), site), timeout=30) for sfx in ("", ".json", ".md")
    )
    for r in out:
        assert r.status_code == 200, r.text[:200]
    return out  # type: ignore[return-value]


def test_failed_run_with_no_finished_step_renders_in_every_format(ctx, site):
    aid = _run_with_steps(
        ctx,
        "T1",
        pipeline="Digest",
        agent="Writer",
        steps=[],
        status="failed",
        output=None,
        error=("orphaned_step", "Step 1 uses deleted agent " + HOSTILE, 1),
    )
    page, js, md = _all_formats(ctx, site, "T1", aid)
    assert "Run failed: orphaned_step" in page.text and "No output: the run failed" in page.text
    assert "Step 1 uses deleted agent &lt;script&gt;" in page.text and "<script>alert" not in page.text
    assert js.json()["status"] == "failed" and js.json()["steps"] == []
    assert js.json()["error"] == {"kind": "orphaned_step", "message": "Step 1 uses deleted agent " + HOSTILE, "step": 1}
    assert "## Error" in md.text and "_No output._" in md.text and "## Steps" not in md.text


def test_huge_output_renders_in_every_format(ctx, site):
    paragraph = "Line with **bold**, `code` and a [link](https://example.com/x).\n\n"
    huge = paragraph * (2_000_000 // len(paragraph) + 1) + "THE-END-MARKER"
    assert len(huge) >= 2_000_000
    aid = _run_with_steps(
        ctx,
        "T1",
        pipeline="Digest",
        agent="Writer",
        status="succeeded",
        output=huge,
        steps=[dict(position=1, status="succeeded", input="in", output=huge)],
    )
    page, js, md = _all_formats(ctx, site, "T1", aid)
    assert page.text.count("THE-END-MARKER") == 2 and page.text.rstrip().endswith("</html>")
    # Markdown is rendered for a bounded prefix only; the rest is there as escaped plain text
    assert page.text.count("This output is long (2.0 MB)") == 2 and page.text.count('<details class="rest">') == 2
    assert page.text.count("<strong>bold</strong>") < 2 * 64_000 // len(paragraph) + 2
    assert js.json()["output"] == huge and js.json()["steps"][0]["output"] == huge
    assert md.text.count("THE-END-MARKER") == 2


def test_untrusted_names_and_outputs_are_escaped_in_every_format(ctx, site):
    pipeline, agent = NAMES
    aid = _run_with_steps(
        ctx,
        "T1",
        pipeline=pipeline,
        agent=agent,
        status="failed",
        output=None,
        steps=[
            dict(
                position=1,
                status="failed",
                input=HOSTILE,
                output=HOSTILE,
                error_kind="bad_request",
                error_message=HOSTILE,
            )
        ],
        error=("bad_request", HOSTILE, 1),
    )
    page, js, md = _all_formats(ctx, site, "T1", aid)
    for raw in (HOSTILE, pipeline, agent, "<script", "<img"):
        assert raw not in page.text, raw
    assert "&lt;script&gt;alert(&quot;p&quot;)&lt;/script&gt;" in page.text  # pipeline name, escaped
    assert "&lt;img src=x onerror=alert(&#x27;a&#x27;)&gt;" in page.text  # agent name, escaped
    # JSON: exactly the stored strings, but no raw markup characters in the body at all
    assert "<" not in js.text and ">" not in js.text
    data = js.json()
    assert data["pipeline"]["name"] == pipeline and data["steps"][0]["agent"]["name"] == agent
    assert data["steps"][0]["output"] == HOSTILE and data["error"]["message"] == HOSTILE
    # Markdown: names are backslash-escaped, so a viewer with raw HTML on shows them as text
    from markdown_it import MarkdownIt

    rendered = MarkdownIt("commonmark").render(md.text)
    assert "<script" not in rendered.split("<h2>Steps</h2>")[0]  # title, table, error: no live tags
    assert '# \\<script\\>alert("p")\\</script\\>' in md.text
    assert "### Step 1: \\<img src=x onerror=alert('a')\\>" in md.text


def test_served_page_style_hash_matches_the_stylesheet_file(ctx, site):
    css = files("bot.web").joinpath("static", "artifact.css").read_bytes()
    digest = base64.b64encode(hashlib.sha256(css).digest()).decode("ascii")
    aid = _finished_run(ctx, "T1", "styled")
    for r in (
        httpx.get(_local(artifact_permalink(ctx, "T1", aid), site)),
        httpx.get(f"{site}/artifacts/{uuid.uuid4()}"),
    ):
        (inline,) = re.findall(r"<style>(.*?)</style>", r.text, flags=re.DOTALL)
        assert inline.encode("utf-8") == css
        assert f"style-src 'sha256-{digest}';" in r.headers["content-security-policy"]


def test_json_and_markdown_read_the_artifact_through_the_model(ctx, site):
    aid = _finished_run(ctx, "T1", "kept")
    with transaction(ctx.sessions) as s:  # content a newer writer might add, and an older one lacks
        art = artifact_repo.get_artifact(s, "T1", aid)
        content = dict(art.content, branch={"parent": "p1", "from_step": 1})
        del content["usage"], content["attempts"]
        art.content = content
    page, js, md = _all_formats(ctx, site, "T1", aid)
    data = js.json()
    assert data["branch"] == {"parent": "p1", "from_step": 1}  # unknown keys are kept
    assert "usage" not in data and "attempts" not in data  # missing keys are not invented
    assert data["artifact_id"] == aid and data["team_id"] == "T1" and data["output"] == "kept"
    assert "kept" in page.text and "| Tokens | — |" in md.text
