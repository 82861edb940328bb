"""Sign in with Slack and the visibility rule on the web viewer (DESIGN §10), over real HTTP
against the fake Slack: the flow (signin → authorize → callback → cookie → page), who sees
which run, and every way a sign-in or a session can be refused."""

from __future__ import annotations

import html
import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import text
from starlette.requests import Request

from bot.web import oidc, texts
from bot.web.access import is_loopback, loopback_refusal
from bot.web.server import build_app
from bot.web.sessions import COOKIE_NAME, SIGNIN_COOKIE, WebSession, seal_session
from core.artifacts import editing
from core.context import AppContext
from core.links import artifact_permalink, compare_url
from core.settings import Settings
from tests.fakes.slack import CLIENT_ID, GENERAL, TEAM_ID
from tests.support.http_server import serve
from tests.support.signin import PUBLIC_URL, Site, cookie_of, run_in, set_cookie
from tests.support.viewer_data import branch, content, local, make_artifact

# ---- the flow ---------------------------------------------------------------------------------


def test_signing_in_opens_the_page_asked_for_with_a_sealed_cookie(site: Site) -> None:
    aid, _ = run_in(site, site.world.private)
    link = artifact_permalink(site.ctx, TEAM_ID, aid)
    first = site.get(link)
    assert first.status_code == 302
    here = urlsplit(link)
    assert first.headers["location"] == "/signin?next=" + httpx.QueryParams({"n": f"{here.path}?{here.query}"})[
        "n"
    ].replace("/", "%2F").replace("?", "%3F").replace("=", "%3D")
    start = httpx.get(site.url + first.headers["location"])
    bound = set_cookie(start, SIGNIN_COOKIE) or ""
    attributes = {a.strip().split("=")[0].lower() for a in bound.split(";")[1:]}
    assert attributes == {"max-age", "path", "httponly", "secure", "samesite"}, bound
    assert "Max-Age=600" in bound and "Path=/signin;" in bound and "SameSite=Lax" in bound
    site.browser = cookie_of(start, SIGNIN_COOKIE)
    assert q_state(start) not in bound  # a keyed hash of the state, not the state
    authorize = urlsplit(start.headers["location"])
    assert f"{authorize.scheme}://{authorize.netloc}" == site.fake.base
    assert authorize.path == "/openid/connect/authorize"
    q = {k: v[0] for k, v in parse_qs(authorize.query).items()}
    assert q["response_type"] == "code" and q["scope"] == "openid" and q["client_id"] == CLIENT_ID
    assert q["redirect_uri"] == PUBLIC_URL + "/signin/callback" and q["team"] == TEAM_ID
    assert q["code_challenge_method"] == "S256" and len(q["code_challenge"]) == 43
    assert q["state"] and q["nonce"] and q["state"] != q["nonce"]
    consent = httpx.get(start.headers["location"])
    done = site.callback(consent.headers["location"])
    assert done.status_code == 302 and done.headers["location"] == f"{here.path}?{here.query}"
    raw = set_cookie(done) or ""
    attributes = {a.strip().split("=")[0].lower() for a in raw.split(";")[1:]}
    assert attributes == {"max-age", "path", "httponly", "secure", "samesite"}, raw
    assert "Max-Age=28800" in raw and "Path=/" in raw and "SameSite=Lax" in raw
    assert (set_cookie(done, SIGNIN_COOKIE) or "").startswith(f"{SIGNIN_COOKIE}=; Max-Age=0; Path=/signin")
    assert site.fake.last("openid.connect.token").ok
    page = site.get(link, cookie_of(done))
    assert page.status_code == 200 and "the output" in page.text
    assert "Signed in as U0ANNA" in page.text and 'href="/signout"' in page.text
    assert "script-src 'none'" in page.headers["content-security-policy"]


def test_signing_out_clears_the_cookie(site: Site) -> None:
    r = httpx.get(site.url + "/signout")
    assert r.status_code == 200 and texts.SIGNED_OUT_TITLE in r.text
    raw = set_cookie(r) or ""
    assert raw.startswith(f"{COOKIE_NAME}=;") and "Max-Age=0" in raw


# ---- who sees what ------------------------------------------------------------------------------


