"""*Delete* on the artifact page (DESIGN §10 "Taking back"), over real HTTP against the fake
Slack with sign-in on: who gets the button, the confirm step, the delete and its tombstone and
audit event, and every refusal (a colleague, a forged or stale form, someone who cannot see the
run, loopback mode, an oversized body, Slack unable to say who is an admin)."""

from __future__ import annotations

import html
import re
import time
import uuid

import httpx
import pytest
from sqlalchemy import text

from bot.web import texts
from bot.web.delete_routes import MAX_DELETE_FORM_BYTES
from bot.web.deleting import DeleteCheckFailed, delete_token, offer, right_of
from bot.web.server import build_app
from bot.web.sessions import WebSession, open_session
from core.artifacts.deletion import delete_result
from core.context import AppContext
from core.links import artifact_permalink
from core.messages import ALREADY_DELETED, DELETE_CONFIRM, DELETE_REFUSED
from tests.fakes.slack import ADMIN_ID, TEAM_ID
from tests.support.http_server import serve
from tests.support.signin import Site, run_in
from tests.support.viewer_data import content, local, make_artifact

_FORM = re.compile(
    r'<form class="actions" method="post" action="([^"]+)">\s*<input type="hidden" name="csrf" value="([^"]+)">'
)


def delete_form(page: httpx.Response) -> tuple[str, str] | None:
    """The page's Delete form: (action, csrf token), or None when it has none."""
    found = _FORM.search(page.text)
    return (html.unescape(found.group(1)), html.unescape(found.group(2))) if found else None


def delete_url(site: Site, aid: str) -> str:
    """The POST URL the artifact page's form resolves to (its action is relative to the page)."""
    link = local(artifact_permalink(site.ctx, TEAM_ID, aid), site.url)
    return link.replace(f"/artifacts/{aid}?", f"/artifacts/{aid}/delete?")


def post(site: Site, aid: str, cookie: str | None, **form: str) -> httpx.Response:
    headers = {"Cookie": f"pipebot_session={cookie}"} if cookie else {}
    return httpx.post(delete_url(site, aid), data=form, headers=headers)


def deleted_by(site: Site, aid: str) -> str | None:
    with site.ctx.engine.connect() as conn:
        return conn.execute(text("SELECT deleted_by FROM artifacts WHERE id = :a"), {"a": uuid.UUID(aid)}).scalar()


def token_for(site: Site, cookie: str, aid: str) -> str:
    """A valid form token of this session for ``aid``: what a forger with the page's form has."""
    session = open_session(site.ctx.keys, cookie)
    assert session is not None
    return delete_token(site.ctx.keys, session, TEAM_ID, aid)


def test_the_requester_deletes_from_the_page_after_confirming(site: Site) -> None:
    w = site.world
    aid, _ = run_in(site, w.private, by=w.member)
    cookie = site.sign_in(w.member)
    link = artifact_permalink(site.ctx, TEAM_ID, aid)
    page = site.get(link, cookie)
    assert page.status_code == 200 and "the output" in page.text
    form = delete_form(page)
    assert form is not None and texts.DELETE_BUTTON in page.text
    action, csrf = form
    assert action.startswith(f"{aid}/delete?s=")  # relative to /artifacts/{id}
    assert "form-action 'self'" in page.headers["content-security-policy"]
    assert "script-src 'none'" in page.headers["content-security-policy"]

    confirm = post(site, aid, cookie, csrf=csrf)
    assert confirm.status_code == 200 and html.escape(DELETE_CONFIRM) in confirm.text
    assert 'name="confirm" value="yes"' in confirm.text and texts.DELETE_CONFIRM_BUTTON in confirm.text
    assert deleted_by(site, aid) is None  # nothing yet: the first POST only asks

    done = post(site, aid, cookie, csrf=csrf, confirm="yes")
    assert done.status_code == 303 and done.headers["location"] == link
    assert deleted_by(site, aid) == w.member
    after = site.get(link, cookie)
    assert after.status_code == 200 and "This run's result was deleted" in after.text
    assert "the output" not in after.text and delete_form(after) is None
    with site.ctx.engine.connect() as conn:
        events = conn.execute(
            text("SELECT actor, action, detail FROM audit_events WHERE team_id = :t"), {"t": TEAM_ID}
        ).all()
    assert [(e.actor, e.action, e.detail["artifact_id"]) for e in events] == [(w.member, "run_deleted", aid)]

    again = post(site, aid, cookie, csrf=csrf, confirm="yes")  # a second tab: said, nothing changes
    assert again.status_code == 200 and ALREADY_DELETED in again.text


def test_an_admin_who_did_not_start_the_run_deletes_it(site: Site) -> None:
    aid, _ = run_in(site, site.world.public, by=site.world.member)
    cookie = site.sign_in(ADMIN_ID)
    form = delete_form(site.get(artifact_permalink(site.ctx, TEAM_ID, aid), cookie))
    assert form is not None
    done = post(site, aid, cookie, csrf=form[1], confirm="yes")
    assert done.status_code == 303 and deleted_by(site, aid) == ADMIN_ID


