"""The providers' own server tools (web search, web fetch) against the fake Anthropic and
OpenAI servers, which speak their wire formats: the tool definitions sent, the uses read
back (as a Response's record and as stream events), their blocks sent back unchanged in the
next round, a paused turn continued, the fees in the cost, and the refusals.

Nothing of ours is mocked: requests go through the official SDKs over HTTP on 127.0.0.1.
"""

from __future__ import annotations

import typing
from decimal import Decimal
from typing import Any

import anthropic
import genai_prices
import openai
import pytest

from providers import catalog, continuation
from providers.anthropic_server_tools import WEB_FETCH_TYPE, WEB_SEARCH_TYPE
from providers.errors import ErrorKind, ProviderError
from providers.registry import PROVIDER_IDS, get_provider
from providers.server_tools import label
from providers.types import (
    ChatRequest,
    Done,
    Message,
    OpaquePart,
    Response,
    ServerToolCall,
    ServerToolEvent,
    TextPart,
    ToolResult,
    ToolSpec,
    Usage,
)
from tests.fakes.fake_anthropic import FakeAnthropic
from tests.fakes.fake_openai import FakeOpenAI
from tests.fakes.llm_base import FakeLLMServer, ServerToolSpec, ToolCallSpec, Turn

KEY = "sk-test-key-0001"
MODEL = {"anthropic": "claude-sonnet-5-5", "openai": "gpt-5.4-mini"}
MODES = ("complete", "stream")
NOW = ToolSpec("current_time", "The current time.", {"type": "object", "properties": {}})
SEARCH = ServerToolSpec(
    input={"query": "pipebot releases"},
    results=[("Pipebot 2.0 released", "https://example.com/news/pipebot-2"), ("Changelog", "https://example.com/log")],
)


@pytest.fixture(scope="module")
def fakes() -> Any:
    servers: dict[str, FakeLLMServer] = {"anthropic": FakeAnthropic().start(), "openai": FakeOpenAI().start()}
    yield servers
    for server in servers.values():
        server.stop()


class Env:
    """One provider wired to its fake."""

    def __init__(self, pid: str, fake: Any) -> None:
        self.pid, self.fake, self.model = pid, fake, MODEL[pid]
        self.provider = get_provider(pid, KEY, cache=False, base_url=fake.url, timeout=5, max_attempts=1)

    def request(self, *messages: Message, **kw: Any) -> ChatRequest:
        kw.setdefault("server_tools", ("web_search",))
        return ChatRequest(self.model, "Be brief.", list(messages) or [Message.user("What is new in pipebot?")], **kw)

    def call(self, mode: str, req: ChatRequest) -> tuple[Response, list[Any]]:
        if mode == "complete":
            return self.provider.complete(req), []
        events = list(self.provider.stream(req))
        done = events[-1]
        assert isinstance(done, Done)
        return done.response, events


@pytest.fixture(params=PROVIDER_IDS)
def env(request: pytest.FixtureRequest, fakes: dict[str, FakeLLMServer]) -> Any:
    fake = fakes[request.param]
    fake.reset()
    yield Env(request.param, fake)
    assert not fake.errors, f"the fake server raised: {fake.errors}"
    assert fake.pending() == 0, "a scripted reply was left unused"


@pytest.fixture
def claude(fakes: dict[str, FakeLLMServer]) -> Any:
    fake = fakes["anthropic"]
    fake.reset()
    yield Env("anthropic", fake)
    assert not fake.errors, f"the fake server raised: {fake.errors}"
    assert fake.pending() == 0, "a scripted reply was left unused"


def wire_server_tools(env: Env, body: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for t in body.get("tools", []) if t.get("type") not in (None, "custom", "function")]