def test_each_person_opens_only_the_runs_of_conversations_they_can_see(site: Site) -> None:
    w = site.world
    runs = {
        name: run_in(site, channel)[0]
        for name, channel in [
            ("public", w.public),
            ("guests", w.guest_channel),
            ("private", w.private),
            ("dm", w.dm),
            ("shared", w.shared),
        ]
    }
    missing = site.get(f"/artifacts/{runs['public']}?s=AAAAAAAAAAAAAAAAAAAAAAAA")
    assert missing.status_code == 404
    expected = {
        w.member: {"public", "guests", "private", "dm", "shared"},
        w.colleague: {"public", "guests", "shared"},
        w.guest: {"guests"},
        w.outsider: {"shared"},
    }
    for person, sees in expected.items():
        cookie = site.sign_in(person)
        for name, aid in runs.items():
            page = site.get(artifact_permalink(site.ctx, TEAM_ID, aid), cookie)
            if name in sees:
                assert page.status_code == 200, (person, name)
            else:
                assert page.status_code == 404, (person, name, page.status_code)
                assert page.text == missing.text  # the same page as a missing run: nothing of it
            as_json = site.get(artifact_permalink(site.ctx, TEAM_ID, aid, ".json"), cookie)
            assert as_json.status_code == (200 if name in sees else 404), (person, name)


def test_someone_just_invited_sees_the_run_at_once(site: Site) -> None:
    aid, _ = run_in(site, site.world.private)
    public, _ = run_in(site, site.world.public)
    cookie = site.sign_in(site.world.colleague)
    assert site.get(artifact_permalink(site.ctx, TEAM_ID, public), cookie).status_code == 200  # cached: not in it
    site.fake.set_members(site.world.private, {site.world.member, site.world.colleague})
    try:
        assert site.get(artifact_permalink(site.ctx, TEAM_ID, aid), cookie).status_code == 200  # asked afresh
    finally:
        site.fake.set_members(site.world.private, {site.world.member})


def test_json_and_markdown_without_a_session_answer_401_naming_signin(site: Site) -> None:
    aid, _ = run_in(site, site.world.public)
    j = site.get(artifact_permalink(site.ctx, TEAM_ID, aid, ".json"))
    assert j.status_code == 401 and j.json()["error"] == "signin_required"
    assert j.json()["signin"].startswith("/signin?next=%2Fartifacts%2F")
    md = site.get(artifact_permalink(site.ctx, TEAM_ID, aid, ".md"))
    assert md.status_code == 401 and "/signin?next=" in md.text and "the output" not in md.text


def test_an_expired_or_forged_cookie_is_not_signed_in(site: Site) -> None:
    aid, _ = run_in(site, site.world.public)
    link = artifact_permalink(site.ctx, TEAM_ID, aid)
    old = seal_session(site.ctx.keys, WebSession(TEAM_ID, site.world.member, int(time.time()) - 9 * 3600))
    fresh = seal_session(site.ctx.keys, WebSession(TEAM_ID, site.world.member, int(time.time())))
    other_key = seal_session(
        ["x3O1bQ3QZt9mH3JtC5I2Qq8t1nVJ8v7rX9Zk3m3Yk7E="], WebSession(TEAM_ID, site.world.member, int(time.time()))
    )
    assert site.get(link, fresh).status_code == 200
    for cookie in (old, other_key, fresh[:-4] + "AAAA", "not-a-cookie"):
        r = site.get(link, cookie)
        assert r.status_code == 302 and r.headers["location"].startswith("/signin?next="), cookie


def test_public_links_open_public_channel_runs_without_signing_in_and_nothing_else(site: Site) -> None:
    public, _ = run_in(site, site.world.public)
    private, _ = run_in(site, site.world.private)
    nowhere, _ = run_in(site, None)
    assert site.get(artifact_permalink(site.ctx, TEAM_ID, public)).status_code == 302  # off by default
    with site.ctx.engine.begin() as conn:
        conn.execute(text("UPDATE workspaces SET public_links = true WHERE team_id = :t"), {"t": TEAM_ID})
    page = site.get(artifact_permalink(site.ctx, TEAM_ID, public))
    assert page.status_code == 200 and texts.NOT_SIGNED_IN in page.text
    assert site.get(artifact_permalink(site.ctx, TEAM_ID, private)).status_code == 302
    assert site.get(artifact_permalink(site.ctx, TEAM_ID, nowhere)).status_code == 302
    # a guest signed in sees the public run by its link too, but not the private one
    cookie = site.sign_in(site.world.guest)
    assert site.get(artifact_permalink(site.ctx, TEAM_ID, public), cookie).status_code == 200
    assert site.get(artifact_permalink(site.ctx, TEAM_ID, private), cookie).status_code == 404


