"""Slack's Socket Mode side for the fake Slack: ``apps.connections.open`` and a real
websocket server speaking Slack's Socket Mode protocol
(https://docs.slack.dev/apis/events-api/using-socket-mode).

- ``apps.connections.open`` takes an app-level token (``xapp-…``) only: a bot or user
  token answers ``not_allowed_token_type``, an unknown one ``invalid_auth``, none
  ``not_authed``; a good one gets ``{"ok": true, "url": "ws://127.0.0.1:PORT/link/?ticket=…"}``,
  a ticket good for one connection.
- On connect the server sends ``hello``; a test then delivers envelopes
  (``slash_commands``, ``interactive``, ``events_api``), each with an ``envelope_id``,
  and reads back the app's ack for that id (``{"envelope_id": …, "payload": {…}}``,
  the payload optional).

The websocket is the ``websockets`` library's threaded server (a test dependency), so the
app's own Socket Mode client (slack_sdk's builtin one) does a real handshake, framing,
masking and ping/pong against it. FakeSlack owns one instance as ``fake.socket_mode``;
``websockets`` is imported only when a websocket is first needed.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where used, so the rest of the fake Slack never needs websockets
    from websockets.sync.server import Server, ServerConnection

APP_TOKEN = "xapp-1-A0PIPEBOT-1-fakeapptoken"
ENVELOPE_TYPES = ("slash_commands", "interactive", "events_api")


class SocketModeServer:
    """The websocket side of the fake. Thread-safe; ``stop`` closes every connection."""

    def __init__(self, app_id: str, app_tokens: tuple[str, ...] = (APP_TOKEN,)) -> None:
        self.app_id = app_id
        self.app_tokens = set(app_tokens)
        self._lock = threading.Condition()
        self._tickets: set[str] = set()
        self._connections: list[ServerConnection] = []
        self._acks: dict[str, dict[str, Any]] = {}
        self._server: Server | None = None
        self.refused: list[str] = []  # what apps.connections.open answered besides ok

    # ---- apps.connections.open -------------------------------------------------------
    def open_connection(self, token: str | None, bot_tokens: Any) -> tuple[str | None, dict[str, Any]]:
        """(error, result) for apps.connections.open with ``token``; ``bot_tokens`` are the
        fake's other tokens (a bot token is the wrong type, not an unknown one)."""
        error = None
        if not token:
            error = "not_authed"
        elif token in bot_tokens or not token.startswith("xapp-"):
            error = "not_allowed_token_type" if token in bot_tokens else "invalid_auth"
        elif token not in self.app_tokens:
            error = "invalid_auth"
        if error:
            self.refused.append(error)
            return error, {}
        ticket = secrets.token_hex(8)
        with self._lock:
            self._tickets.add(ticket)
        return None, {"url": f"ws://127.0.0.1:{self._start()}/link/?ticket={ticket}&app_id={self.app_id}"}

    # ---- the websocket -----------------------------------------------------------------
    def _start(self) -> int:
        from websockets.sync.server import serve

        with self._lock:
            if self._server is None:
                self._server = serve(self._session, "127.0.0.1", 0, compression=None)
                threading.Thread(target=self._server.serve_forever, daemon=True, name="fake-socket-mode").start()
            return int(self._server.socket.getsockname()[1])

    def _session(self, conn: ServerConnection) -> None:
        from websockets.exceptions import ConnectionClosed

        path = conn.request.path if conn.request else ""
        ticket = path.partition("ticket=")[2].partition("&")[0]
        with self._lock:
            if ticket not in self._tickets:
                conn.close(1008, "invalid ticket")
                return
            self._tickets.discard(ticket)
            self._connections.append(conn)
            self._lock.notify_all()
        hello = {
            "type": "hello",
            "num_connections": len(self._connections),
            "debug_info": {"host": "applink-fake", "build_number": 1, "approximate_connection_time": 18060},
            "connection_info": {"app_id": self.app_id},
        }
        try:
            conn.send(json.dumps(hello))
            for raw in conn:
                message = json.loads(raw)
                if isinstance(message, dict) and message.get("envelope_id"):
                    with self._lock:
                        self._acks[message["envelope_id"]] = message
                        self._lock.notify_all()
        except (ConnectionClosed, ValueError):
            pass
        finally:
            with self._lock:
                if conn in self._connections:
                    self._connections.remove(conn)
                self._lock.notify_all()

    def wait_connected(self, timeout: float = 15.0) -> None:
        with self._lock:
            if not self._lock.wait_for(lambda: bool(self._connections), timeout):
                raise AssertionError(f"no Socket Mode connection within {timeout} s (refused: {self.refused})")

    @property
    def connected(self) -> int:
        with self._lock:
            return len(self._connections)

    def deliver(self, kind: str, payload: dict[str, Any], *, accepts_response_payload: bool | None = None) -> str:
        """Send one envelope to the newest connection; return its ``envelope_id``."""
        if kind not in ENVELOPE_TYPES:
            raise ValueError(f"envelope type {kind!r} is not one of {ENVELOPE_TYPES}")
        envelope_id = str(uuid.uuid4())
        envelope: dict[str, Any] = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": kind != "events_api"
            if accepts_response_payload is None
            else accepts_response_payload,
        }
        if kind == "events_api":
            envelope.update(retry_attempt=0, retry_reason="")
        with self._lock:
            if not self._connections:
                raise AssertionError("no Socket Mode connection to deliver to")
            conn = self._connections[-1]
        conn.send(json.dumps(envelope))
        return envelope_id

    def ack(self, envelope_id: str, timeout: float = 10.0) -> dict[str, Any]:
        """The app's ack of ``envelope_id`` (waits for it), as sent: envelope_id, payload."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while envelope_id not in self._acks:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no ack for envelope {envelope_id} within {timeout} s")
                self._lock.wait(left)
            return self._acks[envelope_id]

    def stop(self) -> None:
        with self._lock:
            server, self._server = self._server, None
            connections = list(self._connections)
        for conn in connections:
            conn.close()
        if server is not None:
            server.shutdown()
