"""The fake Slack Web API against the real ``slack_sdk.WebClient``, and the signed
request builders against ``slack_sdk``'s ``SignatureVerifier`` and a real Bolt app.

If these pass, tests elsewhere can trust that what works against the fake uses the
SDK the way it works against Slack, and fails where Slack would refuse.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.models.messages.chunk import MarkdownTextChunk, PlanUpdateChunk, TaskUpdateChunk
from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook import WebhookClient

from tests.fakes.slack import (
    ADMIN_ID,
    BOT_USER_ID,
    CLIENT_ID,
    CLIENT_SECRET,
    GENERAL,
    OWNER_ID,
    PRIVATE,
    RANDOM,
    TEAM_ID,
    USER_ID,
    FakeSlack,
)
from tests.support.slack_signing import (
    DEFAULT_SIGNING_SECRET,
    SlackRequests,
    find_element,
    sign,
    signature,
    state_from_view,
)


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as f:
        yield f


@pytest.fixture
def client(fake: FakeSlack) -> WebClient:
    return WebClient(token=fake.token, base_url=fake.url)


def error_of(fn, *args, **kwargs) -> str:
    """The Slack error code a WebClient call raises (fails the test if it succeeds)."""
    with pytest.raises(SlackApiError) as info:
        fn(*args, **kwargs)
    return info.value.response["error"]


def modal(title: str = "Agent", blocks: list | None = None, **extra) -> dict:
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": title},
        "submit": {"type": "plain_text", "text": "Save"},
        "blocks": blocks or [],
        **extra,
    }


def section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def select(options: int = 0, groups: int = 0, per_group: int = 1, text: str = "opt", value: str = "v") -> dict:
    def opts(n: int, prefix: str) -> list:
        return [
            {"text": {"type": "plain_text", "text": f"{text}{i}"}, "value": f"{value}{prefix}{i}"} for i in range(n)
        ]

    el: dict = {"type": "static_select", "action_id": "model"}
    if groups:
        el["option_groups"] = [
            {"label": {"type": "plain_text", "text": f"G{g}"}, "options": opts(per_group, f"g{g}-")}
            for g in range(groups)
        ]
    else:
        el["options"] = opts(options, "")
    return {"type": "input", "block_id": "model", "label": {"type": "plain_text", "text": "Model"}, "element": el}


# ============================================================================ basics


def test_url_and_env_point_the_sdk_at_the_fake(fake: FakeSlack, client: WebClient) -> None:
    assert fake.url.endswith("/api/") and fake.url.startswith("http://127.0.0.1:")
    env = fake.env()
    assert env["SLACK_API_URL"] == fake.url and env["SLACK_BOT_TOKEN"] == fake.token
    auth = client.auth_test()
    assert auth["team_id"] == TEAM_ID and auth["user_id"] == BOT_USER_ID and auth["bot_id"]
    call = fake.last("auth.test")
    assert call.headers["authorization"] == f"Bearer {fake.token}"
    assert call.token == fake.token and call.ok and call.status == 200


def test_sdk_sends_json_for_messages_and_form_for_others(fake: FakeSlack, client: WebClient) -> None:
    client.chat_postMessage(channel=GENERAL, text="hi", blocks=[section("hi")])
    client.users_info(user=USER_ID)
    assert fake.last("chat.postMessage").encoding == "json"
    assert fake.last("users.info").encoding == "form"
    assert fake.last("chat.postMessage").params["blocks"][0]["type"] == "section"


def test_form_blocks_are_decoded_like_json(fake: FakeSlack) -> None:
    blocks = [section("from a form")]
    r = httpx.post(
        fake.url + "chat.postMessage",
        data={"token": fake.token, "channel": GENERAL, "text": "x", "blocks": json.dumps(blocks)},
    )
    assert r.status_code == 200 and r.json()["ok"]
    call = fake.last("chat.postMessage")
    assert call.encoding == "form" and call.params["blocks"][0]["text"]["text"] == "from a form"
    assert "token" not in call.params  # the credential is not kept in recorded params


def test_auth_errors(fake: FakeSlack) -> None:
    assert error_of(WebClient(base_url=fake.url).auth_test) == "not_authed"
    assert error_of(WebClient(token="xoxb-nope", base_url=fake.url).auth_test) == "invalid_auth"
    # Slack ignores a token inside a JSON body: it must be a bearer header.
    r = httpx.post(fake.url + "chat.postMessage", json={"token": fake.token, "channel": GENERAL, "text": "x"})
    assert r.status_code == 200 and r.json() == {"ok": False, "error": "not_authed"}
    token = fake.add_team("T0OTHER", "Other")
    fake.revoke_token(token)
    assert error_of(WebClient(token=token, base_url=fake.url).auth_test) == "token_revoked"


def test_get_with_query_string_and_unknown_method(fake: FakeSlack) -> None:
    r = httpx.get(fake.url + "users.info", params={"user": ADMIN_ID}, headers={"Authorization": f"Bearer {fake.token}"})
    assert r.json()["user"]["is_admin"] is True
    r = httpx.post(fake.url + "nope.nothing", headers={"Authorization": f"Bearer {fake.token}"})
    assert r.status_code == 200 and r.json()["error"] == "unknown_method"


def test_multipart_body_is_understood(fake: FakeSlack) -> None:
    r = httpx.post(
        fake.url + "chat.postMessage",
        headers={"Authorization": f"Bearer {fake.token}"},
        files={"channel": (None, GENERAL), "text": (None, "multipart")},
    )
    assert r.json()["ok"], r.json()
    assert fake.last("chat.postMessage").encoding == "multipart"


# ============================================================================ users, teams, channels


def test_users_info_reports_admin_and_owner(fake: FakeSlack, client: WebClient) -> None:
    assert client.users_info(user=USER_ID)["user"]["is_admin"] is False
    assert client.users_info(user=ADMIN_ID)["user"]["is_admin"] is True
    owner = client.users_info(user=OWNER_ID)["user"]
    assert owner["is_owner"] and owner["is_admin"]
    fake.set_user(USER_ID, is_admin=True)
    assert client.users_info(user=USER_ID)["user"]["is_admin"] is True
    fake.add_user("U0NEW", "newbie", is_owner=True)
    assert client.users_info(user="U0NEW")["user"]["is_owner"] is True
    assert error_of(client.users_info, user="U0GHOST") == "user_not_found"


def test_team_and_conversation_info(fake: FakeSlack, client: WebClient) -> None:
    team = client.team_info()["team"]
    assert team["id"] == TEAM_ID and team["domain"]
    assert error_of(client.team_info, team="T0GHOST") == "team_not_found"
    info = client.conversations_info(channel=GENERAL)["channel"]
    assert info["is_member"] is True and info["name"] == "general" and not info["is_private"]
    assert client.conversations_info(channel=RANDOM)["channel"]["is_member"] is False
    assert error_of(client.conversations_info, channel=PRIVATE) == "channel_not_found"
    assert error_of(client.conversations_info, channel="C0GHOST") == "channel_not_found"


def test_posting_needs_membership_and_public_channels_can_be_joined(fake: FakeSlack, client: WebClient) -> None:
    assert error_of(client.chat_postMessage, channel=RANDOM, text="x") == "not_in_channel"
    assert error_of(client.chat_postMessage, channel=PRIVATE, text="x") == "channel_not_found"
    assert error_of(client.chat_postMessage, channel="C0GHOST", text="x") == "channel_not_found"
    assert error_of(client.conversations_join, channel=PRIVATE) == "method_not_supported_for_channel_type"
    joined = client.conversations_join(channel=RANDOM)
    assert joined["channel"]["is_member"] is True
    assert client.conversations_join(channel=RANDOM)["warning"] == "already_in_channel"
    assert client.chat_postMessage(channel=RANDOM, text="now I can")["ok"]
    fake.set_channel(PRIVATE, is_member=True)  # invited
    assert client.chat_postMessage(channel=PRIVATE, text="invited")["ok"]
    fake.set_channel(GENERAL, is_archived=True)
    assert error_of(client.chat_postMessage, channel=GENERAL, text="x") == "is_archived"


def test_posting_to_a_user_id_opens_a_dm(fake: FakeSlack, client: WebClient) -> None:
    r = client.chat_postMessage(channel=USER_ID, text="psst")
    assert r["channel"].startswith("D") and r["channel"] == fake.dm_channel(USER_ID)
    assert fake.messages(r["channel"])[0]["text"] == "psst"
    assert client.conversations_info(channel=r["channel"])["channel"]["is_im"] is True


# ============================================================================ messages


def test_messages_and_threads_read_back(fake: FakeSlack, client: WebClient) -> None:
    parent = client.chat_postMessage(channel=GENERAL, text="Running *digest*…")
    assert parent["message"]["text"] == "Running *digest*…" and parent["message"]["bot_id"]
    r1 = client.chat_postMessage(channel=GENERAL, thread_ts=parent["ts"], text="step 1 done")
    # A reply to a reply lands in the parent's thread, as in Slack.
    r2 = client.chat_postMessage(channel=GENERAL, thread_ts=r1["ts"], text="step 2 done")
    assert r2["message"]["thread_ts"] == parent["ts"]
    assert [m["text"] for m in fake.thread(GENERAL, parent["ts"])] == [
        "Running *digest*…",
        "step 1 done",
        "step 2 done",
    ]
    assert [m["text"] for m in fake.replies(GENERAL, parent["ts"])] == ["step 1 done", "step 2 done"]
    assert [m["text"] for m in fake.messages(GENERAL)] == ["Running *digest*…"]
    assert fake.message(GENERAL, parent["ts"])["reply_count"] == 2
    assert float(r1["ts"]) < float(r2["ts"])  # ts are unique and ordered


def test_permalinks(fake: FakeSlack, client: WebClient) -> None:
    parent = client.chat_postMessage(channel=GENERAL, text="p")
    reply = client.chat_postMessage(channel=GENERAL, text="r", thread_ts=parent["ts"])
    link = client.chat_getPermalink(channel=GENERAL, message_ts=parent["ts"])["permalink"]
    assert link == f"https://pipebot-test.slack.com/archives/{GENERAL}/p{parent['ts'].replace('.', '')}"
    rlink = client.chat_getPermalink(channel=GENERAL, message_ts=reply["ts"])["permalink"]
    assert f"thread_ts={parent['ts']}" in rlink
    assert error_of(client.chat_getPermalink, channel=GENERAL, message_ts="1.000001") == "message_not_found"


def test_update_replaces_text_and_blocks(fake: FakeSlack, client: WebClient) -> None:
    ts = client.chat_postMessage(channel=GENERAL, text="queued")["ts"]
    r = client.chat_update(channel=GENERAL, ts=ts, text="running", blocks=[section("*running*")])
    assert r["text"] == "running" and r["ts"] == ts
    msg = fake.message(GENERAL, ts)
    assert msg["text"] == "running" and msg["blocks"][0]["text"]["text"] == "*running*" and msg["edited"]
    assert error_of(client.chat_update, channel=GENERAL, ts="1.000002", text="x") == "message_not_found"
    other = WebClient(token=fake.add_team("T0OTHER", "Other"), base_url=fake.url)
    foreign = other.chat_postMessage(channel=GENERAL, text="not yours")["ts"]
    assert error_of(client.chat_update, channel=GENERAL, ts=foreign, text="x") == "cant_update_message"
    assert error_of(client.chat_update, channel=GENERAL, ts=ts, text="x" * 4001) == "msg_too_long"


def test_ephemeral_messages(fake: FakeSlack, client: WebClient) -> None:
    r = client.chat_postEphemeral(channel=GENERAL, user=USER_ID, text="only you")
    assert r["message_ts"]
    assert fake.ephemerals(GENERAL, USER_ID)[0]["text"] == "only you"
    assert fake.messages(GENERAL) == []
    assert error_of(client.chat_postEphemeral, channel=GENERAL, user="U0GHOST", text="x") == "user_not_found"
    fake.add_channel("C0SMALL", "small", is_member=True, members={ADMIN_ID})
    assert error_of(client.chat_postEphemeral, channel="C0SMALL", user=USER_ID, text="x") == "user_not_in_channel"
    assert error_of(client.chat_postEphemeral, channel=RANDOM, user=USER_ID, text="x") == "not_in_channel"


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"text": "x" * 4001}, "msg_too_long"),
        ({"text": ""}, "no_text"),
        ({"text": "t", "blocks": [section("b" * 2900) for _ in range(5)]}, "msg_blocks_too_long"),
        ({"text": "t", "blocks": [section("b") for _ in range(51)]}, "invalid_blocks"),
        ({"text": "t", "blocks": [section("b" * 3001)]}, "invalid_blocks"),
        (
            {"text": "t", "blocks": [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}]},
            "invalid_blocks",
        ),
        ({"text": "t", "blocks": [{"type": "markdown", "text": "m" * 12001}]}, "invalid_blocks"),
        (
            {"text": "t", "blocks": [{"type": "actions", "elements": [select(options=101)["element"]]}]},
            "invalid_blocks",
        ),
    ],
)
@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
def test_message_limits(client: WebClient, kwargs: dict, error: str) -> None:
    assert error_of(client.chat_postMessage, channel=GENERAL, **kwargs) == error


def test_message_limits_boundaries_pass(fake: FakeSlack, client: WebClient) -> None:
    assert client.chat_postMessage(channel=GENERAL, text="x" * 4000)["ok"]
    assert client.chat_postMessage(channel=GENERAL, text="t", blocks=[section("b") for _ in range(50)])["ok"]
    assert client.chat_postMessage(channel=GENERAL, text="t", blocks=[section("b" * 3000)])["ok"]
    stored = fake.messages(GENERAL)[-1]["blocks"][0]
    assert stored["block_id"]  # Slack assigns block ids the app did not set


def test_invalid_blocks_says_where(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as info:
        client.chat_postMessage(channel=GENERAL, text="t", blocks=[section("ok"), section("b" * 3001)])
    messages = info.value.response["response_metadata"]["messages"]
    assert any("/blocks/1/text/text" in m and "3001" in m for m in messages), messages


def _pager(first: str, second: str) -> dict:
    """An actions block with two buttons, as a list's Previous/Next pager is built."""
    return {
        "type": "actions",
        "elements": [
            {
                "type": "button",
                "text": {"type": "plain_text", "text": "Previous page"},
                "action_id": first,
                "value": "1",
            },
            {"type": "button", "text": {"type": "plain_text", "text": "Next page"}, "action_id": second, "value": "3"},
        ],
    }


