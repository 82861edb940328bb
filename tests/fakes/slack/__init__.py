"""A fake Slack Web API that runs as a real HTTP server on 127.0.0.1.

Why a server and not a mock: the app talks to Slack only through ``slack_sdk``
(``WebClient``, Bolt, ``chat_stream``), so the honest test double is one that speaks
the same wire format. Point ``WebClient(base_url=fake.url)`` or ``SLACK_API_URL`` at
it and the real SDK code paths run: JSON vs form bodies, bearer tokens, retry
handlers for HTTP 429 + ``Retry-After``, the ``chat.*Stream`` helper's buffering.

It behaves as real Slack does where that matters to pipebot:

* API errors are HTTP 200 with ``{"ok": false, "error": ...}``; rate limits are
  HTTP 429 with ``Retry-After`` and ``{"ok": false, "error": "ratelimited"}``.
* JSON bodies must carry the token in ``Authorization: Bearer``; form bodies may
  carry it as ``token``. No token -> ``not_authed``, unknown -> ``invalid_auth``.
* Posting needs channel membership: public channel -> ``not_in_channel`` (join it
  with ``conversations.join``), private channel -> ``channel_not_found``.
* Slack's limits are enforced: ``msg_too_long`` (> 4000 chars of text),
  ``msg_blocks_too_long`` (> ~13k chars of blocks JSON), ``invalid_blocks`` (> 50
  blocks, or a block element over its limits), views with > 100 blocks, long
  titles, long ``private_metadata`` etc. -> ``invalid_arguments`` with Slack-style
  ``response_metadata.messages``; trigger ids expire after 3 s
  (``expired_trigger_id``), are single use (``exchanged_trigger_id``) and must have
  been issued (``invalid_trigger_id``).
* ``link_shared`` / ``chat.unfurl``: :meth:`FakeSlack.share_links` posts a person's message
  with links (or a draft in the composer) and returns the ``link_shared`` event Slack would
  send; ``chat.unfurl`` must then name that message (``channel`` + ``ts``, or ``unfurl_id``
  + ``source``) from the same workspace and only URLs it holds (``cannot_unfurl_url``), with
  blocks checked like a message's. Cards are read back with :meth:`FakeSlack.unfurls`.
* An ``action_id`` must be unique within its block (``invalid_blocks``); blocks are checked
  wherever the app sends them: messages, updates, ephemerals, unfurls, views, stream chunks
  and ``response_url`` posts.
* ``response_url`` posts are checked like ``chat.postMessage`` (text length, blocks; only a
  ``delete_original`` post may lack text; ``replace_original``/``delete_original`` booleans):
  a refused post answers HTTP 400 with the error as its body and shows nothing.
* ``feedback_buttons`` elements are valid only inside a ``context_actions`` block (at most
  5 elements), each with a ``positive_button`` and a ``negative_button``.
* ``chat.startStream`` needs ``thread_ts`` and, outside a DM, ``recipient_user_id``
  and ``recipient_team_id`` (``missing_recipient_user_id`` /
  ``missing_recipient_team_id``); the streamed text is reconstructed so a test can
  read it back. A call carries at most 12,000 characters of markdown (``msg_too_long``); chunks
  must have the shapes of the SDK's chunk models (``invalid_chunks``: task_update id, title and
  status pending|in_progress|complete|error, plan_update title, url sources);
  streams stop taking appends after ``stream_ttl`` seconds
  (``message_not_in_streaming_state``, :meth:`FakeSlack.expire_streams_after`), and a
  workspace can refuse streaming altogether (:meth:`FakeSlack.refuse_streaming`).

Every request is recorded as a :class:`Call` (method, parsed params, headers, time,
HTTP status, response) and can be awaited with :meth:`FakeSlack.wait_for`. Faults are
scripted with :meth:`FakeSlack.fail_next`.

Usage::

    with FakeSlack() as fake:
        client = WebClient(token=fake.token, base_url=fake.url)
        client.chat_postMessage(channel=GENERAL, text="hi")
        assert fake.messages(GENERAL)[-1]["text"] == "hi"

Layout: one module per API family, each a mixin over :class:`~tests.fakes.slack.state.SlackState`
(``server`` HTTP and recording, ``apps`` Socket Mode's apps.connections.open, ``workspace`` teams/users/channels, ``users``, ``conversations``,
``chat``, ``files`` (files.info, downloads of url_private, people's messages and the events
that carry files), ``conversations.replies`` in ``conversations``, ``unfurls``, ``streams``, ``views``, ``oauth``, ``openid`` (Sign in with Slack: the
authorize page and ``openid.connect.token``), ``response_urls``, ``triggers`` (conversations.history, emoji.list, reaction and channel
message events)), Block Kit checks in
``blocks``, Slack's numbers in ``limits``. :class:`FakeSlack` is the one class tests use; a new
family (Socket Mode, a rate limiter) is one more mixin in its bases.
"""