def test_compare_picker_and_branches_list_only_runs_the_person_may_see(site: Site) -> None:
    w = site.world
    left, pipeline = run_in(site, w.public, name="Shared digest")
    other_public, _ = run_in(site, w.public, pipeline_id=pipeline)
    hidden, _ = run_in(site, w.private, pipeline_id=pipeline)
    hidden_branch, _ = run_in(site, w.private, pipeline_id=pipeline)
    branch(site.ctx, TEAM_ID, hidden_branch, left, version=1, step=2)
    link = compare_url(site.ctx, TEAM_ID, left, other_public)
    colleague = site.sign_in(w.colleague)
    page = site.get(link, colleague)
    assert page.status_code == 200
    assert hidden not in page.text and hidden_branch not in page.text
    artifact_page = site.get(artifact_permalink(site.ctx, TEAM_ID, left), colleague)
    assert artifact_page.status_code == 200 and hidden_branch not in artifact_page.text
    # the hidden branch's own page (it has a link of its own) tells the colleague nothing
    assert site.get(compare_url(site.ctx, TEAM_ID, left, hidden), colleague).status_code == 404
    member = site.sign_in(w.member)
    assert hidden in site.get(link, member).text
    assert hidden_branch in site.get(artifact_permalink(site.ctx, TEAM_ID, left), member).text


def test_a_branch_of_a_private_run_does_not_link_its_parent(site: Site) -> None:
    parent, pipeline = run_in(site, site.world.private)
    child, _ = run_in(site, site.world.public, pipeline_id=pipeline)
    branch(site.ctx, TEAM_ID, child, parent, version=1, step=2)
    page = site.get(artifact_permalink(site.ctx, TEAM_ID, child), site.sign_in(site.world.colleague))
    assert page.status_code == 200 and parent not in page.text and "A run you cannot open" in page.text


def test_the_editor_needs_the_link_person_signed_in_and_still_seeing_the_run(site: Site) -> None:
    aid, _ = run_in(site, site.world.private)
    edit = editing.new_link(site.ctx, TEAM_ID, aid, site.world.colleague, 1)
    assert site.get(edit).status_code == 302  # not signed in
    assert site.get(edit, site.sign_in(site.world.member)).status_code == 404  # someone else's link
    assert site.get(edit, site.sign_in(site.world.colleague)).status_code == 404  # cannot see the run
    mine = editing.new_link(site.ctx, TEAM_ID, aid, site.world.member, 1)
    assert site.get(mine, site.sign_in(site.world.member)).status_code == 200


# ---- refusals of the sign-in itself ----------------------------------------------------------


def q_state(response: httpx.Response) -> str:
    return parse_qs(urlsplit(response.headers["location"]).query)["state"][0]


def test_a_callback_in_another_browser_signs_nobody_in(site: Site) -> None:
    """Login CSRF: a callback URL of someone's sign-in, opened in a browser that did not start
    it (no cookie, or the cookie of another sign-in), is refused and spends the state."""
    back = site.authorize(site.world.member)
    r = site.callback(back, browser=None)
    assert r.status_code == 400 and texts.STATE_GONE in r.text and set_cookie(r) is None
    assert site.callback(back).status_code == 400  # spent: even the right browser cannot finish it
    mine = site.authorize(site.world.member)
    mine_cookie = site.browser
    theirs = site.authorize(site.world.colleague)  # another sign-in (another browser's cookie)
    r = site.callback(theirs, browser=mine_cookie)
    assert r.status_code == 400 and texts.STATE_GONE in r.text and set_cookie(r) is None
    forged = site.callback(mine, browser="A" * 43)
    assert forged.status_code == 400 and set_cookie(forged) is None


def test_a_replayed_or_forged_state_is_refused_clearly(site: Site) -> None:
    back = site.authorize(site.world.member)
    assert site.callback(back).status_code == 302
    replay = site.callback(back)
    assert replay.status_code == 400 and texts.STATE_GONE in replay.text and set_cookie(replay) is None
    forged = httpx.get(site.url + "/signin/callback", params={"code": "1.abc", "state": "made-up"})
    assert forged.status_code == 400 and texts.STATE_GONE in forged.text


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"nonce": "another-sign-in"}, "it belongs to another sign-in"),
        ({"aud": "9999.0000"}, "it was issued for another app"),
        ({"iss": "https://evil.example"}, "it was not issued by Slack"),
        ({"exp": 1_000_000_000}, "it has expired"),
    ],
    ids=["nonce", "aud", "iss", "exp"],
)
def test_an_id_token_that_fails_a_check_signs_nobody_in(site: Site, claims: dict, reason: str) -> None:
    back = site.authorize(site.world.member)
    site.fake.id_token_overrides.update(claims)
    r = site.callback(back)
    assert r.status_code == 400 and html.escape(texts.TOKEN_UNTRUSTED.format(reason=reason)) in r.text
    assert set_cookie(r) is None


def test_a_workspace_this_pipebot_does_not_serve_is_refused(site: Site) -> None:
    if "T0STRANGER" not in site.fake.teams:
        site.fake.add_team("T0STRANGER", "Strangers")
    site.fake.add_user("U0STRANGER", "stranger", team_id="T0STRANGER")
    r = site.callback(site.authorize("U0STRANGER"))
    assert r.status_code == 403 and "does not serve your Slack workspace (T0STRANGER)" in r.text
    assert set_cookie(r) is None


