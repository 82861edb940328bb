"""The Provider interface, and the machinery every implementation shares.

``BaseProvider`` owns what must behave the same on every provider: fitting
parameters to the model, the single retry loop, the rule that a stream is retried
only while nothing has been yielded, pricing (server tool fees included), the event
order of a stream (content events, then ``UsageEvent``, then ``Done`` last), and a paused
turn continued (``pause_turn``, providers/continuation.py). An implementation only maps
one request and one response to and from its SDK.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Generator, Iterator
from typing import Any, Protocol, runtime_checkable

import httpx2

from . import catalog, pricing
from .catalog import ModelInfo
from .continuation import MAX_ROUNDS, continued, merge
from .errors import ErrorKind, ProviderError
from .http import shared_ssl_context
from .params import Prepared, prepare
from .retry import RetryPolicy
from .server_tools import WEB_SEARCH
from .types import ChatRequest, Done, Response, ServerToolCall, StreamEvent, ToolCall, UsageEvent


@runtime_checkable
class Provider(Protocol):
    id: str

    def complete(self, req: ChatRequest) -> Response: ...

    def stream(self, req: ChatRequest) -> Iterator[StreamEvent]: ...

    def list_models(self) -> list[ModelInfo]: ...

    def validate_key(self) -> None: ...


class StreamState:
    """Shared between one streaming attempt and the retry loop around it.

    An implementation appends every text chunk to ``texts``, every tool call to
    ``calls`` and every server tool event to ``server`` *before* yielding it, so "has
    anything been yielded?" is just "is anything there?", at no cost per event; it sets
    ``response`` when complete.
    """

    __slots__ = ("response", "texts", "calls", "server")

    def __init__(self) -> None:
        self.response: Response | None = None
        self.texts: list[str] = []
        self.calls: list[ToolCall] = []
        self.server: list[ServerToolCall] = []

    @property
    def yielded(self) -> bool:
        return bool(self.texts) or bool(self.calls) or bool(self.server)


class BaseProvider:
    id: str = ""
    #: Anthropic requires max_tokens on every call; OpenAI takes none.
    requires_max_tokens: bool = False
    #: The smallest output budget the API accepts (OpenAI Responses: 16).
    min_output_tokens: int = 1

    def __init__(
        self,
        *,
        timeout: float = 60.0,
        connect_timeout: float = 10.0,
        max_attempts: int = 4,
        base_delay: float = 0.5,
        max_delay: float = 8.0,
        max_retry_after: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.timeout = timeout
        self.connect_timeout = min(connect_timeout, timeout)
        self.retry = retry or RetryPolicy(
            max_attempts=max_attempts,
            base_delay=base_delay,
            max_delay=max_delay,
            max_retry_after=max_retry_after,
            sleep=sleep,
        )
        self._listed: dict[str, ModelInfo] = {}  # unknown models seen in list_models()

    def sdk_options(self, http_client: Any, default_client: Callable[..., Any]) -> dict[str, Any]:
        """What every SDK client is built with: our timeouts, no SDK retries (the one retry
        loop is ours, providers/retry.py) and the shared TLS context (providers/http.py)."""
        timeout = httpx2.Timeout(self.timeout, connect=self.connect_timeout)
        client = http_client or default_client(verify=shared_ssl_context(), timeout=timeout)
        return {"timeout": timeout, "max_retries": 0, "http_client": client}

    # ---- to implement --------------------------------------------------------

    def _complete_once(self, req: ChatRequest, info: ModelInfo, p: Prepared) -> Response:
        raise NotImplementedError

    def _stream_once(self, req: ChatRequest, info: ModelInfo, p: Prepared, state: StreamState) -> Iterator[StreamEvent]:
        """Yield TextDelta/ToolCallEvent only (recording each in ``state`` first); set
        ``state.response`` when complete."""
        raise NotImplementedError

    def _list_models_once(self) -> list[ModelInfo]:
        raise NotImplementedError

    def _validate_key_once(self) -> None:
        raise NotImplementedError

    # ---- shared --------------------------------------------------------------

    def model_info(self, model_id: str) -> ModelInfo:
        return catalog.find(self.id, model_id) or self._listed.get(model_id) or catalog.defaults_for(self.id, model_id)

    def _prepare(self, req: ChatRequest) -> tuple[ModelInfo, Prepared]:
        if not req.messages:
            raise ProviderError(ErrorKind.BAD_REQUEST, "a request needs at least one message", provider=self.id)
        if not req.model:
            raise ProviderError(ErrorKind.BAD_REQUEST, "a request needs a model id", provider=self.id)
        info = self.model_info(req.model)
        return info, prepare(
            req, info, require_max_tokens=self.requires_max_tokens, min_output_tokens=self.min_output_tokens
        )

    def _finish(self, response: Response, req: ChatRequest, p: Prepared) -> Response:
        response.provider = self.id
        model = response.model or req.model
        cost, version = pricing.price(self.id, model, response.usage, fallback_model_id=req.model)
        response.cost_usd = cost
        response.price_version = version
        notes = list(p.notes)
        if cost is None:
            notes.append(f"no price data for {self.id}:{model}; cost unknown")
        response.notes = notes
        self._fees(response.server_tool_calls, model, req.model)
        return response

    def _fees(self, calls: list[ServerToolCall], model: str, fallback: str) -> None:
        """Each server tool use's own fee: a search that came back is billed per request,
        a failed one and a fetch are not (their pages are tokens, already in the cost)."""
        if not calls:
            return
        fee = pricing.web_search_fee(self.id, model)
        if fee is None and fallback != model:
            fee = pricing.web_search_fee(self.id, fallback)
        for call in calls:
            if call.name == WEB_SEARCH and call.status == "completed":
                call.fee_usd = fee
            elif call.status != "running":
                call.fee_usd = pricing.ZERO

    def complete(self, req: ChatRequest) -> Response:
        """One answer; a paused turn (``pause_turn``) is continued up to MAX_ROUNDS calls
        and comes back as one Response. A failure in a later round carries the earlier
        rounds in ``error.partial`` (what they cost is spent)."""
        info, p = self._prepare(req)
        current = req
        response: Response | None = None
        for round_no in range(1, MAX_ROUNDS + 1):
            try:
                part = self.retry.run(functools.partial(self._complete_once, current, info, p), req.deadline)
            except ProviderError as error:
                if response is not None and error.partial is None:
                    error.partial = response
                raise
            part = self._finish(part, current, p)
            response = part if response is None else merge(response, part)
            if part.stop_reason != "pause_turn":
                break
            if round_no == MAX_ROUNDS:
                response.notes.append(_paused_note())
                break
            current = continued(current, part)
        assert response is not None  # the loop runs at least once, and each round answers or raises
        return response

    def stream(self, req: ChatRequest) -> Iterator[StreamEvent]:
        """Stream a response: TextDelta / ToolCallEvent as they arrive, then
        UsageEvent, then Done (always last). A failure before anything was yielded is
        retried like ``complete``; after that it is raised (still retryable if it
        was transient) with what was received in ``error.partial``."""
        info, p = self._prepare(req)
        return self._stream(req, info, p)

    def _stream(self, req: ChatRequest, info: ModelInfo, p: Prepared) -> Iterator[StreamEvent]:
        """The rounds of one turn (more than one when the provider paused it), then
        UsageEvent and Done once, with the rounds merged."""
        current = req
        response: Response | None = None
        for round_no in range(1, MAX_ROUNDS + 1):
            part = yield from self._stream_round(current, info, p, response)
            response = part if response is None else merge(response, part)
            if part.stop_reason != "pause_turn":
                break
            if round_no == MAX_ROUNDS:
                response.notes.append(_paused_note())
                break
            current = continued(current, part)
        assert response is not None  # the loop runs at least once, and each round answers or raises
        yield UsageEvent(response.usage)
        yield Done(response)

    def _stream_round(
        self, req: ChatRequest, info: ModelInfo, p: Prepared, earlier: Response | None
    ) -> Generator[StreamEvent, None, Response]:
        """One streamed call, retried while nothing of it was yielded; returns its priced
        Response. A failure carries ``earlier`` rounds merged into ``error.partial``."""
        policy = self.retry
        attempt = 1
        while True:
            state = StreamState()
            try:
                yield from self._stream_once(req, info, p, state)  # no per-event cost here
                break
            except ProviderError as error:
                error.attempts = attempt
                if (
                    state.yielded
                    or not policy.should_retry(attempt, error)
                    or not policy.wait(attempt, error, req.deadline)
                ):
                    if error.partial is not None and error.partial.price_version is None:
                        self._finish(error.partial, req, p)  # what was received, priced
                    if earlier is not None:
                        error.partial = earlier if error.partial is None else merge(earlier, error.partial)
                    raise
                attempt += 1
        response = state.response
        if response is None:  # an implementation bug, not a provider failure
            raise RuntimeError(f"{self.id} stream ended without a response")
        return self._finish(response, req, p)

    def list_models(self) -> list[ModelInfo]:
        """The chat models this key can use, as ModelInfo (catalog entries where
        known, conservative defaults otherwise)."""
        models = self.retry.run(self._list_models_once)
        for m in models:
            if not m.known:
                self._listed[m.id] = m
        return models

    def validate_key(self) -> None:
        """Raise ProviderError (kind ``auth``) when the key is refused; cheap call."""
        self.retry.run(self._validate_key_once)


def _paused_note() -> str:
    return f"the provider paused its turn {MAX_ROUNDS} times; the answer may be unfinished"


def usage_dict(obj: Any) -> dict[str, Any]:
    """An SDK usage model as a plain dict (the provider's raw usage, kept as is)."""
    if obj is None:
        return {}
    to_dict = getattr(obj, "to_dict", None)
    if to_dict is not None:
        return dict(to_dict(exclude_none=True))
    return dict(obj)