def test_action_ids_must_be_unique_within_a_block(fake: FakeSlack, client: WebClient) -> None:
    # Slack: an action_id "should be unique among all other action_ids in the containing block"
    with pytest.raises(SlackApiError) as err:
        client.chat_postMessage(channel=GENERAL, text="page 2", blocks=[_pager("page", "page")])
    assert err.value.response["error"] == "invalid_blocks"
    assert any(
        "duplicate action_id 'page'" in m and "/blocks/0/elements/1/action_id" in m
        for m in err.value.response["response_metadata"]["messages"]
    )
    context_actions = {
        "type": "context_actions",
        "elements": [
            {
                "type": "feedback_buttons",
                "action_id": "fb",
                "positive_button": {"text": {"type": "plain_text", "text": "Good"}, "value": "up"},
                "negative_button": {"text": {"type": "plain_text", "text": "Bad"}, "value": "down"},
            },
            {
                "type": "feedback_buttons",
                "action_id": "fb",
                "positive_button": {"text": {"type": "plain_text", "text": "Good"}, "value": "up"},
                "negative_button": {"text": {"type": "plain_text", "text": "Bad"}, "value": "down"},
            },
        ],
    }
    assert error_of(client.chat_postMessage, channel=GENERAL, text="t", blocks=[context_actions]) == "invalid_blocks"
    # distinct ids in a block, and the same id in two different blocks, are both fine
    assert client.chat_postMessage(channel=GENERAL, text="ok", blocks=[_pager("prev", "next")])["ok"]
    assert client.chat_postMessage(channel=GENERAL, text="ok", blocks=[_pager("a", "b"), _pager("a", "b")])["ok"]
    modal = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Pages"},
        "blocks": [_pager("page", "page")],
    }
    assert error_of(client.views_open, trigger_id=fake.new_trigger_id(), view=modal) == "invalid_arguments"
    ts = client.chat_postMessage(channel=GENERAL, text="v1")["ts"]
    assert (
        error_of(client.chat_update, channel=GENERAL, ts=ts, text="v2", blocks=[_pager("p", "p")]) == "invalid_blocks"
    )


