"""Serving and recording: start/stop, scripted faults, latency and holds, the recorded calls,
and dispatching a request to the ``_m_<method>`` that answers it."""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any, Self

from tests.fakes.slack.http import SlackHTTPServer, decode_json_fields, parse_body
from tests.fakes.slack.records import ApiError, Call, Fault, RateLimit
from tests.fakes.slack.state import SlackState

_MAX_MESSAGES = 20  # response_metadata.messages kept per error
# Methods that authenticate with client credentials, not a token.
_NO_TOKEN_METHODS = {"oauth.v2.access", "openid.connect.token", "api.test", "apps.connections.open"}


class ServerMixin(SlackState):
    """HTTP lifecycle, recording and dispatch."""

    def stop_socket_mode(self) -> None:
        """Overridden by the Socket Mode family (apps.py)."""

    def _download(self, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        """Overridden by the files family (files.py)."""
        return 404, {"Content-Type": "text/plain"}, b"not found"

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> Self:
        """Bind 127.0.0.1 on a free port and serve from a daemon thread."""
        if self._server is None:
            self._server = SlackHTTPServer(self)
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True, name="fake-slack"
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        self.stop_socket_mode()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            if self._thread is not None:
                self._thread.join(timeout=5)
            self._server = None
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base(self) -> str:
        """``http://127.0.0.1:PORT`` (no path)."""
        if self._server is None:
            raise RuntimeError("FakeSlack is not started: call start() first")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def url(self) -> str:
        """The Web API base URL, ending in ``/api/`` like ``https://slack.com/api/``."""
        return f"{self.base}/api/"

    def env(self) -> dict[str, str]:
        """Environment for a pipebot process that should talk to this fake."""
        return {
            "SLACK_API_URL": self.url,
            "SLACK_BOT_TOKEN": self.token,
            "SLACK_CLIENT_ID": self.client_id,
            "SLACK_CLIENT_SECRET": self.client_secret,
        }

    # ----------------------------------------------------------------- scripted faults
    def fail_next(
        self,
        method: str,
        error: str | None = None,
        *,
        status: int = 200,
        retry_after: int | None = None,
        times: int = 1,
        when: Callable[[dict[str, Any]], bool] | None = None,
    ) -> None:
        """Make the next ``times`` calls of ``method`` (``"*"``: any method) fail,
        optionally only those whose params satisfy ``when``.

        ``status=429`` answers ``ratelimited`` with ``Retry-After: retry_after``
        (default 1), like Slack's rate limiter; ``status=200`` answers
        ``{"ok": false, "error": error}``; a 5xx status answers that status.
        """
        if status == 429:
            error = error or "ratelimited"
            retry_after = 1 if retry_after is None else retry_after
        elif status >= 500:
            error = error or "internal_error"
        elif error is None:
            raise ValueError("fail_next needs an error code when status is not 429/5xx")
        with self._lock:
            self._faults.append(Fault(method, error, status, retry_after, times, when))

    def clear_faults(self) -> None:
        """Forget scripted faults not yet consumed (a fault whose ``when`` never matched stays
        otherwise, and would answer for a later test)."""
        with self._lock:
            self._faults.clear()

    def set_rate_limit(
        self, method: str, max_calls: int, per_seconds: float = 1.0, *, per_channel: bool = True, retry_after: int = 1
    ) -> None:
        """Rate-limit ``method`` as Slack does (e.g. ``chat.postMessage`` about 1/s per
        channel): calls beyond ``max_calls`` within ``per_seconds`` get HTTP 429."""
        with self._lock:
            self._rate_limits[method] = RateLimit(max_calls, per_seconds, per_channel, retry_after)

    def set_latency(self, method: str, seconds: float) -> None:
        """Delay answers to ``method`` (simulate a slow Slack; ``"*"`` for all methods)."""
        with self._lock:
            self._latency[method] = seconds

    @contextlib.contextmanager
    def hold(self, method: str) -> Iterator[None]:
        """Keep calls to ``method`` unanswered (and unrecorded) until the block exits (at
        most 10 s, so a wrong app cannot hang a test): shows whether the app waited for Slack before answering
        something else (e.g. acked an event before calling ``views.publish``)."""
        gate = threading.Event()
        with self._lock:
            self._holds[method] = gate
        try:
            yield
        finally:
            with self._lock:
                self._holds.pop(method, None)
            gate.set()

    # ----------------------------------------------------------------- recorded calls
    def calls(self, method: str | None = None) -> list[Call]:
        """All recorded calls (of ``method``), oldest first."""
        with self._lock:
            return [c for c in self._calls if method is None or c.method == method]

    def last(self, method: str) -> Call:
        """The latest call of ``method``; AssertionError if there was none."""
        found = self.calls(method)
        if not found:
            raise AssertionError(f"no {method} call recorded; calls: {[c.method for c in self.calls()]}")
        return found[-1]

    def clear_calls(self) -> None:
        """Forget recorded calls (state such as messages is kept)."""
        with self._lock:
            self._calls.clear()

    def wait_for(
        self, method: str, predicate: Callable[[Call], bool] | None = None, timeout: float = 5.0, *, count: int = 1
    ) -> Call:
        """Block until ``count`` calls of ``method`` matching ``predicate`` were received
        (including ones already recorded) and return the ``count``-th one.

        Raises AssertionError naming what was seen, so a failing test says why.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [c for c in self._calls if c.method == method and (predicate is None or predicate(c))]
                if len(found) >= count:
                    return found[count - 1]
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(c.method, c.error) for c in self._calls]
                    raise AssertionError(
                        f"timed out after {timeout}s waiting for {count} x {method}; "
                        f"got {len(found)}; all calls: {seen}"
                    )
                self._cond.wait(left)

    # ================================================================= request handling
    def _dispatch(self, verb: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], Any]:
        parsed = urllib.parse.urlsplit(path)
        if parsed.path.startswith("/files-pri/") and verb == "GET":
            return self._download(parsed.path, headers)  # a file's url_private (files.py)
        if parsed.path.startswith("/response/"):
            return self._response_url(parsed.path.rsplit("/", 1)[-1], headers, body)
        if parsed.path == "/openid/connect/authorize" and verb == "GET":
            return self._authorize_page(parsed.query)  # Sign in with Slack (openid.py)
        if not parsed.path.startswith("/api/"):
            return 404, {"Content-Type": "text/plain"}, b"not found"
        method = parsed.path[len("/api/") :].strip("/")
        params: dict[str, Any] = dict(urllib.parse.parse_qsl(parsed.query, keep_blank_values=True))
        encoding = "query"
        parse_error: ApiError | None = None
        try:
            body_params, encoding = parse_body(headers.get("content-type", ""), body)
            params.update(body_params)
        except ApiError as exc:
            parse_error = exc
        except ValueError:
            parse_error = ApiError("invalid_json")
        decode_json_fields(params)

        token = None
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            token = auth[7:].strip() or None
        elif encoding != "json" and isinstance(params.get("token"), str) and params["token"]:
            token = params["token"]  # Slack ignores a token inside a JSON body
        if encoding != "json":
            params.pop("token", None)  # never keep a credential in the recorded params

        call = Call(
            method=method,
            params=params,
            headers=headers,
            time=time.time(),
            token=token,
            encoding=encoding,
            raw_body=body,
        )
        delay = self._latency.get(method, self._latency.get("*", 0.0))
        if delay:
            time.sleep(delay)
        with self._lock:
            gate = self._holds.get(method)
        if gate is not None:
            gate.wait(10.0)
        status, extra_headers, response = self._answer(call, parse_error)
        call.status, call.response = status, response
        with self._cond:
            self._calls.append(call)
            self._cond.notify_all()
        out_headers = {"Content-Type": "application/json; charset=utf-8", **extra_headers}
        return status, out_headers, json.dumps(response).encode("utf-8")

    def _answer(self, call: Call, parse_error: ApiError | None) -> tuple[int, dict[str, str], dict[str, Any]]:
        with self._lock:
            fault = self._take_fault(call)
            if fault is not None:
                headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
                return fault.status, headers, {"ok": False, "error": fault.error}
            limited = self._rate_limited(call)
            if limited is None and self.tiers is not None:  # Slack's tiers, when a test turns them on
                team = self.tokens.get(call.token or "", {}).get("team_id")
                limited = self.tiers.check(call.method, team, call.params, call.time)
            if limited is not None:
                return 429, {"Retry-After": str(limited)}, {"ok": False, "error": "ratelimited"}
        try:
            if parse_error is not None:
                raise parse_error
            handler = getattr(self, "_m_" + call.method.replace(".", "_"), None)
            if handler is None:
                raise ApiError("unknown_method", req_method=call.method)
            with self._lock:
                ctx = None if call.method in _NO_TOKEN_METHODS else self._auth(call.token)
                result = handler(call.params, ctx, call)
            return 200, {}, {"ok": True, **result}
        except ApiError as exc:
            response: dict[str, Any] = {"ok": False, "error": exc.error, **exc.extra}
            if exc.messages:  # capped so one bad list does not flood a test's output
                response["response_metadata"] = {"messages": exc.messages[:_MAX_MESSAGES]}
            return 200, {}, response

    def _take_fault(self, call: Call) -> Fault | None:
        for fault in self._faults:
            if fault.method in (call.method, "*") and (fault.when is None or fault.when(call.params)):
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _rate_limited(self, call: Call) -> int | None:
        rule = self._rate_limits.get(call.method)
        if rule is None:
            return None
        key = str(call.params.get("channel", "")) if rule.per_channel else "*"
        now = time.monotonic()
        hits = [t for t in rule.hits.get(key, []) if now - t < rule.per_seconds]
        if len(hits) >= rule.max_calls:
            rule.hits[key] = hits
            return rule.retry_after
        hits.append(now)
        rule.hits[key] = hits
        return None

    def _auth(self, token: str | None) -> dict[str, Any]:
        if not token:
            raise ApiError("not_authed")
        info = self.tokens.get(token)
        if info is None:
            raise ApiError("invalid_auth")
        if info["revoked"]:
            raise ApiError("token_revoked")
        return {"token": token, "team": self.teams[info["team_id"]], **info}
