"""Provider-neutral data types: what every agent step sends and gets back.

Plain dataclasses (no pydantic) so that building and reading them costs next to
nothing on the hot path, and so that nothing here depends on an SDK. Each
provider module maps these to and from its own wire format.

Conventions that hold on every provider:

* The system prompt is kept apart from the conversation (``ChatRequest.system``);
  messages only have the roles ``user`` and ``assistant``.
* Tool results travel in a ``user`` message (``Message.tool_results``), tool calls
  in an ``assistant`` message, as both APIs expect them in that order.
* ``Usage.input_tokens`` INCLUDES cache-read and cache-write tokens (the
  genai-prices convention); Anthropic reports them apart, OpenAI inside, and each
  provider normalises once.
* Server tools (web search, web fetch) run on the provider's side within one call:
  asked for by name in ``ChatRequest.server_tools``, reported per call in
  ``Response.server_tool_calls`` (and as ``ServerToolEvent`` in a stream), their
  blocks kept as ``OpaquePart`` in the turn's own order so they go back unchanged,
  and their fees counted in ``Usage.web_searches`` and so in the cost.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

Role = Literal["user", "assistant"]

#: Normalised stop reasons. ``raw_stop_reason`` on a Response keeps the provider's own.
StopReason = Literal[
    "end_turn",  # the model finished its turn
    "tool_use",  # the model wants tool results before it goes on
    "max_tokens",  # cut by max_output_tokens
    "stop_sequence",
    "refusal",  # a safety system stopped or replaced the output
    "pause_turn",  # Anthropic: a long server-side turn paused; send it back to continue
    "context_window",  # the context window filled up during generation
    "other",
]


@dataclass(frozen=True, slots=True)
class TextPart:
    text: str


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A tool call requested by the model.

    ``arguments`` is always a dict. When the model produced arguments that are not a
    JSON object (malformed JSON, a list, ...), ``arguments`` is ``{}`` and
    ``arguments_error`` says what was wrong (with ``raw_arguments`` holding the
    string as received), so the agent loop can answer with an error ToolResult
    instead of crashing or calling the tool with garbage.
    """

    id: str
    name: str
    arguments: dict[str, Any]
    arguments_error: str | None = None
    raw_arguments: str | None = None


@dataclass(frozen=True, slots=True)
class ToolResult:
    call_id: str
    content: str
    is_error: bool = False


@dataclass(frozen=True, slots=True)
class OpaquePart:
    """A provider's block that must go back to that provider unchanged.

    Anthropic's thinking blocks are the case in point: models that always think
    return signed ``thinking`` blocks, and in a tool loop the assistant turn sent
    back must start with them, byte for byte, or the API answers 400. Keep the
    assistant turn as ``Response.to_message()`` builds it and this just works;
    other providers skip parts that are not theirs.
    """

    provider: str
    data: dict[str, Any]


#: A file's base64 text, or a function that reads it when a request is built. Core passes a
#: function: a step then holds a file's bytes only while its request is being written, not
#: for the whole time the model takes to answer (24 runs with an 8 MB PDF each would
#: otherwise keep 200 MB alive), and a retry reads them again from where they are stored.
Base64 = str | Callable[[], str]


@dataclass(frozen=True, slots=True)
class ImagePart:
    """An image the model looks at, sent inline as base64 (never through a provider's
    file-upload API). ``media_type``: image/png, jpeg, gif or webp."""

    media_type: str
    data: Base64
    name: str = ""

    def b64(self) -> str:
        return self.data if isinstance(self.data, str) else self.data()


@dataclass(frozen=True, slots=True)
class DocumentPart:
    """A PDF the model reads as a document (for a model whose catalog entry says
    ``supports_pdf``), sent inline as base64."""

    media_type: str
    data: Base64
    name: str = ""

    def b64(self) -> str:
        return self.data if isinstance(self.data, str) else self.data()


Part = TextPart | ImagePart | DocumentPart | ToolCall | ToolResult | OpaquePart