from __future__ import annotations

from collections.abc import Iterator

from tests.fakes.slack.apps import AppsMixin
from tests.fakes.slack.chat import ChatMixin
from tests.fakes.slack.conversations import ConversationsMixin
from tests.fakes.slack.files import FilesMixin
from tests.fakes.slack.limits import (
    ADMIN_ID,
    APP_ID,
    BOT_ID,
    BOT_USER_ID,
    CLIENT_ID,
    CLIENT_SECRET,
    GENERAL,
    OWNER_ID,
    PRIVATE,
    RANDOM,
    TEAM_DOMAIN,
    TEAM_ID,
    TEAM_NAME,
    TOKEN,
    USER_ID,
)
from tests.fakes.slack.oauth import OAuthMixin
from tests.fakes.slack.openid import OpenIDMixin
from tests.fakes.slack.records import Call
from tests.fakes.slack.response_urls import ResponseUrlsMixin
from tests.fakes.slack.server import ServerMixin
from tests.fakes.slack.streams import StreamsMixin
from tests.fakes.slack.triggers import TriggersMixin
from tests.fakes.slack.unfurls import UnfurlsMixin
from tests.fakes.slack.users import UsersMixin
from tests.fakes.slack.views import ViewsMixin
from tests.fakes.slack.workspace import WorkspaceMixin

__all__ = [
    "ADMIN_ID",
    "APP_ID",
    "BOT_ID",
    "BOT_USER_ID",
    "Call",
    "CLIENT_ID",
    "CLIENT_SECRET",
    "FakeSlack",
    "GENERAL",
    "OWNER_ID",
    "PRIVATE",
    "RANDOM",
    "TEAM_DOMAIN",
    "TEAM_ID",
    "TEAM_NAME",
    "TOKEN",
    "USER_ID",
    "fake_slack_fixture",
]


class FakeSlack(
    FilesMixin,
    AppsMixin,
    ServerMixin,
    WorkspaceMixin,
    UsersMixin,
    ConversationsMixin,
    ChatMixin,
    UnfurlsMixin,
    StreamsMixin,
    ViewsMixin,
    OAuthMixin,
    OpenIDMixin,
    ResponseUrlsMixin,
    TriggersMixin,
):
    """A local Slack Web API with one workspace preloaded (see :mod:`tests.fakes.slack.limits`).

    Start it with :meth:`start` (or ``with FakeSlack() as fake``); ``fake.url`` ends
    with ``/api/`` and goes straight into ``WebClient(base_url=...)`` or
    ``SLACK_API_URL``. All state lives in memory and is safe to read from tests while
    the app's threads call the server. An API method ``a.b`` is answered by the mixin
    method ``_m_a_b``.
    """


def fake_slack_fixture() -> Iterator[FakeSlack]:
    """Generator for a pytest fixture: ``fake_slack = pytest.fixture(fake_slack_fixture)``."""
    fake = FakeSlack().start()
    try:
        yield fake
    finally:
        fake.stop()
