"""Adversarial checks of the Slack HTTP surface: what Slack really sends (and what it
sends when things go wrong), over HTTP, against the fake Slack."""

from __future__ import annotations

import time
from typing import Any

import pytest

from core.context import AppContext
from tests.fakes.slack import TEAM_ID, USER_ID
from tests.support.slack_app import SlackServer
from tests.support.slack_signing import DEFAULT_SIGNING_SECRET, sign


def _post_raw(slack: SlackServer, body: bytes, headers: dict[str, str]):
    return slack.http.post(slack.url + "/slack/events", content=body, headers=headers)


def test_ssl_check_is_answered_200(ctx: AppContext, slack: SlackServer) -> None:
    body = b"ssl_check=1&token=fake-verification-token"
    r = _post_raw(slack, body, sign(body, DEFAULT_SIGNING_SECRET, "application/x-www-form-urlencoded"))
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("drop", ["X-Slack-Signature", "X-Slack-Request-Timestamp", "both"])
def test_missing_signing_headers_are_401(ctx: AppContext, slack: SlackServer, drop: str) -> None:
    body, headers = slack.signer.slash_command("agents")
    for h in ["X-Slack-Signature", "X-Slack-Request-Timestamp"] if drop == "both" else [drop]:
        headers.pop(h)
    assert _post_raw(slack, body, headers).status_code == 401


@pytest.mark.parametrize("ts", ["not-a-number", "", "9999999999999999999999", "-1", "1e9"])
def test_malformed_timestamp_is_401(ctx: AppContext, slack: SlackServer, ts: str) -> None:
    body, headers = slack.signer.slash_command("agents")
    headers["X-Slack-Request-Timestamp"] = ts
    assert _post_raw(slack, body, headers).status_code == 401


@pytest.mark.parametrize(
    "body,ctype",
    [
        (b"\x00\x01\x02garbage\xff", "application/octet-stream"),
        (b"<xml>hi</xml>", "text/xml"),
        (b"{not json", "application/json"),
        (b"[1,2,3]", "application/json"),
        (b'"a string"', "application/json"),
        (b"payload=%7Bnot-json", "application/x-www-form-urlencoded"),
        (b"payload=%5B1%5D", "application/x-www-form-urlencoded"),
        (b"\xff\xfe=\xff", "application/x-www-form-urlencoded"),
        (b"", "application/x-www-form-urlencoded"),
        (b"", "application/json"),
        (b"type=event_callback", "application/x-www-form-urlencoded"),
        (b'{"type":"event_callback"}', "application/json"),
        (b'{"type":"event_callback","event":"x","team_id":"T1"}', "application/json"),
        (b'{"type":"url_verification"}', "application/json"),
    ],
)
def test_signed_garbage_is_4xx_not_500(ctx: AppContext, slack: SlackServer, body: bytes, ctype: str) -> None:
    headers = sign(body, DEFAULT_SIGNING_SECRET, ctype)
    r = _post_raw(slack, body, headers)
    assert r.status_code < 500, (r.status_code, r.text)


def test_unsigned_garbage_is_401(ctx: AppContext, slack: SlackServer) -> None:
    r = _post_raw(slack, b"\x00\xff", {"Content-Type": "application/octet-stream"})
    assert r.status_code == 401


