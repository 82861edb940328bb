"""Images and PDFs through both providers: our parts → the official SDKs → the fake
Anthropic and OpenAI servers over HTTP, which check the blocks as the APIs do, count
their tokens and record what they got. Nothing of ours is mocked.
"""

from __future__ import annotations

import tracemalloc
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import anthropic
import genai_prices
import httpx2
import openai
import pytest

from providers.anthropic_wire import to_wire_messages
from providers.base import BaseProvider
from providers.errors import ErrorKind, ProviderError
from providers.openai_wire import to_input_items
from providers.registry import PROVIDER_IDS, get_provider
from providers.types import (
    ChatRequest,
    DocumentPart,
    Done,
    ImagePart,
    Message,
    Response,
    TextPart,
    ToolCall,
    ToolResult,
    ToolSpec,
    Usage,
)
from tests.fakes.fake_anthropic import CURRENT_VERSION, MAX_REQUEST_BYTES, FakeAnthropic
from tests.fakes.fake_openai import FakeOpenAI
from tests.fakes.llm_base import FakeLLMServer
from tests.fakes.llm_media import IMAGE_TOKENS, PDF_PAGE_TOKENS
from tests.fakes.media_samples import b64, gif_bytes, jpeg_bytes, pdf_bytes, png_bytes, webp_bytes

KEY = "sk-test-key-0001"
MODEL = {"anthropic": "claude-sonnet-5-5", "openai": "gpt-5.4-mini"}
PNG = png_bytes(2, 2)
PDF = pdf_bytes(pages=3)


@pytest.fixture(scope="module")
def fakes() -> Any:
    servers: dict[str, FakeLLMServer] = {"anthropic": FakeAnthropic().start(), "openai": FakeOpenAI().start()}
    yield servers
    for server in servers.values():
        server.stop()


@dataclass
class Env:
    pid: str
    fake: Any
    model: str

    def provider(self) -> BaseProvider:
        return get_provider(self.pid, KEY, cache=False, base_url=self.fake.url, timeout=10, sleep=lambda s: None)  # type: ignore[return-value]

    def call(self, parts: list[Any], mode: str = "complete") -> Response:
        req = ChatRequest(model=self.model, system="Be brief.", messages=[Message("user", parts)])
        provider = self.provider()
        if mode == "complete":
            return provider.complete(req)
        done = list(provider.stream(req))[-1]
        assert isinstance(done, Done)
        return done.response


@pytest.fixture(params=PROVIDER_IDS)
def env(request: pytest.FixtureRequest, fakes: dict[str, FakeLLMServer]) -> Any:
    fake = fakes[request.param]
    fake.reset()
    yield Env(request.param, fake, MODEL[request.param])
    assert not fake.errors, f"the fake server raised: {fake.errors}"


def cost_of(pid: str, model: str, u: Usage) -> Decimal:
    gp = genai_prices.Usage(input_tokens=u.input_tokens, output_tokens=u.output_tokens)
    return genai_prices.calc_price(gp, model, provider_id=pid).total_price


def user_content(env: Env) -> list[dict[str, Any]]:
    """The content list of the last request's (only) user turn, in either wire format."""
    body = env.fake.last.json
    turns = body["messages"] if env.pid == "anthropic" else body["input"]
    (turn,) = [t for t in turns if t.get("role") == "user"]
    assert isinstance(turn["content"], list)
    return turn["content"]


# ---- images and PDFs reach the model, and count ----------------------------------------


@pytest.mark.parametrize("mode", ["complete", "stream"])
def test_image_and_pdf_reach_the_model_and_their_tokens_are_paid_for(env: Env, mode: str) -> None:
    text = "Describe the picture and the report."
    plain = env.call([TextPart(text)], mode)
    with_files = env.call(
        [
            TextPart(text),
            ImagePart("image/png", b64(PNG), "chart.png"),
            DocumentPart("application/pdf", b64(PDF), "q3.pdf"),
        ],
        mode,
    )
    sent = env.fake.last
    assert sent.images() == [("image/png", PNG)]
    assert sent.documents() == [("application/pdf", PDF)]
    # the fake read the last user turn's words through the mixed content (its echo)
    assert with_files.text == f"[{env.model}] {text[:40]}"
    # one image and three pages on top of the same words, priced as input
    assert with_files.usage.input_tokens - plain.usage.input_tokens == IMAGE_TOKENS + 3 * PDF_PAGE_TOKENS
    assert with_files.cost_usd == cost_of(env.pid, env.model, with_files.usage)
    assert with_files.cost_usd is not None and plain.cost_usd is not None
    assert with_files.cost_usd > plain.cost_usd


