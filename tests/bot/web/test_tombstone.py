"""A deleted result on the web viewer: the page, its JSON and Markdown show the tombstone, its
versions are gone, and a compare involving it says it was deleted (real HTTP, real PostgreSQL)."""

from __future__ import annotations

import httpx

from core.artifacts.deletion import delete_result
from core.links import artifact_permalink, compare_url, version_permalink
from tests.support.viewer_data import HOSTILE, content, local, make_artifact, save_version, site


def test_page_json_markdown_versions_and_compare_of_a_deleted_result(ctx):
    aid, pipeline = make_artifact(ctx, "T1", content(["draft", "the secret output"]))
    other, _ = make_artifact(ctx, "T1", content(["draft", "another output"]), pipeline_id=pipeline)
    save_version(ctx, "T1", aid, 1, content(["draft", "an edited secret"]))
    by = "U0X" + HOSTILE[:8]  # whatever is stored is escaped where shown
    assert delete_result(ctx, "T1", aid, by, admin=True) is not None

    with site(ctx) as url:
        page = httpx.get(local(artifact_permalink(ctx, "T1", aid), url))
        assert page.status_code == 200
        assert "This run's result was deleted" in page.text
        assert "Deleted by U0X&lt;script&gt; on " in page.text and " UTC" in page.text
        assert "secret" not in page.text and "<script" not in page.text

        j = httpx.get(local(artifact_permalink(ctx, "T1", aid, ".json"), url))
        assert j.status_code == 200
        body = j.json()
        assert body["deleted"] is True and body["deleted_by"] == by and body["deleted_at"]
        assert "secret" not in j.text and "output" not in body

        md = httpx.get(local(artifact_permalink(ctx, "T1", aid, ".md"), url))
        assert md.status_code == 200 and "Deleted by U0X" in md.text and "secret" not in md.text

        gone = httpx.get(local(version_permalink(ctx, "T1", aid, 2), url))
        assert gone.status_code == 404  # its versions went with it

        cmp = httpx.get(local(compare_url(ctx, "T1", other, aid), url))
        assert cmp.status_code == 200
        assert "The right side&#x27;s result was deleted" in cmp.text and "secret" not in cmp.text
