"""A run's files and thread on the web viewer (DESIGN §11) over real HTTP and real PostgreSQL:
the page lists the files and shows the images, the file route serves the stored bytes behind
the page's own rule, the exports list the files, and compare says whether two runs had the
same files and thread."""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterator
from urllib.parse import unquote, urljoin, urlsplit

import httpx
import pytest

from core.artifacts.deletion import delete_result
from core.links import artifact_permalink, compare_url, version_permalink
from tests.fakes.slack import TEAM_ID
from tests.support.run_files_data import PNG_1X1, SharedFile, run_with_files, thread_record
from tests.support.signin import Site
from tests.support.viewer_data import HOSTILE, local, save_version
from tests.support.viewer_data import site as serve_site

BIG_PDF = b"%PDF-1.7\n" + bytes(range(256)) * 10_000 + b"\n%%EOF\n"  # 2.5 MB: three chunks
IMAGE = SharedFile("diagram.png", "image/png", "image", PNG_1X1)
PDF = SharedFile("report.pdf", "application/pdf", "pdf", BIG_PDF, pages=12, extracted_text="the report's text")
HTML = SharedFile("page.html", "text/html", "text", b"<html><script>alert(1)</script></html>")
SVG = SharedFile("logo.svg", "image/svg+xml", "text", b'<svg xmlns="http://www.w3.org/2000/svg"><script/></svg>')


@pytest.fixture
def web(ctx) -> Iterator[str]:
    with serve_site(ctx) as url:
        yield url


def _page(ctx, url: str, aid: str, team: str = "T1") -> httpx.Response:
    return httpx.get(local(artifact_permalink(ctx, team, aid), url))


def _file_links(page: httpx.Response) -> list[str]:
    """The absolute URLs of the page's file links, resolved against the page as a browser does."""
    hrefs = re.findall(r'href="([^"]*/files/\d+\?s=[^"]*)"', page.text)
    return [urljoin(str(page.url), h.replace("&amp;", "&")) for h in dict.fromkeys(hrefs)]


def test_the_page_lists_the_files_shows_the_image_and_the_thread(ctx, web) -> None:
    hostile = SharedFile(HOSTILE + ".txt", "text/plain", "text", b"plain words")
    thread = thread_record(
        [("Ana", "Can the bot read the report? " + HOSTILE, ["report.pdf"]), ("Ben", "Here it is", [])], left_out=7
    )
    aid, _ = run_with_files(ctx, "T1", [IMAGE, PDF, hostile], thread=thread)
    page = _page(ctx, web, aid)
    assert page.status_code == 200
    html = page.text
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert '<h2 id="h-files">Files (3)</h2>' in html
    assert "diagram.png" in html and "report.pdf" in html
    assert "application/pdf · 2.6 MB · 12 pages · text extracted" in html
    assert f"image/png · {len(PNG_1X1)} bytes" in html
    assert f'<code title="{PDF.sha256}">{PDF.sha256[:12]}</code>' in html
    images = re.findall(r'<img class="file-image" src="([^"]+)" alt="([^"]*)"', html)
    assert [alt for _, alt in images] == ["diagram.png"]  # the PDF and the text file are links only
    assert images[0][0].startswith(f"{aid}/files/1?s=")
    assert "img-src 'self' data:;" in page.headers["content-security-policy"]
    # the thread, collapsed, with what was left out
    assert '<details class="thread">' in html and "7 older messages left out" in html
    assert "Can the bot read the report? &lt;script&gt;" in html and "Files: report.pdf" in html
    assert "2 earlier messages · 7 older messages left out" in html
    # the step says which files it got and which it read as text
    assert "<dt>Files</dt><dd>diagram.png, report.pdf, " in html
    assert "text extracted from report.pdf" in html
    # every link opens the bytes that were stored
    links = _file_links(page)
    assert len(links) == 3
    for link, f in zip(links, [IMAGE, PDF, hostile], strict=True):
        got = httpx.get(link)
        assert got.status_code == 200 and got.content == f.data