def test_anthropic_blocks_are_the_documented_shapes(fakes: dict[str, FakeLLMServer]) -> None:
    env = Env("anthropic", fakes["anthropic"], MODEL["anthropic"])
    env.fake.reset()
    env.call([TextPart("Look:"), ImagePart("image/png", b64(PNG)), DocumentPart("application/pdf", b64(PDF), "q3.pdf")])
    assert user_content(env) == [
        {"type": "text", "text": "Look:"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": b64(PNG)}},
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": b64(PDF)},
            "title": "q3.pdf",
        },
    ]
    env.call([DocumentPart("application/pdf", b64(PDF))])  # no name: no title
    assert "title" not in user_content(env)[0]
    env.call([DocumentPart("application/pdf", b64(PDF), "n" * 600 + ".pdf")])  # the API takes 500 at most
    assert user_content(env)[0]["title"] == "n" * 500


def test_openai_items_carry_detail_and_filename(fakes: dict[str, FakeLLMServer]) -> None:
    env = Env("openai", fakes["openai"], MODEL["openai"])
    env.fake.reset()
    env.call([TextPart("Look:"), ImagePart("image/png", b64(PNG)), DocumentPart("application/pdf", b64(PDF), "q3.pdf")])
    body = env.fake.last.json
    assert [i.get("role") for i in body["input"]] == ["user"]  # one user message holds all three
    assert user_content(env) == [
        {"type": "input_text", "text": "Look:"},
        {"type": "input_image", "detail": "auto", "image_url": "data:image/png;base64," + b64(PNG)},
        {"type": "input_file", "filename": "q3.pdf", "file_data": "data:application/pdf;base64," + b64(PDF)},
    ]
    env.call([DocumentPart("application/pdf", b64(PDF))])
    assert user_content(env)[0]["filename"] == "document.pdf"  # the API needs one


@pytest.mark.parametrize(
    ("media_type", "raw"),
    [("image/jpeg", jpeg_bytes()), ("image/gif", gif_bytes()), ("image/webp", webp_bytes())],
)
def test_every_accepted_image_type_goes_through(env: Env, media_type: str, raw: bytes) -> None:
    env.call([ImagePart(media_type, b64(raw), "x"), TextPart("What is it?")])
    assert env.fake.last.images() == [(media_type, raw)]
    assert env.fake.last.status == 200


def test_parts_keep_their_order(env: Env) -> None:
    second = png_bytes(3, 1)
    env.call(
        [TextPart("first:"), ImagePart("image/png", b64(PNG)), TextPart("second:"), ImagePart("image/png", b64(second))]
    )
    kinds = [c["type"] for c in user_content(env)]
    text, image = ("text", "image") if env.pid == "anthropic" else ("input_text", "input_image")
    assert kinds == [text, image, text, image]
    assert [raw for _, raw in env.fake.last.images()] == [PNG, second]


def test_tool_results_come_before_an_image_in_the_same_turn(env: Env) -> None:
    """A tool that returns a picture: the results still answer the calls first."""
    spec = ToolSpec("snap", "Take a picture.", {"type": "object", "properties": {}})
    call = ToolCall("call_1", "snap", {})
    messages = [
        Message.user("Take a picture."),
        Message.assistant("", [call]),
        Message("user", [ToolResult("call_1", "done"), ImagePart("image/png", b64(PNG)), TextPart("Here it is.")]),
    ]
    env.provider().complete(ChatRequest(model=env.model, system=None, messages=messages, tools=[spec]))
    assert env.fake.last.status == 200
    assert env.fake.last.images() == [("image/png", PNG)]