# ============================================================================ faults and rate limits


def test_rate_limit_is_429_with_retry_after(fake: FakeSlack, client: WebClient) -> None:
    fake.fail_next("chat.postMessage", status=429, retry_after=7)
    with pytest.raises(SlackApiError) as info:
        client.chat_postMessage(channel=GENERAL, text="x")
    assert info.value.response.status_code == 429
    assert info.value.response.headers["Retry-After"] == "7"
    assert info.value.response["error"] == "ratelimited"
    assert client.chat_postMessage(channel=GENERAL, text="second try")["ok"]  # fault consumed


def test_retry_handler_delivers_after_retry_after(fake: FakeSlack) -> None:
    client = WebClient(token=fake.token, base_url=fake.url)
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=2))
    fake.fail_next("chat.postMessage", status=429, retry_after=1)
    started = time.monotonic()
    r = client.chat_postMessage(channel=GENERAL, text="delivered")
    elapsed = time.monotonic() - started
    assert r["ok"] and elapsed >= 1.0
    calls = fake.calls("chat.postMessage")
    assert [c.status for c in calls] == [429, 200]
    assert calls[1].time - calls[0].time >= 1.0
    assert [m["text"] for m in fake.messages(GENERAL)] == ["delivered"]


def test_scripted_faults(fake: FakeSlack, client: WebClient) -> None:
    fake.fail_next("chat.update", error="internal_error", status=500)
    with pytest.raises(SlackApiError) as info:
        client.chat_update(channel=GENERAL, ts="1.0", text="x")
    assert info.value.response.status_code == 500
    fake.fail_next(
        "chat.postMessage", error="channel_not_found", times=2, when=lambda p: p.get("thread_ts") is not None
    )
    parent = client.chat_postMessage(channel=GENERAL, text="untouched")["ts"]
    for _ in range(2):
        assert error_of(client.chat_postMessage, channel=GENERAL, text="r", thread_ts=parent) == "channel_not_found"
    assert client.chat_postMessage(channel=GENERAL, text="r", thread_ts=parent)["ok"]
    with pytest.raises(ValueError):
        fake.fail_next("chat.update")


def test_configured_rate_limit_is_per_channel(fake: FakeSlack, client: WebClient) -> None:
    fake.set_rate_limit("chat.postMessage", max_calls=1, per_seconds=0.3)
    fake.set_channel(RANDOM, is_member=True)
    assert client.chat_postMessage(channel=GENERAL, text="1")["ok"]
    assert client.chat_postMessage(channel=RANDOM, text="other channel")["ok"]
    with pytest.raises(SlackApiError) as info:
        client.chat_postMessage(channel=GENERAL, text="2")
    assert info.value.response.status_code == 429
    time.sleep(0.35)
    assert client.chat_postMessage(channel=GENERAL, text="3")["ok"]


def test_wait_for_sees_calls_from_other_threads(fake: FakeSlack, client: WebClient) -> None:
    def later() -> None:
        time.sleep(0.1)
        client.chat_postMessage(channel=GENERAL, text="from a worker")

    threading.Thread(target=later).start()
    call = fake.wait_for("chat.postMessage", lambda c: "worker" in c.params.get("text", ""), timeout=3)
    assert call.ok and call.params["channel"] == GENERAL
    with pytest.raises(AssertionError, match="waiting for 2 x chat.postMessage"):
        fake.wait_for("chat.postMessage", timeout=0.1, count=2)


def test_latency(fake: FakeSlack, client: WebClient) -> None:
    fake.set_latency("auth.test", 0.2)
    started = time.monotonic()
    client.auth_test()
    assert time.monotonic() - started >= 0.2


# ============================================================================ streaming


