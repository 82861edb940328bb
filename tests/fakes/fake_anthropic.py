"""A fake Anthropic API (Messages + Models) on 127.0.0.1, speaking the real wire format.

Point the official SDK at it with ``anthropic.Anthropic(base_url=fake.url)`` or
``ANTHROPIC_BASE_URL=fake.url`` in a subprocess.

What it checks, as the real API does (answers in Anthropic's error format
``{"type": "error", "error": {"type", "message"}, "request_id"}`` with a
``request-id`` header on every response):

* ``x-api-key`` (or ``Authorization: Bearer``) → 401 ``authentication_error`` when
  missing or refused (refused: not in ``api_keys`` when that set is given, else any
  key starting with ``bad`` or ``sk-ant-bad``).
* ``anthropic-version`` required and known; under ``2026-10-21`` (what SDK 2.13
  sends) the body may not carry ``temperature``, ``top_p`` or ``top_k``: like any
  unknown field they get 400 ``invalid_request_error`` "<field>: Extra inputs are
  not permitted".
* ``model``, ``max_tokens`` and ``messages`` are required ("max_tokens: Field
  required"); ``max_tokens`` above the model's limit is refused; an unknown model
  is 404 ``not_found_error``; messages alternate roles, text blocks are non-empty,
  every ``tool_use`` is answered by a ``tool_result`` in the next message and every
  ``tool_result`` answers a ``tool_use`` of the previous one; tools need a valid
  name and an object ``input_schema``; a prompt over the model's context window is
  400 "prompt is too long: N tokens > M maximum".
* server tools (tests/fakes/anthropic_server_tools.py): ``web_search_*`` / ``web_fetch_*``
  definitions checked field by field, an unknown tool type refused with the API's 400;
  ``server_tool_use`` and result blocks sent back only in assistant turns, each result
  answering an earlier use and unchanged from what this fake issued.
* ``image`` and ``document`` blocks (tests/fakes/anthropic_media.py): source ``base64``,
  ``url`` or ``file``; a base64 image's ``media_type`` one of jpeg/png/gif/webp, its data
  valid base64 whose first bytes are that type ("Image does not match the provided media
  type"); a base64 document is ``application/pdf`` and starts with ``%PDF``; no document
  in an assistant turn; at most 100 images (600 above a 200k context) and 100 PDF
  pages (600 from a 1M context). A body over 32 MB is 413 ``request_too_large``. Each image adds
  ``image_tokens`` (1,600) and each PDF page ``pdf_page_tokens`` (1,500) to the input
  tokens; ``fake.last.images()`` / ``.documents()`` give what arrived, decoded.

Replies: ``Turn`` → a Message (JSON) or a stream of ``message_start``,
``content_block_start/delta/stop`` (``thinking_delta`` + ``signature_delta``,
``text_delta``, ``input_json_delta``), ``ping``, ``message_delta``, ``message_stop``.
``Turn(server_tools=[ServerToolSpec(...)])`` puts ``server_tool_use`` + result blocks
(search results, a fetched page, or an error object) before the text, counted in
``usage.server_tool_use``; ``Turn(stop_reason="pause_turn")`` pauses the turn.
Models whose adaptive thinking is always on (Fable, Mythos, Opus 5.5) start every
reply with a signed ``thinking`` block, and, as the real API, refuse a tool loop
whose last assistant turn does not start with it, or whose signature was altered. Usage is estimated at ~4 chars/token; a system
prompt sent with ``cache_control`` and at least ``cache_min_tokens`` long is
written to a simulated cache on first use and read from it afterwards
(``cache_creation_input_tokens`` / ``cache_read_input_tokens``).

``GET /v1/models`` is cursor-paged (``limit``, ``after_id``, ``before_id``,
``has_more``, ``first_id``, ``last_id``), newest first; ``max_page_size`` caps a page
for paging tests.

Usage::

    with FakeAnthropic() as fake:
        client = anthropic.Anthropic(api_key="sk-ant-test", base_url=fake.url)
        fake.reply("Hello!")                                  # next call's answer
        fake.reply_tool_calls([("get_weather", {"city": "Paris"})])
        fake.fail(529, type="overloaded_error", message="Overloaded", headers={"retry-after": "0.2"})
        fake.reply("partial", error_after=4)                  # SSE error event mid-stream
        fake.reply("partial", cut_after=4)                    # connection dropped mid-stream
        assert fake.last.json["max_tokens"] == 1024
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from dataclasses import dataclass
from typing import Any

from .anthropic_media import check_counts, check_document, check_image
from .anthropic_server_tools import (
    RESULT_TYPES,
    ToolRefused,
    check_sent_back,
    check_server_tool,
    request_counts,
    server_blocks,
)
from .llm_base import (
    FakeLLMServer,
    Fault,
    HTTPReply,
    RecordedRequest,
    SSEReply,
    Turn,
    estimate_tokens,
    new_id,
    sse,
    words,
)
from .llm_media import IMAGE_TOKENS, PDF_PAGE_TOKENS, Refused

__all__ = ["FakeAnthropic", "FakeModel", "Fault", "Turn", "CURRENT_VERSION", "MAX_REQUEST_BYTES"]

CURRENT_VERSION = "2026-10-21"
KNOWN_VERSIONS = ("2023-01-01", "2023-06-01", CURRENT_VERSION)
#: The Messages endpoint's request size limit (the vision docs' 32 MB; the PDF page's
#: 128 MB is newer and conflicting, so the stricter one is checked).
MAX_REQUEST_BYTES = 32 * 1024 * 1024

_BODY_FIELDS = frozenset(
    {
        "max_tokens",
        "messages",
        "model",
        "cache_control",
        "container",
        "context_management",
        "diagnostics",
        "inference_geo",
        "mcp_servers",
        "metadata",
        "output_config",
        "service_tier",
        "speed",
        "stop_sequences",
        "stream",
        "system",
        "thinking",
        "tool_choice",
        "tools",
    }
)
_SAMPLING_FIELDS = frozenset({"temperature", "top_p", "top_k"})  # gone in 2026-10-21


@dataclass
class FakeModel:
    id: str
    display_name: str
    created_at: str
    max_input_tokens: int = 1_000_000
    max_tokens: int = 128_000
    aliases: tuple[str, ...] = ()
    thinking: bool = False  # adaptive thinking always on: replies start with a signed thinking block


DEFAULT_MODELS: tuple[FakeModel, ...] = (
    FakeModel("claude-fable-5-2", "Claude Fable 5.2", "2026-10-14T00:00:00Z", thinking=True),
    FakeModel("claude-haiku-5-5", "Claude Haiku 5.5", "2026-10-07T00:00:00Z"),
    FakeModel("claude-sonnet-5-5", "Claude Sonnet 5.5", "2026-09-29T00:00:00Z"),
    FakeModel("claude-opus-5-5", "Claude Opus 5.5", "2026-09-22T00:00:00Z", thinking=True),
    FakeModel("claude-mythos-5-2", "Claude Mythos 5.2", "2026-09-15T00:00:00Z", thinking=True),
    FakeModel("claude-fable-5-1", "Claude Fable 5.1", "2026-08-20T00:00:00Z", thinking=True),
    FakeModel("claude-mythos-5-1", "Claude Mythos 5.1", "2026-08-13T00:00:00Z", thinking=True),
    FakeModel("claude-opus-5", "Claude Opus 5", "2026-07-24T00:00:00Z"),
    FakeModel("claude-fable-5", "Claude Fable 5", "2026-07-16T00:00:00Z", thinking=True),
    FakeModel("claude-mythos-5", "Claude Mythos 5", "2026-07-09T00:00:00Z", thinking=True),
    FakeModel("claude-sonnet-5", "Claude Sonnet 5", "2026-06-30T00:00:00Z"),
    FakeModel("claude-opus-4-8", "Claude Opus 4.8", "2026-06-02T00:00:00Z"),
    FakeModel("claude-opus-4-7", "Claude Opus 4.7", "2026-04-16T00:00:00Z"),
    FakeModel("claude-opus-4-6", "Claude Opus 4.6", "2026-02-05T00:00:00Z"),
    FakeModel("claude-sonnet-4-6", "Claude Sonnet 4.6", "2026-02-17T00:00:00Z", max_tokens=64_000),
    FakeModel(
        "claude-opus-4-5-20251101", "Claude Opus 4.5", "2025-11-24T00:00:00Z", 200_000, 64_000, ("claude-opus-4-5",)
    ),
    FakeModel(
        "claude-haiku-4-5-20251001", "Claude Haiku 4.5", "2025-10-15T00:00:00Z", 200_000, 64_000, ("claude-haiku-4-5",)
    ),
    FakeModel(
        "claude-sonnet-4-5-20250929",
        "Claude Sonnet 4.5",
        "2025-09-29T00:00:00Z",
        200_000,
        64_000,
        ("claude-sonnet-4-5",),
    ),
)

_SIGNING_KEY = b"fake-anthropic-thinking-signature"


def sign_thinking(text: str) -> str:
    return base64.b64encode(hmac.new(_SIGNING_KEY, text.encode(), hashlib.sha256).digest()).decode()


_TOOL_NAME_OK = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


class _Invalid(Exception):
    def __init__(self, message: str, status: int = 400, err_type: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.err_type = err_type


class FakeAnthropic(FakeLLMServer):
    generation_path = "/v1/messages"

    def __init__(
        self,
        *,
        api_keys: set[str] | None = None,
        models: tuple[FakeModel, ...] | list[FakeModel] = DEFAULT_MODELS,
        cache_min_tokens: int = 1024,
        max_page_size: int = 1000,
        max_request_bytes: int = MAX_REQUEST_BYTES,
        **kw: Any,
    ) -> None:
        super().__init__(**kw)
        self.max_request_bytes = max_request_bytes
        self.image_tokens = IMAGE_TOKENS  # input tokens counted per image
        self.pdf_page_tokens = PDF_PAGE_TOKENS  # input tokens counted per PDF page
        self.api_keys = api_keys
        self.models: list[FakeModel] = list(models)
        self.cache_min_tokens = cache_min_tokens
        self.max_page_size = max_page_size
        self._cache: set[str] = set()
        self._cache_lock = threading.Lock()
        self.issued_results: dict[str, dict[str, Any]] = {}  # server tool use id → the result block sent out

    @property
    def url(self) -> str:
        """The SDK's base_url (and ANTHROPIC_BASE_URL): the server root."""
        return self.root_url

    def add_model(
        self, model_id: str, display_name: str, *, created_at: str = "2027-01-01T00:00:00Z", **kw: Any
    ) -> None:
        self.models.insert(0, FakeModel(model_id, display_name, created_at, **kw))

    def reset(self) -> None:
        super().reset()
        with self._cache_lock:
            self._cache.clear()
            self.issued_results.clear()

    # ---- errors --------------------------------------------------------------

    def error_body(self, status: int, *, type: str | None = None, message: str | None = None, **extra: Any) -> dict:  # noqa: A002
        err_type = type or {
            400: "invalid_request_error",
            401: "authentication_error",
            402: "billing_error",
            403: "permission_error",
            404: "not_found_error",
            413: "request_too_large",
            429: "rate_limit_error",
            500: "api_error",
            504: "timeout_error",
            529: "overloaded_error",
        }.get(status, "api_error")
        error: dict[str, Any] = {"type": err_type, "message": message or err_type.replace("_", " ")}
        if extra:
            error.update(extra)  # e.g. details={"error_code": "enforced_spend_limit_reached"}
        return {"type": "error", "error": error, "request_id": new_id("req_011C")}

    def _error(self, status: int, err_type: str, message: str, headers: dict[str, str]) -> HTTPReply:
        body = {"type": "error", "error": {"type": err_type, "message": message}, "request_id": headers["request-id"]}
        return self.json_reply(status, body, headers)

    # ---- dispatch ------------------------------------------------------------

    def handle(self, req: RecordedRequest) -> HTTPReply | SSEReply:
        headers = {"request-id": new_id("req_011C"), "anthropic-organization-id": "0f6f3c7e-fake-org"}
        key = req.header("x-api-key")
        if key is None:
            auth = req.header("authorization") or ""
            key = auth[7:] if auth.lower().startswith("bearer ") else None
        if not key:
            return self._error(401, "authentication_error", "x-api-key header is required", headers)
        if (self.api_keys is not None and key not in self.api_keys) or (
            self.api_keys is None and key.startswith(("bad", "sk-ant-bad"))
        ):
            return self._error(401, "authentication_error", "invalid x-api-key", headers)

        scripted = self._peek_scripted(req.path)
        if isinstance(scripted, Fault):
            self._next_scripted(req.path)
            body = scripted.body
            if isinstance(body, dict) and "request_id" in body:
                headers["request-id"] = body["request_id"]
            return self.fault_reply(scripted, headers)

        try:
            if req.path == "/v1/messages" and req.method == "POST":
                return self._messages(req, headers)
            if req.path == "/v1/models" and req.method == "GET":
                return self._list_models(req, headers)
            if req.path.startswith("/v1/models/") and req.method == "GET":
                return self._get_model(req.path.rsplit("/", 1)[1], headers)
        except _Invalid as inv:
            return self._error(inv.status, inv.err_type, inv.message, headers)
        return self._error(404, "not_found_error", f"Not found: {req.method} {req.path}", headers)

    # ---- models --------------------------------------------------------------

    def find_model(self, model_id: str) -> FakeModel | None:
        for m in self.models:
            if m.id == model_id or model_id in m.aliases:
                return m
        return None

    def _model_json(self, m: FakeModel) -> dict[str, Any]:
        return {
            "type": "model",
            "id": m.id,
            "display_name": m.display_name,
            "created_at": m.created_at,
            "max_input_tokens": m.max_input_tokens,
            "max_tokens": m.max_tokens,
            "lifecycle": "active",
            "deprecated_at": None,
            "retires_at": None,
            "capabilities": None,
        }

    def _list_models(self, req: RecordedRequest, headers: dict[str, str]) -> HTTPReply:
        q = {k: v[-1] for k, v in req.query.items()}
        try:
            limit = int(q.get("limit", "20"))
        except ValueError:
            raise _Invalid("limit: Input should be a valid integer") from None
        if not 1 <= limit <= 1000:
            raise _Invalid("limit: Input should be less than or equal to 1000 and greater than or equal to 1")
        limit = min(limit, self.max_page_size)
        ordered = sorted(self.models, key=lambda m: m.created_at, reverse=True)
        ids = [m.id for m in ordered]
        if "after_id" in q:
            if q["after_id"] not in ids:
                raise _Invalid(f"after_id: unknown model id {q['after_id']}")
            start = ids.index(q["after_id"]) + 1
            page = ordered[start : start + limit]
            has_more = start + limit < len(ordered)
        elif "before_id" in q:
            if q["before_id"] not in ids:
                raise _Invalid(f"before_id: unknown model id {q['before_id']}")
            end = ids.index(q["before_id"])
            page = ordered[max(0, end - limit) : end]
            has_more = end - limit > 0
        else:
            page = ordered[:limit]
            has_more = limit < len(ordered)
        payload = {
            "data": [self._model_json(m) for m in page],
            "has_more": has_more,
            "first_id": page[0].id if page else None,
            "last_id": page[-1].id if page else None,
        }
        return self.json_reply(200, payload, headers)

    def _get_model(self, model_id: str, headers: dict[str, str]) -> HTTPReply:
        m = self.find_model(model_id)
        if m is None:
            raise _Invalid(f"model: {model_id}", 404, "not_found_error")
        return self.json_reply(200, self._model_json(m), headers)

    # ---- messages ------------------------------------------------------------

    def _messages(self, req: RecordedRequest, headers: dict[str, str]) -> HTTPReply | SSEReply:
        if len(req.body) > self.max_request_bytes:
            raise _Invalid("Request exceeds the maximum allowed number of bytes.", 413, "request_too_large")
        version = req.header("anthropic-version")
        if not version:
            raise _Invalid("anthropic-version: header is required")
        if version not in KNOWN_VERSIONS:
            raise _Invalid(f"anthropic-version: invalid version '{version}'")
        body = req.json
        if not isinstance(body, dict):
            raise _Invalid("There was an error parsing the body of your request: expected a JSON object")
        allowed = _BODY_FIELDS if version == CURRENT_VERSION else _BODY_FIELDS | _SAMPLING_FIELDS
        for name in body:
            if name not in allowed:
                raise _Invalid(f"{name}: Extra inputs are not permitted")
        for name in ("max_tokens", "messages", "model"):
            if name not in body:
                raise _Invalid(f"{name}: Field required")
        model_id = body["model"]
        if not isinstance(model_id, str):
            raise _Invalid("model: Input should be a valid string")
        max_tokens = body["max_tokens"]
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool):
            raise _Invalid("max_tokens: Input should be a valid integer")
        if max_tokens < 0:
            raise _Invalid("max_tokens: Input should be greater than or equal to 0")
        model = self.find_model(model_id)
        if model is None:
            raise _Invalid(f"model: {model_id}", 404, "not_found_error")
        if max_tokens > model.max_tokens:
            raise _Invalid(
                f"max_tokens: {max_tokens} > {model.max_tokens}, which is the maximum allowed number of output tokens for {model_id}"
            )
        system_text, system_cached = self._check_system(body.get("system"))
        tools_text, offered = self._check_tools(body.get("tools"))
        thinking_on = model.thinking or (body.get("thinking") or {}).get("type") in ("enabled", "adaptive")
        messages_text, last_user, images, pages = self._check_messages(body["messages"], thinking_on)
        try:
            check_counts(images, pages, model.max_input_tokens)
        except Refused as refused:
            raise _Invalid(refused.message) from None
        media_tokens = images * self.image_tokens + pages * self.pdf_page_tokens

        prompt_tokens = (
            estimate_tokens(system_text) + estimate_tokens(tools_text) + estimate_tokens(messages_text) + media_tokens
        )
        if prompt_tokens > model.max_input_tokens:
            raise _Invalid(f"prompt is too long: {prompt_tokens} tokens > {model.max_input_tokens} maximum")

        usage = {"input_tokens": prompt_tokens, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
        if system_cached:
            prefix = tools_text + system_text
            prefix_tokens = estimate_tokens(tools_text) + estimate_tokens(system_text)
            if prefix_tokens >= self.cache_min_tokens:
                digest = hashlib.sha256(f"{model.id}\0{prefix}".encode()).hexdigest()
                with self._cache_lock:
                    hit = digest in self._cache
                    self._cache.add(digest)
                usage["input_tokens"] = prompt_tokens - prefix_tokens
                usage["cache_read_input_tokens" if hit else "cache_creation_input_tokens"] = prefix_tokens

        scripted = self._next_scripted(req.path)
        turn = scripted if isinstance(scripted, Turn) else self.default_turn(req, model_id, last_user)
        reply_model = turn.model or model_id
        if turn.stop_reason is None and not turn.tool_calls and estimate_tokens(turn.text) > max_tokens:
            # the model runs out of budget: text cut, stop_reason max_tokens
            turn = Turn(
                **{**turn.__dict__, "text": turn.text[: max_tokens * 4], "stop_reason": "max_tokens", "deltas": None}
            )
        content = self._content(turn, model, offered)
        out_tokens = (
            sum(
                estimate_tokens(b["text"])
                if b["type"] == "text"
                else estimate_tokens(b["thinking"])
                if b["type"] == "thinking"
                else estimate_tokens(json.dumps(b["input"]))
                if "input" in b
                else 0  # a server tool's result is read by the model, not written by it
                for b in content
            )
            or 1
        )
        stop_reason = turn.stop_reason or ("tool_use" if turn.tool_calls else "end_turn")
        usage.update(
            cache_creation={
                "ephemeral_5m_input_tokens": usage["cache_creation_input_tokens"],
                "ephemeral_1h_input_tokens": 0,
            },
            output_tokens=out_tokens,
            service_tier="standard",
        )
        if turn.server_tools:
            usage["server_tool_use"] = request_counts(turn.server_tools)
        if turn.usage:
            usage.update(turn.usage)
        headers.update(turn.headers)
        msg_id = new_id("msg_01")
        if body.get("stream"):
            return self._stream(turn, msg_id, reply_model, content, stop_reason, usage, headers)
        message = {
            "id": msg_id,
            "type": "message",
            "role": "assistant",
            "model": reply_model,
            "content": [{k: v for k, v in b.items() if k != "_raw"} for b in content],
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": usage,
        }
        if turn.stop_details:
            message["stop_details"] = turn.stop_details
        return self.json_reply(200, message, headers, turn.delay)

    def _content(
        self, turn: Turn, model: FakeModel | None = None, offered: frozenset[str] = frozenset()
    ) -> list[dict[str, Any]]:
        content: list[dict[str, Any]] = []
        thought = turn.thinking
        if thought is None and model is not None and model.thinking:
            thought = "The user wants an answer; I will give it plainly."
        if thought:
            content.append({"type": "thinking", "thinking": thought, "signature": sign_thinking(thought)})
        for spec in turn.server_tools:
            if spec.name not in offered:
                raise ValueError(f"the script uses server tool {spec.name!r}, which the request did not offer")
            for block in server_blocks(spec):
                if block["type"] in RESULT_TYPES.values():
                    with self._cache_lock:
                        self.issued_results[block["tool_use_id"]] = block
                content.append(block)
        if turn.text:
            content.append({"type": "text", "text": turn.text})
        for call in turn.tool_calls:
            args = call.arguments
            block = {"type": "tool_use", "id": call.id or new_id("toolu_01"), "name": call.name, "input": args}
            if isinstance(args, str):
                # A raw string is streamed as the input_json_delta fragments as is (it may be
                # malformed, or empty); a JSON body can only carry an object.
                try:
                    parsed = json.loads(args) if args.strip() else {}
                except ValueError:
                    parsed = {}
                block["input"] = parsed if isinstance(parsed, dict) else {}
                block["_raw"] = args
            content.append(block)
        return content

    def _stream(
        self,
        turn: Turn,
        msg_id: str,
        model: str,
        content: list[dict[str, Any]],
        stop_reason: str,
        usage: dict[str, Any],
        headers: dict[str, str],
    ) -> SSEReply:
        start_usage = dict(usage, output_tokens=1)
        events = [
            sse(
                "message_start",
                {
                    "type": "message_start",
                    "message": {
                        "id": msg_id,
                        "type": "message",
                        "role": "assistant",
                        "model": model,
                        "content": [],
                        "stop_reason": None,
                        "stop_sequence": None,
                        "usage": start_usage,
                    },
                },
            )
        ]
        for index, block in enumerate(content):
            if block["type"] == "thinking":
                events.append(
                    sse(
                        "content_block_start",
                        {
                            "type": "content_block_start",
                            "index": index,
                            "content_block": {"type": "thinking", "thinking": "", "signature": ""},
                        },
                    )
                )
                for piece in words(block["thinking"]):
                    events.append(
                        sse(
                            "content_block_delta",
                            {
                                "type": "content_block_delta",
                                "index": index,
                                "delta": {"type": "thinking_delta", "thinking": piece},
                            },
                        )
                    )
                events.append(
                    sse(
                        "content_block_delta",
                        {
                            "type": "content_block_delta",
                            "index": index,
                            "delta": {"type": "signature_delta", "signature": block["signature"]},
                        },
                    )
                )
            elif block["type"] == "text":
                events.append(
                    sse(
                        "content_block_start",
                        {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}},
                    )
                )
                if index == 0:
                    events.append(sse("ping", {"type": "ping"}))
                # rendered by hand: a 2,000-token stream must not keep the fake busy
                head = (
                    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":%d,'
                    b'"delta":{"type":"text_delta","text":' % index
                )
                for piece in turn.deltas if turn.deltas is not None else words(block["text"]):
                    events.append(head + json.dumps(piece).encode() + b"}}\n\n")
            elif block["type"] in RESULT_TYPES.values():  # a result arrives whole, in its start event
                events.append(
                    sse("content_block_start", {"type": "content_block_start", "index": index, "content_block": block})
                )
            else:
                events.append(
                    sse(
                        "content_block_start",
                        {
                            "type": "content_block_start",
                            "index": index,
                            "content_block": {
                                "type": block["type"],  # tool_use or server_tool_use: input by deltas
                                "id": block["id"],
                                "name": block["name"],
                                "input": {},
                            },
                        },
                    )
                )
                raw = block.get("_raw", None)
                if raw is None:
                    raw = json.dumps(block["input"])
                step = max(1, len(raw) // 3)
                for i in range(0, len(raw), step):
                    events.append(
                        sse(
                            "content_block_delta",
                            {
                                "type": "content_block_delta",
                                "index": index,
                                "delta": {"type": "input_json_delta", "partial_json": raw[i : i + step]},
                            },
                        )
                    )
            events.append(sse("content_block_stop", {"type": "content_block_stop", "index": index}))
        events.append(
            sse(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {
                        "stop_reason": stop_reason,
                        "stop_sequence": None,
                        **({"stop_details": turn.stop_details} if turn.stop_details else {}),
                    },
                    "usage": {
                        "input_tokens": usage["input_tokens"],
                        "cache_creation_input_tokens": usage["cache_creation_input_tokens"],
                        "cache_read_input_tokens": usage["cache_read_input_tokens"],
                        "output_tokens": usage["output_tokens"],
                        **({"server_tool_use": usage["server_tool_use"]} if "server_tool_use" in usage else {}),
                    },
                },
            )
        )
        events.append(sse("message_stop", {"type": "message_stop"}))
        if turn.error_after is not None:
            error = {
                "type": "error",
                "error": {"type": turn.error_type or "overloaded_error", "message": turn.error_message},
                "request_id": headers["request-id"],
            }
            events = events[: turn.error_after] + [sse("error", error)]
        return SSEReply(
            events,
            headers=headers,
            delay=turn.delay,
            chunk_delay=turn.chunk_delay,
            cut_after=turn.cut_after,
            cut_mode=turn.cut_mode,
        )

    # ---- validation ----------------------------------------------------------

    def _check_system(self, system: Any) -> tuple[str, bool]:
        if system is None:
            return "", False
        if isinstance(system, str):
            return system, False
        if not isinstance(system, list):
            raise _Invalid("system: Input should be a valid string or a list of text blocks")
        texts: list[str] = []
        cached = False
        for i, block in enumerate(system):
            if not isinstance(block, dict) or block.get("type") != "text" or not isinstance(block.get("text"), str):
                raise _Invalid(f"system.{i}: Input should be a text block")
            if not block["text"]:
                raise _Invalid(f"system.{i}.text: text content blocks must be non-empty")
            cc = block.get("cache_control")
            if cc is not None:
                if not isinstance(cc, dict) or cc.get("type") != "ephemeral":
                    raise _Invalid(f"system.{i}.cache_control.type: Input should be 'ephemeral'")
                cached = True
            texts.append(block["text"])
        return "".join(texts), cached

    def _check_tools(self, tools: Any) -> tuple[str, frozenset[str]]:
        """Validate ``tools``; return their JSON (for token counts) and the server tools offered."""
        if tools is None:
            return "", frozenset()
        if not isinstance(tools, list):
            raise _Invalid("tools: Input should be a valid list")
        names: set[str] = set()
        server: set[str] = set()
        for i, tool in enumerate(tools):
            if not isinstance(tool, dict):
                raise _Invalid(f"tools.{i}: Input should be a valid dictionary")
            if tool.get("type", "custom") != "custom":
                try:
                    server_name = check_server_tool(i, tool)
                except ToolRefused as refused:
                    raise _Invalid(refused.message) from None
                if server_name in names:
                    raise _Invalid(f"tools: Tool names must be unique. Duplicate name: {server_name}")
                names.add(server_name)
                server.add(server_name)
                continue
            name = tool.get("name")
            if not isinstance(name, str) or not name:
                raise _Invalid(f"tools.{i}.custom.name: Field required")
            if len(name) > 128 or not set(name) <= _TOOL_NAME_OK:
                raise _Invalid(f"tools.{i}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{{1,128}}$'")
            if name in names:
                raise _Invalid(f"tools: Tool names must be unique. Duplicate name: {name}")
            names.add(name)
            schema = tool.get("input_schema")
            if not isinstance(schema, dict):
                raise _Invalid(f"tools.{i}.custom.input_schema: Field required")
            if schema.get("type") != "object":
                raise _Invalid(f"tools.{i}.custom.input_schema.type: Input should be 'object'")
        return json.dumps(tools), frozenset(server)

    def _check_messages(self, messages: Any, thinking_on: bool = False) -> tuple[str, str, int, int]:
        """Validate the conversation; return (all prompt text, last user text, images,
        PDF pages)."""
        if not isinstance(messages, list):
            raise _Invalid("messages: Input should be a valid list")
        if not messages:
            raise _Invalid("messages: at least one message is required")
        texts: list[str] = []
        last_user = ""
        images = pages = 0
        prev_tool_uses: list[str] = []
        prev_role: str | None = None
        server_uses: set[str] = set()  # server tool use ids seen so far
        with self._cache_lock:
            issued = dict(self.issued_results)
        for i, msg in enumerate(messages):
            if not isinstance(msg, dict):
                raise _Invalid(f"messages.{i}: Input should be a valid dictionary")
            role = msg.get("role")
            if role not in ("user", "assistant"):
                raise _Invalid(f"messages.{i}.role: Input should be 'user' or 'assistant'")
            if "content" not in msg:
                raise _Invalid(f"messages.{i}.content: Field required")
            content = msg["content"]
            blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
            if not isinstance(blocks, list):
                raise _Invalid(f"messages.{i}.content: Input should be a valid string or list")
            tool_uses: list[str] = []
            answered: list[str] = []
            user_texts: list[str] = []
            for j, block in enumerate(blocks):
                btype = block.get("type") if isinstance(block, dict) else None
                where = f"messages.{i}.content.{j}"
                if btype == "text":
                    if not isinstance(block.get("text"), str):
                        raise _Invalid(f"{where}.text: Field required")
                    if not block["text"] and not isinstance(content, str):
                        raise _Invalid(f"{where}.text: text content blocks must be non-empty")
                    texts.append(block["text"])
                    user_texts.append(block["text"])
                elif btype == "tool_use":
                    if role != "assistant":
                        raise _Invalid(f"{where}: tool_use blocks can only be in assistant messages")
                    for name in ("id", "name", "input"):
                        if name not in block:
                            raise _Invalid(f"{where}.tool_use.{name}: Field required")
                    if not isinstance(block["input"], dict):
                        raise _Invalid(f"{where}.tool_use.input: Input should be a valid dictionary")
                    tool_uses.append(block["id"])
                    texts.append(json.dumps(block["input"]))
                elif btype == "tool_result":
                    if role != "user":
                        raise _Invalid(f"{where}: tool_result blocks can only be in user messages")
                    use_id = block.get("tool_use_id")
                    if not isinstance(use_id, str):
                        raise _Invalid(f"{where}.tool_result.tool_use_id: Field required")
                    if use_id not in prev_tool_uses:
                        raise _Invalid(
                            f"{where}: unexpected `tool_use_id` found in `tool_result` blocks: {use_id}. "
                            "Each `tool_result` block must have a corresponding `tool_use` block in the previous message."
                        )
                    if "is_error" in block and not isinstance(block["is_error"], bool):
                        raise _Invalid(f"{where}.tool_result.is_error: Input should be a valid boolean")
                    result = block.get("content", "")
                    texts.append(result if isinstance(result, str) else json.dumps(result))
                    answered.append(use_id)
                elif btype == "thinking":
                    if role != "assistant":
                        raise _Invalid(f"{where}: thinking blocks can only be in assistant messages")
                    if block.get("signature") != sign_thinking(block.get("thinking", "")):
                        raise _Invalid(f"{where}: Invalid `signature` in `thinking` block")
                elif btype == "image":
                    try:
                        check_image(block, where)
                    except Refused as refused:
                        raise _Invalid(refused.message) from None
                    images += 1
                elif btype == "document":
                    if role != "user":
                        raise _Invalid(f"{where}: document blocks are only allowed in user messages")
                    try:
                        doc_pages, doc_text = check_document(block, where)
                    except Refused as refused:
                        raise _Invalid(refused.message) from None
                    pages += doc_pages
                    if doc_text:
                        texts.append(doc_text)
                elif btype in ("server_tool_use", *RESULT_TYPES.values()):
                    try:
                        check_sent_back(where, role, block, server_uses, issued)
                    except ToolRefused as refused:
                        raise _Invalid(refused.message) from None
                    texts.append(json.dumps(block.get("input", block.get("content"))))
                elif btype in ("redacted_thinking", "search_result"):
                    pass
                else:
                    raise _Invalid(
                        f"{where}.type: Input tag '{btype}' found using 'type' does not match any of the expected tags"
                    )
            missing = [u for u in prev_tool_uses if u not in answered]
            if missing:
                raise _Invalid(
                    f"messages.{i}: `tool_use` ids were found without `tool_result` blocks immediately after: "
                    f"{', '.join(missing)}. Each `tool_use` block must have a corresponding `tool_result` block in the next message."
                )
            if role == "user" and user_texts:
                last_user = "".join(user_texts)
            if prev_role == role == "assistant" and tool_uses:
                raise _Invalid(
                    f"messages.{i}: tool_use blocks must be followed by a user message with tool_result blocks"
                )
            prev_tool_uses = tool_uses
            prev_role = role
        self._check_thinking_first(messages, thinking_on)
        if prev_tool_uses:
            raise _Invalid(
                f"messages.{len(messages) - 1}: `tool_use` ids were found without `tool_result` blocks immediately after: "
                f"{', '.join(prev_tool_uses)}. Each `tool_use` block must have a corresponding `tool_result` block in the next message."
            )
        return "\n".join(texts), last_user, images, pages

    @staticmethod
    def _check_thinking_first(messages: list[Any], thinking_on: bool) -> None:
        """With thinking on, the assistant turn before the final tool results must
        start with its thinking block (passed back unchanged)."""
        if not thinking_on or len(messages) < 2:
            return
        last = messages[-1]
        content = last.get("content")
        if last.get("role") != "user" or not isinstance(content, list):
            return
        if not any(isinstance(b, dict) and b.get("type") == "tool_result" for b in content):
            return
        i = len(messages) - 2
        turn = messages[i]
        blocks = turn.get("content")
        if turn.get("role") != "assistant" or not isinstance(blocks, list) or not blocks:
            return
        first = blocks[0].get("type") if isinstance(blocks[0], dict) else None
        if first not in ("thinking", "redacted_thinking"):
            raise _Invalid(
                f"messages.{i}.content.0.type: Expected `thinking` or `redacted_thinking`, but found `{first}`. "
                "When `thinking` is enabled, a final `assistant` message must start with a thinking block "
                "(preceeding the lastmost set of `tool_use` and `tool_result` blocks). We recommend you include "
                "thinking blocks from previous turns. To avoid this requirement, disable `thinking`."
            )