def test_media_never_goes_into_an_assistant_turn(env: Env) -> None:
    """The Messages API refuses a document in an assistant turn, and neither API takes
    an image there: such parts are left out of assistant turns."""
    messages = [
        Message.user("Read this."),
        Message(
            "assistant",
            [DocumentPart("application/pdf", b64(PDF), "x.pdf"), ImagePart("image/png", b64(PNG)), TextPart("Read.")],
        ),
        Message.user("And now?"),
    ]
    r = env.provider().complete(ChatRequest(model=env.model, system=None, messages=messages))
    assert r.text.endswith("And now?")
    assert env.fake.last.images() == [] and env.fake.last.documents() == []


def test_a_5_mb_pdf_costs_at_most_one_copy_of_its_base64() -> None:
    """Measured: Anthropic's blocks cost nothing next to the data; OpenAI's one data URL
    per part is the only copy (no re-encoding, no joins of the data)."""
    part = DocumentPart("application/pdf", b64(b"%PDF-1.7\n" + b"x" * (5 * 1024 * 1024)), "big.pdf")
    size = len(part.data)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        to_wire_messages([Message("user", [TextPart("Read it."), part])])
        anthropic_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        to_input_items([Message("user", [TextPart("Read it."), part])])
        openai_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert anthropic_peak < 64 * 1024
    assert size < openai_peak < size + 64 * 1024


def test_the_base64_is_not_copied_on_the_way_to_the_sdk() -> None:
    """A 5 MB PDF is ~7 MB of base64: Anthropic's blocks hold the part's own string."""
    image, document = ImagePart("image/png", b64(PNG)), DocumentPart("application/pdf", b64(PDF), "a.pdf")
    content = to_wire_messages([Message("user", [image, document])])[0]["content"]
    assert content[0]["source"]["data"] is image.data
    assert content[1]["source"]["data"] is document.data
    # OpenAI's data URL is the one string the wire format forces; built once per part
    items = to_input_items([Message("user", [image])])
    assert items[0]["content"][0]["image_url"].endswith(image.data)


# ---- refused files: a clear, final error --------------------------------------------


def test_a_bad_media_type_is_a_bad_request_that_names_it(env: Env) -> None:
    bmp = b"BM" + b"\x00" * 60
    with pytest.raises(ProviderError) as exc:
        env.call([TextPart("What is it?"), ImagePart("image/bmp", b64(bmp), "scan.bmp")])
    err = exc.value
    assert err.kind is ErrorKind.BAD_REQUEST and err.retryable is False and err.status == 400
    assert env.fake.count(env.fake.generation_path) == 1  # not retried
    if env.pid == "anthropic":
        assert "media_type" in err.message and "image/png" in err.message
    else:
        assert "unsupported MIME type 'image/bmp'" in err.message


def test_image_bytes_must_be_what_the_media_type_says(fakes: dict[str, FakeLLMServer]) -> None:
    env = Env("anthropic", fakes["anthropic"], MODEL["anthropic"])
    env.fake.reset()
    with pytest.raises(ProviderError) as exc:
        env.call([ImagePart("image/jpeg", b64(PNG), "photo.jpg")])
    assert exc.value.kind is ErrorKind.BAD_REQUEST and not exc.value.retryable
    assert "Image does not match the provided media type image/jpeg" in exc.value.message


def test_not_a_pdf_is_refused(env: Env) -> None:
    with pytest.raises(ProviderError) as exc:
        env.call([DocumentPart("application/pdf", b64(b"<html>login</html>"), "x.pdf")])
    assert exc.value.kind is ErrorKind.BAD_REQUEST and not exc.value.retryable
    assert "PDF" in exc.value.message


def test_anthropic_request_over_32_mb_is_413_and_final() -> None:
    """Base64 grows a file by a third: 25 MB of PDF is a body over the 32 MB limit."""
    with FakeAnthropic() as fake:
        big = b"%PDF-1.4\n" + b"0" * (25 * 1024 * 1024)
        env = Env("anthropic", fake, MODEL["anthropic"])
        with pytest.raises(ProviderError) as exc:
            env.call([TextPart("Summarise."), DocumentPart("application/pdf", b64(big), "big.pdf")])
        assert len(fake.last.body) > MAX_REQUEST_BYTES
        assert fake.last.status == 413 and fake.count(fake.generation_path) == 1
    err = exc.value
    assert err.kind is ErrorKind.BAD_REQUEST and err.retryable is False and err.code == "request_too_large"
    assert "maximum allowed number of bytes" in err.message