# ---- a search round ----------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_search_round_sends_the_tool_and_reads_each_use(env: Env, mode: str) -> None:
    env.fake.enqueue(Turn(text="Pipebot 2.0 is out.", server_tools=[SEARCH]))

    response, events = env.call(mode, env.request())

    body = env.fake.last.json
    if env.pid == "anthropic":
        assert wire_server_tools(env, body) == [{"type": WEB_SEARCH_TYPE, "name": "web_search", "max_uses": 5}]
    else:
        assert wire_server_tools(env, body) == [{"type": "web_search"}]  # user_location unset: documented
        assert "web_search_call.action.sources" in body["include"]
    assert response.text.endswith("Pipebot 2.0 is out.")
    [use] = response.server_tool_calls
    assert (use.name, use.query, use.status, use.error) == ("web_search", "pipebot releases", "completed", None)
    assert "https://example.com/news/pipebot-2" in use.result_excerpt
    assert label(use.name, use.query) == "Web search: pipebot releases"
    assert response.usage.web_searches == 1
    if mode == "stream":
        seen = [e.call for e in events if isinstance(e, ServerToolEvent)]
        assert seen[0].status == "running" and seen[0].query in ("pipebot releases", "")
        assert seen[-1].status == "completed" and seen[-1].query == "pipebot releases"
        assert events.index(next(e for e in events if isinstance(e, ServerToolEvent))) < len(events) - 2


def test_a_fetch_round_on_claude(claude: Env) -> None:
    page = ServerToolSpec(
        "web_fetch", {"url": "https://example.com/log"}, [("Changelog", "https://example.com/log")], "v2: MCP tools."
    )
    claude.fake.enqueue(Turn(text="It adds MCP tools.", server_tools=[page]))

    response = claude.provider.complete(claude.request(server_tools=("web_search", "web_fetch")))

    fetch = {"type": WEB_FETCH_TYPE, "name": "web_fetch", "max_uses": 5, "max_content_tokens": 25_000}
    assert wire_server_tools(claude, claude.fake.last.json)[1] == fetch
    [use] = response.server_tool_calls
    assert (use.name, use.query, use.status) == ("web_fetch", "https://example.com/log", "completed")
    assert "v2: MCP tools." in use.result_excerpt
    assert use.fee_usd == Decimal(0)  # a fetch has no fee of its own
    assert response.usage.web_fetches == 1


@pytest.mark.parametrize("mode", MODES)
def test_the_blocks_go_back_unchanged_in_the_next_round(env: Env, mode: str) -> None:
    before = ServerToolSpec(input={"query": "pipebot releases"}, before="Let me look that up. ")
    env.fake.enqueue(
        Turn(text="Checking the time too.", server_tools=[before], tool_calls=[ToolCallSpec("current_time", {})]),
        Turn(text="Pipebot 2.0 came out at noon."),
    )
    first, _ = env.call(mode, env.request(tools=[NOW]))
    [use] = first.server_tool_calls
    turn = first.to_message()
    results = Message.tool_results([ToolResult(first.tool_calls[0].id, "12:00")])

    second, _ = env.call(mode, env.request(Message.user("What is new in pipebot?"), turn, results, tools=[NOW]))

    assert second.text == "Pipebot 2.0 came out at noon."
    body = env.fake.last.json
    if env.pid == "anthropic":
        assistant = body["messages"][1]["content"]
        assert [b["type"] for b in assistant] == [
            "text",
            "server_tool_use",
            "web_search_tool_result",
            "text",
            "tool_use",
        ]  # in the order the model wrote them
        assert assistant[0]["text"] == "Let me look that up. "
        assert assistant[1] == {"type": "server_tool_use", "id": use.id, "name": "web_search", "input": use.input}
        assert assistant[2] == env.fake.issued_results[use.id]  # encrypted_content and all, as issued
    else:
        sent = [i for i in body["input"] if i.get("type") == "web_search_call"]
        assert sent == [
            {
                "id": use.id,
                "type": "web_search_call",
                "status": "completed",
                "action": {
                    "type": "search",
                    "query": "pipebot releases",
                    "sources": [{"type": "url", "url": "https://example.com/pipebot"}],
                },
            }
        ]
        kinds = [i.get("type", "message") for i in body["input"]]
        assert kinds.index("web_search_call") < kinds.index("function_call")


