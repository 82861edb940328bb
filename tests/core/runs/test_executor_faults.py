"""Runs under provider faults and hostile input, end to end: a real `pipebot worker` process,
real PostgreSQL and Redis, the fake providers speaking Anthropic's and OpenAI's wire formats.

Every fault ends as a retry that succeeds or a failed run naming the error kind and what to
do; none leaves a run "running", none crashes the worker."""

from __future__ import annotations

import json
import threading

import pytest

from core.runs.intake import start_run
from storage.db import transaction
from storage.repos import agents as agent_repo
from tests.support.runs import (
    GPT,
    HAIKU,
    drain,
    make_agent,
    make_pipeline,
    with_keys,
)
from tests.support.runs import (
    read_artifact as _artifact,
)
from tests.support.runs import (
    read_run as _run,
)
from tests.support.runs import (
    read_steps as _steps,
)


class _Events:
    """What `pipebot run` (and any pub/sub subscriber) is told about one run, collected live."""

    def __init__(self, ctx, run_id) -> None:
        from core.events import channel

        self._pubsub = ctx.redis.pubsub(ignore_subscribe_messages=True)
        self._pubsub.subscribe(channel(str(run_id)))
        self.events: list[dict] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            msg = self._pubsub.get_message(timeout=0.2)
            if msg is not None:
                self.events.append(json.loads(msg["data"]))

    def close(self) -> list[dict]:
        import time

        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any(e["event"] == "run_finished" for e in self.events):
            time.sleep(0.05)
        self._stop.set()
        self._thread.join(5)
        self._pubsub.close()
        return self.events


def _one_step(ctx, model=HAIKU, provider="anthropic", **agent):
    with_keys(ctx, "T1", provider)
    make_pipeline(ctx, "T1", "P", [make_agent(ctx, "T1", "Solo", model, **agent)])


# ---- faults in the middle of a stream -------------------------------------------------------


def test_anthropic_error_event_mid_stream_retries_the_step_without_duplicating_text(ctx, worker_env, fake_anthropic):
    """Anthropic sends `event: error` (overloaded_error) inside a 200 stream after some text:
    the step is asked again, the run succeeds with the second answer only, and subscribers
    are told the step restarted (so the half answer is not mistaken for part of the output)."""
    _one_step(ctx)
    fake_anthropic.reply("half an answer that breaks off", error_after=6, error_type="overloaded_error")
    fake_anthropic.reply("the whole answer")
    run = start_run(ctx, "T1", "P", "input")
    ev = _Events(ctx, run.id)
    drain(worker_env)
    events = ev.close()
    done = _run(ctx, "T1", run.id)
    assert done.status == "succeeded", (done.error_kind, done.error_message)
    assert done.output == "the whole answer"
    assert fake_anthropic.count("/v1/messages") == 2
    kinds = [e["event"] for e in events]
    assert "step_retrying" in kinds
    retry_at = kinds.index("step_retrying")
    after = "".join(e["text"] for e in events[retry_at:] if e["event"] == "text_delta")
    assert after == "the whole answer"  # what follows the restart notice is the new answer, once
    assert "overloaded" in [e for e in events if e["event"] == "step_retrying"][0]["reason"]
    assert _artifact(ctx, "T1", run.id).content["steps"][0]["output"] == "the whole answer"


def test_anthropic_mid_stream_errors_that_persist_fail_the_run_with_the_kind(ctx, worker_env, fake_anthropic):
    _one_step(ctx)
    for _ in range(5):
        fake_anthropic.reply("again and again it breaks", error_after=6, error_type="overloaded_error")
    run = start_run(ctx, "T1", "P", "input")
    drain(worker_env)
    done = _run(ctx, "T1", run.id)
    assert done.status == "failed" and done.error_kind == "overloaded"
    assert "Anthropic" in done.error_message and "Step 1" in done.error_message
    assert 2 <= fake_anthropic.count("/v1/messages") <= 4
    assert _steps(ctx, run.id)[0].status == "failed"


