"""The HTTP plumbing: a threaded server on 127.0.0.1, request bodies parsed the ways the SDK
sends them (JSON, form, multipart, query), and a crash in the fake answered loudly."""

from __future__ import annotations

import json
import traceback
import urllib.parse
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from tests.fakes.slack.records import ApiError

if TYPE_CHECKING:
    from tests.fakes.slack.server import ServerMixin

# Parameters that Slack accepts as JSON strings inside form bodies.
_JSON_FIELDS = ("blocks", "view", "chunks", "attachments", "metadata", "user_auth_blocks", "unfurls")


def parse_body(content_type: str, body: bytes) -> tuple[dict[str, Any], str]:
    ctype = content_type.split(";", 1)[0].strip().lower()
    if not body:
        return {}, "query"
    if ctype == "application/json":
        data = json.loads(body.decode("utf-8"))
        if not isinstance(data, dict):
            raise ApiError("invalid_json")
        return data, "json"
    if ctype == "multipart/form-data":
        msg = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
        )
        out: dict[str, Any] = {}
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if name:
                payload = part.get_payload(decode=True) or b""
                out[name] = payload if part.get_filename() else payload.decode("utf-8")
        return out, "multipart"
    if ctype in ("application/x-www-form-urlencoded", "text/plain", ""):
        pairs = urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True)
        return dict(pairs), "form"
    raise ApiError("invalid_post_type")


def decode_json_fields(params: dict[str, Any]) -> None:
    for key in _JSON_FIELDS:
        val = params.get(key)
        if isinstance(val, str) and val.strip()[:1] in ("[", "{"):
            try:
                params[key] = json.loads(val)
            except ValueError:
                pass  # left as a string: validation answers invalid_blocks_format etc.


def truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).lower() in ("1", "true", "yes")


class SlackHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, fake: ServerMixin) -> None:
        super().__init__(("127.0.0.1", 0), SlackHTTPHandler)
        self.fake = fake


class SlackHTTPHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: SlackHTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet tests
        pass

    def do_GET(self) -> None:  # noqa: N802
        self._handle()

    def do_POST(self) -> None:  # noqa: N802
        self._handle()

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            status, headers, payload = self.server.fake._dispatch(
                self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body
            )
        except Exception:  # a bug in the fake must fail the test loudly, not hang it
            status, headers = 500, {"Content-Type": "application/json; charset=utf-8"}
            payload = json.dumps(
                {"ok": False, "error": "fake_slack_crashed", "traceback": traceback.format_exc()}
            ).encode("utf-8")
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        if isinstance(payload, bytes):
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        # A file download: sent in chunks as it is read, like Slack's file servers do.
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for chunk in payload:
            self.wfile.write(f"{len(chunk):X}\r\n".encode("ascii") + chunk + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")
