"""``apps.connections.open``: the Socket Mode websocket URL for an app-level token; the
websocket itself is served by :class:`tests.fakes.slack_socket_mode.SocketModeServer`."""

from __future__ import annotations

from typing import Any

from tests.fakes.slack.limits import APP_ID
from tests.fakes.slack.records import ApiError, Call
from tests.fakes.slack.state import SlackState
from tests.fakes.slack_socket_mode import SocketModeServer


class AppsMixin(SlackState):
    """Socket Mode's entry point (app-level tokens only)."""

    _socket_mode: SocketModeServer | None = None

    @property
    def socket_mode(self) -> SocketModeServer:
        """The websocket side, started on first use (apps.connections.open or a test)."""
        if self._socket_mode is None:
            self._socket_mode = SocketModeServer(APP_ID)
        return self._socket_mode

    def stop_socket_mode(self) -> None:
        if self._socket_mode is not None:
            self._socket_mode.stop()

    def _m_apps_connections_open(self, params: dict[str, Any], ctx: Any, call: Call) -> dict[str, Any]:
        error, result = self.socket_mode.open_connection(call.token, self.tokens)
        if error:
            raise ApiError(error)
        return result