def test_a_result_altered_on_the_way_back_is_refused_by_the_fake(claude: Env) -> None:
    claude.fake.enqueue(Turn(text="Found.", server_tools=[SEARCH]))
    first = claude.provider.complete(claude.request())
    parts = first.to_message().parts
    altered: list[Any] = []
    for part in parts:
        if isinstance(part, OpaquePart) and part.data["type"] == "web_search_tool_result":
            data = dict(part.data, content=[dict(part.data["content"][0], encrypted_content="tampered")])
            part = OpaquePart("anthropic", data)
        altered.append(part)

    with pytest.raises(ProviderError) as caught:
        claude.provider.complete(
            claude.request(Message.user("What is new?"), Message("assistant", altered), Message.user("And?"))
        )
    assert caught.value.kind is ErrorKind.BAD_REQUEST and "altered" in caught.value.message


# ---- pause_turn --------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_paused_turn_is_continued_with_its_content_sent_back(claude: Env, mode: str) -> None:
    claude.fake.enqueue(
        Turn(stop_reason="pause_turn", server_tools=[ServerToolSpec(before="Searching. ")]),
        Turn(text="Pipebot chains agents."),
    )

    response, events = claude.call(mode, claude.request())

    assert claude.fake.count("/v1/messages") == 2
    paused, resumed = claude.fake.calls("/v1/messages")
    sent_back = resumed.json["messages"]
    assert sent_back[0] == paused.json["messages"][0]
    assert sent_back[-1]["role"] == "assistant"
    assert [b["type"] for b in sent_back[-1]["content"]] == ["text", "server_tool_use", "web_search_tool_result"]
    assert response.text == "Searching. Pipebot chains agents."
    assert (response.stop_reason, response.rounds) == ("end_turn", 2)
    assert [c.status for c in response.server_tool_calls] == ["completed"]
    assert response.usage.web_searches == 1
    assert [type(p) for p in response.to_message().parts] == [TextPart, OpaquePart, OpaquePart, TextPart]
    if mode == "stream":
        assert sum(isinstance(e, Done) for e in events) == 1  # one answer for both rounds


def test_pausing_is_bounded(claude: Env) -> None:
    claude.fake.enqueue(*[Turn(text=f"part {i}. ", stop_reason="pause_turn") for i in range(continuation.MAX_ROUNDS)])

    response = claude.provider.complete(claude.request())

    assert claude.fake.count("/v1/messages") == continuation.MAX_ROUNDS
    assert response.stop_reason == "pause_turn" and response.rounds == continuation.MAX_ROUNDS
    assert any("paused its turn" in note for note in response.notes)


def test_a_result_after_the_pause_completes_the_use_from_before_it() -> None:
    """A use started before a pause and answered after it is one call, not two."""
    use = ServerToolCall("srvtoolu_1", "web_search", {"query": "pipebot"}, status="running")
    answer = ServerToolCall("srvtoolu_1", "web_search", {}, result_excerpt="Pipebot — https://example.com")
    answer.fee_usd = Decimal("0.01")

    def response(call: ServerToolCall, stop: Any, cost: str) -> Response:
        return Response(
            "", [], stop, Usage(10, 1), "m", None, {}, Decimal(cost), "v", server_tool_calls=[call], parts=[]
        )

    merged = continuation.merge(response(use, "pause_turn", "0.001"), response(answer, "end_turn", "0.011"))

    [call] = merged.server_tool_calls
    assert (call.query, call.status, call.fee_usd) == ("pipebot", "completed", Decimal("0.01"))
    assert "example.com" in call.result_excerpt
    assert (merged.cost_usd, merged.usage.input_tokens, merged.rounds) == (Decimal("0.012"), 20, 2)


# ---- fees --------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_each_search_costs_a_cent_and_the_cost_includes_it(env: Env, mode: str) -> None:
    tokens = {"input_tokens": 1000, "output_tokens": 100}
    two = [ServerToolSpec(input={"query": "a"}), ServerToolSpec(input={"query": "b"})]
    env.fake.enqueue(Turn(text="Done.", server_tools=two, usage=tokens))

    response, _ = env.call(mode, env.request())

    gp = genai_prices.Usage(input_tokens=1000, output_tokens=100)
    token_cost = genai_prices.calc_price(gp, env.model, provider_id=env.pid).total_price
    assert response.cost_usd == token_cost + Decimal("0.02")
    assert [c.fee_usd for c in response.server_tool_calls] == [Decimal("0.01"), Decimal("0.01")]
    assert response.usage.to_dict()["web_searches"] == 2