def test_anthropic_529_overloaded_then_success(ctx, worker_env, fake_anthropic):
    _one_step(ctx)
    fake_anthropic.fail(529, type="overloaded_error", message="Overloaded", headers={"retry-after": "0.1"})
    fake_anthropic.reply("fine now")
    run = start_run(ctx, "T1", "P", "input")
    drain(worker_env)
    done = _run(ctx, "T1", run.id)
    assert done.status == "succeeded" and done.output == "fine now"
    assert [c.status for c in fake_anthropic.calls("/v1/messages")] == [529, 200]


@pytest.mark.parametrize("style", ["error", "failed"])
def test_openai_server_error_mid_stream_is_retried(ctx, worker_env, fake_openai, style):
    _one_step(ctx, GPT, "openai")
    fake_openai.reply(
        "partial words before the failure",
        error_after=8,
        error_style=style,
        error_type="server_error",
        error_message="The server had an error while processing your request.",
    )
    fake_openai.reply("complete reply")
    run = start_run(ctx, "T1", "P", "input")
    drain(worker_env)
    done = _run(ctx, "T1", run.id)
    assert done.status == "succeeded", (done.error_kind, done.error_message)
    assert done.output == "complete reply"
    assert fake_openai.count("/v1/responses") == 2


def test_openai_failed_with_a_request_problem_is_not_retried(ctx, worker_env, fake_openai):
    """`response.failed` with a code that says the request itself is wrong (invalid_prompt): one
    call, a failed run with the provider's words."""
    _one_step(ctx, GPT, "openai")
    fake_openai.reply(
        "some words first",
        error_after=8,
        error_style="failed",
        error_type="invalid_prompt",
        error_message="Invalid prompt: your prompt was flagged.",
    )
    run = start_run(ctx, "T1", "P", "input")
    drain(worker_env)
    done = _run(ctx, "T1", run.id)
    assert done.status == "failed" and done.error_kind == "bad_request"
    assert "flagged" in done.error_message and "OpenAI" in done.error_message
    assert fake_openai.count("/v1/responses") == 1


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_stream_cut_without_a_terminal_event_is_retried_then_fails_clearly(
    ctx, worker_env, fake_anthropic, fake_openai, provider
):
    fake = fake_anthropic if provider == "anthropic" else fake_openai
    _one_step(ctx, HAIKU if provider == "anthropic" else GPT, provider)
    fake.reply("words that stop mid sentence", cut_after=7, cut_mode="clean")
    fake.reply("recovered")
    run = start_run(ctx, "T1", "P", "input")
    drain(worker_env)
    done = _run(ctx, "T1", run.id)
    assert done.status == "succeeded" and done.output == "recovered"

    for _ in range(6):
        fake.reply("words that stop mid sentence", cut_after=7)
    run = start_run(ctx, "T1", "P", "again")
    drain(worker_env)
    done = _run(ctx, "T1", run.id)
    assert done.status == "failed" and done.error_kind == "connection", (done.error_kind, done.error_message)
    assert "Step 1" in done.error_message


def test_stalled_stream_times_out_and_the_run_fails(ctx, worker_env, fake_openai):
    """A stream that stops sending (no bytes, connection open) hits the read timeout: retried,
    then a failed run of kind `timeout`; the worker does not hang."""
    _one_step(ctx, GPT, "openai")
    for _ in range(6):
        fake_openai.reply("slow words " * 5, chunk_delay=30, cut_after=40)
    run = start_run(ctx, "T1", "P", "input")
    drain(dict(worker_env, PIPEBOT_PROVIDER_TIMEOUT_SECONDS="1"), timeout=120)
    done = _run(ctx, "T1", run.id)
    assert done.status == "failed" and done.error_kind == "timeout", (done.error_kind, done.error_message)
    assert "timed out" in done.error_message


def test_openai_incomplete_with_no_text_fails_naming_the_output_budget(ctx, worker_env, fake_openai):
    """`response.incomplete` (max_output_tokens) before any text: not an empty success."""
    _one_step(ctx, GPT, "openai")
    fake_openai.reply("", stop_reason="max_output_tokens")
    run = start_run(ctx, "T1", "P", "input")
    drain(worker_env)
    done = _run(ctx, "T1", run.id)
    assert done.status == "failed" and done.error_kind == "empty_output", (done.error_kind, done.error_message)
    assert "no text" in done.error_message and "Max output tokens" in done.error_message


