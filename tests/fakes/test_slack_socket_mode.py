"""The fake's Socket Mode side against slack_sdk's own Socket Mode client (the builtin one
Bolt's handler uses): app-level tokens only, a real websocket, hello, envelopes and acks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from tests.fakes.slack import FakeSlack
from tests.fakes.slack_socket_mode import APP_TOKEN


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as f:
        yield f


@pytest.mark.parametrize(
    ("token", "error"),
    [(None, "not_authed"), ("bot", "not_allowed_token_type"), ("xapp-1-A0X-1-unknown", "invalid_auth")],
)
def test_connections_open_takes_an_app_level_token_only(fake: FakeSlack, token: str | None, error: str) -> None:
    client = WebClient(base_url=fake.url)
    with pytest.raises(SlackApiError) as info:
        client.apps_connections_open(app_token=fake.token if token == "bot" else token or "")
    assert info.value.response["error"] == error
    url = client.apps_connections_open(app_token=APP_TOKEN)["url"]
    assert url.startswith("ws://127.0.0.1:") and "ticket=" in url


def test_envelopes_reach_the_sdk_client_and_its_acks_come_back(fake: FakeSlack) -> None:
    seen: list[SocketModeRequest] = []

    def listener(client: SocketModeClient, req: SocketModeRequest) -> None:
        seen.append(req)
        payload = {"text": "answered"} if req.type == "slash_commands" else None
        client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id, payload=payload))

    client = SocketModeClient(app_token=APP_TOKEN, web_client=WebClient(base_url=fake.url))
    client.socket_mode_request_listeners.append(listener)
    client.connect()
    try:
        fake.socket_mode.wait_connected()
        command = fake.socket_mode.deliver("slash_commands", {"command": "/pipebot", "text": "help"})
        assert fake.socket_mode.ack(command) == {"envelope_id": command, "payload": {"text": "answered"}}
        event = fake.socket_mode.deliver("events_api", {"type": "event_callback", "event": {"type": "app_home_opened"}})
        assert fake.socket_mode.ack(event) == {"envelope_id": event}
        clicked = fake.socket_mode.deliver("interactive", {"type": "block_actions", "actions": []})
        assert fake.socket_mode.ack(clicked)["envelope_id"] == clicked
    finally:
        client.close()
    assert [(r.type, r.accepts_response_payload) for r in seen] == [
        ("slash_commands", True),
        ("events_api", False),
        ("interactive", True),
    ]
    assert seen[0].payload["text"] == "help"
    with pytest.raises(ValueError):
        fake.socket_mode.deliver("hello", {})
