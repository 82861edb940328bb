"""Run each provider once, in memory, so a forked worker starts warm.

A work horse forked from a cold parent pays, on its first (and only) model call: the
import of the HTTP transport (httpcore2, h11, truststore), the CA bundle load, pydantic
building the validators of the SDK's stream event types, and the lazy imports of
genai-prices and OpenTelemetry. Together that is tens of milliseconds per run.
Streaming a canned reply through the real provider classes, over an in-memory
transport, pays them once in the parent instead. Nothing is left open: the transport
never touches the network, and the clients are closed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import httpx2

from .http import shared_ssl_context
from .types import ChatRequest, Message, ToolSpec

log = logging.getLogger(__name__)


def _sse(events: list[dict[str, Any]]) -> bytes:
    return "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events).encode()


def _anthropic_stream(model: str) -> bytes:
    usage = {"input_tokens": 1, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": 1}
    return _sse(
        [
            {
                "type": "message_start",
                "message": {
                    "id": "msg_warmup",
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": usage,
                },
            },
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            {"type": "ping"},
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "ok"}},
            {"type": "content_block_stop", "index": 0},
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {**usage, "output_tokens": 2},
            },
            {"type": "message_stop"},
        ]
    )


def _openai_stream(model: str) -> bytes:
    response: dict[str, Any] = {
        "id": "resp_warmup",
        "object": "response",
        "created_at": 0,
        "status": "in_progress",
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "model": model,
        "output": [],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": None,
        "metadata": {},
    }
    message: dict[str, Any] = {
        "id": "msg_warmup",
        "type": "message",
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "ok", "annotations": []}],
    }
    part: dict[str, Any] = {"item_id": "msg_warmup", "output_index": 0, "content_index": 0}
    done = {
        **response,
        "status": "completed",
        "output": [message],
        "usage": {
            "input_tokens": 1,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 1,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 2,
        },
    }
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": response},
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {**message, "status": "in_progress", "content": []},
        },
        {"type": "response.content_part.added", **part, "part": {"type": "output_text", "text": "", "annotations": []}},
        {"type": "response.output_text.delta", **part, "delta": "ok", "logprobs": []},
        {"type": "response.output_text.done", **part, "text": "ok", "logprobs": []},
        {"type": "response.output_item.done", "output_index": 0, "item": message},
        {"type": "response.completed", "response": done},
    ]
    return _sse([{**e, "sequence_number": i} for i, e in enumerate(events)])


def _canned(body: bytes) -> Callable[[httpx2.Request], httpx2.Response]:
    def answer(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    return answer


def warm_providers() -> None:
    """Stream one canned reply through each provider class. Failures are logged, never
    raised: warming is an optimisation, and a worker must start regardless."""
    import h11  # noqa: F401 - the transport the SDKs connect with, imported lazily by httpx2
    import httpcore2._sync.connection_pool  # noqa: F401

    from .anthropic_provider import AnthropicProvider
    from .openai_provider import OpenAIProvider

    shared_ssl_context()
    tool = ToolSpec(
        name="current_time", description="The current time.", input_schema={"type": "object", "properties": {}}
    )
    for cls, model, body in (
        (AnthropicProvider, "claude-haiku-4-5", _anthropic_stream),
        (OpenAIProvider, "gpt-5.4-mini", _openai_stream),
    ):
        client = httpx2.Client(transport=httpx2.MockTransport(_canned(body(model))))
        try:
            provider = cls("warm-up", base_url="http://warm-up.invalid/v1", http_client=client, max_attempts=1)
            request = ChatRequest(model=model, system="Warm up.", messages=[Message.user("hi")], tools=[tool])
            for _ in provider.stream(request):
                pass
        except Exception:  # noqa: BLE001 - only an optimisation
            log.warning("warming the %s provider failed", cls.__name__, exc_info=True)
        finally:
            client.close()