# ---- the fakes refuse what the APIs refuse ---------------------------------------------


def anthropic_400(fake: FakeAnthropic, content: list[dict[str, Any]], role: str = "user") -> str:
    """Send raw content through the SDK and return the 400's message."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": content}]
    if role == "assistant":
        messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": content}]
    client = anthropic.Anthropic(api_key=KEY, base_url=fake.url, max_retries=0)
    with pytest.raises(anthropic.BadRequestError) as exc:
        client.messages.create(model=MODEL["anthropic"], max_tokens=64, messages=messages)  # type: ignore[arg-type]
    assert exc.value.type == "invalid_request_error"
    return str(exc.value.api_message)


def b64_image(media_type: str, data: str) -> dict[str, Any]:
    return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}


def test_fake_anthropic_refuses_bad_image_and_document_blocks(fakes: dict[str, FakeLLMServer]) -> None:
    fake = fakes["anthropic"]
    assert isinstance(fake, FakeAnthropic)
    fake.reset()
    msg = anthropic_400(fake, [{"type": "image", "source": {"type": "path", "path": "/etc/x"}}])
    assert "Input tag 'path'" in msg and "'base64', 'url', 'file'" in msg
    assert "media_type" in anthropic_400(fake, [b64_image("image/heic", b64(PNG))])
    assert "not valid base64" in anthropic_400(fake, [b64_image("image/png", "not base64!!")])
    assert "does not match the provided media type image/gif" in anthropic_400(fake, [b64_image("image/gif", b64(PNG))])
    doc = {"type": "document", "source": {"type": "base64", "media_type": "text/plain", "data": b64(PDF)}}
    assert "'application/pdf'" in anthropic_400(fake, [doc])
    doc = {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": b64(PNG)}}
    assert "The PDF specified was not valid" in anthropic_400(fake, [doc])
    doc = {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": b64(PDF)}}
    assert "only allowed in user messages" in anthropic_400(fake, [doc], role="assistant")
    assert "500 characters" in anthropic_400(fake, [{**doc, "title": "t" * 501}])
    # what the API documents is accepted: url and file sources, titled base64 PDFs
    client = anthropic.Anthropic(api_key=KEY, base_url=fake.url, max_retries=0)
    client.messages.create(
        model=MODEL["anthropic"],
        max_tokens=64,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
                    {"type": "image", "source": {"type": "file", "file_id": "file_011abc"}},
                    {**doc, "title": "q3.pdf"},
                    {"type": "text", "text": "ok?"},
                ],
            }
        ],
    )
    assert fake.last.status == 200
    assert not fake.errors


def test_fake_anthropic_refuses_a_body_over_32_mb() -> None:
    with FakeAnthropic() as fake:
        raw = httpx2.post(
            fake.url + "/v1/messages",
            headers={"x-api-key": KEY, "anthropic-version": CURRENT_VERSION, "content-type": "application/json"},
            content=b"{" + b" " * MAX_REQUEST_BYTES + b"}",
            timeout=30,
        )
    assert raw.status_code == 413
    assert raw.json()["error"]["type"] == "request_too_large"


def openai_400(fake: FakeOpenAI, content: list[dict[str, Any]], role: str = "user") -> openai.BadRequestError:
    client = openai.OpenAI(api_key=KEY, base_url=fake.url, max_retries=0)
    items: list[dict[str, Any]] = [{"role": role, "content": content}]
    with pytest.raises(openai.BadRequestError) as exc:
        client.responses.create(model=MODEL["openai"], input=items)  # type: ignore[arg-type]
    return exc.value


def test_fake_openai_refuses_bad_input_image_and_input_file(fakes: dict[str, FakeLLMServer]) -> None:
    fake = fakes["openai"]
    assert isinstance(fake, FakeOpenAI)
    fake.reset()
    url = "data:image/png;base64," + b64(PNG)
    err = openai_400(fake, [{"type": "input_image", "image_url": url}])
    assert err.param == "input[0].content[0].detail" and err.code == "missing_required_parameter"
    err = openai_400(fake, [{"type": "input_image", "image_url": url, "detail": "medium"}])
    assert err.param == "input[0].content[0].detail" and "'original'" in err.message
    err = openai_400(
        fake, [{"type": "input_image", "detail": "auto", "image_url": "data:image/tiff;base64," + b64(PNG)}]
    )
    assert err.param == "input[0].content[0].image_url" and "image/tiff" in err.message
    err = openai_400(fake, [{"type": "input_image", "detail": "auto", "image_url": "data:image/png;base64,@@@"}])
    assert err.param == "input[0].content[0].image_url" and "base64" in err.message
    err = openai_400(
        fake, [{"type": "input_image", "detail": "auto", "image_url": "data:image/png;base64," + b64(PDF)}]
    )
    assert err.code == "invalid_image_format"
    err = openai_400(fake, [{"type": "input_image", "detail": "auto"}])
    assert err.code == "missing_required_parameter"
    pdf_url = "data:application/pdf;base64," + b64(PDF)
    err = openai_400(fake, [{"type": "input_file", "file_data": pdf_url}])
    assert err.param == "input[0].content[0].filename"
    err = openai_400(fake, [{"type": "input_file", "filename": "a.pdf"}])
    assert err.param == "input[0].content[0].file_data"
    err = openai_400(fake, [{"type": "input_file", "filename": "a.pdf", "file_data": b64(PDF)}])
    assert err.param == "input[0].content[0].file_data" and "data URL" in err.message
    err = openai_400(
        fake, [{"type": "input_file", "filename": "a.pdf", "file_data": "data:application/pdf;base64," + b64(PNG)}]
    )
    assert "not a valid PDF" in err.message
    err = openai_400(fake, [{"type": "input_image", "detail": "auto", "image_url": url}], role="assistant")
    assert err.param == "input[0].content[0].type"
    # what the API documents is accepted: every detail, URLs, file ids
    client = openai.OpenAI(api_key=KEY, base_url=fake.url, max_retries=0)
    content: list[dict[str, Any]] = [
        {"type": "input_image", "detail": d, "image_url": url} for d in ("low", "high", "auto", "original")
    ]
    content += [
        {"type": "input_image", "detail": "auto", "image_url": "https://example.com/a.png"},
        {"type": "input_image", "detail": "low", "file_id": "file-abc"},
        {"type": "input_file", "file_id": "file-def"},
        {"type": "input_file", "file_url": "https://example.com/a.pdf"},
        {"type": "input_file", "filename": "a.pdf", "file_data": pdf_url, "detail": "low"},
        {"type": "input_text", "text": "ok?"},
    ]
    r = client.responses.create(model=MODEL["openai"], input=[{"role": "user", "content": content}])  # type: ignore[typeddict-item,list-item,misc]
    assert r.status == "completed" and fake.last.status == 200
    assert len(fake.last.images()) == 4 and len(fake.last.documents()) == 1
    assert not fake.errors


def test_fake_anthropic_counts_images_and_pdf_pages_per_request(fakes: dict[str, FakeLLMServer]) -> None:
    """100 images on 200k-context models (600 on others); 100 PDF pages under a 1M
    context: what Settings' PIPEBOT_MAX_PDF_PAGES keeps a run under."""
    fake = fakes["anthropic"]
    fake.reset()
    small = Env("anthropic", fake, "claude-haiku-4-5")  # 200k context
    large = Env("anthropic", fake, MODEL["anthropic"])  # 1M context
    many = [ImagePart("image/png", b64(PNG)) for _ in range(101)]
    with pytest.raises(ProviderError) as exc:
        small.call([*many, TextPart("Which differ?")])
    assert exc.value.kind is ErrorKind.BAD_REQUEST and "maximum of 100" in exc.value.message
    assert large.call([*many, TextPart("Which differ?")]).usage.input_tokens > 101 * IMAGE_TOKENS
    thick = DocumentPart("application/pdf", b64(pdf_bytes(pages=101)), "thick.pdf")
    with pytest.raises(ProviderError) as exc:
        small.call([thick, TextPart("Summarise.")])
    assert exc.value.message == "A maximum of 100 PDF pages may be provided."
    assert large.call([thick, TextPart("Summarise.")]).usage.input_tokens > 101 * PDF_PAGE_TOKENS
    assert not fake.errors