# ---- errors and refusals -----------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_failed_search_is_reported_not_raised(env: Env, mode: str) -> None:
    failed = ServerToolSpec(input={"query": "pipebot"}, error_code="max_uses_exceeded")
    env.fake.enqueue(Turn(text="I could not search.", usage={"input_tokens": 1000, "output_tokens": 100}))
    env.fake.enqueue(
        Turn(text="I could not search.", server_tools=[failed], usage={"input_tokens": 1000, "output_tokens": 100})
    )
    plain, _ = env.call(mode, env.request())

    response, _ = env.call(mode, env.request())

    assert response.text.endswith("I could not search.")
    [use] = response.server_tool_calls
    assert use.status == "error" and use.query == "pipebot"
    if env.pid == "anthropic":
        assert use.error == "max_uses_exceeded"
    else:
        assert use.error == "the search ended failed"
    assert use.fee_usd == Decimal(0)
    assert response.usage.web_searches == 0
    assert response.cost_usd == plain.cost_usd  # a failed search is not billed


@pytest.mark.parametrize(
    ("pid", "model", "tools", "words"),
    [
        ("openai", "gpt-5.4-mini", ("web_fetch",), "GPT-5.4 mini has no fetch a web page tool"),
        ("anthropic", "claude-next-unknown", ("web_search",), "claude-next-unknown has no web search tool"),
        ("anthropic", "claude-sonnet-5-5", ("web_browse",), "unknown server tool 'web_browse'"),
    ],
    ids=["openai-fetch", "unknown-model", "unknown-tool"],
)
@pytest.mark.parametrize("mode", MODES)
def test_a_tool_the_model_lacks_is_refused_before_any_request(
    fakes: dict[str, FakeLLMServer], pid: str, model: str, tools: tuple[str, ...], words: str, mode: str
) -> None:
    fake = fakes[pid]
    fake.reset()
    provider = get_provider(pid, KEY, cache=False, base_url=fake.url, timeout=5)
    req = ChatRequest(model, None, [Message.user("hi")], server_tools=tools)

    with pytest.raises(ProviderError) as caught:
        provider.complete(req) if mode == "complete" else provider.stream(req)

    assert caught.value.kind is ErrorKind.BAD_REQUEST and not caught.value.retryable
    assert words in caught.value.message
    assert fake.count() == 0


def test_the_catalog_says_which_model_has_which_tool() -> None:
    claude, gpt = catalog.resolve("anthropic:claude-haiku-4-5"), catalog.resolve("openai:gpt-4o")
    unknown = catalog.resolve("openai:gpt-99-unknown")
    assert (claude.supports_web_search, claude.supports_web_fetch) == (True, True)
    assert (gpt.supports_web_search, gpt.supports_web_fetch) == (True, False)
    assert (unknown.supports_web_search, unknown.supports_web_fetch) == (False, False)
    assert all(m.supports_web_search and m.supports_web_fetch for m in catalog.models_for("anthropic"))
    assert all(m.supports_web_search and not m.supports_web_fetch for m in catalog.models_for("openai"))


