"""A real pipebot web server for Slack tests: uvicorn serving ``bot.web.server.build_app(ctx)``
on 127.0.0.1, with SLACK_SIGNING_SECRET / SLACK_BOT_TOKEN set and SLACK_API_URL pointing
at a :class:`FakeSlack`. Tests send signed requests (tests/support/slack_signing.py) to
``/slack/events`` and read what the app did back from the fake.

Why a real server: signature checks, body parsing, Bolt's ack timing and the thread
hand-off only run for real over HTTP. The server shares the test session's database
engine and Redis (tests/conftest.py), so the ``ctx`` fixture's per-test truncation
applies to it too.

Its fixtures (``fake_slack``, ``slack``, ``slack_overrides``) reach every test module
through ``pytest_plugins`` in tests/conftest.py; a module imports only the helpers it names::

    def test_help(ctx, slack):
        r, hook = slack.command("help")
        assert r.status_code == 200
        assert "agent new" in slack.fake.response_url_posts(hook)[0]["text"]
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bot.web.server import build_app
from core.context import AppContext
from core.settings import Settings, load_settings
from tests.fakes.slack import USER_ID, FakeSlack
from tests.support.http_server import serve
from tests.support.slack_signing import DEFAULT_SIGNING_SECRET, SlackRequests
from tests.support.waiting import wait_until


def slack_settings(base: Settings, fake: FakeSlack, **overrides: Any) -> Settings:
    """The session's settings plus Slack pointed at ``fake``; provider/OAuth vars explicit so a
    developer's environment cannot leak in."""
    values: dict[str, Any] = dict(
        _env_file=None,
        DATABASE_URL=base.DATABASE_URL,
        REDIS_URL=base.REDIS_URL,
        PIPEBOT_SECRET_KEY=base.PIPEBOT_SECRET_KEY,
        PIPEBOT_PUBLIC_URL=base.PIPEBOT_PUBLIC_URL,
        PIPEBOT_QUEUE=base.PIPEBOT_QUEUE,
        SLACK_SIGNING_SECRET=DEFAULT_SIGNING_SECRET,
        SLACK_BOT_TOKEN=fake.token,
        SLACK_API_URL=fake.url,
        SLACK_APP_TOKEN=None,
        SLACK_CLIENT_ID=None,
        SLACK_CLIENT_SECRET=None,
        ANTHROPIC_API_KEY=None,
        OPENAI_API_KEY=None,
        ANTHROPIC_BASE_URL=None,
        OPENAI_BASE_URL=None,
        PIPEBOT_ADMINS="",
    )
    values.update(overrides)
    return load_settings(**values)