def test_the_file_route_streams_the_stored_bytes_with_safe_headers(ctx, web) -> None:
    aid, _ = run_with_files(ctx, "T1", [IMAGE, PDF, HTML, SVG])
    links = _file_links(_page(ctx, web, aid))
    image, pdf, html, svg = (httpx.get(link) for link in links)

    assert image.headers["content-type"] == "image/png"
    assert image.headers["content-disposition"].startswith("inline; ")
    assert image.content == PNG_1X1

    assert hashlib.sha256(pdf.content).hexdigest() == PDF.sha256 and len(pdf.content) == len(BIG_PDF)
    assert pdf.headers["content-length"] == str(len(BIG_PDF))
    assert pdf.headers["content-type"] == "application/octet-stream"
    assert pdf.headers["content-disposition"] == "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"

    for r, f in ((html, HTML), (svg, SVG)):  # never rendered: bytes to save, not a page or an image
        assert r.content == f.data
        assert r.headers["content-type"] == "application/octet-stream"
        assert r.headers["content-disposition"].startswith("attachment; ")
    for r in (image, pdf, html, svg):
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in r.headers["content-security-policy"]
        assert "default-src 'none'" in r.headers["content-security-policy"]


def test_a_name_that_is_not_plain_ascii_is_safe_in_the_header(ctx, web) -> None:
    odd = SharedFile('../Über "plan"\r\nX-Evil: 1;.csv', "text/csv", "text", b"a,b\n1,2\n")
    aid, _ = run_with_files(ctx, "T1", [odd])
    r = httpx.get(_file_links(_page(ctx, web, aid))[0])
    assert r.status_code == 200 and "x-evil" not in r.headers
    disposition = r.headers["content-disposition"]
    plain = re.search(r'filename="([^"]*)"', disposition)
    assert plain is not None and plain.group(1).isascii() and "/" not in plain.group(1)
    exact = unquote(disposition.split("filename*=UTF-8''")[1])
    assert exact == 'Über "plan"X-Evil: 1;.csv'  # the path and the line breaks gone, the rest exact


def test_a_wrong_position_a_bad_signature_and_unstored_bytes_are_the_page_404(ctx, web) -> None:
    never = SharedFile("later.pdf", "application/pdf", "pdf", b"%PDF-", stored=False)
    aid, _ = run_with_files(ctx, "T1", [IMAGE, never])
    first = _file_links(_page(ctx, web, aid))[0]
    path, sig = first.split("?s=")
    missing = httpx.get(f"{web}/artifacts/{uuid.uuid4()}")
    for url in (
        path.replace("/files/1", "/files/3") + f"?s={sig}",  # no such file
        path.replace("/files/1", "/files/0") + f"?s={sig}",
        path.replace("/files/1", "/files/2") + f"?s={sig}",  # described, never downloaded
        f"{path}?s={sig[:-2]}AA",
        path,  # no signature
        f"{web}/artifacts/{uuid.uuid4()}/files/1?s={sig}",
        f"{web}/artifacts/not-a-uuid/files/1?s={sig}",
    ):
        r = httpx.get(url)
        assert r.status_code == 404, url
        assert r.text == missing.text and PNG_1X1 not in r.content
    assert httpx.get(first).status_code == 200


def test_another_workspaces_signature_opens_no_file(ctx, web) -> None:
    aid, _ = run_with_files(ctx, "T1", [IMAGE])
    other, _ = run_with_files(ctx, "T2", [IMAGE])
    sig = artifact_permalink(ctx, "T1", aid).split("?s=")[1]
    assert httpx.get(f"{web}/artifacts/{other}/files/1?s={sig}").status_code == 404
    assert httpx.get(f"{web}/artifacts/{aid}/files/1?s={sig}").status_code == 200


def test_a_deleted_result_has_no_files(ctx, web) -> None:
    aid, _ = run_with_files(ctx, "T1", [IMAGE, PDF])
    links = _file_links(_page(ctx, web, aid))
    assert delete_result(ctx, "T1", aid, "U1", admin=True) is not None
    page = _page(ctx, web, aid)
    assert page.status_code == 200 and "diagram.png" not in page.text and "/files/" not in page.text
    for link in links:
        assert httpx.get(link).status_code == 404