def test_cancelling_at_slack_says_so(site: Site) -> None:
    site.fake.refuse_consent()
    back = httpx.get(site.start().headers["location"]).headers["location"]
    assert "error=access_denied" in back
    r = site.callback(back)
    assert r.status_code == 400 and texts.CANCELLED_TITLE in r.text and "Traceback" not in r.text


@pytest.mark.parametrize(
    ("error", "status", "said"),
    [("invalid_code", 400, "Slack said `invalid_code`"), ("bad_redirect_uri", 502, "redirect URL")],
    ids=["invalid_code", "bad_redirect_uri"],
)
def test_slack_refusing_the_code_is_a_clear_page(site: Site, error: str, status: int, said: str) -> None:
    back = site.authorize(site.world.member)
    site.fake.fail_next("openid.connect.token", error)
    r = site.callback(back)
    assert r.status_code == status and said in r.text and set_cookie(r) is None


def test_slack_out_of_reach_is_a_clear_page(site: Site) -> None:
    back = site.authorize(site.world.member)
    site.fake.fail_next("openid.connect.token", status=503)
    r = site.callback(back)
    assert r.status_code == 502 and html.escape(texts.SLACK_UNREACHABLE) in r.text


def test_next_stays_on_this_site() -> None:
    for good in ("/artifacts/abc?s=x&v=2", "/artifacts/a/compare/b?s=y"):
        assert oidc.safe_next(good) == good
    for bad in (
        None,
        "",
        "https://evil.example/",
        "//evil.example/artifacts/",
        "/\\evil",
        "/healthz",
        "/artifacts/../x",
    ):
        assert oidc.safe_next(bad) == "/", bad


def test_the_authorize_url_follows_slack_api_url_and_encodes_every_value() -> None:
    assert oidc.authorize_endpoint("https://slack.com/api/") == "https://slack.com/openid/connect/authorize"
    assert oidc.authorize_endpoint("http://127.0.0.1:9/api/") == "http://127.0.0.1:9/openid/connect/authorize"
    url = oidc.authorize_url(
        "https://slack.com/openid/connect/authorize",
        client_id="1.2",
        redirect_uri="https://h.example/signin/callback?a=1&b=2",
        state="s",
        nonce="n",
        verifier="v" * 64,
        team=None,
    )
    assert "redirect_uri=https%3A%2F%2Fh.example%2Fsignin%2Fcallback%3Fa%3D1%26b%3D2" in url and "team=" not in url


# ---- loopback mode ------------------------------------------------------------------------------


def _request(host: str) -> Request:
    return Request({"type": "http", "method": "GET", "path": "/artifacts/x", "headers": [], "client": (host, 5555)})


def test_without_sign_in_pages_are_served_to_this_computer_only(ctx: AppContext, signin_settings: Settings) -> None:
    laptop = ctx.settings  # http://pipebot.test: Slack would refuse the redirect URL
    assert not laptop.slack_signin_enabled
    refused = loopback_refusal(laptop, _request("10.0.0.5"))
    assert refused is not None and refused.status_code == 403
    body = bytes(refused.body).decode()
    assert texts.LOOPBACK_REFUSED_TITLE in body and "PIPEBOT_PUBLIC_URL" in body and "SLACK_CLIENT_ID" in body
    for here in ("127.0.0.1", "127.8.0.1", "::1", "::ffff:127.0.0.1"):
        assert loopback_refusal(laptop, _request(here)) is None, here
    assert loopback_refusal(signin_settings, _request("10.0.0.5")) is None
    assert not is_loopback("localhost") and not is_loopback(None)


def test_a_loopback_page_says_it_is_served_to_this_computer_only(ctx: AppContext) -> None:
    aid, _ = make_artifact(ctx, TEAM_ID, content(["x", "the output"]), channel_id=GENERAL)
    with serve(build_app(ctx)) as url:
        page = httpx.get(local(artifact_permalink(ctx, TEAM_ID, aid), url))
        assert page.status_code == 200 and texts.LOOPBACK_ONLY in page.text
        signin = httpx.get(url + "/signin", params={"next": "/artifacts/x"})
        assert signin.status_code == 404 and texts.SIGNIN_OFF_TITLE in signin.text


def test_slack_unable_to_say_who_sees_what_is_a_clear_page_showing_nothing(site: Site) -> None:
    aid, _ = run_in(site, site.world.private)
    cookie = site.sign_in(site.world.member)
    site.fake.fail_next("users.conversations", "missing_scope")
    page = site.get(artifact_permalink(site.ctx, TEAM_ID, aid), cookie)
    assert page.status_code == 503 and "the output" not in page.text
    assert "Slack said `missing_scope`" in page.text and "groups:read" in page.text
