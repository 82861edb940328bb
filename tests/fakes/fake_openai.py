"""A fake OpenAI API (Responses + Models) on 127.0.0.1, speaking the real wire format.

Point the official SDK at it with ``openai.OpenAI(base_url=fake.url)`` or
``OPENAI_BASE_URL=fake.url`` in a subprocess (``fake.url`` ends in ``/v1``, like
the real base URL).

What it checks, as the real API does (answers in OpenAI's error format
``{"error": {"message", "type", "param", "code"}}`` with an ``x-request-id``
header on every response):

* ``Authorization: Bearer <key>`` → 401 (no key: ``code: null``; refused key:
  ``invalid_api_key``; refused = not in ``api_keys`` when that set is given, else
  any key starting with ``bad`` or ``sk-bad``).
* ``POST /v1/responses``: unknown parameters → 400 ``unknown_parameter``; ``model``
  required; an unknown model → 404 ``model_not_found``; ``temperature`` on a
  reasoning model (GPT-5/6, o-series) → 400 ``unsupported_parameter`` ("Unsupported
  parameter: 'temperature' is not supported with this model.") unless
  ``reasoning.effort`` is ``"none"``; ``temperature`` outside 0-2 and
  ``max_output_tokens`` below 16 or above the model's limit → 400; tools must be
  ``{"type": "function", "name", "parameters"}``; every ``function_call_output``
  must answer a ``function_call`` earlier in ``input`` ("No tool call found for
  function call output with call_id ..."); a prompt over the context window → 400
  ``context_length_exceeded``.
* web search (tests/fakes/openai_web_search.py): the ``web_search`` tool's fields checked,
  an unknown tool type refused (400 ``invalid_value``); ``web_search_call`` items sent back
  in ``input`` need ``id``, ``status`` and ``action``.
* ``include``: known values only; ``reasoning.encrypted_content`` on a model that does
  not reason → 400 "Encrypted content is not supported with this model." (``param:
  include``).
* reasoning items in ``input``: ``id`` and ``summary`` (an array, ``[]`` is fine) are
  required (400 "Missing required parameter: 'input[N].summary'."); without
  ``encrypted_content`` the item is looked up by id, which fails (404 "Item with id
  'rs_…' not found. Items are not persisted when `store` is set to false. ...") unless
  this fake produced it under ``store: true``; an ``encrypted_content`` this fake did
  not issue for that item id → 400 ``invalid_encrypted_content`` ("The encrypted
  content gAAA...== could not be verified."); a reasoning item must be followed by
  the item it led to (a message of the assistant, a function call or another reasoning
  item), else 400 "Item 'rs_…' of type 'reasoning' was provided without its required
  following item."; a ``function_call`` sent with its item ``id`` (``fc_…``) that
  this fake produced after a reasoning item needs that reasoning item earlier in
  ``input`` (400 "Item 'fc_…' of type 'function_call' was provided without its
  required 'reasoning' item: 'rs_…'.").
* ``input_image`` / ``input_file`` content (tests/fakes/openai_media.py): ``detail``
  required, one of low/high/auto/original; a data URL must carry an image media type,
  valid base64 and image bytes (else ``invalid_image_format``); a file needs
  ``filename`` with ``file_data`` (a data URL; a PDF must start with ``%PDF``), or
  ``file_id`` / ``file_url``; neither in an assistant message. Every 400 has the API's
  ``param``. Each image adds ``image_tokens`` (1,600) and each PDF page
  ``pdf_page_tokens`` (1,500) inside ``input_tokens``; ``fake.last.images()`` /
  ``.documents()`` give what arrived, decoded.

Replies: ``Turn`` → a Response object (JSON) or the Responses SSE stream
(``response.created`` / ``in_progress`` / ``output_item.added`` /
``content_part.added`` / ``output_text.delta`` ... / ``function_call_arguments.delta``
/ ``output_item.done`` / ``response.completed``, with ``sequence_number``s). A
reasoning model's output starts with a ``reasoning`` item (``summary`` from
``Turn.thinking``, else ``[]``), carrying ``encrypted_content`` when ``include`` asks for
it; in a stream its ``output_item.added`` carries a truncated ``encrypted_content`` and
``output_item.done`` / ``response.completed`` the whole one. With
``fake.reasoning_per_item = True`` a reasoning item precedes every output item (as
models that reason between a preamble and their calls do). A turn's tool calls come
out as separate ``function_call`` items (its ``server_tools`` as ``web_search_call`` items
before the message, with ``action.sources`` when ``include`` asks), each with its own ``call_id`` and argument
deltas; ``ToolCallSpec.arguments`` may be a raw (even malformed) string. Usage is
estimated at ~4 chars/token, ``input_tokens`` including ``cached_tokens``: an
``instructions`` + tools prefix of at least ``cache_min_tokens`` is cached on first
use and reported as cached (in 128-token steps) afterwards. Aliases answer with
their dated snapshot id (``gpt-5.4-mini`` → ``gpt-5.4-mini-2026-03-17``).

Mid-stream failures: ``Turn(error_after=N)`` sends ``{"type": "error", "code": ...}``
(``error_style="error"``) or ``response.failed`` (``error_style="failed"``);
``Turn(cut_after=N)`` drops the connection.

``GET /v1/models`` lists chat and non-chat models, aliases and snapshots side by
side (ids only, as the real API).

Usage::

    with FakeOpenAI() as fake:
        client = openai.OpenAI(api_key="sk-test", base_url=fake.url)
        fake.reply("Hello!")
        fake.reply_tool_calls([("get_weather", {"city": "Paris"}), ("get_time", {"tz": "CET"})])
        fake.fail(429, message="Rate limit reached", code="rate_limit_exceeded", headers={"retry-after": "0.2"})
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

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
from .openai_media import check_content
from .openai_web_search import SOURCES, SearchRefused, check_input_item, check_tool, search_item

__all__ = ["FakeOpenAI", "FakeOpenAIModel", "Fault", "Turn"]


_PARAMS = frozenset(
    {
        "access_programs",
        "background",
        "background_options",
        "context_management",
        "conversation",
        "image",
        "include",
        "input",
        "instructions",
        "max_output_tokens",
        "max_tool_calls",
        "metadata",
        "model",
        "moderation",
        "parallel_tool_calls",
        "previous_response_id",
        "prompt",
        "prompt_cache_key",
        "prompt_cache_options",
        "prompt_cache_retention",
        "reasoning",
        "safety_identifier",
        "service_tier",
        "store",
        "stream",
        "stream_options",
        "temperature",
        "text",
        "tool_choice",
        "tools",
        "top_logprobs",
        "top_p",
        "truncation",
        "user",
    }
)


@dataclass
class FakeOpenAIModel:
    id: str
    created: int
    reasoning: bool = True
    context: int = 1_050_000
    max_output: int = 128_000
    snapshot: str | None = None  # the dated id an alias answers with
    chat: bool = True
    owned_by: str = "system"


DEFAULT_MODELS: tuple[FakeOpenAIModel, ...] = (
    FakeOpenAIModel("gpt-6.2-astra", 1792540800),
    FakeOpenAIModel("gpt-6-astra", 1788393600),
    FakeOpenAIModel("gpt-6.2-sol", 1792540800),
    FakeOpenAIModel("gpt-6.1-sol", 1791244800),
    FakeOpenAIModel("gpt-6.1-terra", 1791244800),
    FakeOpenAIModel("gpt-6-sol", 1789948800),
    FakeOpenAIModel("gpt-6-luna", 1789948800),
    FakeOpenAIModel("gpt-5.6-sol", 1783296000),
    FakeOpenAIModel("gpt-5.6-terra", 1783296000),
    FakeOpenAIModel("gpt-5.6-luna", 1783296000),
    FakeOpenAIModel("gpt-5.5", 1776902400, context=1_000_000, snapshot="gpt-5.5-2026-04-23"),
    FakeOpenAIModel("gpt-5.5-2026-04-23", 1776902400, context=1_000_000),
    FakeOpenAIModel("gpt-5.4", 1772668800, snapshot="gpt-5.4-2026-03-05"),
    FakeOpenAIModel("gpt-5.4-2026-03-05", 1772668800),
    FakeOpenAIModel("gpt-5.4-mini", 1773705600, context=400_000, snapshot="gpt-5.4-mini-2026-03-17"),
    FakeOpenAIModel("gpt-5.4-mini-2026-03-17", 1773705600, context=400_000),
    FakeOpenAIModel("gpt-5.4-nano", 1773705600, context=400_000, snapshot="gpt-5.4-nano-2026-03-17"),
    FakeOpenAIModel("gpt-5.2", 1765411200, context=400_000, snapshot="gpt-5.2-2025-12-11"),
    FakeOpenAIModel(
        "gpt-4.1", 1744588800, reasoning=False, context=1_047_576, max_output=32_768, snapshot="gpt-4.1-2025-04-14"
    ),
    FakeOpenAIModel("gpt-4.1-mini", 1744588800, reasoning=False, context=1_047_576, max_output=32_768),
    FakeOpenAIModel(
        "gpt-4o", 1715367049, reasoning=False, context=128_000, max_output=16_384, snapshot="gpt-4o-2024-08-06"
    ),
    FakeOpenAIModel("gpt-4o-2024-08-06", 1722814719, reasoning=False, context=128_000, max_output=16_384),
    FakeOpenAIModel(
        "gpt-4o-mini",
        1721172741,
        reasoning=False,
        context=128_000,
        max_output=16_384,
        snapshot="gpt-4o-mini-2024-07-18",
    ),
    FakeOpenAIModel("text-embedding-3-small", 1705948997, reasoning=False, chat=False),
    FakeOpenAIModel("whisper-1", 1677532384, reasoning=False, chat=False, owned_by="openai-internal"),
    FakeOpenAIModel("tts-1", 1681940951, reasoning=False, chat=False, owned_by="openai-internal"),
    FakeOpenAIModel("gpt-image-2", 1776729600, reasoning=False, chat=False),
    FakeOpenAIModel("omni-moderation-latest", 1731689265, reasoning=False, chat=False),
    FakeOpenAIModel("gpt-realtime", 1756339200, reasoning=False, chat=False),
)


INCLUDABLE = (
    "file_search_call.results",
    "web_search_call.results",
    "web_search_call.action.sources",
    "message.input_image.image_url",
    "computer_call_output.output.image_url",
    "code_interpreter_call.outputs",
    "reasoning.encrypted_content",
    "message.output_text.logprobs",
)
ENCRYPTED_REASONING = "reasoning.encrypted_content"
_REASONING_KEYS = frozenset({"type", "id", "summary", "encrypted_content", "content", "status"})


class _Invalid(Exception):
    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        status: int = 400,
        err_type: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code
        self.status = status
        self.err_type = err_type


class FakeOpenAI(FakeLLMServer):
    generation_path = "/v1/responses"

    def __init__(
        self,
        *,
        api_keys: set[str] | None = None,
        models: tuple[FakeOpenAIModel, ...] | list[FakeOpenAIModel] = DEFAULT_MODELS,
        cache_min_tokens: int = 1024,
        **kw: Any,
    ) -> None:
        super().__init__(**kw)
        self.api_keys = api_keys
        self.models: list[FakeOpenAIModel] = list(models)
        self.cache_min_tokens = cache_min_tokens
        self._cache: set[str] = set()
        self._cache_lock = threading.Lock()
        self.reasoning_per_item = False  # a reasoning item before every output item
        self.image_tokens = IMAGE_TOKENS  # input tokens counted per image
        self.pdf_page_tokens = PDF_PAGE_TOKENS  # input tokens counted per PDF page
        self._secret = secrets.token_bytes(16)  # signs the encrypted_content this fake issues
        self._fc_reasoning: dict[str, str] = {}  # fc_ item id → the rs_ item that preceded it
        self._stored_reasoning: set[str] = set()  # rs_ ids produced under store: true
        self.issued_reasoning: dict[str, str] = {}  # rs_ id → the encrypted_content sent out

    @property
    def url(self) -> str:
        """The SDK's base_url (and OPENAI_BASE_URL): the server root plus ``/v1``."""
        return self.root_url + "/v1"

    def add_model(self, model_id: str, **kw: Any) -> None:
        self.models.insert(0, FakeOpenAIModel(model_id, kw.pop("created", int(time.time())), **kw))

    def reset(self) -> None:
        super().reset()
        self.reasoning_per_item = False
        with self._cache_lock:
            self._cache.clear()
            self._fc_reasoning.clear()
            self._stored_reasoning.clear()
            self.issued_reasoning.clear()

    # ---- encrypted reasoning -------------------------------------------------

    def _mac(self, item_id: str) -> str:
        return hmac.new(self._secret, item_id.encode(), hashlib.sha256).hexdigest()

    def encrypt_reasoning(self, item_id: str) -> str:
        """The ``encrypted_content`` this fake issues for reasoning item ``item_id``
        (opaque to clients; only this fake instance can verify it)."""
        token = json.dumps({"id": item_id, "mac": self._mac(item_id), "pad": secrets.token_hex(24)})
        content = "gAAAAAB" + base64.urlsafe_b64encode(token.encode()).decode()
        with self._cache_lock:
            self.issued_reasoning[item_id] = content
        return content

    def _verify_reasoning(self, item_id: str, content: str) -> bool:
        if not content.startswith("gAAAAAB"):
            return False
        try:
            token = json.loads(base64.urlsafe_b64decode(content[7:].encode()))
        except (ValueError, TypeError):
            return False
        return (
            isinstance(token, dict)
            and token.get("id") == item_id
            and hmac.compare_digest(str(token.get("mac")), self._mac(item_id))
        )

    # ---- errors --------------------------------------------------------------

    def error_body(
        self,
        status: int,
        *,
        message: str | None = None,
        type: str | None = None,  # noqa: A002
        code: str | None = None,
        param: str | None = None,
    ) -> dict:
        default_type = {429: "requests", 500: "server_error", 503: "server_error"}.get(status, "invalid_request_error")
        return {
            "error": {
                "message": message or f"fake error {status}",
                "type": type or default_type,
                "param": param,
                "code": code,
            }
        }

    def _error(self, inv: _Invalid, headers: dict[str, str]) -> HTTPReply:
        body = {"error": {"message": inv.message, "type": inv.err_type, "param": inv.param, "code": inv.code}}
        return self.json_reply(inv.status, body, headers)

    # ---- dispatch ------------------------------------------------------------

    def handle(self, req: RecordedRequest) -> HTTPReply | SSEReply:
        headers = {"x-request-id": new_id("req_", 32), "openai-version": "2020-10-01", "openai-processing-ms": "7"}
        auth = req.header("authorization") or ""
        key = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        if not key:
            return self._error(
                _Invalid(
                    "You didn't provide an API key. You need to provide your API key in an Authorization header "
                    "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                    status=401,
                ),
                headers,
            )
        if (self.api_keys is not None and key not in self.api_keys) or (
            self.api_keys is None and key.startswith(("bad", "sk-bad"))
        ):
            masked = key[:3] + "*" * 4 + key[-4:]
            return self._error(
                _Invalid(
                    f"Incorrect API key provided: {masked}. You can find your API key at "
                    "https://platform.openai.com/account/api-keys.",
                    code="invalid_api_key",
                    status=401,
                ),
                headers,
            )

        scripted = self._peek_scripted(req.path)
        if isinstance(scripted, Fault):
            self._next_scripted(req.path)
            return self.fault_reply(scripted, headers)

        try:
            if req.path == "/v1/responses" and req.method == "POST":
                return self._responses(req, headers)
            if req.path == "/v1/models" and req.method == "GET":
                data = [self._model_json(m) for m in self.models]
                return self.json_reply(200, {"object": "list", "data": data}, headers)
            if req.path.startswith("/v1/models/") and req.method == "GET":
                m = self.find_model(req.path.rsplit("/", 1)[1])
                if m is None:
                    raise _Invalid(
                        f"The model '{req.path.rsplit('/', 1)[1]}' does not exist", code="model_not_found", status=404
                    )
                return self.json_reply(200, self._model_json(m), headers)
        except _Invalid as inv:
            return self._error(inv, headers)
        return self._error(_Invalid(f"Invalid URL ({req.method} {req.path})", status=404), headers)

    def find_model(self, model_id: str) -> FakeOpenAIModel | None:
        for m in self.models:
            if m.id == model_id:
                return m
        return None

    @staticmethod
    def _model_json(m: FakeOpenAIModel) -> dict[str, Any]:
        return {"id": m.id, "object": "model", "created": m.created, "owned_by": m.owned_by}

    # ---- responses -----------------------------------------------------------

    def _responses(self, req: RecordedRequest, headers: dict[str, str]) -> HTTPReply | SSEReply:
        body = req.json
        if not isinstance(body, dict):
            raise _Invalid("We could not parse the JSON body of your request.")
        for name in body:
            if name not in _PARAMS:
                raise _Invalid(f"Unknown parameter: '{name}'.", param=name, code="unknown_parameter")
        model_id = body.get("model")
        if not model_id:
            raise _Invalid("Missing required parameter: 'model'.", param="model", code="missing_required_parameter")
        model = self.find_model(model_id)
        if model is None or not model.chat:
            raise _Invalid(
                f"The model `{model_id}` does not exist or you do not have access to it.",
                param="model",
                code="model_not_found",
                status=404,
            )
        temperature = body.get("temperature")
        if temperature is not None:
            effort = (body.get("reasoning") or {}).get("effort")
            if model.reasoning and effort != "none":
                raise _Invalid(
                    "Unsupported parameter: 'temperature' is not supported with this model.",
                    param="temperature",
                    code="unsupported_parameter",
                )
            if not isinstance(temperature, (int, float)) or temperature < 0:
                raise _Invalid(
                    f"Invalid 'temperature': decimal below minimum value. Expected a value >= 0, but got {temperature} instead.",
                    param="temperature",
                    code="decimal_below_min_value",
                )
            if temperature > 2:
                raise _Invalid(
                    f"Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got {temperature} instead.",
                    param="temperature",
                    code="decimal_above_max_value",
                )
        max_out = body.get("max_output_tokens")
        if max_out is not None:
            if not isinstance(max_out, int) or max_out < 16:
                raise _Invalid(
                    f"Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, but got {max_out} instead.",
                    param="max_output_tokens",
                    code="integer_below_min_value",
                )
            if max_out > model.max_output:
                raise _Invalid(
                    f"Invalid 'max_output_tokens': integer above maximum value. Expected a value <= {model.max_output}, "
                    f"but got {max_out} instead.",
                    param="max_output_tokens",
                    code="integer_above_max_value",
                )
        instructions = body.get("instructions") or ""
        if not isinstance(instructions, str):
            raise _Invalid(
                "Invalid type for 'instructions': expected a string.", param="instructions", code="invalid_type"
            )
        include = self._check_include(body.get("include"), model)
        store = body.get("store", True) is not False
        tools_text, searchable = self._check_tools(body.get("tools"))
        input_text, last_user, media_tokens = self._check_input(body.get("input"), store)

        prompt_tokens = (
            estimate_tokens(instructions) + estimate_tokens(tools_text) + estimate_tokens(input_text) + media_tokens
        )
        if prompt_tokens > model.context:
            raise _Invalid(
                "Your input exceeds the context window of this model. Please adjust your input and try again.",
                param="input",
                code="context_length_exceeded",
            )
        cached = 0
        prefix_tokens = estimate_tokens(instructions) + estimate_tokens(tools_text)
        if prefix_tokens >= self.cache_min_tokens:
            digest = f"{model.id}\0{tools_text}\0{instructions}"
            with self._cache_lock:
                if digest in self._cache:
                    cached = prefix_tokens // 128 * 128
                self._cache.add(digest)

        scripted = self._next_scripted(req.path)
        turn = scripted if isinstance(scripted, Turn) else self.default_turn(req, model_id, last_user)
        reply_model = turn.model or model.snapshot or model.id
        headers.update(turn.headers)
        if turn.server_tools and not searchable:
            raise ValueError("the script uses web search, which the request did not offer")
        output = self._output(turn, model.reasoning, ENCRYPTED_REASONING in include, store, SOURCES in include)
        out_tokens = max(1, sum(estimate_tokens(self._item_text(it)) for it in output))
        status = "completed"
        incomplete = None
        if max_out is not None and out_tokens > max_out and not turn.tool_calls:
            status, incomplete = "incomplete", {"reason": "max_output_tokens"}
        elif turn.stop_reason in ("max_output_tokens", "content_filter"):  # e.g. all spent on reasoning
            status, incomplete = "incomplete", {"reason": turn.stop_reason}
        reasoning_tokens = 8 if model.reasoning else 0
        usage = {
            "input_tokens": prompt_tokens,
            "input_tokens_details": {"cached_tokens": cached, "cache_write_tokens": 0},
            "output_tokens": out_tokens + reasoning_tokens,
            "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
            "total_tokens": prompt_tokens + out_tokens + reasoning_tokens,
        }
        if turn.usage:
            usage.update(turn.usage)
        response = {
            "id": new_id("resp_", 48),
            "object": "response",
            "created_at": int(time.time()),
            "status": status,
            "background": False,
            "error": None,
            "incomplete_details": incomplete,
            "instructions": instructions or None,
            "max_output_tokens": max_out,
            "max_tool_calls": None,
            "model": reply_model,
            "output": output,
            "parallel_tool_calls": body.get("parallel_tool_calls", True),
            "previous_response_id": None,
            "reasoning": {"effort": "medium" if model.reasoning else None, "summary": None},
            "service_tier": "default",
            "store": body.get("store", True),
            "temperature": temperature if temperature is not None else 1.0,
            "text": {"format": {"type": "text"}, "verbosity": "medium"},
            "tool_choice": body.get("tool_choice", "auto"),
            "tools": body.get("tools") or [],
            "top_p": 1.0,
            "truncation": "disabled",
            "usage": usage,
            "user": None,
            "metadata": {},
        }
        if body.get("stream"):
            return self._stream(turn, response, headers)
        return self.json_reply(200, response, headers, turn.delay)

    @staticmethod
    def _item_text(item: dict[str, Any]) -> str:
        if item["type"] == "message":
            return "".join(c.get("text") or c.get("refusal", "") for c in item["content"])
        if item["type"] == "function_call":
            return item["arguments"]
        return ""

    def _output(
        self, turn: Turn, reasoning: bool, encrypted: bool = False, store: bool = True, sources: bool = False
    ) -> list[dict[str, Any]]:
        output: list[dict[str, Any]] = []
        last_reasoning: list[str] = []  # the latest reasoning item's id, if any

        def think() -> None:
            item: dict[str, Any] = {"id": new_id("rs_", 48), "type": "reasoning", "summary": []}
            if turn.thinking and not last_reasoning:
                item["summary"] = [{"type": "summary_text", "text": turn.thinking}]
            if encrypted:
                item["encrypted_content"] = self.encrypt_reasoning(item["id"])
            if store:
                with self._cache_lock:
                    self._stored_reasoning.add(item["id"])
            output.append(item)
            last_reasoning[:] = [item["id"]]

        if reasoning:
            think()
        for spec in turn.server_tools:
            if spec.name != "web_search":
                raise ValueError(f"OpenAI has no {spec.name} tool; the script cannot use it")
            if reasoning and self.reasoning_per_item and output[-1]["type"] != "reasoning":
                think()
            output.append(search_item(spec, sources))
        if turn.text or turn.refusal:
            if reasoning and self.reasoning_per_item and output[-1]["type"] != "reasoning":
                think()
            content: list[dict[str, Any]] = []
            if turn.text:
                content.append({"type": "output_text", "text": turn.text, "annotations": [], "logprobs": []})
            if turn.refusal:
                content.append({"type": "refusal", "refusal": turn.refusal})
            output.append(
                {
                    "id": new_id("msg_", 48),
                    "type": "message",
                    "status": "completed",
                    "role": "assistant",
                    "content": content,
                }
            )
        for call in turn.tool_calls:
            if reasoning and self.reasoning_per_item and output[-1]["type"] != "reasoning":
                think()
            args = call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments)
            fc_id = new_id("fc_", 48)
            if last_reasoning:
                with self._cache_lock:
                    self._fc_reasoning[fc_id] = last_reasoning[0]
            output.append(
                {
                    "id": fc_id,
                    "type": "function_call",
                    "status": "completed",
                    "arguments": args,
                    "call_id": call.id or new_id("call_", 24),
                    "name": call.name,
                }
            )
        return output

    def _stream(self, turn: Turn, response: dict[str, Any], headers: dict[str, str]) -> SSEReply:
        seq = 0
        events: list[bytes] = []

        def emit(event_type: str, **data: Any) -> None:
            nonlocal seq
            events.append(sse(event_type, {"type": event_type, **data, "sequence_number": seq}))
            seq += 1

        start = dict(response, status="in_progress", output=[], usage=None, incomplete_details=None)
        emit("response.created", response=start)
        emit("response.in_progress", response=start)
        for index, item in enumerate(response["output"]):
            itype = item["type"]
            if itype == "reasoning":
                added = dict(item)
                if "encrypted_content" in added:  # documented: may be incomplete in .added
                    added["encrypted_content"] = added["encrypted_content"][:24]
                emit("response.output_item.added", output_index=index, item=added)
                emit("response.output_item.done", output_index=index, item=item)
            elif itype == "message":
                emit(
                    "response.output_item.added", output_index=index, item=dict(item, status="in_progress", content=[])
                )
                for ci, full in enumerate(item["content"]):
                    if full["type"] == "refusal":
                        part = {"type": "refusal", "refusal": ""}
                        emit(
                            "response.content_part.added",
                            item_id=item["id"],
                            output_index=index,
                            content_index=ci,
                            part=part,
                        )
                        for piece in words(full["refusal"]):
                            emit(
                                "response.refusal.delta",
                                item_id=item["id"],
                                output_index=index,
                                content_index=ci,
                                delta=piece,
                            )
                        emit(
                            "response.refusal.done",
                            item_id=item["id"],
                            output_index=index,
                            content_index=ci,
                            refusal=full["refusal"],
                        )
                        emit(
                            "response.content_part.done",
                            item_id=item["id"],
                            output_index=index,
                            content_index=ci,
                            part=full,
                        )
                        continue
                    text = full["text"]
                    part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
                    emit(
                        "response.content_part.added",
                        item_id=item["id"],
                        output_index=index,
                        content_index=ci,
                        part=part,
                    )
                    # rendered by hand: a 2,000-token stream must not keep the fake busy
                    head = (
                        'event: response.output_text.delta\ndata: {"type":"response.output_text.delta",'
                        f'"item_id":"{item["id"]}","output_index":{index},"content_index":{ci},"delta":'
                    ).encode()
                    for piece in turn.deltas if turn.deltas is not None else words(text):
                        events.append(
                            head + b'%s,"logprobs":[],"sequence_number":%d}\n\n' % (json.dumps(piece).encode(), seq)
                        )
                        seq += 1
                    emit(
                        "response.output_text.done",
                        item_id=item["id"],
                        output_index=index,
                        content_index=ci,
                        text=text,
                        logprobs=[],
                    )
                    emit(
                        "response.content_part.done",
                        item_id=item["id"],
                        output_index=index,
                        content_index=ci,
                        part=dict(part, text=text),
                    )
                emit("response.output_item.done", output_index=index, item=item)
            elif itype == "web_search_call":
                emit("response.output_item.added", output_index=index, item=dict(item, status="in_progress"))
                for phase in ("in_progress", "searching", "completed"):
                    emit(f"response.web_search_call.{phase}", item_id=item["id"], output_index=index)
                emit("response.output_item.done", output_index=index, item=item)
            elif itype == "function_call":
                emit(
                    "response.output_item.added",
                    output_index=index,
                    item=dict(item, status="in_progress", arguments=""),
                )
                raw = item["arguments"]
                step = max(1, len(raw) // 3)
                for i in range(0, len(raw), step):
                    emit(
                        "response.function_call_arguments.delta",
                        item_id=item["id"],
                        output_index=index,
                        delta=raw[i : i + step],
                    )
                emit("response.function_call_arguments.done", item_id=item["id"], output_index=index, arguments=raw)
                emit("response.output_item.done", output_index=index, item=item)
        final_type = "response.incomplete" if response["status"] == "incomplete" else "response.completed"
        emit(final_type, response=response)
        if turn.error_after is not None:
            events = events[: turn.error_after]
            seq = turn.error_after
            code = turn.error_type or "server_error"
            if turn.error_style == "failed":
                failed = dict(
                    response, status="failed", usage=None, error={"code": code, "message": turn.error_message}
                )
                emit("response.failed", response=failed)
            else:
                emit("error", code=code, message=turn.error_message, param=None)
        return SSEReply(
            events,
            headers=headers,
            delay=turn.delay,
            chunk_delay=turn.chunk_delay,
            cut_after=turn.cut_after,
            cut_mode=turn.cut_mode,
        )

    # ---- validation ----------------------------------------------------------

    def _check_tools(self, tools: Any) -> tuple[str, bool]:
        """Validate ``tools``; return their JSON (for token counts) and whether web search is offered."""
        searchable = False
        if tools is None:
            return "", searchable
        if not isinstance(tools, list):
            raise _Invalid("Invalid type for 'tools': expected an array.", param="tools", code="invalid_type")
        for i, tool in enumerate(tools):
            if not isinstance(tool, dict) or "type" not in tool:
                raise _Invalid(
                    f"Missing required parameter: 'tools[{i}].type'.",
                    param=f"tools[{i}].type",
                    code="missing_required_parameter",
                )
            if tool["type"] != "function":
                try:
                    searchable = check_tool(i, tool) or searchable
                except SearchRefused as refused:
                    raise _Invalid(refused.message, param=refused.param, code=refused.code) from None
                continue
            if not tool.get("name"):
                raise _Invalid(
                    f"Missing required parameter: 'tools[{i}].name'.",
                    param=f"tools[{i}].name",
                    code="missing_required_parameter",
                )
            params = tool.get("parameters")
            if params is not None and (not isinstance(params, dict) or params.get("type") != "object"):
                raise _Invalid(
                    f"Invalid schema for function '{tool['name']}': schema must be a JSON Schema of 'type: \"object\"'.",
                    param=f"tools[{i}].parameters",
                    code="invalid_function_parameters",
                )
        return json.dumps(tools), searchable

    @staticmethod
    def _check_include(include: Any, model: FakeOpenAIModel) -> list[str]:
        if include is None:
            return []
        if not isinstance(include, list):
            raise _Invalid(
                "Invalid type for 'include': expected an array of strings.", param="include", code="invalid_type"
            )
        for i, value in enumerate(include):
            if value not in INCLUDABLE:
                supported = ", ".join(f"'{v}'" for v in INCLUDABLE)
                raise _Invalid(
                    f"Invalid value: '{value}'. Supported values are: {supported}.",
                    param=f"include[{i}]",
                    code="invalid_value",
                )
        if ENCRYPTED_REASONING in include and not model.reasoning:
            raise _Invalid("Encrypted content is not supported with this model.", param="include")
        return include

    def _check_reasoning_item(self, i: int, item: dict[str, Any], store: bool) -> str:
        for name in item:
            if name not in _REASONING_KEYS:
                raise _Invalid(
                    f"Unknown parameter: 'input[{i}].{name}'.", param=f"input[{i}].{name}", code="unknown_parameter"
                )
        item_id = item.get("id")
        if not isinstance(item_id, str) or not item_id:
            raise _Invalid(
                f"Missing required parameter: 'input[{i}].id'.",
                param=f"input[{i}].id",
                code="missing_required_parameter",
            )
        summary = item.get("summary")
        if summary is None:
            raise _Invalid(
                f"Missing required parameter: 'input[{i}].summary'.",
                param=f"input[{i}].summary",
                code="missing_required_parameter",
            )
        if not isinstance(summary, list):
            raise _Invalid(
                f"Invalid type for 'input[{i}].summary': expected an array of objects, but got {type(summary).__name__} instead.",
                param=f"input[{i}].summary",
                code="invalid_type",
            )
        for j, entry in enumerate(summary):
            if (
                not isinstance(entry, dict)
                or entry.get("type") != "summary_text"
                or not isinstance(entry.get("text"), str)
            ):
                raise _Invalid(
                    f"Invalid value for 'input[{i}].summary[{j}]': expected a summary_text object with a text string.",
                    param=f"input[{i}].summary[{j}]",
                    code="invalid_value",
                )
        content = item.get("encrypted_content")
        if content is None:
            with self._cache_lock:
                stored = item_id in self._stored_reasoning
            if not (store and stored):
                message = f"Item with id '{item_id}' not found."
                if not store:
                    message += (
                        " Items are not persisted when `store` is set to false. Try again with `store` set to true, "
                        "or remove this item from your input."
                    )
                raise _Invalid(message, param="input", status=404)
        elif not isinstance(content, str):
            raise _Invalid(
                f"Invalid type for 'input[{i}].encrypted_content': expected a string.",
                param=f"input[{i}].encrypted_content",
                code="invalid_type",
            )
        elif not self._verify_reasoning(item_id, content):
            shown = f"{content[:4]}...{content[-4:]}" if len(content) > 8 else content
            raise _Invalid(f"The encrypted content {shown} could not be verified.", code="invalid_encrypted_content")
        return item_id

    @staticmethod
    def _follows_reasoning(item: Any) -> bool:
        """Whether ``item`` can be what a reasoning item led to."""
        if not isinstance(item, dict):
            return False
        itype = item.get("type", "message")
        if itype == "message":
            return item.get("role") == "assistant"
        return itype not in ("function_call_output", "item_reference")

    def _check_input(self, items: Any, store: bool = True) -> tuple[str, str, int]:
        """Validate ``input``; return (all its text, the last user text, image and file tokens)."""
        if items is None:
            raise _Invalid("Missing required parameter: 'input'.", param="input", code="missing_required_parameter")
        if isinstance(items, str):
            return items, items, 0
        if not isinstance(items, list):
            raise _Invalid(
                "Invalid type for 'input': expected a string or an array.", param="input", code="invalid_type"
            )
        texts: list[str] = []
        last_user = ""
        media_tokens = 0
        calls: set[str] = set()
        reasoning_ids: set[str] = set()
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise _Invalid(
                    f"Invalid type for 'input[{i}]': expected an object.", param=f"input[{i}]", code="invalid_type"
                )
            itype = item.get("type", "message")
            if itype == "message":
                role = item.get("role")
                if role not in ("user", "assistant", "system", "developer"):
                    raise _Invalid(
                        f"Invalid value: '{role}'. Supported values are: 'assistant', 'system', 'developer', and 'user'.",
                        param=f"input[{i}].role",
                        code="invalid_value",
                    )
                content = item.get("content")
                if isinstance(content, str):
                    text = content
                elif isinstance(content, list):
                    text = "".join(c.get("text", "") for c in content if isinstance(c, dict))
                    try:
                        media_tokens += check_content(i, role, content, self.image_tokens, self.pdf_page_tokens)
                    except Refused as refused:
                        raise _Invalid(refused.message, param=refused.param, code=refused.code) from None
                else:
                    raise _Invalid(
                        f"Missing required parameter: 'input[{i}].content'.",
                        param=f"input[{i}].content",
                        code="missing_required_parameter",
                    )
                texts.append(text)
                if role == "user":
                    last_user = text
            elif itype == "function_call":
                for name in ("call_id", "name", "arguments"):
                    if not isinstance(item.get(name), str):
                        raise _Invalid(
                            f"Missing required parameter: 'input[{i}].{name}'.",
                            param=f"input[{i}].{name}",
                            code="missing_required_parameter",
                        )
                fc_id = item.get("id")
                if fc_id is not None:
                    with self._cache_lock:
                        needed = self._fc_reasoning.get(fc_id)
                    if needed is not None and needed not in reasoning_ids:
                        raise _Invalid(
                            f"Item '{fc_id}' of type 'function_call' was provided without its required 'reasoning' item: '{needed}'.",
                            param="input",
                        )
                calls.add(item["call_id"])
                texts.append(item["arguments"])
            elif itype == "function_call_output":
                call_id = item.get("call_id")
                if call_id not in calls:
                    raise _Invalid(
                        f"No tool call found for function call output with call_id {call_id}.", param="input"
                    )
                output = item.get("output")
                if not isinstance(output, (str, list)):
                    raise _Invalid(
                        f"Missing required parameter: 'input[{i}].output'.",
                        param=f"input[{i}].output",
                        code="missing_required_parameter",
                    )
                texts.append(output if isinstance(output, str) else json.dumps(output))
            elif itype == "reasoning":
                item_id = self._check_reasoning_item(i, item, store)
                if i + 1 >= len(items) or not self._follows_reasoning(items[i + 1]):
                    raise _Invalid(
                        f"Item '{item_id}' of type 'reasoning' was provided without its required following item.",
                        param="input",
                    )
                reasoning_ids.add(item_id)
            elif itype == "web_search_call":
                try:
                    check_input_item(i, item)
                except SearchRefused as refused:
                    raise _Invalid(refused.message, param=refused.param, code=refused.code) from None
            elif itype == "item_reference":
                pass
            else:
                raise _Invalid(f"Invalid value: '{itype}'.", param=f"input[{i}].type", code="invalid_value")
        return "\n".join(texts), last_user, media_tokens