def test_every_version_of_the_page_links_the_runs_files(ctx, web) -> None:
    aid, _ = run_with_files(ctx, "T1", [IMAGE])
    stored = httpx.get(local(artifact_permalink(ctx, "T1", aid, ".json"), web)).json()
    save_version(ctx, "T1", aid, 1, dict(stored, output="edited"))
    page = httpx.get(local(version_permalink(ctx, "T1", aid, 2), web))
    links = _file_links(page)
    assert len(links) == 1 and httpx.get(links[0]).content == PNG_1X1


def test_the_exports_list_the_files_and_the_thread(ctx, web) -> None:
    thread = thread_record([("Ana", "see *this* | table", ["diagram.png"])], left_out=2)
    aid, _ = run_with_files(ctx, "T1", [IMAGE, PDF], thread=thread)
    j = httpx.get(local(artifact_permalink(ctx, "T1", aid, ".json"), web)).json()
    assert [(f["name"], f["sha256"], f["size"]) for f in j["files"]] == [
        ("diagram.png", IMAGE.sha256, len(PNG_1X1)),
        ("report.pdf", PDF.sha256, len(BIG_PDF)),
    ]
    assert j["thread"]["left_out"] == 2 and j["thread"]["messages"][0]["author"] == "Ana"
    md = httpx.get(local(artifact_permalink(ctx, "T1", aid, ".md"), web)).text
    assert "## Files (2)" in md
    assert f"- **diagram.png** · image/png · {len(PNG_1X1)} bytes · sha256 `{IMAGE.sha256}`" in md
    assert "- **report.pdf** · application/pdf · 2.6 MB · 12 pages · text extracted" in md
    assert "## Thread context" in md and "1 earlier message · 2 older messages left out" in md
    assert "**Ana** (files: diagram.png)" in md and "```text\nsee *this* | table\n```" in md
    assert "- Text extracted from: report.pdf" in md


def _compare_inputs(ctx, web: str, left: str, right: str) -> list[str]:
    r = httpx.get(local(compare_url(ctx, "T1", left, right), web))
    assert r.status_code == 200
    section = r.text.split('<h2 id="h-inputs">Inputs</h2>')[1].split("</section>")[0]
    return re.findall(r"<li>(.*?)</li>", section)


def test_compare_says_whether_the_runs_had_the_same_files_and_thread(ctx, web) -> None:
    thread = thread_record([("Ana", "context", [])])
    first, _ = run_with_files(ctx, "T1", [IMAGE, PDF], thread=thread)
    again, _ = run_with_files(ctx, "T1", [IMAGE, PDF], thread=thread)
    changed_pdf = SharedFile("report.pdf", "application/pdf", "pdf", BIG_PDF + b"more")
    other = SharedFile("notes.md", "text/markdown", "text", b"# notes")
    different, _ = run_with_files(ctx, "T1", [changed_pdf, other])
    plain, _ = run_with_files(ctx, "T1", [])

    assert _compare_inputs(ctx, web, first, again) == ["Same files (2)", "Same thread context (1 message)"]
    assert _compare_inputs(ctx, web, first, different) == [
        "Different files: diagram.png only in the left run, report.pdf changed, notes.md only in the right run",
        "Thread context only in the left run",
    ]
    assert _compare_inputs(ctx, web, plain, plain) == ["No files in either run", "No thread context in either run"]


# ---- who may see the files (sign-in on) ---------------------------------------------------------


def test_only_people_who_see_the_run_get_its_files(site: Site) -> None:
    w = site.world
    aid, _ = run_with_files(site.ctx, TEAM_ID, [IMAGE], channel_id=w.private)
    link = artifact_permalink(site.ctx, TEAM_ID, aid)
    member = site.sign_in(w.member)
    page = site.get(link, member)
    assert page.status_code == 200
    href = re.search(r'src="([^"]+/files/1\?s=[^"]+)"', page.text)
    assert href is not None
    file_path = urljoin(urlsplit(link).path, href.group(1).replace("&amp;", "&"))
    assert site.get(file_path, member).content == PNG_1X1

    missing = site.get(f"/artifacts/{uuid.uuid4()}")
    colleague = site.sign_in(w.colleague)  # a full member, but not in the private channel
    hidden = site.get(file_path, colleague)
    assert hidden.status_code == 404 and hidden.text == missing.text
    nobody = site.get(file_path)
    assert nobody.status_code == 302 and nobody.headers["location"].startswith("/signin?next=")