@dataclass(slots=True)
class Message:
    role: Role
    parts: list[Part]

    @classmethod
    def user(cls, text: str) -> Message:
        return cls("user", [TextPart(text)])

    @classmethod
    def assistant(
        cls,
        text: str,
        tool_calls: list[ToolCall] | tuple[ToolCall, ...] = (),
        opaque: list[OpaquePart] | tuple[OpaquePart, ...] = (),
    ) -> Message:
        parts: list[Part] = list(opaque)
        if text:
            parts.append(TextPart(text))
        parts.extend(tool_calls)
        return cls("assistant", parts)

    @classmethod
    def tool_results(cls, results: list[ToolResult] | tuple[ToolResult, ...], text: str = "") -> Message:
        """The user turn that answers an assistant turn's tool calls."""
        parts: list[Part] = list(results)
        if text:
            parts.append(TextPart(text))
        return cls("user", parts)

    @property
    def text(self) -> str:
        return "".join(p.text for p in self.parts if isinstance(p, TextPart))

    @property
    def tool_calls(self) -> list[ToolCall]:
        return [p for p in self.parts if isinstance(p, ToolCall)]


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool the model may call. ``input_schema`` is a JSON Schema object, passed
    through to the provider whole ($defs, enum, additionalProperties kept)."""

    name: str
    description: str
    input_schema: dict[str, Any]


@dataclass(slots=True)
class Usage:
    """Token usage. ``input_tokens`` includes cache reads and writes.

    ``web_searches`` / ``web_fetches`` count the provider's server tool requests of the
    call: searches are billed per request (genai-prices prices them with the tokens), so
    they live beside the tokens and every sum of usages sums them too."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    web_searches: int = 0
    web_fetches: int = 0

    def to_dict(self) -> dict[str, int]:
        """The four token counts always; the server tool counts only when there were any,
        so a step without tools stores the shape it always had."""
        d = {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_write_tokens": self.cache_write_tokens,
        }
        if self.web_searches:
            d["web_searches"] = self.web_searches
        if self.web_fetches:
            d["web_fetches"] = self.web_fetches
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Usage:
        return cls(
            int(d.get("input_tokens", 0)),
            int(d.get("output_tokens", 0)),
            int(d.get("cache_read_tokens", 0)),
            int(d.get("cache_write_tokens", 0)),
            int(d.get("web_searches", 0)),
            int(d.get("web_fetches", 0)),
        )

    def __add__(self, other: Usage) -> Usage:
        if not isinstance(other, Usage):
            return NotImplemented
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
            self.web_searches + other.web_searches,
            self.web_fetches + other.web_fetches,
        )

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass(slots=True)
class ChatRequest:
    """One model call. ``model`` is the provider's model id, without the
    ``provider:`` prefix used elsewhere in the app."""

    model: str
    system: str | None
    messages: list[Message]
    tools: list[ToolSpec] = field(default_factory=list)
    temperature: float | None = None
    max_output_tokens: int | None = None
    #: ``time.monotonic()`` by which the call must be over: no retry waits past it
    #: (a run's time budget). None: the retry policy's own limits only.
    deadline: float | None = None
    #: The provider's own tools the model may use within this call, by neutral name
    #: (``providers.server_tools``: ``web_search``, ``web_fetch``). One the model lacks is
    #: a bad request before any HTTP.
    server_tools: tuple[str, ...] = ()
    #: ``none``: the model may not call a tool this time (a tool loop's last round). The
    #: tools are still sent: a conversation holding tool calls must define them
    #: (Anthropic answers 400 otherwise).
    tool_choice: Literal["auto", "none"] = "auto"


@dataclass(slots=True)
class ServerToolCall:
    """One use of a provider's server tool within a call, for the step's record and the
    thread's plan ("Web search: <query>").

    ``status``: ``completed``, ``error`` (the tool answered with an error, which the
    model saw: reported, never raised) or ``running`` (seen started, no result yet, e.g.
    in a stream event or a paused turn). ``fee_usd``: what this use costs on top of the
    tokens (a search's per-request fee; 0 for a fetch or a failed search; None when the
    model is unpriced)."""

    id: str
    name: str
    input: dict[str, Any]
    status: str = "completed"
    error: str | None = None
    result_excerpt: str = ""
    fee_usd: Decimal | None = None

    @property
    def query(self) -> str:
        """What the call was about, in a few words: the search query, or the URL fetched."""
        for key in ("query", "url"):
            value = self.input.get(key)
            if isinstance(value, str) and value:
                return value
        queries = self.input.get("queries")
        if isinstance(queries, list) and queries:
            return "; ".join(str(q) for q in queries)
        return ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "input": self.input,
            "status": self.status,
            "error": self.error,
            "result_excerpt": self.result_excerpt,
            "fee_usd": None if self.fee_usd is None else str(self.fee_usd),
        }