def test_the_fakes_refuse_a_server_tool_type_they_do_not_know(fakes: dict[str, FakeLLMServer]) -> None:
    fa, fo = fakes["anthropic"], fakes["openai"]
    fa.reset()
    fo.reset()
    claude = anthropic.Anthropic(api_key=KEY, base_url=fa.url, max_retries=0)
    gpt = openai.OpenAI(api_key=KEY, base_url=fo.url, max_retries=0)
    messages: Any = [{"role": "user", "content": "hi"}]

    with pytest.raises(anthropic.BadRequestError) as a_err:
        claude.messages.create(
            model="claude-sonnet-5-5",
            max_tokens=100,
            messages=messages,
            tools=[{"type": "web_search_20991231", "name": "web_search"}],  # type: ignore[list-item]
        )
    with pytest.raises(anthropic.BadRequestError) as a_both:
        claude.messages.create(
            model="claude-sonnet-5-5",
            max_tokens=100,
            messages=messages,
            tools=[
                {
                    "type": WEB_SEARCH_TYPE,
                    "name": "web_search",
                    "allowed_domains": ["a.com"],
                    "blocked_domains": ["b.com"],
                }
            ],
        )
    with pytest.raises(openai.BadRequestError) as o_err:
        gpt.responses.create(model="gpt-5.4-mini", input="hi", tools=[{"type": "web_browse"}])  # type: ignore[list-item]
    with pytest.raises(openai.BadRequestError) as o_field:
        gpt.responses.create(
            model="gpt-5.4-mini",
            input="hi",
            tools=[{"type": "web_search", "max_uses": 3}],  # type: ignore[list-item]
        )

    assert "Input tag 'web_search_20991231' found using 'type' does not match" in str(a_err.value)
    assert "cannot be used together" in str(a_both.value)
    assert o_err.value.code == "invalid_value" and "'web_browse'" in str(o_err.value)
    assert o_field.value.code == "unknown_parameter"


def test_the_tool_types_sent_are_the_newest_the_sdk_has() -> None:
    versions: dict[str, list[str]] = {"web_search": [], "web_fetch": []}
    for param in typing.get_args(anthropic.types.ToolUnionParam):
        hints = typing.get_type_hints(param, include_extras=True)
        if "type" not in hints:
            continue
        for tag in typing.get_args(typing.get_args(hints["type"])[0]):
            for name in versions:
                if isinstance(tag, str) and tag.startswith(name + "_"):
                    versions[name].append(tag)
    assert max(versions["web_search"]) == WEB_SEARCH_TYPE
    assert max(versions["web_fetch"]) == WEB_FETCH_TYPE


def test_usage_keeps_its_old_shape_without_server_tools() -> None:
    assert Usage(5, 2).to_dict() == {
        "input_tokens": 5,
        "output_tokens": 2,
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
    }
    both = Usage(5, 2, web_searches=1) + Usage(1, 1, web_searches=2, web_fetches=1)
    assert Usage.from_dict(both.to_dict()) == both
    assert (both.web_searches, both.web_fetches) == (3, 1)


@pytest.mark.parametrize("mode", MODES)
def test_on_a_thinking_model_the_turn_still_starts_with_its_thinking(claude: Env, mode: str) -> None:
    """The API refuses a tool loop whose assistant turn does not start with its signed
    thinking block; the server tool blocks come after it, where the model wrote them."""
    claude.model = "claude-fable-5-2"
    claude.fake.enqueue(
        Turn(text="And the time.", server_tools=[SEARCH], tool_calls=[ToolCallSpec("current_time", {})]),
        Turn(text="Done."),
    )
    first, _ = claude.call(mode, claude.request(tools=[NOW]))
    results = Message.tool_results([ToolResult(first.tool_calls[0].id, "12:00")])

    second, _ = claude.call(mode, claude.request(Message.user("News?"), first.to_message(), results, tools=[NOW]))

    assert second.text == "Done."
    kinds = [b["type"] for b in claude.fake.last.json["messages"][1]["content"]]
    assert kinds == ["thinking", "server_tool_use", "web_search_tool_result", "text", "tool_use"]


@pytest.mark.parametrize("mode", MODES)
def test_a_fetch_that_failed_is_reported_with_its_code(claude: Env, mode: str) -> None:
    failed = ServerToolSpec("web_fetch", {"url": "https://example.com/private"}, error_code="url_not_accessible")
    claude.fake.enqueue(Turn(text="That page is out of reach.", server_tools=[failed]))

    response, _ = claude.call(mode, claude.request(server_tools=("web_fetch",)))

    [use] = response.server_tool_calls
    assert (use.name, use.query, use.status, use.error) == (
        "web_fetch",
        "https://example.com/private",
        "error",
        "url_not_accessible",
    )
    assert response.usage.web_fetches == 0 and response.text == "That page is out of reach."
