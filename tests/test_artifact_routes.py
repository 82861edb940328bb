"""Permalinks over real HTTP: signed links open, tampered and cross-workspace ones never do."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

import httpx
import pytest

from bot.server import build_app
from core.executor import write_outcome
from core.links import artifact_permalink
from storage import repos
from storage.db import transaction
from tests.http_server import serve

HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)">'


def _finished_run(ctx, team: str, output: str) -> str:
    with transaction(ctx.sessions) as s:
        a = repos.create_agent(s, team, name="Writer", model="anthropic:claude-haiku-4-5", system_prompt="")
        p = repos.create_pipeline(s, team, "Digest", [a.id])
        run = repos.create_run(s, team, p, "the input", requested_by="U1")
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
        f"{path}?s={sig[:-1]}{'A' if sig[-1] != 'A' else 'B'}",      # changed signature
        f"{path}",                                                   # no signature
        f"{site}/artifacts/{uuid.uuid4()}?s={sig}",                  # changed id
        f"{site}/artifacts/{other}?s={sig}",                         # another workspace's artifact, our signature
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
