"""The web editor over real HTTP: a plain form that saves version N+1 once, and every refusal
says why without losing the person's text."""

from __future__ import annotations

import re
import time
from urllib.parse import urlsplit

import httpx
import pytest

from core.artifacts import editing, messages
from core.links import version_permalink
from storage.db import transaction
from storage.repos import artifact_versions as versions
from tests.support.viewer_data import HOSTILE, content, local, make_artifact, save_version, site


@pytest.fixture
def web(ctx):
    with site(ctx) as url:
        yield url


def _editor_url(ctx, web, aid, *, team="T1", user="U1", base=1, now=None):
    return local(editing.new_link(ctx, team, aid, user, base, now=now), web)


def _form(html: str) -> dict[str, str]:
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', html))
    fields["action"] = re.search(r'<form method="post" action="([^"]*)">', html).group(1).replace("&amp;", "&")
    return fields


def _post(url: str, form: dict[str, str], **data: str) -> httpx.Response:
    target = urlsplit(url)
    action = f"{target.scheme}://{target.netloc}{target.path}{form['action']}"
    body = {k: form[k] for k in ("csrf", "target", "base") if k in form}
    body.update(data)
    return httpx.post(action, data=body)


def _output(ctx, team, aid, number):
    with transaction(ctx.sessions) as s:
        return versions.get_version(s, team, aid, number).content["output"]


def test_save_makes_version_two_and_redirects_to_it_and_a_replay_is_refused(ctx, web):
    long_text = "A long edited line. " * 2000 + HOSTILE  # far past Slack's 3,000-character input
    aid, _ = make_artifact(ctx, "T1", content(["draft", "the original " + HOSTILE]))
    url = _editor_url(ctx, web, aid)
    page = httpx.get(url)
    assert page.status_code == 200
    assert page.headers["cache-control"] == "private, no-store" and page.headers["referrer-policy"] == "no-referrer"
    assert "script-src 'none'" in page.headers["content-security-policy"]
    assert "<script>" not in page.text and "the original &lt;script&gt;" in page.text
    assert "maxlength" not in page.text.split("<textarea")[1].split(">")[0]  # no cut of the text
    form = _form(page.text)
    assert form["base"] == "1" and form["target"] == "output" and form["csrf"]
    r = _post(url, form, text=long_text, note="shortened")
    assert r.status_code == 303
    assert r.headers["location"] == version_permalink(ctx, "T1", aid, 2)
    assert _output(ctx, "T1", aid, 2) == long_text and _output(ctx, "T1", aid, 1).startswith("the original")
    shown = httpx.get(local(r.headers["location"], web)).text
    assert "Version 2 (latest)" in shown and "Note: shortened" in shown
    again = _post(url, form, text="a second save")
    assert again.status_code == 410 and messages.EDIT_LINK_REUSED.replace("'", "&#x27;") in again.text
    assert "a second save" not in again.text  # a refusal never shows the posted text back
    reopened = httpx.get(url)
    assert reopened.status_code == 410 and "used already" in reopened.text


def test_a_steps_output_is_edited_from_its_own_form(ctx, web):
    aid, _ = make_artifact(ctx, "T1", content(["step one text", "final text"]))
    url = _editor_url(ctx, web, aid)
    page = httpx.get(url).text
    step_href = re.search(r'<a class="btn" href="([^"]+)">Step 1 output</a>', page).group(1).replace("&amp;", "&")
    step_page = httpx.get(url.split("?")[0] + step_href)
    assert step_page.status_code == 200 and "step one text" in step_page.text
    form = _form(step_page.text)
    assert form["target"] == "step:1"
    assert _post(url, form, text="step one, edited").status_code == 303
    with transaction(ctx.sessions) as s:
        v2 = versions.get_version(s, "T1", aid, 2)
    assert v2.content["steps"][0]["output"] == "step one, edited" and v2.edited == "step:1"
    assert v2.content["output"] == "final text"