def test_chat_stream_in_a_channel_thread(fake: FakeSlack, client: WebClient) -> None:
    parent = client.chat_postMessage(channel=GENERAL, text="run started")["ts"]
    stream = client.chat_stream(
        channel=GENERAL,
        thread_ts=parent,
        recipient_user_id=USER_ID,
        recipient_team_id=TEAM_ID,
        buffer_size=20,
        task_display_mode="plan",
    )
    stream.append(
        chunks=[PlanUpdateChunk(title="digest"), TaskUpdateChunk(id="s1", title="Step 1", status="in_progress")]
    )
    stream.append(markdown_text="Hello **wor")
    stream.append(markdown_text="ld**, this is a longer piece of text")
    stream.append(chunks=[TaskUpdateChunk(id="s1", title="Step 1", status="complete", details="done")])
    stream.stop(markdown_text="\n\nbye", blocks=[section("<https://x.test|open the artifact>")])
    msg = fake.message(GENERAL, stream.ts)
    assert msg["text"] == "Hello **world**, this is a longer piece of text\n\nbye"
    assert fake.stream_text(GENERAL, stream.ts) == msg["text"]
    assert msg["thread_ts"] == parent and msg["streaming"] is False
    assert msg["recipient_user_id"] == USER_ID and msg["task_display_mode"] == "plan"
    assert msg["tasks"]["s1"]["status"] == "complete" and msg["plan_title"] == "digest"
    assert msg["blocks"][-1]["text"]["text"].startswith("<https://x.test")
    assert [c.method for c in fake.calls()][-4:] == [
        "chat.startStream",
        "chat.appendStream",
        "chat.appendStream",
        "chat.stopStream",
    ]
    assert fake.replies(GENERAL, parent)[0]["ts"] == stream.ts
    assert fake.last("chat.stopStream").response["message"]["text"] == msg["text"]


def test_stream_recipients_and_thread_are_required(fake: FakeSlack, client: WebClient) -> None:
    parent = client.chat_postMessage(channel=GENERAL, text="p")["ts"]
    assert (
        error_of(client.chat_startStream, channel=GENERAL, thread_ts=parent, markdown_text="x")
        == "missing_recipient_user_id"
    )
    assert (
        error_of(
            client.chat_startStream, channel=GENERAL, thread_ts=parent, markdown_text="x", recipient_user_id=USER_ID
        )
        == "missing_recipient_team_id"
    )
    assert (
        error_of(
            client.chat_startStream,
            channel=GENERAL,
            thread_ts="",
            markdown_text="x",
            recipient_user_id=USER_ID,
            recipient_team_id=TEAM_ID,
        )
        == "invalid_arguments"
    )
    assert (
        error_of(
            client.chat_startStream,
            channel=RANDOM,
            thread_ts=parent,
            markdown_text="x",
            recipient_user_id=USER_ID,
            recipient_team_id=TEAM_ID,
        )
        == "not_in_channel"
    )
    # In a DM the recipient is implied.
    dm = client.chat_postMessage(channel=USER_ID, text="hi")
    started = client.chat_startStream(channel=dm["channel"], thread_ts=dm["ts"], markdown_text="dm stream")
    assert fake.stream_text(dm["channel"], started["ts"]) == "dm stream"


def test_stream_limits_and_state(fake: FakeSlack, client: WebClient) -> None:
    parent = client.chat_postMessage(channel=GENERAL, text="p")["ts"]
    ts = client.chat_startStream(
        channel=GENERAL,
        thread_ts=parent,
        recipient_user_id=USER_ID,
        recipient_team_id=TEAM_ID,
        chunks=[MarkdownTextChunk(text="a")],
    )["ts"]
    assert error_of(client.chat_appendStream, channel=GENERAL, ts=ts, markdown_text="x" * 12001) == "msg_too_long"
    assert (
        error_of(
            client.chat_appendStream, channel=GENERAL, ts=ts, chunks=[{"type": "markdown_text", "text": "x" * 12001}]
        )
        == "msg_too_long"
    )
    assert client.chat_appendStream(channel=GENERAL, ts=ts, markdown_text="x" * 12000)["ok"]
    assert error_of(client.chat_appendStream, channel=GENERAL, ts=ts, chunks=[{"type": "bogus"}]) == "invalid_chunks"
    client.chat_stopStream(channel=GENERAL, ts=ts)
    assert (
        error_of(client.chat_appendStream, channel=GENERAL, ts=ts, markdown_text="late")
        == "message_not_in_streaming_state"
    )
    assert error_of(client.chat_appendStream, channel=GENERAL, ts="1.000003", markdown_text="?") == "message_not_found"
    assert len(fake.stream_text(GENERAL, ts)) == 12001


def test_streams_expire() -> None:
    with FakeSlack(stream_ttl=0.1) as fake:
        client = WebClient(token=fake.token, base_url=fake.url)
        parent = client.chat_postMessage(channel=GENERAL, text="p")["ts"]
        ts = client.chat_startStream(
            channel=GENERAL, thread_ts=parent, recipient_user_id=USER_ID, recipient_team_id=TEAM_ID, markdown_text="a"
        )["ts"]
        time.sleep(0.15)
        assert (
            error_of(client.chat_appendStream, channel=GENERAL, ts=ts, markdown_text="b")
            == "message_not_in_streaming_state"
        )


def _stream(client: WebClient) -> str:
    parent = client.chat_postMessage(channel=GENERAL, text="p")["ts"]
    return client.chat_startStream(
        channel=GENERAL, thread_ts=parent, recipient_user_id=USER_ID, recipient_team_id=TEAM_ID, markdown_text="a"
    )["ts"]


@pytest.mark.parametrize(
    "chunk, error",
    [
        ({"type": "markdown_text"}, "invalid_chunks"),
        ({"type": "markdown_text", "text": "x" * 12001}, "msg_too_long"),
        ({"type": "task_update", "id": "s1", "title": "Step 1", "status": "done"}, "invalid_chunks"),
        ({"type": "task_update", "id": "", "title": "Step 1", "status": "pending"}, "invalid_chunks"),
        ({"type": "task_update", "id": "s1", "status": "pending"}, "invalid_chunks"),
        ({"type": "task_update", "id": "s1", "title": "Step 1", "status": "complete", "output": 3}, "invalid_chunks"),
        (
            {"type": "task_update", "id": "s1", "title": "S", "status": "complete", "sources": [{"url": "https://x"}]},
            "invalid_chunks",
        ),
        ({"type": "plan_update"}, "invalid_chunks"),
        ({"type": "plan_update", "title": ""}, "invalid_chunks"),
        ({"type": "blocks", "blocks": [_pager("p", "p")]}, "invalid_blocks"),
        ({"type": "blocks", "blocks": "not a list"}, "invalid_blocks"),
        ("markdown_text", "invalid_chunks"),
    ],
    ids=[
        "markdown-without-text",
        "markdown-over-12000",
        "task-unknown-status",
        "task-empty-id",
        "task-without-title",
        "task-output-not-text",
        "task-source-not-url-element",
        "plan-without-title",
        "plan-empty-title",
        "blocks-duplicate-action-id",
        "blocks-not-a-list",
        "chunk-not-an-object",
    ],
)
def test_stream_chunks_are_checked_like_slack(client: WebClient, chunk: Any, error: str) -> None:
    ts = _stream(client)
    assert error_of(client.chat_appendStream, channel=GENERAL, ts=ts, chunks=[chunk]) == error
    assert error_of(client.chat_stopStream, channel=GENERAL, ts=ts, chunks=[chunk]) == error