def test_unsigned_ssl_check_is_answered_200_and_runs_nothing(ctx: AppContext, slack: SlackServer) -> None:
    before = len(slack.fake.calls())
    r = _post_raw(
        slack, b"ssl_check=1&token=fake-verification-token", {"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert r.status_code == 200 and r.content == b""
    # an unsigned command dressed up with ssl_check=1 is still refused
    body, headers = slack.signer.slash_command("agents")
    body += b"&ssl_check=1"
    r = _post_raw(slack, body, {"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 401
    time.sleep(0.1)
    assert len(slack.fake.calls()) == before


@pytest.mark.parametrize(
    "event",
    [
        {"type": "app_uninstalled"},
        {"type": "tokens_revoked", "tokens": {"bot": ["U0PIPEBOT"]}},
        {"type": "app_home_opened", "user": USER_ID, "channel": "D0USER", "tab": "messages"},
        {"type": "app_mention", "user": USER_ID, "text": "<@U0PIPEBOT> hi", "ts": "1.2", "channel": "C0GENERAL"},
    ],
)
def test_subscribed_or_stray_events_are_acked_200(ctx: AppContext, slack: SlackServer, event: dict[str, Any]) -> None:
    """A 404 makes Slack retry the event and, if it keeps failing, disable the subscription."""
    r = slack.post(slack.signer.event(event))
    assert r.status_code == 200, r.text


def test_unknown_action_and_view_closed_are_acked(ctx: AppContext, slack: SlackServer) -> None:
    r = slack.post(
        slack.signer.block_actions([{"type": "button", "action_id": "some_old_button", "block_id": "b", "value": "x"}])
    )
    assert r.status_code == 200, r.text
    view = {
        "id": "V0CLOSED",
        "type": "modal",
        "callback_id": "agent_modal",
        "blocks": [],
        "private_metadata": "",
        "team_id": TEAM_ID,
    }
    r = slack.post(slack.signer.view_closed(view))
    assert r.status_code == 200, r.text


def test_a_body_declared_too_large_is_refused_before_it_is_sent(ctx: AppContext, slack: SlackServer) -> None:
    """An unsigned client announcing 300 MB gets 413 at once: the server never waits for
    (nor buffers) a body it would refuse."""
    import socket
    from urllib.parse import urlsplit

    url = urlsplit(slack.url)
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(
            b"POST /slack/events HTTP/1.1\r\nHost: pipebot.test\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 300000000\r\n\r\n"
        )
        answer = sock.recv(4096)  # no body sent: an endpoint that reads it first would hang here
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


def test_a_chunked_body_past_the_ceiling_is_refused_before_its_signature(ctx: AppContext, slack: SlackServer) -> None:
    from bot.slack.http import BODY_MAX_BYTES

    def chunks():
        for _ in range(BODY_MAX_BYTES // 65536 + 2):
            yield b"x" * 65536

    r = slack.http.post(slack.url + "/slack/events", content=chunks(), headers={"Content-Type": "text/plain"})
    assert r.status_code == 413  # unsigned, but too large is said first: nothing past the ceiling was kept
    assert "at most 1 MiB" in r.text


def test_the_ceiling_is_one_mib_and_the_largest_modal_submission_fits_it(ctx: AppContext, slack: SlackServer) -> None:
    """1 MiB is enough for what Slack sends us: the edit form full (11 parts, 3,000 four-byte
    characters shown and typed, a 500-character note), form-encoded as Slack does, is a small
    part of it and is let through; one byte past the ceiling is not."""
    from bot.slack.blocks.edit import Part, edit_modal
    from bot.slack.http import BODY_MAX_BYTES
    from bot.slack.modal_state import EditState

    assert BODY_MAX_BYTES == 1024 * 1024
    text, note = "\U0001f600" * 3000, "é" * 500
    parts = [Part("output", "Final output", 3000)] + [
        Part(f"step:{n}", f"Step {n} · Writer", 3000) for n in range(1, 11)
    ]
    metadata = EditState("0" * 32, 9, "C" * 11, "1700000000.000100").encode()
    view = edit_modal("P" * 80, 9, parts, selected="output", text=text, note=note, metadata=metadata).to_dict()
    body, headers = slack.signer.view_submission(view, {"Text": text, "Note": note})
    assert len(body) < BODY_MAX_BYTES // 4, len(body)
    assert _post_raw(slack, body, headers).status_code != 413
    over = b"x" * (BODY_MAX_BYTES + 1)
    assert _post_raw(slack, over, {"Content-Type": "text/plain"}).status_code == 413