def test_expired_tampered_and_csrf_refused(ctx, web):
    aid, _ = make_artifact(ctx, "T1", content(["the output"]))
    expired = _editor_url(ctx, web, aid, now=time.time() - 3600)
    r = httpx.get(expired)
    assert r.status_code == 410 and "has expired" in r.text and "<form" not in r.text
    url = _editor_url(ctx, web, aid)
    tampered = url[:-3] + ("AAA" if not url.endswith("AAA") else "BBB")
    r = httpx.get(tampered)
    assert r.status_code == 403 and "not valid" in r.text and "the output" not in r.text
    form = _form(httpx.get(url).text)
    for csrf in ("", "x" * 24, None):
        bad = dict(form)
        if csrf is None:
            bad.pop("csrf")
        else:
            bad["csrf"] = csrf
        r = _post(url, bad, text="forged edit")
        assert r.status_code == 403 and "did not come from this edit link" in r.text
        assert "forged edit" not in r.text
    assert _post(url, form, text="genuine edit").status_code == 303  # the refusals left the link unspent


def test_empty_and_unchanged_edits_come_back_with_the_form(ctx, web):
    aid, _ = make_artifact(ctx, "T1", content(["same text"]))
    url = _editor_url(ctx, web, aid)
    form = _form(httpx.get(url).text)
    r = _post(url, form, text="   \n ", note="my note")
    assert r.status_code == 400 and "The edit is empty" in r.text and 'value="my note"' in r.text
    r = _post(url, form, text="same text\r\n".rstrip())
    assert r.status_code == 400 and "Nothing changed" in r.text and "<form" in r.text


def test_conflict_keeps_the_persons_text(ctx, web):
    aid, _ = make_artifact(ctx, "T1", content(["base text"]))
    url = _editor_url(ctx, web, aid)
    form = _form(httpx.get(url).text)
    save_version(ctx, "T1", aid, 1, content(["someone else's text"]))
    mine = "my careful rewrite " + HOSTILE
    r = _post(url, form, text=mine)
    assert r.status_code == 409
    assert "Someone saved version 2 meanwhile" in r.text
    assert "my careful rewrite &lt;script&gt;" in r.text and "<script>" not in r.text
    assert version_permalink(ctx, "T1", aid, 2).replace("&", "&amp;") in r.text
    assert "Save as version" not in r.text  # this link can only conflict again
    with transaction(ctx.sessions) as s:
        assert versions.latest_version(s, "T1", aid).number == 2


def test_another_workspaces_artifact_is_refused(ctx, web):
    mine, _ = make_artifact(ctx, "T1", content(["mine"]))
    theirs, _ = make_artifact(ctx, "T2", content(["their secret"]))
    url = _editor_url(ctx, web, mine)
    token = url.split("?t=")[1]
    r = httpx.get(f"{web}/artifacts/{theirs}/edit?t={token}")
    assert r.status_code == 403 and "another artifact" in r.text and "their secret" not in r.text
    form = _form(httpx.get(url).text)
    r = httpx.post(
        f"{web}/artifacts/{theirs}/edit?t={token}", data={"csrf": form["csrf"], "target": "output", "text": "overwrite"}
    )
    assert r.status_code == 403
    with transaction(ctx.sessions) as s:
        assert versions.latest_version(s, "T2", theirs).number == 1


def test_editor_and_version_pages_run_no_script_in_chromium(ctx, web):
    from tests.support.browser import browser_session, ensure_chromium

    exe = ensure_chromium()
    assert exe, "Chromium is missing: run scripts/install-chromium.sh as root"
    aid, _ = make_artifact(ctx, "T1", content(["step " + HOSTILE, "final " + HOSTILE]))
    save_version(ctx, "T1", aid, 1, content(["step " + HOSTILE, "final, edited " + HOSTILE]), note=HOSTILE)
    editor = _editor_url(ctx, web, aid, base=2)
    with browser_session(exe) as b:
        for url, shot in ((editor, "editor"), (local(version_permalink(ctx, "T1", aid, 1), web), "version-1")):
            for bypass in (False, True):
                report = b.open(url, bypass_csp=bypass, screenshot=f"/tmp/pipebot-viewer-screenshots/{shot}.png")
                assert report.status == 200
                assert not report.any_script and not report.scripts_ran and not report.dialogs, report
            if shot == "editor":  # the textarea holds the text as text
                value = b.open(url, evaluate="document.querySelector('textarea').value").evaluated
                assert value == "final, edited " + HOSTILE
            else:
                assert HOSTILE.split(">")[0] + ">" in report.text  # shown as text
            width = b.open(url, evaluate="document.documentElement.scrollWidth <= window.innerWidth").evaluated
            assert width is True