def test_a_colleague_who_sees_the_run_gets_no_button_and_a_forged_post_is_refused(site: Site) -> None:
    aid, _ = run_in(site, site.world.public, by=site.world.member)
    cookie = site.sign_in(site.world.colleague)
    page = site.get(artifact_permalink(site.ctx, TEAM_ID, aid), cookie)
    assert page.status_code == 200 and delete_form(page) is None and texts.DELETE_BUTTON not in page.text
    assert "form-action 'none'" in page.headers["content-security-policy"]
    forged = post(site, aid, cookie, csrf=token_for(site, cookie, aid), confirm="yes")
    assert forged.status_code == 403 and html.escape(DELETE_REFUSED) in forged.text
    assert deleted_by(site, aid) is None


def test_a_missing_wrong_or_stale_form_token_is_refused(site: Site) -> None:
    w = site.world
    aid, pipeline = run_in(site, w.public, by=w.member)
    other, _ = run_in(site, w.public, by=w.member, pipeline_id=pipeline)
    cookie = site.sign_in(w.member)
    session = open_session(site.ctx.keys, cookie)
    assert session is not None
    older = WebSession(session.team_id, session.user_id, session.issued_at - 600, session.name)
    hostile = "<script>alert(1)</script>"
    for csrf in (
        "",
        hostile,
        token_for(site, cookie, other),  # another run's form
        delete_token(site.ctx.keys, older, TEAM_ID, aid),  # an earlier sign-in's form
    ):
        r = post(site, aid, cookie, csrf=csrf, confirm="yes")
        assert r.status_code == 403 and texts.DELETE_FORM_STALE_TITLE in r.text, csrf
        assert hostile not in r.text and "alert(1)" not in r.text
    assert deleted_by(site, aid) is None


def test_someone_who_cannot_see_the_run_gets_the_404(site: Site) -> None:
    aid, _ = run_in(site, site.world.private, by=site.world.member)
    missing = site.get(f"/artifacts/{aid}?s=AAAAAAAAAAAAAAAAAAAAAAAA")
    cookie = site.sign_in(site.world.colleague)
    assert site.get(artifact_permalink(site.ctx, TEAM_ID, aid), cookie).status_code == 404
    r = post(site, aid, cookie, csrf=token_for(site, cookie, aid), confirm="yes")
    assert r.status_code == 404 and r.text == missing.text
    assert deleted_by(site, aid) is None
    bad_link = httpx.post(site.url + f"/artifacts/{aid}/delete?s=AAAA", data={"csrf": "x"})
    assert bad_link.status_code == 404


def test_nobody_signed_in_is_sent_to_sign_in_and_nothing_is_deleted(site: Site) -> None:
    aid, _ = run_in(site, site.world.public, by=site.world.member)
    r = post(site, aid, None, csrf="x", confirm="yes")
    assert r.status_code == 303 and r.headers["location"].startswith("/signin?next=%2Fartifacts%2F")
    assert deleted_by(site, aid) is None


def test_an_oversized_body_is_refused_before_parsing(site: Site) -> None:
    aid, _ = run_in(site, site.world.public, by=site.world.member)
    cookie = site.sign_in(site.world.member)
    r = post(site, aid, cookie, csrf=token_for(site, cookie, aid), confirm="yes", pad="x" * MAX_DELETE_FORM_BYTES)
    assert r.status_code == 413 and texts.DELETE_TOO_LARGE_TITLE in r.text and "xxxx" not in r.text
    assert deleted_by(site, aid) is None


def test_slack_unable_to_say_who_is_an_admin_means_no_button_and_no_delete(site: Site) -> None:
    """The web's admin check (bot/web/deleting.py) with users.info failing: the page would offer
    nothing and a POST is refused with a page saying why (bot/web/delete_routes.py)."""
    aid, _ = run_in(site, site.world.public, by=site.world.member)
    session = WebSession(TEAM_ID, site.world.colleague, int(time.time()))
    site.fake.fail_next("users.info", "fatal_error", times=2)
    with pytest.raises(DeleteCheckFailed, match="fatal_error"):
        right_of(site.ctx, site.world.colleague, TEAM_ID, site.world.member)
    with site.ctx.engine.connect() as conn:
        assert offer(site.ctx, conn, session, TEAM_ID, aid, "sig") is None
    assert right_of(site.ctx, site.world.member, TEAM_ID, site.world.member).allowed  # the requester: no Slack call
    assert deleted_by(site, aid) is None


def test_without_sign_in_there_is_no_button_and_the_post_says_delete_it_from_slack(ctx: AppContext) -> None:
    aid, _ = make_artifact(ctx, TEAM_ID, content(["x", "the output"]), requested_by="U1")
    with serve(build_app(ctx)) as url:
        link = local(artifact_permalink(ctx, TEAM_ID, aid), url)
        page = httpx.get(link)
        assert page.status_code == 200 and delete_form(page) is None and texts.DELETE_BUTTON not in page.text
        r = httpx.post(link.replace(f"/artifacts/{aid}?", f"/artifacts/{aid}/delete?"), data={"confirm": "yes"})
        assert r.status_code == 403 and "Delete it from Slack: View → Delete" in r.text
    assert delete_result(ctx, TEAM_ID, aid, "U1", admin=False) is not None  # still there to delete