@dataclass(slots=True)
class Response:
    text: str
    tool_calls: list[ToolCall]
    stop_reason: StopReason
    usage: Usage
    model: str  # the model id the provider says it used (may be a dated id)
    request_id: str | None
    raw_usage: dict[str, Any]
    cost_usd: Decimal | None
    price_version: str | None
    provider: str = ""
    raw_stop_reason: str | None = None
    notes: list[str] = field(default_factory=list)  # e.g. parameters dropped for this model
    opaque: list[OpaquePart] = field(default_factory=list)  # e.g. signed thinking blocks
    #: The assistant turn's parts in the provider's own output order, when that order
    #: matters and differs from "opaque, text, tool calls" (OpenAI: each reasoning item
    #: goes back right before the message or function call it led to). None: that order.
    parts: list[Part] | None = None
    #: Why the output stopped, in the provider's words, when it says more than the stop
    #: reason (Anthropic's refusal ``stop_details``: category and explanation).
    stop_detail: str | None = None
    #: The provider's server tools used in this call (web search, web fetch), in order.
    server_tool_calls: list[ServerToolCall] = field(default_factory=list)
    #: How many calls to the provider made this response: more than 1 when a paused turn
    #: (``pause_turn``) was continued.
    rounds: int = 1

    def to_message(self) -> Message:
        """The assistant turn to append to the conversation (for tool loops); keeps
        the provider's opaque blocks, which some models require back."""
        if self.parts is not None:
            return Message("assistant", list(self.parts))
        return Message.assistant(self.text, self.tool_calls, self.opaque)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (for artifacts); Decimal cost as a string to keep precision."""
        return {
            "provider": self.provider,
            "model": self.model,
            "text": self.text,
            "tool_calls": [
                {"id": c.id, "name": c.name, "arguments": c.arguments, "arguments_error": c.arguments_error}
                for c in self.tool_calls
            ],
            "stop_reason": self.stop_reason,
            "raw_stop_reason": self.raw_stop_reason,
            "stop_detail": self.stop_detail,
            "usage": self.usage.to_dict(),
            "raw_usage": self.raw_usage,
            "cost_usd": None if self.cost_usd is None else str(self.cost_usd),
            "price_version": self.price_version,
            "request_id": self.request_id,
            "notes": list(self.notes),
            "server_tool_calls": [c.to_dict() for c in self.server_tool_calls],
            "rounds": self.rounds,
        }


# ---- stream events -------------------------------------------------------------
# Not frozen: a frozen dataclass's __init__ costs 2.5x more, and a 2,000-token stream
# builds 2,000 of them. Treat them as read-only all the same.


@dataclass(slots=True)
class TextDelta:
    text: str


@dataclass(slots=True)
class ToolCallEvent:
    """A complete tool call (arguments fully assembled), emitted once per call."""

    call: ToolCall


@dataclass(slots=True)
class UsageEvent:
    usage: Usage


@dataclass(slots=True)
class ServerToolEvent:
    """A server tool use seen in a stream: once when it starts (``status`` ``running``,
    its input complete) and once when its result arrives (``completed`` or ``error``), so
    a live plan can show "Web search: <query>" while the provider works."""

    call: ServerToolCall


@dataclass(slots=True)
class Done:
    """Always the last event of a successful stream; carries the full Response."""

    response: Response


StreamEvent = TextDelta | ToolCallEvent | ServerToolEvent | UsageEvent | Done


def parse_tool_arguments(raw: str | None) -> tuple[dict[str, Any], str | None]:
    """Parse a JSON-string tool-argument payload without ever raising.

    Empty or missing arguments are ``{}`` (a tool without parameters); anything that
    is not a JSON object gives ``{}`` plus an error message.
    """
    if raw is None or not raw.strip():
        return {}, None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        return {}, f"arguments are not valid JSON ({exc.msg} at position {exc.pos})"
    except ValueError as exc:  # e.g. a number too long to convert
        return {}, f"arguments are not valid JSON ({exc})"
    if not isinstance(value, dict):
        return {}, f"arguments must be a JSON object, got {type(value).__name__}"
    return value, None