MARKER = "zq-refused-marker-7741"


def test_no_refusal_page_shows_the_posted_text(ctx, web):
    """Expired, replayed, forged, from elsewhere, too large: the page says why and never
    contains what was posted (else anyone could make this origin show their text)."""
    aid, _ = make_artifact(ctx, "T1", content(["the output"]))
    posted = f"{MARKER} {HOSTILE}"
    expired = _editor_url(ctx, web, aid, now=time.time() - 3600)
    url = _editor_url(ctx, web, aid)
    form = _form(httpx.get(url).text)
    expired_form = {**form, "action": "?t=" + expired.split("?t=")[1]}
    answers = {
        "expired": _post(expired, expired_form, text=posted),
        "forged csrf": _post(url, {**form, "csrf": "x" * 24}, text=posted),
        "no csrf": httpx.post(url, data={"target": "output", "text": posted}),
        "bad form": httpx.post(url, content=b"\xff\xfe" + posted.encode(), headers={"Content-Type": "text/plain"}),
        "too large": _post(url, form, text=posted + "x" * editing.EDIT_TEXT_MAX_BYTES),
    }
    assert _post(url, form, text="the genuine edit").status_code == 303
    answers["replayed"] = _post(url, form, text=posted)
    for case, r in answers.items():
        assert r.status_code in (403, 410, 413), (case, r.status_code)
        assert MARKER not in r.text and "zq-refused" not in r.text, case
        assert "<script>alert" not in r.text, case


def test_an_edit_past_512_kb_of_utf8_is_refused_naming_the_limit(ctx, web):
    """The cap counts bytes of UTF-8: 262,145 two-byte characters are fewer characters than
    the cap but more bytes, and are refused; the link stays unspent."""
    aid, _ = make_artifact(ctx, "T1", content(["the output"]))
    url = _editor_url(ctx, web, aid)
    form = _form(httpx.get(url).text)
    r = _post(url, form, text=MARKER + "é" * (editing.EDIT_TEXT_MAX_BYTES // 2))
    assert r.status_code == 413
    assert "This edit is too large" in r.text and "at most 512 KB (524,288 bytes of UTF-8)" in r.text
    assert MARKER not in r.text
    assert _post(url, form, text="short again").status_code == 303  # nothing was spent


def test_a_maximal_edit_fits_the_form_even_when_every_byte_is_encoded(ctx, web):
    """512 KB of three-byte characters is 1.5 MiB form-encoded: under the 2 MiB form cap, so
    the largest edit allowed can always be sent."""
    from bot.web.editor_routes import MAX_FORM_BYTES

    assert MAX_FORM_BYTES == 2 * 1024 * 1024
    aid, _ = make_artifact(ctx, "T1", content(["the output"]))
    url = _editor_url(ctx, web, aid)
    form = _form(httpx.get(url).text)
    text = "€" * (editing.EDIT_TEXT_MAX_BYTES // 3) + "ab"
    assert len(text.encode()) == editing.EDIT_TEXT_MAX_BYTES
    r = _post(url, form, text=text, note="é" * 500)
    assert r.status_code == 303, r.text[:300]
    assert _output(ctx, "T1", aid, 2) == text


def test_a_form_over_2_mib_is_refused_before_it_is_read(ctx, web):
    aid, _ = make_artifact(ctx, "T1", content(["the output"]))
    url = _editor_url(ctx, web, aid)
    form = _form(httpx.get(url).text)
    target = urlsplit(url)
    action = f"{target.scheme}://{target.netloc}{target.path}{form['action']}"

    def chunks():
        yield f"csrf={form['csrf']}&target=output&text={MARKER}".encode()
        for _ in range(2 * 1024 * 1024 // 65536 + 1):
            yield b"x" * 65536

    r = httpx.post(action, content=chunks(), headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 413 and "over 2 MiB" in r.text and MARKER not in r.text
    assert _post(url, form, text="a real edit").status_code == 303