def test_valid_stream_chunks_pass(fake: FakeSlack, client: WebClient) -> None:
    ts = _stream(client)
    source = {"type": "url", "url": "https://example.com/a", "text": "Source A"}
    chunks = [
        PlanUpdateChunk(title="Weekly digest"),
        TaskUpdateChunk(id="s1", title="Summarise", status="in_progress", details="reading", sources=[source]),
        TaskUpdateChunk(id="s1", title="Summarise", status="complete", output="done"),
        MarkdownTextChunk(text="b" * 11999),
    ]
    assert client.chat_appendStream(channel=GENERAL, ts=ts, chunks=chunks)["ok"]
    assert client.chat_stopStream(channel=GENERAL, ts=ts, chunks=[{"type": "blocks", "blocks": [_pager("p", "n")]}])[
        "ok"
    ]
    msg = fake.message(GENERAL, ts)
    assert msg["plan_title"] == "Weekly digest" and msg["tasks"]["s1"]["status"] == "complete"
    assert msg["tasks"]["s1"]["sources"] == [source] and len(fake.stream_text(GENERAL, ts)) == 12000


def test_stream_task_display_mode_is_plan_or_timeline(client: WebClient) -> None:
    parent = client.chat_postMessage(channel=GENERAL, text="p")["ts"]
    start = dict(channel=GENERAL, thread_ts=parent, recipient_user_id=USER_ID, recipient_team_id=TEAM_ID)
    assert error_of(client.chat_startStream, task_display_mode="gantt", **start) == "invalid_arguments"
    for mode in ("plan", "timeline"):
        assert client.chat_startStream(task_display_mode=mode, **start)["ok"]


# ============================================================================ views


def test_views_open_with_a_fresh_trigger(fake: FakeSlack, client: WebClient) -> None:
    trigger = fake.new_trigger_id(USER_ID)
    view = modal(
        blocks=[
            {"type": "input", "label": {"type": "plain_text", "text": "Name"}, "element": {"type": "plain_text_input"}}
        ],
        private_metadata="m" * 3000,
        callback_id="agent_modal",
    )
    opened = client.views_open(trigger_id=trigger, view=view)["view"]
    assert opened["id"].startswith("V") and opened["hash"] and opened["callback_id"] == "agent_modal"
    block = opened["blocks"][0]
    assert block["block_id"] and block["element"]["action_id"]  # assigned by "Slack"
    assert fake.top_view(USER_ID)["id"] == opened["id"]
    assert error_of(client.views_open, trigger_id=trigger, view=view) == "exchanged_trigger_id"
    assert error_of(client.views_open, trigger_id="123.456.abc", view=view) == "invalid_trigger_id"
    stale = fake.new_trigger_id(USER_ID, age=3.1)
    assert error_of(client.views_open, trigger_id=stale, view=view) == "expired_trigger_id"


@pytest.mark.parametrize(
    "view, pointer",
    [
        (modal(title="T" * 25), "/view/title/text"),
        (modal(submit={"type": "plain_text", "text": "S" * 25}), "/view/submit/text"),
        (modal(close={"type": "plain_text", "text": "C" * 25}), "/view/close/text"),
        (modal(private_metadata="m" * 3001), "/view/private_metadata"),
        (modal(blocks=[section("b") for _ in range(101)]), "/view/blocks"),
        (modal(blocks=[section("b" * 3001)]), "/view/blocks/0/text/text"),
        (modal(blocks=[select(options=101)]), "/view/blocks/0/element/options"),
        (modal(blocks=[select(groups=101)]), "/view/blocks/0/element/option_groups"),
        (modal(blocks=[select(groups=3, per_group=40)]), "/view/blocks/0/element/option_groups"),
        (modal(blocks=[select(options=1, text="o" * 76)]), "/view/blocks/0/element/options/0/text/text"),
        (modal(blocks=[select(options=1, value="v" * 151)]), "/view/blocks/0/element/options/0/value"),
        ({**modal(blocks=[select(options=2)]), "submit": None}, "/view/submit"),
    ],
)
def test_view_limits_answer_invalid_arguments(fake: FakeSlack, client: WebClient, view: dict, pointer: str) -> None:
    with pytest.raises(SlackApiError) as info:
        client.views_open(trigger_id=fake.new_trigger_id(), view=view)
    assert info.value.response["error"] == "invalid_arguments"
    messages = info.value.response["response_metadata"]["messages"]
    assert any(f"[json-pointer:{pointer}]" in m for m in messages), messages


def test_view_limits_boundaries_pass(fake: FakeSlack, client: WebClient) -> None:
    view = modal(
        title="T" * 24,
        blocks=[select(groups=2, per_group=50, text="o" * 73, value="v" * 145)] + [section("s") for _ in range(99)],
    )
    assert client.views_open(trigger_id=fake.new_trigger_id(), view=view)["ok"]
    relaxed = FakeSlack(max_total_options_in_groups=None)
    with relaxed:
        c = WebClient(token=relaxed.token, base_url=relaxed.url)
        assert c.views_open(trigger_id=relaxed.new_trigger_id(), view=modal(blocks=[select(groups=3, per_group=40)]))


def test_views_update_push_and_publish(fake: FakeSlack, client: WebClient) -> None:
    root = client.views_open(trigger_id=fake.new_trigger_id(), view=modal("Pipeline"))["view"]
    updated = client.views_update(view_id=root["id"], hash=root["hash"], view=modal("Pipeline v2"))["view"]
    assert updated["id"] == root["id"] and updated["title"]["text"] == "Pipeline v2"
    assert error_of(client.views_update, view_id=root["id"], hash=root["hash"], view=modal()) == "hash_conflict"
    assert error_of(client.views_update, view_id="V0GHOST", view=modal()) == "not_found"
    client.views_push(trigger_id=fake.new_trigger_id(), view=modal("Two"))
    pushed = client.views_push(trigger_id=fake.new_trigger_id(), view=modal("Three"))["view"]
    assert pushed["root_view_id"] == root["id"] and len(fake.view_stack(USER_ID)) == 3
    assert error_of(client.views_push, trigger_id=fake.new_trigger_id(), view=modal("Four")) == "push_limit_reached"

    home = {"type": "home", "blocks": [section("Welcome")]}
    assert client.views_publish(user_id=USER_ID, view=home)["view"]["type"] == "home"
    assert fake.home_view(USER_ID)["blocks"][0]["text"]["text"] == "Welcome"
    assert error_of(client.views_publish, user_id=USER_ID, view=modal()) == "invalid_arguments"
    too_big = {"type": "home", "blocks": [section("b") for _ in range(101)]}
    assert error_of(client.views_publish, user_id=USER_ID, view=too_big) == "invalid_arguments"


# ============================================================================ OAuth and response_url