# ---- keys and request problems mid-run ------------------------------------------------------


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_revoked_key_fails_naming_the_provider_and_the_fix(ctx, worker_env, fake_anthropic, fake_openai, provider):
    fake = fake_anthropic if provider == "anthropic" else fake_openai
    _one_step(ctx, HAIKU if provider == "anthropic" else GPT, provider)
    if provider == "anthropic":
        fake.fail(401, type="authentication_error", message="invalid x-api-key")
    else:
        fake.fail(
            401,
            message="Incorrect API key provided: sk-test-***0001.",
            type="invalid_request_error",
            code="invalid_api_key",
        )
    run = start_run(ctx, "T1", "P", "input")
    drain(worker_env)
    done = _run(ctx, "T1", run.id)
    assert done.status == "failed" and done.error_kind == "auth"
    name = "Anthropic" if provider == "anthropic" else "OpenAI"
    assert name in done.error_message and "/pipebot settings" in done.error_message
    assert "admin" in done.error_message.lower()
    assert fake.count(fake.generation_path) == 1  # a refused key is not retried


def test_context_too_long_fails_clearly(ctx, worker_env, fake_anthropic, fake_openai):
    _one_step(ctx)
    fake_anthropic.fail(400, type="invalid_request_error", message="prompt is too long: 205351 tokens > 200000 maximum")
    run = start_run(ctx, "T1", "P", "input")
    drain(worker_env)
    done = _run(ctx, "T1", run.id)
    assert done.status == "failed" and done.error_kind == "context_too_long"
    assert "too long" in done.error_message and "shorter input" in done.error_message

    with_keys(ctx, "T1", "openai")
    make_pipeline(ctx, "T1", "Q", [make_agent(ctx, "T1", "Gpt", GPT)])
    fake_openai.fail(
        400,
        message="Your input exceeds the context window of this model.",
        type="invalid_request_error",
        code="context_length_exceeded",
        param="input",
    )
    run = start_run(ctx, "T1", "Q", "input")
    drain(worker_env)
    done = _run(ctx, "T1", run.id)
    assert done.status == "failed" and done.error_kind == "context_too_long"
    assert "OpenAI" in done.error_message and fake_openai.count("/v1/responses") == 1


def test_retry_after_longer_than_the_time_left_is_not_waited_out(ctx, worker_env, fake_openai):
    """A 429 asking for more time than the run has left fails at once, saying so (the job
    would otherwise sleep into RQ's job timeout and leave the run to the reaper)."""
    _one_step(ctx, GPT, "openai")
    fake_openai.fail(
        429, headers={"retry-after": "50"}, message="Rate limit reached", type="requests", code="rate_limit_exceeded"
    )
    run = start_run(ctx, "T1", "P", "input")
    drain(dict(worker_env, PIPEBOT_RUN_TIME_LIMIT_SECONDS="20"), timeout=60)
    done = _run(ctx, "T1", run.id)
    assert done.status == "failed" and done.error_kind == "rate_limit"
    assert "time limit" in done.error_message
    assert fake_openai.count("/v1/responses") == 1


# ---- refusals and empty output --------------------------------------------------------------


def test_anthropic_refusal_says_so_in_the_step_output(ctx, worker_env, fake_anthropic):
    _one_step(ctx)
    fake_anthropic.reply(
        "Hello..",
        stop_reason="refusal",
        stop_details={
            "type": "refusal",
            "category": "cyber",
            "explanation": "This request was declined because it could enable cyber harm.",
        },
    )
    run = start_run(ctx, "T1", "P", "write malware")
    drain(worker_env)
    done = _run(ctx, "T1", run.id)
    assert done.status == "failed" and done.error_kind == "refusal"
    assert "declined" in done.error_message and "cyber harm" in done.error_message
    step = _steps(ctx, run.id)[0]
    assert step.output and "declined" in step.output and "cyber harm" in step.output
    assert step.output.startswith("Hello..")  # what it wrote before the refusal is kept
    # the refused call was paid for: the run's cost says so
    assert step.cost_usd is not None and step.cost_usd > 0 and done.cost_usd == step.cost_usd