@dataclasses.dataclass
class SlackServer:
    """A running pipebot + the fake Slack it talks to + a signer for requests to it."""

    url: str
    ctx: AppContext
    fake: FakeSlack
    signer: SlackRequests
    http: httpx.Client

    def post(self, signed: tuple[bytes, dict[str, str]], path: str = "/slack/events") -> httpx.Response:
        body, headers = signed
        return self.http.post(self.url + path, content=body, headers=headers)

    def command(self, text: str, *, user_id: str = USER_ID, trigger_age: float = 0.0, **kwargs: Any) -> Sent:
        """`/pipebot text` with a live trigger id and a response_url served by the fake."""
        hook = self.fake.new_response_url(user_id=user_id)
        trigger = self.fake.new_trigger_id(user_id=user_id, age=trigger_age)
        signed = self.signer.slash_command(text, user_id=user_id, trigger_id=trigger, response_url=hook, **kwargs)
        return Sent(self.post(signed), hook, self)

    def replies(self, hook: str, count: int = 1, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Wait for ``count`` posts to a response_url (work done after the ack answers there)."""
        wait_until(
            lambda: len(self.fake.response_url_posts(hook)) >= count, timeout, f"{count} post(s) to the response_url"
        )
        return self.fake.response_url_posts(hook)

    def reply_text(self, hook: str, timeout: float = 5.0) -> str:
        return message_text(self.replies(hook, timeout=timeout)[-1])

    def open_modal(self, text: str, **kwargs: Any) -> dict[str, Any]:
        """Run a command that opens a modal and return the view as the fake stored it."""
        count = len(self.fake.calls("views.open"))
        response, hook = self.command(text, **kwargs)
        assert response.status_code == 200 and not response.content, response.text
        call = self.fake.wait_for("views.open", count=count + 1)
        assert call.ok, (call.error, call.response)
        view = call.response["view"]
        view["_response_url"] = hook
        return view


def message_text(message: dict[str, Any]) -> str:
    """A message's text plus its blocks' texts, for assertions on what a user reads."""
    parts = [message.get("text") or ""]
    for block in message.get("blocks") or []:
        text = block.get("text")
        if isinstance(text, dict):
            parts.append(text.get("text", ""))
        for el in block.get("elements") or []:
            if isinstance(el, dict) and isinstance(el.get("text"), str):
                parts.append(el["text"])
    return "\n".join(parts)


@dataclasses.dataclass
class Sent:
    """A slash command sent: the HTTP answer (the ack) and the command's response_url.

    Slack shows an ack's body as the reply; commands that answer later post to the
    response_url instead. ``message()`` returns whichever the user would see.
    """

    response: httpx.Response
    hook: str
    server: SlackServer

    def __iter__(self) -> Any:
        return iter((self.response, self.hook))

    def message(self, timeout: float = 5.0) -> dict[str, Any]:
        assert self.response.status_code == 200, self.response.text
        if self.response.content:
            return self.response.json()
        return self.server.replies(self.hook, timeout=timeout)[-1]

    def text(self, timeout: float = 5.0) -> str:
        return message_text(self.message(timeout))


def install_workspace(ctx: AppContext, fake: FakeSlack, team_id: str, name: str, bot_suffix: str | None = None) -> str:
    """A workspace as an OAuth install leaves it: the team in the fake Slack and its
    installation in pipebot's store (bot/slack/client.py). Returns its bot token."""
    from slack_sdk.oauth.installation_store.models.installation import Installation

    from bot.slack.client import installation_store

    suffix = bot_suffix or team_id
    token = fake.add_team(team_id, name)
    installation_store(ctx).save(
        Installation(
            app_id="A0PIPEBOT",
            team_id=team_id,
            team_name=name,
            user_id="U0INSTALLER",
            bot_token=token,
            bot_id=f"B0{suffix}",
            bot_user_id=f"U0BOT{suffix}",
            bot_scopes=["commands", "chat:write"],
            installed_at=time.time(),
        )
    )
    return token


@pytest.fixture(autouse=True)
def _faults_end_with_their_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test's scripted Slack faults end with it: the fake serves a whole module."""
    yield
    if "fake_slack" in request.fixturenames:
        request.getfixturevalue("fake_slack").clear_faults()


@pytest.fixture(scope="module")
def fake_slack() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def slack_overrides() -> dict[str, Any]:
    """Extra settings for the module's server; override this fixture in a test module
    (e.g. ANTHROPIC_BASE_URL pointing at a fake provider)."""
    return {}


@pytest.fixture(scope="module")
def slack(_session_ctx: AppContext, fake_slack: FakeSlack, slack_overrides: dict[str, Any]) -> Iterator[SlackServer]:
    """pipebot over HTTP against the fake Slack; one server per test module."""
    settings = slack_settings(_session_ctx.settings, fake_slack, **slack_overrides)
    ctx = dataclasses.replace(_session_ctx, settings=settings)
    with serve(build_app(ctx)) as url, httpx.Client(timeout=10) as http:
        yield SlackServer(url, ctx, fake_slack, SlackRequests(DEFAULT_SIGNING_SECRET), http)