def test_oauth_v2_access_installs_a_workspace(fake: FakeSlack) -> None:
    anon = WebClient(base_url=fake.url)
    code = fake.new_oauth_code("T0ACME", "Acme", user_id="U0ACMEADMIN", redirect_uri="https://app.test/oauth")
    assert error_of(anon.oauth_v2_access, client_id=CLIENT_ID, client_secret="wrong", code=code) == "bad_client_secret"
    assert (
        error_of(anon.oauth_v2_access, client_id="nope", client_secret=CLIENT_SECRET, code=code) == "invalid_client_id"
    )
    assert (
        error_of(
            anon.oauth_v2_access,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            code=code,
            redirect_uri="https://evil.test",
        )
        == "bad_redirect_uri"
    )
    code = fake.new_oauth_code("T0ACME", "Acme", user_id="U0ACMEADMIN")
    r = anon.oauth_v2_access(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code=code)
    assert r["team"] == {"id": "T0ACME", "name": "Acme"} and r["token_type"] == "bot"
    assert r["authed_user"]["id"] == "U0ACMEADMIN" and r["bot_user_id"] and r["app_id"]
    assert fake.last("oauth.v2.access").headers["authorization"].startswith("Basic ")
    installed = WebClient(token=r["access_token"], base_url=fake.url)
    assert installed.auth_test()["team_id"] == "T0ACME"
    assert error_of(anon.oauth_v2_access, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code=code) == "invalid_code"


def test_sign_in_with_slack_authorize_and_openid_connect_token(fake: FakeSlack) -> None:
    import base64
    import hashlib

    anon = WebClient(base_url=fake.url)
    verifier = "v" * 50
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    callback = "https://app.test/signin/callback"

    def authorize(**extra: str) -> dict[str, str]:
        query = dict(
            response_type="code",
            scope="openid",
            client_id=CLIENT_ID,
            state="st",
            nonce="nn",
            redirect_uri=callback,
            code_challenge=challenge,
            code_challenge_method="S256",
            **extra,
        )
        r = httpx.get(f"{fake.base}/openid/connect/authorize", params=query)
        assert r.status_code == 302 and r.headers["location"].startswith(callback + "?")
        return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(r.headers["location"]).query))

    assert httpx.get(f"{fake.base}/openid/connect/authorize", params={"client_id": "nope"}).status_code == 400
    fake.sign_in_as(ADMIN_ID)
    back = authorize(team=TEAM_ID)
    assert back["state"] == "st" and fake.authorize_requests[-1]["team"] == TEAM_ID
    token = dict(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_uri=callback)
    assert (
        error_of(anon.openid_connect_token, **dict(token, client_secret="x"), code=back["code"]) == "bad_client_secret"
    )
    back = authorize()
    assert error_of(anon.openid_connect_token, **token, code=back["code"], code_verifier="w" * 50) == "invalid_code"
    back = authorize()
    wrong = dict(token, redirect_uri="https://evil.test/")
    assert error_of(anon.openid_connect_token, **wrong, code=back["code"], code_verifier=verifier) == "bad_redirect_uri"
    back = authorize()
    r = anon.openid_connect_token(**token, code=back["code"], code_verifier=verifier)
    assert r["token_type"] == "Bearer" and r["access_token"].startswith("xoxp-")
    assert fake.last("openid.connect.token").headers["authorization"].startswith("Basic ")
    payload = r["id_token"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["iss"] == "https://slack.com" and claims["aud"] == CLIENT_ID and claims["nonce"] == "nn"
    assert claims["sub"] == ADMIN_ID == claims["https://slack.com/user_id"]
    assert claims["https://slack.com/team_id"] == TEAM_ID and claims["exp"] > claims["iat"]
    assert error_of(anon.openid_connect_token, **token, code=back["code"], code_verifier=verifier) == "invalid_code"
    fake.refuse_consent()
    r = httpx.get(
        f"{fake.base}/openid/connect/authorize",
        params=dict(client_id=CLIENT_ID, redirect_uri=callback, response_type="code", scope="openid", state="s2"),
    )
    assert "error=access_denied" in r.headers["location"] and "state=s2" in r.headers["location"]


def test_response_url_takes_five_posts(fake: FakeSlack) -> None:
    url = fake.new_response_url(GENERAL, USER_ID)
    hook = WebhookClient(url)
    assert hook.send(text="working on it").status_code == 200
    assert hook.send(text="visible to all", response_type="in_channel").status_code == 200
    assert fake.ephemerals(GENERAL, USER_ID)[0]["text"] == "working on it"
    assert fake.messages(GENERAL)[0]["text"] == "visible to all"
    for _ in range(3):
        assert hook.send(text="more").status_code == 200
    sixth = hook.send(text="too many")
    assert sixth.status_code == 404 and sixth.body == "used_url"
    assert len(fake.response_url_posts(url)) == 5
    assert fake.last("response_url").params["text"] == "more"


@pytest.mark.parametrize(
    "body, error",
    [
        ({"text": "page 2", "blocks": [_pager("page", "page")]}, "invalid_blocks"),
        ({"text": "x" * 4001}, "msg_too_long"),
        (
            {
                "text": "t",
                "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": str(i)}} for i in range(51)],
            },
            "invalid_blocks",
        ),
        ({"text": "t", "blocks": "[not json"}, "invalid_blocks_format"),
        ({"response_type": "ephemeral"}, "no_text"),
        ({"text": "t", "replace_original": "maybe"}, "invalid_payload"),
        ({"text": "t", "response_type": "everyone"}, "invalid_payload"),
    ],
    ids=[
        "duplicate-action-id",
        "text-over-4000",
        "over-50-blocks",
        "blocks-not-json",
        "no-text",
        "replace-original-not-bool",
        "unknown-response-type",
    ],
)
def test_response_url_posts_are_checked_like_messages(fake: FakeSlack, body: dict, error: str) -> None:
    url = fake.new_response_url(GENERAL, USER_ID)
    refused = httpx.post(url, json=body)
    assert (refused.status_code, refused.text) == (400, error)
    assert fake.last("response_url").error == error
    # a refused post shows nothing and does not use the URL up
    assert fake.response_url_posts(url) == [] and fake.ephemerals(GENERAL, USER_ID) == []
    for _ in range(5):
        assert httpx.post(url, json={"text": "fine"}).status_code == 200


def test_response_url_replace_and_delete_original(fake: FakeSlack) -> None:
    url = fake.new_response_url(GENERAL, USER_ID)
    hook = WebhookClient(url)
    assert hook.send(text="page 1", blocks=[_pager("prev", "next")], replace_original=False).status_code == 200
    assert hook.send(text="page 2", blocks=[_pager("prev", "next")], replace_original=True).status_code == 200
    deleted = hook.send_dict({"delete_original": True})  # the only post that needs no text
    assert deleted.status_code == 200, deleted.body
    posts = fake.response_url_posts(url)
    assert [p.get("replace_original") for p in posts] == [False, True, None]
    assert posts[-1]["delete_original"] is True
    assert [m["delete_original"] for m in fake.ephemerals(GENERAL, USER_ID)] == [None, None, True]


# ============================================================================ signed requests


@pytest.fixture
def slack() -> SlackRequests:
    return SlackRequests(DEFAULT_SIGNING_SECRET)