def test_anthropic_refusal_without_details_or_text_is_not_an_empty_output(ctx, worker_env, fake_anthropic):
    _one_step(ctx)
    fake_anthropic.reply("", stop_reason="refusal")
    run = start_run(ctx, "T1", "P", "something")
    drain(worker_env)
    done = _run(ctx, "T1", run.id)
    assert done.status == "failed" and done.error_kind == "refusal"
    assert "declined" in _steps(ctx, run.id)[0].output


def test_openai_refusal_content_part_says_so(ctx, worker_env, fake_openai):
    _one_step(ctx, GPT, "openai")
    fake_openai.reply("", refusal="I'm sorry, I can't help with that.")
    run = start_run(ctx, "T1", "P", "something bad")
    drain(worker_env)
    done = _run(ctx, "T1", run.id)
    assert done.status == "failed" and done.error_kind == "refusal"
    assert "declined" in done.error_message and "can't help" in done.error_message
    assert "can't help" in _steps(ctx, run.id)[0].output


def test_empty_model_output_fails_the_step_clearly(ctx, worker_env, fake_anthropic):
    with_keys(ctx, "T1", "anthropic")
    a = make_agent(ctx, "T1", "Mute", HAIKU)
    b = make_agent(ctx, "T1", "Next", HAIKU)
    make_pipeline(ctx, "T1", "P", [a, b])
    fake_anthropic.reply("")
    run = start_run(ctx, "T1", "P", "input")
    drain(worker_env)
    done = _run(ctx, "T1", run.id)
    assert done.status == "failed" and done.error_kind == "empty_output"
    assert "Step 1" in done.error_message and "Mute" in done.error_message
    assert fake_anthropic.count("/v1/messages") == 1  # step 2 never got an empty input


# ---- hostile input and output ---------------------------------------------------------------


def test_nul_bytes_in_input_and_model_output_do_not_crash_the_worker(ctx, worker_env, fake_anthropic):
    """PostgreSQL text and JSONB reject NUL: the input is cleaned at the door, model output
    before it is stored; the run finishes and its artifact is written."""
    _one_step(ctx)
    run = start_run(ctx, "T1", "P", "before\x00after")
    assert "\x00" not in run.input and run.input == "beforeafter"
    fake_anthropic.reply("out\x00put with a NUL")
    drain(worker_env)
    done = _run(ctx, "T1", run.id)
    assert done.status == "succeeded", (done.error_kind, done.error_message)
    assert done.output == "output with a NUL"
    art = _artifact(ctx, "T1", run.id)
    assert art is not None and art.content["output"] == "output with a NUL"


def test_huge_unicode_input_round_trips(ctx, worker_env, fake_anthropic):
    _one_step(ctx)
    text = ("😀 naïve 漢字 \u200d👩‍👩‍👧 " * 7000)[:99_000]
    fake_anthropic.reply("🎉 " * 2000)
    run = start_run(ctx, "T1", "P", text)
    drain(worker_env)
    done = _run(ctx, "T1", run.id)
    assert done.status == "succeeded" and done.output == ("🎉 " * 2000)
    assert fake_anthropic.last.json["messages"][0]["content"] == text.strip()


def test_lone_surrogates_in_input_are_replaced_not_a_crash(ctx, worker_env, fake_anthropic):
    """Bytes that are not UTF-8 on a command line arrive as lone surrogates (surrogateescape):
    they cannot be encoded for PostgreSQL."""
    _one_step(ctx)
    run = start_run(ctx, "T1", "P", "caf\udce9 au lait")
    assert run.input == "caf\ufffd au lait"
    drain(worker_env)
    assert _run(ctx, "T1", run.id).status == "succeeded"


def test_nul_in_a_pipeline_name_or_a_system_prompt_is_not_a_database_error(ctx):
    from core.errors import RunRejected

    with_keys(ctx, "T1", "anthropic")
    a = make_agent(ctx, "T1", "Nully", HAIKU, "Be\x00 brief.")
    make_pipeline(ctx, "T1", "P", [a])
    with transaction(ctx.sessions) as s:
        assert agent_repo.get_agent(s, "T1", a).system_prompt == "Be brief."
    run = start_run(ctx, "T1", "P\x00", "hello")  # the name as typed, NUL dropped
    assert run.pipeline_name == "P"
    with pytest.raises(RunRejected) as exc:
        start_run(ctx, "T1", "nope\x00", "hello")
    assert exc.value.kind == "not_found"
