"""Signing in to the web viewer in tests: a :class:`Site` (pipebot's web server with sign-in on,
against the fake Slack) that walks the flow as a browser does, carrying the sign-in cookie from
``/signin`` to ``/signin/callback``. A plugin (tests/conftest.py): the fixtures
``signin_settings`` and ``site`` (one server per module) are there for every test module."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import httpx
import pytest

from bot.web.server import build_app
from bot.web.sessions import COOKIE_NAME, SIGNIN_COOKIE
from core.context import AppContext
from core.settings import Settings
from tests.fakes.slack import CLIENT_ID, CLIENT_SECRET, TEAM_ID, FakeSlack
from tests.support.http_server import serve
from tests.support.people import TrustWorld, trust_world
from tests.support.slack_app import slack_settings
from tests.support.viewer_data import content, local, make_artifact

PUBLIC_URL = "https://pipebot.test"


@dataclasses.dataclass
class Site:
    url: str
    ctx: AppContext
    fake: FakeSlack
    world: TrustWorld
    browser: str | None = None  # the sign-in cookie /signin left in "this browser"

    def get(self, link: str, cookie: str | None = None) -> httpx.Response:
        headers = {"Cookie": f"{COOKIE_NAME}={cookie}"} if cookie else {}
        return httpx.get(local(link, self.url) if link.startswith("http") else self.url + link, headers=headers)

    def start(self, next_path: str = "/artifacts/x") -> httpx.Response:
        r = httpx.get(self.url + "/signin", params={"next": next_path})
        assert r.status_code == 302, r.text
        self.browser = cookie_of(r, SIGNIN_COOKIE)
        return r

    def authorize(self, user: str, next_path: str = "/artifacts/x") -> str:
        """Sign-in up to Slack's redirect back: the callback URL (on the public URL)."""
        self.fake.sign_in_as(user)
        consent = httpx.get(self.start(next_path).headers["location"])
        assert consent.status_code == 302, consent.text
        return consent.headers["location"]

    def callback(self, url: str, browser: str | None = "this") -> httpx.Response:
        """Slack's redirect back, followed in the browser that started the sign-in (as a browser
        sends the cookie /signin set), or with ``browser`` (None: no cookie at all)."""
        cookie = self.browser if browser == "this" else browser
        headers = {"Cookie": f"{SIGNIN_COOKIE}={cookie}"} if cookie else {}
        return httpx.get(local(url, self.url), headers=headers)

    def sign_in(self, user: str) -> str:
        done = self.callback(self.authorize(user))
        assert done.status_code == 302, done.text
        return cookie_of(done)


def set_cookie(response: httpx.Response, name: str = COOKIE_NAME) -> str | None:
    """The ``Set-Cookie`` header of cookie ``name`` in ``response``, if any."""
    found = [raw for raw in response.headers.get_list("set-cookie") if raw.startswith(name + "=")]
    assert len(found) <= 1, found
    return found[0] if found else None


def cookie_of(response: httpx.Response, name: str = COOKIE_NAME) -> str:
    raw = set_cookie(response, name)
    assert raw is not None, response.headers
    return raw.split(";")[0].split("=", 1)[1]


@pytest.fixture(scope="module")
def signin_settings(_session_ctx: AppContext, fake_slack: FakeSlack) -> Settings:
    return slack_settings(
        _session_ctx.settings,
        fake_slack,
        PIPEBOT_PUBLIC_URL=PUBLIC_URL,
        SLACK_CLIENT_ID=CLIENT_ID,
        SLACK_CLIENT_SECRET=CLIENT_SECRET,
    )


@pytest.fixture(scope="module")
def _server(
    _session_ctx: AppContext, fake_slack: FakeSlack, signin_settings: Settings
) -> Iterator[tuple[str, AppContext]]:
    sctx = dataclasses.replace(_session_ctx, settings=signin_settings)
    with serve(build_app(sctx)) as url:
        yield url, sctx


@pytest.fixture
def site(ctx: AppContext, fake_slack: FakeSlack, _server: tuple[str, AppContext]) -> Iterator[Site]:
    fake_slack.id_token_overrides.clear()
    fake_slack.sign_in_as("U0ANNA")
    yield Site(_server[0], _server[1], fake_slack, trust_world(fake_slack))
    fake_slack.id_token_overrides.clear()


def run_in(
    site: Site, channel: str | None, *, pipeline_id: int | None = None, name: str = "Digest", by: str = "U1"
) -> tuple[str, int]:
    """A run of ``by`` in ``channel``, its output "the output": (artifact id, pipeline id)."""
    body = content(["first", "the output"])
    body["pipeline"]["name"] = name
    return make_artifact(site.ctx, TEAM_ID, body, pipeline_id=pipeline_id, channel_id=channel, requested_by=by)