def test_signature_matches_slack_sdk(slack: SlackRequests) -> None:
    verifier = SignatureVerifier(DEFAULT_SIGNING_SECRET)
    body, headers = slack.slash_command("run digest hi")
    assert verifier.is_valid_request(body, headers)
    ts = headers["X-Slack-Request-Timestamp"]
    assert headers["X-Slack-Signature"] == verifier.generate_signature(timestamp=ts, body=body)
    assert signature(DEFAULT_SIGNING_SECRET, ts, body) == headers["X-Slack-Signature"]
    assert not verifier.is_valid_request(*slack.slash_command("x", stale=True))
    assert not verifier.is_valid_request(*slack.slash_command("x", bad_signature=True))
    assert not SignatureVerifier("other-secret").is_valid_request(body, headers)
    tampered = body.replace(b"digest", b"digesT")
    assert not verifier.is_valid_request(tampered, headers)
    fixed = sign(b"{}", DEFAULT_SIGNING_SECRET, "application/json", timestamp=1_700_000_000)
    assert fixed["X-Slack-Request-Timestamp"] == "1700000000"


def test_retry_headers(slack: SlackRequests) -> None:
    _, headers = slack.event({"type": "app_mention", "text": "hi"}, retry_num=1, retry_reason="http_timeout")
    assert headers["X-Slack-Retry-Num"] == "1" and headers["X-Slack-Retry-Reason"] == "http_timeout"
    _, plain = slack.event({"type": "app_mention", "text": "hi"})
    assert "X-Slack-Retry-Num" not in plain


def test_slash_command_body_is_what_slack_sends(fake: FakeSlack, slack: SlackRequests) -> None:
    trigger = fake.new_trigger_id()
    body, headers = slack.slash_command(
        'run "Weekly digest" a & b = c\nline 2', trigger_id=trigger, response_url=fake.new_response_url()
    )
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert b"%20" in body and b"+" not in body and b"command=/pipebot" in body
    fields = dict(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
    assert fields["text"] == 'run "Weekly digest" a & b = c\nline 2'
    assert fields["trigger_id"] == trigger and fields["team_id"] == TEAM_ID and fields["user_id"] == USER_ID
    assert fields["channel_id"] == GENERAL and fields["is_enterprise_install"] == "false"
    assert {"token", "team_domain", "channel_name", "user_name", "api_app_id", "response_url"} <= set(fields)


def test_interactivity_payloads(fake: FakeSlack, client: WebClient, slack: SlackRequests) -> None:
    view = modal(
        "Agent",
        callback_id="agent",
        blocks=[
            {
                "type": "input",
                "block_id": "name",
                "label": {"type": "plain_text", "text": "Name"},
                "element": {"type": "plain_text_input", "action_id": "name"},
            },
            {
                "type": "input",
                "label": {"type": "plain_text", "text": "Model"},
                "element": {
                    "type": "static_select",
                    "option_groups": [
                        {
                            "label": {"type": "plain_text", "text": "Anthropic"},
                            "options": [
                                {
                                    "text": {"type": "plain_text", "text": "Claude Haiku 4.5"},
                                    "value": "claude-haiku-4-5",
                                }
                            ],
                        }
                    ],
                },
            },
            {
                "type": "input",
                "optional": True,
                "label": {"type": "plain_text", "text": "Temperature"},
                "element": {"type": "number_input", "is_decimal_allowed": True},
            },
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "add_step",
                        "value": "1",
                        "text": {"type": "plain_text", "text": "Add step"},
                    }
                ],
            },
        ],
    )
    opened = client.views_open(trigger_id=fake.new_trigger_id(), view=view)["view"]

    body, headers = slack.view_submission(opened, {"Name": "digest", "Model": "Claude Haiku 4.5"})
    assert SignatureVerifier(DEFAULT_SIGNING_SECRET).is_valid_request(body, headers)
    payload = json.loads(urllib.parse.parse_qs(body.decode())["payload"][0])
    assert payload["type"] == "view_submission" and payload["view"]["callback_id"] == "agent"
    values = payload["view"]["state"]["values"]
    assert values["name"]["name"] == {"type": "plain_text_input", "value": "digest"}
    model_bid = opened["blocks"][1]["block_id"]
    (model_state,) = values[model_bid].values()
    assert model_state["selected_option"]["value"] == "claude-haiku-4-5"
    (temp_state,) = values[opened["blocks"][2]["block_id"]].values()
    assert temp_state == {"type": "number_input", "value": None}  # left empty, still reported
    with pytest.raises(KeyError, match="Name"):
        state_from_view(opened, {"Nmae": "typo"})

    body, _ = slack.block_actions(view=opened, action_id="add_step")
    payload = json.loads(urllib.parse.parse_qs(body.decode())["payload"][0])
    assert payload["type"] == "block_actions" and payload["container"] == {"type": "view", "view_id": opened["id"]}
    assert payload["actions"][0]["action_id"] == "add_step" and payload["actions"][0]["value"] == "1"
    assert find_element(opened["blocks"], "add_step")[0] == opened["blocks"][3]["block_id"]

    msg = client.chat_postMessage(
        channel=GENERAL,
        text="Delete?",
        blocks=[
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "confirm_delete",
                        "value": "agent:7",
                        "style": "danger",
                        "text": {"type": "plain_text", "text": "Delete"},
                    }
                ],
            }
        ],
    )["message"]
    body, _ = slack.block_actions(message=msg, action_id="confirm_delete")
    payload = json.loads(urllib.parse.parse_qs(body.decode())["payload"][0])
    assert payload["container"]["type"] == "message" and payload["channel"]["id"] == GENERAL
    assert payload["actions"][0]["value"] == "agent:7" and payload["response_url"]

    for body, _ in (slack.view_closed(opened), slack.shortcut("new_agent"), slack.message_action("save_as_input", msg)):
        payload = json.loads(urllib.parse.parse_qs(body.decode())["payload"][0])
        assert payload["team"]["id"] == TEAM_ID and payload["user"]["id"] == USER_ID


def test_events_api_bodies(slack: SlackRequests) -> None:
    body, headers = slack.url_verification("challenge-123")
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {
        "token": slack.verification_token,
        "challenge": "challenge-123",
        "type": "url_verification",
    }
    body, _ = slack.app_home_opened(USER_ID)
    envelope = json.loads(body)
    assert envelope["type"] == "event_callback" and envelope["event"]["type"] == "app_home_opened"
    assert envelope["event_id"].startswith("Ev") and envelope["authorizations"][0]["team_id"] == TEAM_ID


