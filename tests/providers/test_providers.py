"""The provider layer against fake Anthropic and OpenAI servers that speak the real
wire formats (tests/fakes/): one suite, parametrised over both providers.

Nothing of ours is mocked: requests go from our code through the official SDKs over
HTTP on 127.0.0.1. Only the retry loop's ``sleep`` is injected (recorded, not slept).
"""

from __future__ import annotations

import json
import logging
import pickle
import socket
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import anthropic
import genai_prices
import httpx2
import openai
import pytest

from providers import catalog, pricing
from providers.base import BaseProvider
from providers.errors import ErrorKind, ProviderError
from providers.registry import PROVIDER_IDS, PROVIDER_NAMES, get_provider, parse_model_ref
from providers.types import (
    ChatRequest,
    Done,
    Message,
    OpaquePart,
    TextDelta,
    ToolCall,
    ToolCallEvent,
    ToolResult,
    ToolSpec,
    Usage,
    UsageEvent,
)
from tests.fakes.fake_anthropic import CURRENT_VERSION, FakeAnthropic
from tests.fakes.fake_openai import FakeOpenAI
from tests.fakes.llm_base import FakeLLMServer, ToolCallSpec, Turn

KEY = "sk-test-key-0001"

# Per provider: a current model that rejects temperature, a priced one, an unpriced one.
MODEL = {"anthropic": "claude-sonnet-5-5", "openai": "gpt-5.4-mini"}
# No price data matches these names (genai-prices matches by prefix, so a plausible future
# name such as "gpt-6.2-astra" may be priced by the next release; the test checks first).
UNPRICED = {"anthropic": "no-such-model-for-tests", "openai": "no-such-model-for-tests"}

WEATHER = ToolSpec(
    name="get_weather",
    description="Current weather for a city.",
    input_schema={
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": "City name"},
            "unit": {"$ref": "#/$defs/unit"},
        },
        "required": ["city"],
        "additionalProperties": False,
        "$defs": {"unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
    },
)


# ---- fixtures ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def fakes() -> Any:
    servers: dict[str, FakeLLMServer] = {"anthropic": FakeAnthropic().start(), "openai": FakeOpenAI().start()}
    yield servers
    for server in servers.values():
        server.stop()