def test_a_real_bolt_app_accepts_the_requests_and_talks_to_the_fake(fake: FakeSlack, slack: SlackRequests) -> None:
    """Signing + the fake together through Bolt's own HTTP adapter, as the app runs."""
    from slack_bolt import App
    from slack_bolt.adapter.starlette import SlackRequestHandler
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.routing import Route
    from starlette.testclient import TestClient

    app = App(
        signing_secret=DEFAULT_SIGNING_SECRET,
        client=WebClient(token=fake.token, base_url=fake.url),
        process_before_response=True,
    )
    seen: dict = {}

    @app.command("/pipebot")
    def on_command(ack, body, client, respond) -> None:
        ack()
        seen["text"] = body["text"]
        client.views_open(
            trigger_id=body["trigger_id"],
            view=modal(
                "New agent",
                callback_id="agent",
                blocks=[
                    {
                        "type": "input",
                        "block_id": "name",
                        "label": {"type": "plain_text", "text": "Name"},
                        "element": {"type": "plain_text_input", "action_id": "name"},
                    }
                ],
            ),
        )
        respond("opening the builder")

    @app.view("agent")
    def on_submit(ack, view) -> None:
        seen["name"] = view["state"]["values"]["name"]["name"]["value"]
        ack(response_action="errors", errors={"name": "taken"})

    handler = SlackRequestHandler(app)

    async def endpoint(req: Request):
        return await handler.handle(req)

    http = TestClient(Starlette(routes=[Route("/slack/events", endpoint=endpoint, methods=["POST"])]))
    response_url = fake.new_response_url()
    body, headers = slack.slash_command("agent new", trigger_id=fake.new_trigger_id(), response_url=response_url)
    r = http.post("/slack/events", content=body, headers=headers)
    assert r.status_code == 200 and seen["text"] == "agent new"
    assert fake.top_view(USER_ID)["title"]["text"] == "New agent"
    assert fake.response_url_posts(response_url)[0]["text"] == "opening the builder"

    body, headers = slack.view_submission(fake.top_view(USER_ID), {"Name": "digest"})
    r = http.post("/slack/events", content=body, headers=headers)
    assert r.status_code == 200 and r.json() == {"response_action": "errors", "errors": {"name": "taken"}}
    assert seen["name"] == "digest"

    for bad in (slack.slash_command("x", stale=True), slack.slash_command("x", bad_signature=True)):
        assert http.post("/slack/events", content=bad[0], headers=bad[1]).status_code == 401
    body, headers = slack.url_verification("abc")
    assert http.post("/slack/events", content=body, headers=headers).json() == {"challenge": "abc"}


# ---- files, downloads, conversations.replies and the events that carry files ----------------------


def test_files_info_answers_what_the_bot_may_see(fake: FakeSlack, client: WebClient) -> None:
    from tests.fakes.slack.files import stub_of

    obj = fake.add_file(b"hello", "a b.txt")
    assert obj["id"].startswith("F") and obj["mode"] == "hosted" and obj["size"] == 5
    assert obj["channels"] == [GENERAL] and obj["url_private"].startswith(f"{fake.base}/files-pri/{TEAM_ID}-")
    assert client.files_info(file=obj["id"])["file"]["name"] == "a b.txt"
    assert stub_of(obj) == {
        "id": obj["id"],
        "mode": "file_access",
        "file_access": "check_file_info",
        "created": 0,
        "timestamp": 0,
        "user": "",
    }
    hidden = fake.add_file(b"x", "hidden.txt", channel=RANDOM)
    assert error_of(client.files_info, file=hidden["id"]) == "file_not_found"
    fake.delete_file(obj["id"])
    assert error_of(client.files_info, file=obj["id"]) == "file_not_found"
    assert error_of(client.files_info, file="F0NOPE") == "file_not_found"


def test_downloads_need_the_bot_token_and_stream(fake: FakeSlack) -> None:
    data = bytes(range(256)) * 1000
    obj = fake.add_file(data, "blob.bin", mimetype="application/octet-stream", filetype="binary")
    with httpx.stream("GET", obj["url_private"], headers={"Authorization": f"Bearer {fake.token}"}) as r:
        assert r.status_code == 200 and r.headers.get("transfer-encoding") == "chunked"
        assert b"".join(r.iter_bytes()) == data
    for headers in ({}, {"Authorization": "Bearer xoxb-wrong"}):
        r = httpx.get(obj["url_private_download"], headers=headers)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html") and data not in r.content
    hidden = fake.add_file(b"secret", "s.txt", channel=RANDOM)
    r = httpx.get(hidden["url_private"], headers={"Authorization": f"Bearer {fake.token}"})
    assert r.headers["content-type"].startswith("text/html")
    fake.delete_file(obj["id"])
    assert httpx.get(obj["url_private"], headers={"Authorization": f"Bearer {fake.token}"}).status_code == 404
    assert [d.status for d in fake.downloads(obj["id"])] == [200, 200, 200, 404]


def test_conversations_replies_pages_a_thread(fake: FakeSlack, client: WebClient) -> None:
    root = fake.post_as_user(GENERAL, "root")
    replies = fake.fill_thread(GENERAL, root["ts"], 25)
    client.chat_postMessage(
        channel=GENERAL, thread_ts=root["ts"], text="marked", metadata={"event_type": "x", "event_payload": {}}
    )
    first = client.conversations_replies(channel=GENERAL, ts=root["ts"], limit=10)
    assert [m["ts"] for m in first["messages"]] == [root["ts"], *replies[:9]]
    assert first["has_more"] is True and first["response_metadata"]["next_cursor"]
    seen = list(first["messages"])
    cursor = first["response_metadata"]["next_cursor"]
    while cursor:
        page = client.conversations_replies(channel=GENERAL, ts=root["ts"], limit=10, cursor=cursor)
        seen += page["messages"]
        cursor = page["response_metadata"]["next_cursor"]
    assert len(seen) == 27 and "metadata" not in seen[-1]
    with_meta = client.conversations_replies(channel=GENERAL, ts=replies[3], include_all_metadata=True, limit=1000)
    assert with_meta["messages"][-1]["metadata"]["event_type"] == "x"  # any reply's ts names its thread
    before = client.conversations_replies(channel=GENERAL, ts=root["ts"], latest=replies[2])
    assert [m["ts"] for m in before["messages"]] == [root["ts"], replies[0], replies[1]]
    assert error_of(client.conversations_replies, channel=RANDOM, ts=root["ts"]) == "not_in_channel"
    assert error_of(client.conversations_replies, channel=GENERAL, ts="1.000001") == "thread_not_found"


def test_events_that_carry_files(fake: FakeSlack) -> None:
    png = fake.add_file(b"png", "p.png", mimetype="image/png", filetype="png")
    root = fake.post_as_user(GENERAL, "root")
    mention = fake.mention_event(f"<@{BOT_USER_ID}> run Digest", thread_ts=root["ts"], files=[png], stub_files=True)
    assert mention["type"] == "app_mention" and mention["thread_ts"] == root["ts"]
    assert mention["files"] == [{**mention["files"][0], "mode": "file_access"}] and "name" not in mention["files"][0]
    assert fake.message(GENERAL, mention["ts"])["files"][0]["name"] == "p.png"  # stored whole
    dm = fake.dm_event("run Digest hi", files=[png])
    assert dm["channel_type"] == "im" and dm["subtype"] == "file_share" and dm["files"][0]["name"] == "p.png"
    assert fake.messages(dm["channel"])[-1]["text"] == "run Digest hi"