@dataclass
class Env:
    """One provider wired to its fake, with the retry sleeps recorded."""

    pid: str
    fake: Any
    model: str
    sleeps: list[float] = field(default_factory=list)

    def provider(self, **options: Any) -> BaseProvider:
        options.setdefault("timeout", 5)
        options.setdefault("sleep", self.sleeps.append)
        options.setdefault("base_url", self.fake.url)
        return get_provider(self.pid, options.pop("api_key", KEY), cache=False, **options)  # type: ignore[return-value]

    def request(self, text: str = "Hello there, how are you today?", **kw: Any) -> ChatRequest:
        kw.setdefault("model", self.model)
        kw.setdefault("system", "Be brief.")
        return ChatRequest(messages=kw.pop("messages", [Message.user(text)]), **kw)

    def fail(self, error: dict[str, Any], **kw: Any) -> None:
        """Queue an HTTP error given per provider: {"status": ..., "anthropic": {...}, "openai": {...}}."""
        self.fake.fail(error["status"], **error.get(self.pid, {}), **kw)

    # wire-format readers, so that one test can assert on both providers' requests
    def wire_tools(self, body: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
        if self.pid == "anthropic":
            return [(t["name"], t["description"], t["input_schema"]) for t in body.get("tools", [])]
        return [
            (t["name"], t["description"], t["parameters"]) for t in body.get("tools", []) if t["type"] == "function"
        ]

    def wire_system(self, body: dict[str, Any]) -> Any:
        return body.get("system") if self.pid == "anthropic" else body.get("instructions")

    def wire_max_tokens(self, body: dict[str, Any]) -> int | None:
        return body.get("max_tokens") if self.pid == "anthropic" else body.get("max_output_tokens")

    def wire_tool_results(self, body: dict[str, Any]) -> list[tuple[str, str]]:
        out = []
        if self.pid == "anthropic":
            for m in body["messages"]:
                if isinstance(m["content"], list):
                    out += [(b["tool_use_id"], b["content"]) for b in m["content"] if b["type"] == "tool_result"]
        else:
            out = [(i["call_id"], i["output"]) for i in body["input"] if i.get("type") == "function_call_output"]
        return out


@pytest.fixture(params=PROVIDER_IDS)
def env(request: pytest.FixtureRequest, fakes: dict[str, FakeLLMServer]) -> Any:
    fake = fakes[request.param]
    fake.reset()
    yield Env(request.param, fake, MODEL[request.param])
    assert not fake.errors, f"the fake server raised: {fake.errors}"
    assert fake.pending() == 0, "a scripted reply was left unused"


def collect(events: Any) -> tuple[list[Any], ProviderError | None]:
    out: list[Any] = []
    try:
        for ev in events:
            out.append(ev)
    except ProviderError as exc:
        return out, exc
    return out, None


# ---- plain text -------------------------------------------------------------------


def test_plain_text_complete(env: Env) -> None:
    r = env.provider().complete(env.request("Hello there, how are you today?"))
    assert r.text == f"[{env.model}] Hello there, how are you today?"
    assert r.stop_reason == "end_turn"
    assert r.provider == env.pid
    assert r.tool_calls == []
    assert r.usage.input_tokens > 0 and r.usage.output_tokens > 0
    assert r.request_id and r.request_id.startswith("req_")
    assert catalog.find(env.pid, r.model).id == env.model  # may come back dated (OpenAI snapshots)
    body = env.fake.last.json
    assert env.wire_system(body) == "Be brief."
    if env.pid == "anthropic":
        assert body["max_tokens"] == 8192  # always sent: the API requires it
        assert env.fake.last.header("anthropic-version") == CURRENT_VERSION
    else:
        assert "max_output_tokens" not in body  # none asked, none sent
        assert body["store"] is False
    assert env.fake.last.header("x-stainless-retry-count") == "0"


def test_stream_text_then_usage_then_done(env: Env) -> None:
    env.fake.reply("one two three four five")
    events = list(env.provider().stream(env.request()))
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    assert deltas == ["one ", "two ", "three ", "four ", "five"]
    assert isinstance(events[-1], Done) and isinstance(events[-2], UsageEvent)
    assert sum(isinstance(e, Done) for e in events) == 1
    response = events[-1].response
    assert response.text == "one two three four five"
    assert events[-2].usage == response.usage
    assert response.usage.output_tokens > 0 and response.usage.input_tokens > 0
    assert response.stop_reason == "end_turn"
    assert response.request_id and response.request_id.startswith("req_")
    assert response.cost_usd is not None and response.cost_usd > 0
    assert env.fake.last.json["stream"] is True


# ---- tools ------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["complete", "stream"])
def test_tool_round_trip(env: Env, mode: str) -> None:
    provider = env.provider()

    def call(req: ChatRequest):
        if mode == "complete":
            return provider.complete(req)
        events = list(provider.stream(req))
        assert isinstance(events[-1], Done)
        streamed = [e.call for e in events if isinstance(e, ToolCallEvent)]
        assert streamed == events[-1].response.tool_calls
        return events[-1].response

    env.fake.reply_tool_calls([("get_weather", {"city": "Paris", "unit": "celsius"})], text="Let me check.")
    first = call(env.request("What's the weather in Paris?", tools=[WEATHER]))

    # same internal spec → this provider's wire format, schema passed through whole
    assert env.wire_tools(env.fake.last.json) == [(WEATHER.name, WEATHER.description, WEATHER.input_schema)]
    # → the same internal tool call on both providers
    assert first.stop_reason == "tool_use"
    assert first.text == "Let me check."
    assert len(first.tool_calls) == 1
    tc = first.tool_calls[0]
    assert (tc.name, tc.arguments, tc.arguments_error) == ("get_weather", {"city": "Paris", "unit": "celsius"}, None)
    assert tc.id

    env.fake.reply("It is sunny in Paris.")
    history = [
        Message.user("What's the weather in Paris?"),
        first.to_message(),
        Message.tool_results([ToolResult(tc.id, "sunny, 21 C")]),
    ]
    final = call(env.request(messages=history, tools=[WEATHER]))
    assert final.text == "It is sunny in Paris."
    assert final.stop_reason == "end_turn"
    # the result went back as the API expects (the fake rejects orphan results)
    assert env.wire_tool_results(env.fake.last.json) == [(tc.id, "sunny, 21 C")]


# Models that always reason: Anthropic returns signed thinking blocks that must come
# back first in the next tool-loop turn; OpenAI (store=False) returns reasoning items
# with encrypted content, sent back before the function call they led to.
THINKING_MODEL = {"anthropic": "claude-fable-5-2", "openai": "gpt-6-astra"}


@pytest.mark.parametrize("mode", ["complete", "stream"])
def test_tool_round_trip_on_a_thinking_model(env: Env, mode: str) -> None:
    provider = env.provider()
    model = THINKING_MODEL[env.pid]

    def call(req: ChatRequest):
        return provider.complete(req) if mode == "complete" else list(provider.stream(req))[-1].response

    env.fake.reply_tool_calls([("get_weather", {"city": "Lima"})])
    first = call(env.request("Weather in Lima?", model=model, tools=[WEATHER]))
    (tc,) = first.tool_calls
    assert first.text == "" and tc.arguments == {"city": "Lima"}
    results = Message.tool_results([ToolResult(tc.id, "cloudy")])

    env.fake.reply("Cloudy in Lima.")
    final = call(
        env.request(
            messages=[Message.user("Weather in Lima?"), first.to_message(), results], model=model, tools=[WEATHER]
        )
    )
    assert final.text == "Cloudy in Lima."
    sent = env.fake.last.json
    if env.pid == "anthropic":
        (thought,) = first.opaque
        assert sent["messages"][1]["content"][0] == thought.data  # passed back exactly as received
        assert thought.data["type"] == "thinking" and thought.data["signature"]
        # ...and it is needed: the same turn without it is refused
        bare = Message.assistant(first.text, first.tool_calls)
        with pytest.raises(ProviderError) as exc:
            provider.complete(
                env.request(messages=[Message.user("Weather in Lima?"), bare, results], model=model, tools=[WEATHER])
            )
        assert exc.value.kind is ErrorKind.BAD_REQUEST and "thinking" in exc.value.message
    else:
        (thought,) = first.opaque
        assert env.fake.calls("/v1/responses")[0].json["include"] == ["reasoning.encrypted_content"]
        assert [i.get("type", "message") for i in sent["input"]] == [
            "message",
            "reasoning",
            "function_call",
            "function_call_output",
        ]
        assert (
            sent["input"][1]
            == thought.data
            == {
                "type": "reasoning",
                "id": thought.data["id"],
                "summary": [],
                # the whole content as issued (a stream's output_item.added carries a truncated one)
                "encrypted_content": env.fake.issued_reasoning[thought.data["id"]],
            }
        )
        assert "id" not in sent["input"][2]  # no fc_ id: it would make the API demand the reasoning item


# ---- OpenAI reasoning items (store=False) ------------------------------------------


@pytest.fixture
def oai(fakes: dict[str, FakeLLMServer]) -> Any:
    fake = fakes["openai"]
    fake.reset()
    yield Env("openai", fake, THINKING_MODEL["openai"])
    assert not fake.errors, f"the fake server raised: {fake.errors}"
    assert fake.pending() == 0, "a scripted reply was left unused"


def _types(items: list[dict[str, Any]]) -> list[str]:
    return [i.get("type", "message") for i in items]


@pytest.mark.parametrize("mode", ["complete", "stream"])
def test_openai_reasoning_items_go_back_in_output_order(oai: Env, mode: str) -> None:
    """A model that reasons before its preamble and before each call: every reasoning
    item goes back right before the item it led to, with its summary and content."""
    provider = oai.provider()

    def call(req: ChatRequest):
        return provider.complete(req) if mode == "complete" else list(provider.stream(req))[-1].response

    oai.fake.reasoning_per_item = True
    oai.fake.reply_tool_calls(
        [("get_weather", {"city": "Lima"}), ("get_weather", {"city": "Quito"})],
        text="Checking both.",
        thinking="Two cities.",
    )
    first = call(oai.request("Weather in Lima and Quito?", tools=[WEATHER]))
    assert first.text == "Checking both." and [c.arguments["city"] for c in first.tool_calls] == ["Lima", "Quito"]
    assert len(first.opaque) == 3
    turn = first.to_message()
    assert turn.text == first.text and turn.tool_calls == first.tool_calls

    lima, quito = first.tool_calls
    results = Message.tool_results([ToolResult(lima.id, "cloudy"), ToolResult(quito.id, "sunny")])
    oai.fake.reply("Cloudy in Lima, sunny in Quito.")
    final = call(oai.request(messages=[Message.user("Weather in Lima and Quito?"), turn, results], tools=[WEATHER]))
    assert final.text == "Cloudy in Lima, sunny in Quito."

    sent = oai.fake.last.json
    assert sent["include"] == ["reasoning.encrypted_content"] and sent["store"] is False
    assert _types(sent["input"]) == [
        "message", "reasoning", "message", "reasoning", "function_call", "reasoning", "function_call",
        "function_call_output", "function_call_output",
    ]  # fmt: skip
    reasoning = [i for i in sent["input"] if i.get("type") == "reasoning"]
    assert [r["id"] for r in reasoning] == [p.data["id"] for p in first.opaque]
    assert [r["encrypted_content"] for r in reasoning] == [oai.fake.issued_reasoning[r["id"]] for r in reasoning]
    assert reasoning[0]["summary"] == [{"type": "summary_text", "text": "Two cities."}]
    assert sent["input"][2] == {"role": "assistant", "content": "Checking both."}
    assert [i["call_id"] for i in sent["input"] if i.get("type") == "function_call"] == [lima.id, quito.id]


def test_openai_non_reasoning_model_asks_for_no_reasoning(oai: Env) -> None:
    provider = oai.provider()
    oai.fake.reply_tool_calls([("get_weather", {"city": "Oslo"})])
    first = provider.complete(oai.request("Weather in Oslo?", model="gpt-4.1", tools=[WEATHER]))
    assert "include" not in oai.fake.last.json
    assert first.opaque == [] and first.parts is None

    # a reasoning item from an earlier reasoning-model turn is not sent to gpt-4.1
    oai.fake.reply_tool_calls([("get_weather", {"city": "Oslo"})])
    reasoned = provider.complete(oai.request("Weather in Oslo?", tools=[WEATHER]))
    assert len(reasoned.opaque) == 1
    history = [
        Message.user("Weather in Oslo?"),
        reasoned.to_message(),
        Message.tool_results([ToolResult(reasoned.tool_calls[0].id, "snow")]),
    ]
    provider.complete(oai.request(messages=history, model="gpt-4.1", tools=[WEATHER]))
    assert _types(oai.fake.last.json["input"]) == ["message", "function_call", "function_call_output"]
    assert "include" not in oai.fake.last.json
    # ...and the fake refuses encrypted reasoning for that model, as the API does
    client = openai.OpenAI(api_key=KEY, base_url=oai.fake.url, max_retries=0)
    with pytest.raises(openai.BadRequestError) as exc:
        client.responses.create(model="gpt-4.1", input="hi", store=False, include=["reasoning.encrypted_content"])
    assert exc.value.body["message"] == "Encrypted content is not supported with this model."
    assert exc.value.body["param"] == "include"


@pytest.mark.parametrize(
    "model, expected",
    [
        ("gpt-6-astra", True),  # catalog: refuses temperature → reasons
        ("gpt-4o", False),  # catalog: takes temperature
        ("gpt-7-nova", True),  # unknown ids: by name
        ("gpt-5-chat-latest", False),
        ("o5-mini", True),
        ("gpt-4.5-preview", False),
    ],
)
def test_openai_which_models_reason(model: str, expected: bool) -> None:
    from providers.openai_provider import is_reasoning_model

    assert is_reasoning_model(catalog.resolve(f"openai:{model}")) is expected


def test_openai_opaque_parts_never_cross_providers(oai: Env, fakes: dict[str, FakeLLMServer]) -> None:
    anthropic_env = Env("anthropic", fakes["anthropic"], THINKING_MODEL["anthropic"])
    anthropic_env.fake.reset()
    anthropic_env.fake.reply_tool_calls([("get_weather", {"city": "Rome"})])
    (thinking,) = anthropic_env.provider().complete(anthropic_env.request("Weather in Rome?", tools=[WEATHER])).opaque
    oai.fake.reply_tool_calls([("get_weather", {"city": "Rome"})])
    reasoned = oai.provider().complete(oai.request("Weather in Rome?", tools=[WEATHER]))
    (reasoning,) = reasoned.opaque
    (tc,) = reasoned.tool_calls
    results = Message.tool_results([ToolResult(tc.id, "hot")])
    broken = OpaquePart("openai", {"type": "reasoning", "id": "rs_x", "summary": []})  # no encrypted_content

    # Anthropic's thinking block (and an unusable OpenAI item) never reach OpenAI
    oai.fake.reply("Hot in Rome.")
    mixed = Message("assistant", [thinking, broken, reasoning, tc])
    oai.provider().complete(oai.request(messages=[Message.user("Weather in Rome?"), mixed, results], tools=[WEATHER]))
    sent = oai.fake.last.json["input"]
    assert _types(sent) == ["message", "reasoning", "function_call", "function_call_output"]
    assert sent[1] == reasoning.data

    # OpenAI's reasoning item never reaches Anthropic (its signed thinking block does)
    anthropic_env.fake.reply("Hot in Rome.")
    anthropic_env.provider().complete(
        anthropic_env.request(messages=[Message.user("Weather in Rome?"), mixed, results], tools=[WEATHER])
    )
    blocks = anthropic_env.fake.last.json["messages"][1]["content"]
    assert [b["type"] for b in blocks] == ["thinking", "tool_use"] and blocks[0] == thinking.data
    assert not anthropic_env.fake.errors and anthropic_env.fake.pending() == 0


def test_openai_reasoning_without_a_following_item_is_not_sent(oai: Env) -> None:
    """A turn cut off while reasoning leaves a reasoning item with nothing after it;
    the API refuses such an item, so it stays out of the next request."""
    oai.fake.reply("Fine.")
    (reasoning,) = oai.provider().complete(oai.request("How are you?")).opaque
    oai.fake.reply("Going on.")
    history = [Message.user("Think hard."), Message("assistant", [reasoning]), Message.user("Go on.")]
    r = oai.provider().complete(oai.request(messages=history))
    assert r.text == "Going on."
    assert _types(oai.fake.last.json["input"]) == ["message", "message"]


def test_fake_openai_validates_reasoning_items_like_the_api(oai: Env) -> None:
    client = openai.OpenAI(api_key=KEY, base_url=oai.fake.url, max_retries=0)
    tool = {
        "type": "function",
        "name": WEATHER.name,
        "description": WEATHER.description,
        "parameters": WEATHER.input_schema,
    }
    oai.fake.reply_tool_calls([("get_weather", {"city": "Bern"})])
    first = client.responses.create(
        model=oai.model, input="Weather in Bern?", store=False, include=["reasoning.encrypted_content"], tools=[tool]
    )
    rs, fc = first.output
    assert rs.type == "reasoning" and rs.encrypted_content == oai.fake.issued_reasoning[rs.id]
    reasoning = {"type": "reasoning", "id": rs.id, "summary": [], "encrypted_content": rs.encrypted_content}
    call = {"type": "function_call", "call_id": fc.call_id, "name": fc.name, "arguments": fc.arguments}
    answer = {"type": "function_call_output", "call_id": fc.call_id, "output": "rain"}
    user = {"role": "user", "content": "Weather in Bern?"}

    def send(*items: dict[str, Any], **kw: Any) -> Any:
        kw.setdefault("store", False)
        return client.responses.create(model=oai.model, input=list(items), tools=[tool], **kw)

    without_summary = {k: v for k, v in reasoning.items() if k != "summary"}
    with pytest.raises(openai.BadRequestError) as exc:
        send(user, without_summary, call, answer)
    assert exc.value.body["message"] == "Missing required parameter: 'input[1].summary'."
    assert exc.value.body["param"] == "input[1].summary"

    by_id_only = {k: v for k, v in reasoning.items() if k != "encrypted_content"}
    with pytest.raises(openai.NotFoundError) as not_found:
        send(user, by_id_only, call, answer)
    assert "Items are not persisted when `store` is set to false" in not_found.value.body["message"]

    forged = dict(reasoning, encrypted_content=oai.fake.encrypt_reasoning("rs_someone_else"))
    with pytest.raises(openai.BadRequestError) as exc:
        send(user, forged, call, answer)
    assert (
        exc.value.body["code"] == "invalid_encrypted_content" and "could not be verified" in exc.value.body["message"]
    )

    with pytest.raises(openai.BadRequestError) as exc:
        send(user, reasoning, user)
    assert (
        exc.value.body["message"]
        == f"Item '{rs.id}' of type 'reasoning' was provided without its required following item."
    )

    with pytest.raises(openai.BadRequestError) as exc:
        send(user, dict(call, id=fc.id), answer)
    assert exc.value.body["message"] == (
        f"Item '{fc.id}' of type 'function_call' was provided without its required 'reasoning' item: '{rs.id}'."
    )

    oai.fake.reply("Rain in Bern.")
    assert send(user, reasoning, dict(call, id=fc.id), answer).output_text == "Rain in Bern."


def test_tool_error_result_is_marked(env: Env) -> None:
    env.fake.reply_tool_calls([ToolCallSpec("get_weather", {"city": "Oslo"}, id="call_err_1")])
    first = env.provider().complete(env.request("weather?", tools=[WEATHER]))
    history = [
        Message.user("weather?"),
        first.to_message(),
        Message.tool_results([ToolResult("call_err_1", "timeout", is_error=True)]),
    ]
    env.provider().complete(env.request(messages=history, tools=[WEATHER]))
    body = env.fake.last.json
    if env.pid == "anthropic":
        block = body["messages"][2]["content"][0]
        assert block["is_error"] is True and block["content"] == "timeout"
    else:
        assert env.wire_tool_results(body) == [("call_err_1", "Error: timeout")]


def test_parallel_tool_calls_in_one_streamed_turn(env: Env) -> None:
    cities = ["Paris", "Rome", "Kyoto"]
    env.fake.reply_tool_calls([("get_weather", {"city": c, "unit": "celsius"}) for c in cities])
    events = list(env.provider().stream(env.request("Weather in three cities?", tools=[WEATHER])))
    calls = [e.call for e in events if isinstance(e, ToolCallEvent)]
    assert [c.arguments["city"] for c in calls] == cities
    assert len({c.id for c in calls}) == 3
    assert all(c.arguments == {"city": city, "unit": "celsius"} for c, city in zip(calls, cities, strict=True))
    assert events[-1].response.tool_calls == calls
    assert events[-1].response.stop_reason == "tool_use"


@pytest.mark.parametrize(
    "raw, expected, error",
    [
        ("", {}, None),  # a tool without parameters
        ('{"city": "Par', {}, "not valid JSON"),  # cut-off JSON
        ("[1, 2]", {}, "must be a JSON object"),
    ],
)
def test_tool_arguments_empty_or_malformed_never_crash(env: Env, raw: str, expected: dict, error: str | None) -> None:
    # Anthropic's JSON body always carries an object; only its stream can carry bad JSON.
    env.fake.reply_tool_calls([ToolCallSpec("get_weather", raw)])
    events = list(env.provider().stream(env.request("weather?", tools=[WEATHER])))
    (call,) = [e.call for e in events if isinstance(e, ToolCallEvent)]
    assert call.arguments == expected
    if error is None:
        assert call.arguments_error is None
    else:
        assert error in call.arguments_error and call.raw_arguments == raw


# ---- capability differences -------------------------------------------------------


def test_rejected_temperature_is_dropped_with_a_note(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    info = catalog.resolve(f"{env.pid}:{env.model}")
    assert not info.supports_temperature
    with caplog.at_level(logging.INFO, logger="providers.params"):
        r = env.provider().complete(env.request(temperature=0.7))
    assert "temperature" not in env.fake.last.json
    assert any("temperature 0.7 dropped" in n for n in r.notes)
    assert any("temperature 0.7 dropped" in rec.getMessage() for rec in caplog.records)


def test_temperature_sent_only_where_accepted(env: Env) -> None:
    accepting = [m for m in catalog.models_for(env.pid) if m.supports_temperature]
    if env.pid == "anthropic":
        assert accepting == []  # API version 2026-10-21 has no temperature at all
        return
    model = accepting[0]
    env.provider().complete(env.request(model=model.id, temperature=0.3))
    assert env.fake.last.json["temperature"] == 0.3
    env.provider().complete(env.request(model=model.id, temperature=9.0))
    assert env.fake.last.json["temperature"] == model.temperature_range[1]  # clamped, not refused


def test_fakes_reject_what_the_real_apis_reject(env: Env) -> None:
    """The guard rails above matter: sent as is, these requests fail."""
    if env.pid == "anthropic":
        client = anthropic.Anthropic(api_key=KEY, base_url=env.fake.url, max_retries=0)
        with pytest.raises(anthropic.BadRequestError) as exc:
            client.messages.create(
                model=env.model,
                max_tokens=64,
                messages=[{"role": "user", "content": "hi"}],
                extra_body={"temperature": 0.5},
            )
        assert exc.value.type == "invalid_request_error" and "temperature" in exc.value.api_message
        raw = httpx2.post(
            env.fake.url + "/v1/messages",
            headers={"x-api-key": KEY, "anthropic-version": CURRENT_VERSION},
            json={"model": env.model, "messages": [{"role": "user", "content": "hi"}]},
        )
        assert raw.status_code == 400
        assert raw.json()["error"] == {"type": "invalid_request_error", "message": "max_tokens: Field required"}
        assert raw.headers["request-id"].startswith("req_")
        with pytest.raises(anthropic.AuthenticationError):
            anthropic.Anthropic(api_key="bad-key", base_url=env.fake.url, max_retries=0).models.list()
    else:
        client = openai.OpenAI(api_key=KEY, base_url=env.fake.url, max_retries=0)
        with pytest.raises(openai.BadRequestError) as exc:
            client.responses.create(model=env.model, input="hi", temperature=0.5)
        assert exc.value.code == "unsupported_parameter" and exc.value.param == "temperature"
        with pytest.raises(openai.BadRequestError) as exc:
            client.responses.create(model=env.model, input="hi", max_output_tokens=5)
        assert exc.value.code == "integer_below_min_value"
        with pytest.raises(openai.AuthenticationError) as auth:
            openai.OpenAI(api_key="bad-key", base_url=env.fake.url, max_retries=0).models.list()
        assert auth.value.request_id and auth.value.request_id.startswith("req_")


def test_max_output_tokens_fitted_to_model_and_api(env: Env) -> None:
    provider = env.provider()
    info = catalog.resolve(f"{env.pid}:{env.model}")
    r = provider.complete(env.request(max_output_tokens=10**7))
    assert env.wire_max_tokens(env.fake.last.json) == info.max_output_tokens
    assert any("lowered" in n for n in r.notes)
    r = provider.complete(env.request(max_output_tokens=5))
    assert env.wire_max_tokens(env.fake.last.json) == (5 if env.pid == "anthropic" else 16)
    assert any("raised to 16" in n for n in r.notes) == (env.pid == "openai")


@pytest.mark.parametrize("mode", ["complete", "stream"])
def test_hitting_max_output_tokens_is_reported(env: Env, mode: str) -> None:
    env.fake.reply("word " * 200)
    req = env.request(max_output_tokens=20)
    r = env.provider().complete(req) if mode == "complete" else list(env.provider().stream(req))[-1].response
    assert r.stop_reason == "max_tokens"
    assert r.raw_stop_reason in ("max_tokens", "max_output_tokens")


# ---- errors and retries -----------------------------------------------------------

ERRORS = {
    "auth": {"status": 401, "anthropic": {"message": "invalid x-api-key"}, "openai": {"code": "invalid_api_key"}},
    "permission": {
        "status": 403,
        "anthropic": {"type": "permission_error"},
        "openai": {"message": "Country not supported"},
    },
    "not_found": {"status": 404, "anthropic": {"message": "model: nope"}, "openai": {"code": "model_not_found"}},
    "rate_limit": {
        "status": 429,
        "anthropic": {"message": "Number of requests exceeded"},
        "openai": {"code": "rate_limit_exceeded"},
    },
    "overloaded": {
        "status": 529,
        "anthropic": {"type": "overloaded_error", "message": "Overloaded"},
        "openai": {"message": "The server is overloaded"},
    },
    "bad_request": {
        "status": 400,
        "anthropic": {"message": "messages: roles must alternate"},
        "openai": {"code": "invalid_value"},
    },
    "context_too_long": {
        "status": 400,
        "anthropic": {"message": "prompt is too long: 1200000 tokens > 1000000 maximum"},
        "openai": {
            "code": "context_length_exceeded",
            "message": "Your input exceeds the context window of this model.",
        },
    },
    "server": {
        "status": 500,
        "anthropic": {"type": "api_error", "message": "Internal server error"},
        "openai": {"type": "server_error"},
    },
    "timeout": {"status": 504, "anthropic": {"type": "timeout_error"}, "openai": {"message": "Gateway timeout"}},
}
ERRORS["overloaded_503"] = dict(ERRORS["overloaded"], status=503)


@pytest.mark.parametrize("name", list(ERRORS))
def test_http_error_kinds(env: Env, name: str) -> None:
    env.fail(ERRORS[name])
    with pytest.raises(ProviderError) as exc:
        env.provider(max_attempts=1).complete(env.request())
    err = exc.value
    expected = ErrorKind(name.split("_503")[0])
    assert err.kind is expected
    assert err.retryable == (
        expected in {ErrorKind.RATE_LIMIT, ErrorKind.OVERLOADED, ErrorKind.SERVER, ErrorKind.TIMEOUT}
    )
    assert err.status == ERRORS[name]["status"] and err.provider == env.pid
    assert err.request_id and err.request_id.startswith("req_")
    assert env.fake.count(env.fake.generation_path) == 1


def test_context_too_long_from_the_api_itself(env: Env) -> None:
    if env.pid == "anthropic":
        env.fake.add_model("claude-tiny-1", "Claude Tiny 1", max_input_tokens=50, max_tokens=4096)
        model = "claude-tiny-1"
    else:
        env.fake.add_model("gpt-tiny-1", context=50, max_output=4096)
        model = "gpt-tiny-1"
    try:
        with pytest.raises(ProviderError) as exc:
            env.provider().complete(env.request("long " * 400, model=model))
        assert exc.value.kind is ErrorKind.CONTEXT_TOO_LONG and not exc.value.retryable
        assert env.fake.count(env.fake.generation_path) == 1
    finally:
        env.fake.models.pop(0)


def test_timeout_kind_and_retry(env: Env) -> None:
    env.fake.enqueue(Turn(text="late", delay=1.0), Turn(text="late again", delay=1.0))
    with pytest.raises(ProviderError) as exc:
        env.provider(timeout=0.25, max_attempts=2).complete(env.request())
    assert exc.value.kind is ErrorKind.TIMEOUT and exc.value.retryable
    assert exc.value.attempts == 2 and len(env.sleeps) == 1


def test_connection_refused_is_a_connection_error(env: Env) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once closed
    url = f"http://127.0.0.1:{port}" + ("/v1" if env.pid == "openai" else "")
    with pytest.raises(ProviderError) as exc:
        env.provider(base_url=url, max_attempts=3).complete(env.request())
    assert exc.value.kind is ErrorKind.CONNECTION and exc.value.retryable
    assert exc.value.attempts == 3 and len(env.sleeps) == 2


def test_retry_after_is_honoured(env: Env) -> None:
    env.fail(ERRORS["rate_limit"], headers={"retry-after": "0.2"})
    r = env.provider().complete(env.request())
    assert r.text.startswith(f"[{env.model}]")
    assert env.sleeps == [0.2]
    attempts = env.fake.calls(env.fake.generation_path)
    assert [a.status for a in attempts] == [429, 200]
    # exactly one retry loop: each HTTP attempt is the SDK's first (its retries are off)
    assert [a.header("x-stainless-retry-count") for a in attempts] == ["0", "0"]


def test_retry_after_ms_and_cap(env: Env) -> None:
    env.fail(ERRORS["overloaded"], headers={"retry-after-ms": "150"})
    env.fail(ERRORS["overloaded"], headers={"retry-after": "3600"})
    env.provider(max_retry_after=1.5).complete(env.request())
    assert env.sleeps == [0.15, 1.5]


def test_transient_errors_exhaust_attempts_keeping_the_kind(env: Env) -> None:
    for _ in range(4):
        env.fail(ERRORS["overloaded"])
    with pytest.raises(ProviderError) as exc:
        env.provider(max_attempts=4).complete(env.request())
    assert exc.value.kind is ErrorKind.OVERLOADED and exc.value.retryable
    assert exc.value.attempts == 4
    assert env.fake.count(env.fake.generation_path) == 4
    # exponential backoff with jitter: each wait within [backoff/2, backoff]
    assert len(env.sleeps) == 3
    for sleep, backoff in zip(env.sleeps, (0.5, 1.0, 2.0), strict=True):
        assert backoff / 2 <= sleep <= backoff


@pytest.mark.parametrize("name", ["bad_request", "auth", "context_too_long"])
def test_permanent_errors_are_not_retried(env: Env, name: str) -> None:
    env.fail(ERRORS[name])
    with pytest.raises(ProviderError) as exc:
        env.provider().complete(env.request())
    assert not exc.value.retryable and exc.value.attempts == 1
    assert env.sleeps == [] and env.fake.count(env.fake.generation_path) == 1


def test_spend_cap_429_is_not_retried(env: Env) -> None:
    cap = {
        "status": 429,
        "anthropic": {"message": "spend limit reached", "details": {"error_code": "enforced_spend_limit_reached"}},
        "openai": {"code": "insufficient_quota", "message": "You exceeded your current quota"},
    }
    env.fail(cap)
    with pytest.raises(ProviderError) as exc:
        env.provider().complete(env.request())
    assert exc.value.kind is ErrorKind.RATE_LIMIT and not exc.value.retryable
    assert env.fake.count(env.fake.generation_path) == 1


def test_x_should_retry_false_is_obeyed(env: Env) -> None:
    env.fail(ERRORS["server"], headers={"x-should-retry": "false"})
    with pytest.raises(ProviderError) as exc:
        env.provider().complete(env.request())
    assert exc.value.kind is ErrorKind.SERVER and not exc.value.retryable
    assert env.fake.count(env.fake.generation_path) == 1


# ---- broken streams ---------------------------------------------------------------

# the provider's mid-stream error (Anthropic: an `error` event after HTTP 200)
MIDSTREAM = {"anthropic": ("overloaded_error", ErrorKind.OVERLOADED), "openai": ("server_error", ErrorKind.SERVER)}


@pytest.mark.parametrize("style", ["error", "failed"])
def test_midstream_error_after_output_raises_retryable(env: Env, style: str) -> None:
    code, kind = MIDSTREAM[env.pid]
    # Anthropic: message_start, content_block_start, ping; OpenAI: created, in_progress,
    # the reasoning item (added, done), the message item and its part; then two words
    after = 5 if env.pid == "anthropic" else 8
    env.fake.reply("alpha beta gamma delta", error_after=after, error_type=code, error_style=style)
    events, err = collect(env.provider().stream(env.request()))
    texts = [e.text for e in events if isinstance(e, TextDelta)]
    assert texts == ["alpha ", "beta "]
    assert not any(isinstance(e, (Done, UsageEvent)) for e in events)
    assert err is not None and err.kind is kind and err.retryable
    assert err.partial is not None and err.partial.text == "alpha beta "
    assert env.fake.count(env.fake.generation_path) == 1  # output was yielded: never replayed
    assert env.sleeps == []


def test_midstream_error_before_any_output_is_retried(env: Env) -> None:
    code, _ = MIDSTREAM[env.pid]
    env.fake.reply("lost", error_after=1, error_type=code)
    env.fake.reply("second try works")
    events, err = collect(env.provider().stream(env.request()))
    assert err is None
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "second try works"
    assert isinstance(events[-1], Done)
    assert env.fake.count(env.fake.generation_path) == 2 and len(env.sleeps) == 1


@pytest.mark.parametrize("cut_mode", ["abrupt", "clean"])
def test_cut_stream_yields_what_arrived_then_an_error(env: Env, cut_mode: str) -> None:
    after = 6 if env.pid == "anthropic" else 9  # three words in, before usage
    env.fake.reply("alpha beta gamma delta epsilon", cut_after=after, cut_mode=cut_mode)
    events, err = collect(env.provider().stream(env.request()))
    texts = [e.text for e in events if isinstance(e, TextDelta)]
    assert texts == ["alpha ", "beta ", "gamma "]
    assert not any(isinstance(e, (Done, UsageEvent)) for e in events)
    assert err is not None, "a cut stream must end in an error, not silence"
    assert err.kind is ErrorKind.CONNECTION and err.retryable
    assert err.partial.text == "alpha beta gamma "
    assert env.fake.count(env.fake.generation_path) == 1


def test_cut_before_any_output_is_retried(env: Env) -> None:
    env.fake.reply("never seen", cut_after=1)
    env.fake.reply("fresh answer")
    events, err = collect(env.provider().stream(env.request()))
    assert err is None and events[-1].response.text == "fresh answer"
    assert env.fake.count(env.fake.generation_path) == 2


def test_stream_http_error_before_start_is_retried(env: Env) -> None:
    env.fail(ERRORS["overloaded"], headers={"retry-after": "0.2"})
    events, err = collect(env.provider().stream(env.request()))
    assert err is None and isinstance(events[-1], Done)
    assert env.sleeps == [0.2]


# ---- usage and cost ---------------------------------------------------------------


def expected_cost(pid: str, model: str, u: Usage) -> Decimal:
    gp = genai_prices.Usage(
        input_tokens=u.input_tokens,
        output_tokens=u.output_tokens,
        cache_read_tokens=u.cache_read_tokens,
        cache_write_tokens=u.cache_write_tokens,
    )
    return genai_prices.calc_price(gp, model, provider_id=pid).total_price


def test_cost_and_price_version(env: Env) -> None:
    r = env.provider().complete(env.request())
    assert r.cost_usd == expected_cost(env.pid, env.model, r.usage) > 0
    assert r.price_version == f"genai-prices=={genai_prices.__version__}"


@pytest.mark.parametrize("mode", ["complete", "stream"])
def test_cached_tokens_normalised_and_priced(env: Env, mode: str) -> None:
    provider = env.provider()
    system = "You are a meticulous analyst. " * 180  # ~5,400 chars: above the caching minimum
    req = env.request("Summarise.", system=system)

    def run() -> Any:
        if mode == "complete":
            return provider.complete(req)
        return list(provider.stream(req))[-1].response

    first, second = run(), run()
    raw = second.raw_usage
    if env.pid == "anthropic":
        assert env.fake.last.json["system"][0]["cache_control"] == {"type": "ephemeral"}
        assert first.usage.cache_write_tokens > 0 and first.usage.cache_read_tokens == 0
        # Anthropic counts cache tokens apart from input_tokens; ours includes them
        assert second.usage.input_tokens == (
            raw["input_tokens"] + raw["cache_read_input_tokens"] + raw["cache_creation_input_tokens"]
        )
    else:
        # OpenAI already counts cached tokens inside input_tokens
        assert second.usage.input_tokens == raw["input_tokens"]
        assert second.usage.cache_read_tokens == raw["input_tokens_details"]["cached_tokens"]
    assert second.usage.cache_read_tokens > 0
    assert second.usage.input_tokens > second.usage.cache_read_tokens
    # same normalised input either way, and the cached call is cheaper
    assert first.usage.input_tokens == second.usage.input_tokens
    assert second.cost_usd == expected_cost(env.pid, env.model, second.usage)
    assert second.cost_usd < first.cost_usd


def test_unpriced_model_costs_none_with_a_warning(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    model = UNPRICED[env.pid]
    with pytest.raises(LookupError):  # the premise: the installed price data does not know it
        genai_prices.calc_price(genai_prices.Usage(input_tokens=1), model_ref=model, provider_id=env.pid)
    pricing._warned.discard((env.pid, model))
    # the provider serves the model (the fake refuses models it does not list); only prices lack it
    if env.pid == "anthropic":
        env.fake.add_model(model, model)
    else:
        env.fake.add_model(model)
    try:
        with caplog.at_level(logging.WARNING, logger="providers.pricing"):
            r = env.provider().complete(env.request(model=model))
    finally:
        env.fake.models[:] = [m for m in env.fake.models if m.id != model]
    assert r.cost_usd is None
    assert r.price_version == f"genai-prices=={genai_prices.__version__}"
    assert any("no price data" in n for n in r.notes)
    assert any(model in rec.getMessage() for rec in caplog.records)


# ---- models and keys --------------------------------------------------------------


def test_list_models(env: Env) -> None:
    if env.pid == "anthropic":
        env.fake.max_page_size = 4  # force the cursor paging
    env.fake.add_model(*(("claude-nova-6", "Claude Nova 6") if env.pid == "anthropic" else ("gpt-7-nova",)))
    try:
        models = env.provider().list_models()
    finally:
        env.fake.models.pop(0)
        if env.pid == "anthropic":
            env.fake.max_page_size = 1000
    ids = [m.id for m in models]
    assert len(ids) == len(set(ids))  # aliases and dated ids folded into one entry
    assert all(m.provider == env.pid for m in models)
    known = [m for m in models if m.known]
    assert {m.id for m in known} <= {m.id for m in catalog.models_for(env.pid)}
    assert env.model in ids
    unknown = [m for m in models if not m.known]
    assert [m.id for m in unknown] == (["claude-nova-6"] if env.pid == "anthropic" else ["gpt-7-nova"])
    nova = unknown[0]
    assert not nova.supports_temperature and not nova.supports_prompt_cache  # conservative defaults
    if env.pid == "anthropic":
        # what the API reported: name and limits
        assert (nova.display_name, nova.context_window, nova.max_output_tokens) == ("Claude Nova 6", 1_000_000, 128_000)
        pages = env.fake.calls("/v1/models")
        assert len(pages) == 5  # 19 models, 4 per page
        assert [p.query.get("after_id", [None])[0] for p in pages][1:] == ids[3:16:4]
    else:
        assert (nova.display_name, nova.max_output_tokens) == ("gpt-7-nova", 4096)  # ids only: defaults
        assert not any(
            word in i for i in ids for word in ("embedding", "whisper", "tts", "image", "moderation", "realtime")
        )
        assert "gpt-4o-2024-08-06" not in ids and "gpt-4o" in ids


def test_unknown_model_is_accepted_with_conservative_defaults(env: Env) -> None:
    new_id = "claude-nova-6" if env.pid == "anthropic" else "gpt-7-nova"
    if env.pid == "anthropic":
        env.fake.add_model(new_id, "Claude Nova 6")
    else:
        env.fake.add_model(new_id)
    try:
        r = env.provider().complete(env.request(model=new_id, temperature=0.2))
    finally:
        env.fake.models.pop(0)
    assert r.text.startswith(f"[{new_id}]")
    assert "temperature" not in env.fake.last.json
    assert r.cost_usd is None


def test_validate_key(env: Env) -> None:
    env.provider().validate_key()
    with pytest.raises(ProviderError) as exc:
        env.provider(api_key="bad-key-123").validate_key()
    assert exc.value.kind is ErrorKind.AUTH and not exc.value.retryable
    assert env.fake.calls()[-1].status == 401 and len(env.fake.calls()) == 2


def test_validate_key_retries_transient_errors(env: Env) -> None:
    env.fail(ERRORS["overloaded"], path="/v1/models")
    env.provider().validate_key()
    assert [r.status for r in env.fake.calls("/v1/models")] == [ERRORS["overloaded"]["status"], 200]


def test_provider_from_environment_base_url(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL" if env.pid == "anthropic" else "OPENAI_BASE_URL", env.fake.url)
    provider = get_provider(env.pid, KEY, sleep=env.sleeps.append)
    assert provider.complete(env.request()).text.startswith(f"[{env.model}]")


# ---- provider-independent pieces --------------------------------------------------


def test_parse_model_ref() -> None:
    assert parse_model_ref("anthropic:claude-sonnet-5-5") == ("anthropic", "claude-sonnet-5-5")
    assert parse_model_ref("openai:gpt-5.4-mini-2026-03-17") == ("openai", "gpt-5.4-mini-2026-03-17")
    for bad, words in [
        ("claude-sonnet-5-5", "provider:model_id"),
        ("google:gemini-3", "unknown provider 'google'"),
        ("openai:", "no valid model id"),
        ("openai:gpt 5", "no valid model id"),
    ]:
        with pytest.raises(ValueError, match=words):
            parse_model_ref(bad)
    assert PROVIDER_NAMES == {"anthropic": "Anthropic", "openai": "OpenAI"}


def test_get_provider_caches_clients_per_key() -> None:
    a = get_provider("openai", "sk-one", base_url="http://127.0.0.1:9/v1")
    assert get_provider("openai", "sk-one", base_url="http://127.0.0.1:9/v1") is a
    assert get_provider("openai", "sk-two", base_url="http://127.0.0.1:9/v1") is not a
    with pytest.raises(ValueError, match="unknown provider"):
        get_provider("mistral", "k")
    with pytest.raises(ValueError, match="no API key"):
        get_provider("anthropic", "")


@pytest.mark.parametrize(
    "dated, alias",
    [
        ("anthropic:claude-haiku-4-5-20251001", "anthropic:claude-haiku-4-5"),
        ("anthropic:claude-sonnet-5-5-20261015", "anthropic:claude-sonnet-5-5"),
        ("openai:gpt-5.4-mini-2026-03-17", "openai:gpt-5.4-mini"),
        ("openai:gpt-6.1-sol-2026-09-30", "openai:gpt-6.1-sol"),
    ],
)
def test_dated_ids_and_aliases_share_name_and_price(dated: str, alias: str) -> None:
    a, b = catalog.lookup(dated), catalog.lookup(alias)
    assert a is not None and a is b
    usage = Usage(12_000, 800, 4_000, 1_000)
    pid = alias.split(":")[0]
    assert pricing.price(pid, dated.split(":", 1)[1], usage) == pricing.price(pid, alias.split(":", 1)[1], usage)
    assert pricing.price(pid, alias.split(":", 1)[1], usage)[0] is not None


def test_catalog_is_ordered_and_consistent() -> None:
    for pid in PROVIDER_IDS:
        models = catalog.models_for(pid)
        assert models and all(m.provider == pid and m.known for m in models)
        for m in models:
            assert m.max_output_tokens <= m.context_window
            assert m.supports_temperature == (m.temperature_range is not None)
            assert catalog.lookup(m.ref) is m
    assert catalog.models_for("anthropic")[0].id == "claude-fable-5-2"
    unknown = catalog.resolve("openai:gpt-99")
    assert not unknown.known and not unknown.supports_temperature and unknown.display_name == "gpt-99"
    assert catalog.lookup("openai:gpt-99") is None


def test_provider_error_pickles_for_rq() -> None:
    err = ProviderError(ErrorKind.RATE_LIMIT, "slow down", retry_after=2.0, status=429, provider="openai")
    err.attempts = 3
    copy = pickle.loads(pickle.dumps(err))
    assert (copy.kind, copy.message, copy.retry_after, copy.status, copy.attempts, copy.retryable) == (
        ErrorKind.RATE_LIMIT,
        "slow down",
        2.0,
        429,
        3,
        True,
    )
    assert "rate_limit" in str(copy) and "after 3 attempts" in str(copy)


def test_usage_arithmetic_and_response_dict() -> None:
    total = Usage(10, 2, 4, 1) + Usage(5, 1)
    assert total.to_dict() == {"input_tokens": 15, "output_tokens": 3, "cache_read_tokens": 4, "cache_write_tokens": 1}
    assert Usage.from_dict(total.to_dict()) == total
    call = ToolCall("c1", "f", {"a": 1})
    msg = Message.assistant("hi", [call])
    assert msg.text == "hi" and msg.tool_calls == [call]
    assert json.loads(json.dumps({"m": Message.user("x").text})) == {"m": "x"}


# ---- the run's time budget, refusals ------------------------------------------------


def test_retry_waits_never_pass_the_requests_deadline(env: Env) -> None:
    """A retry-after that would end past ChatRequest.deadline is not waited out: the error
    comes back at once (kind kept, the reason in its message), for complete and stream."""
    import time as _time

    for call in ("complete", "stream"):
        env.sleeps.clear()
        env.fail(ERRORS["rate_limit"], headers={"retry-after": "30"})
        req = env.request(deadline=_time.monotonic() + 10)
        provider = env.provider(max_retry_after=60)
        with pytest.raises(ProviderError) as exc:
            if call == "complete":
                provider.complete(req)
            else:
                list(provider.stream(req))
        assert exc.value.kind is ErrorKind.RATE_LIMIT and env.sleeps == []
        assert "time limit" in exc.value.message and "30" in exc.value.message
    # within the deadline it is honoured as before
    env.fail(ERRORS["rate_limit"], headers={"retry-after": "0.2"})
    env.provider().complete(env.request(deadline=_time.monotonic() + 10))
    assert env.sleeps == [0.2]


def _final_response(env: Env, stream: bool) -> Any:
    """The provider's final Response for env's request, by complete() or from the stream's Done."""
    provider = env.provider()
    if not stream:
        return provider.complete(env.request())
    events, err = collect(provider.stream(env.request()))
    assert err is None
    return events[-1].response


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
def test_anthropic_refusal_keeps_stop_details(fakes: dict[str, FakeLLMServer], stream: bool) -> None:
    fake = fakes["anthropic"]
    fake.reset()
    details = {
        "type": "refusal",
        "category": "cyber",
        "explanation": "This request was declined because it could enable cyber harm.",
    }
    fake.reply("Hello..", stop_reason="refusal", stop_details=details)
    response = _final_response(Env("anthropic", fake, MODEL["anthropic"]), stream)
    assert response.stop_reason == "refusal" and response.text == "Hello.."
    assert response.stop_detail and "cyber harm" in response.stop_detail and "cyber" in response.stop_detail


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
def test_openai_refusal_part_is_a_refusal(fakes: dict[str, FakeLLMServer], stream: bool) -> None:
    fake = fakes["openai"]
    fake.reset()
    fake.reply("", refusal="I'm sorry, I can't help with that.")
    response = _final_response(Env("openai", fake, MODEL["openai"]), stream)
    assert response.stop_reason == "refusal" and response.text == "I'm sorry, I can't help with that."
