"""Live output end to end: a real `pipebot worker --burst` process streams each step's words
from the fake Anthropic API into the fake Slack's thread while the model is still writing.

Times come from the fakes' own records (wall clock, one machine): when the fake model wrote
an SSE event, when the fake Slack received a call. Nothing here waits for a fixed time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from itertools import pairwise

import pytest
from slack_sdk import WebClient

from bot.slack.blocks.common import ZWSP
from bot.slack.blocks.runs import StepView, parent_message
from bot.slack.blocks.stream import STEP_SEPARATOR, continued_heading, step_heading
from core.runs.intake import start_run
from core.runs.request import Origin, ReportTo
from tests.fakes.slack import GENERAL, TEAM_ID, USER_ID, FakeSlack
from tests.fakes.slack_tiers import SlackTiers
from tests.support.runs import (
    drain,
    make_agent,
    make_pipeline,
    read_run,
    with_keys,
)
from tests.support.slack_app import slack_settings

DELTAS = [f"w{i:03d} " for i in range(200)]  # 200 text deltas, each recognisable on the wire
TEXT = "".join(DELTAS)


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as f:
        yield f


def _start(ctx, fake: FakeSlack, name: str = "Essay", agents: tuple[str, ...] = ("Drafter",)):
    """A run started from Slack in #general (parent message posted, as the app does)."""
    sctx = dataclasses.replace(ctx, settings=slack_settings(ctx.settings, fake))
    with_keys(ctx, TEAM_ID, "anthropic")
    make_pipeline(ctx, TEAM_ID, name, [make_agent(ctx, TEAM_ID, a) for a in agents])
    client = WebClient(token=fake.token, base_url=fake.url)
    text, blocks = parent_message(name, USER_ID, "write")
    parent = client.chat_postMessage(channel=GENERAL, text=text, blocks=[b.to_dict() for b in blocks])["ts"]
    run = start_run(
        sctx,
        TEAM_ID,
        name,
        "write about otters",
        requested_by=USER_ID,
        origin=Origin.SLASH_COMMAND,
        report_to=ReportTo(GENERAL, parent),
    )
    return run, parent


def _drain(ctx, fake: FakeSlack, env: dict[str, str], run) -> None:
    out = drain(dict(env, SLACK_API_URL=fake.url, SLACK_BOT_TOKEN=fake.token))
    assert "Traceback" not in out.stderr, out.stderr[-3000:]
    done = read_run(ctx, TEAM_ID, run.id)
    assert done.status == "succeeded", (done.error_kind, done.error_message)


def _view(position: int, agent: str) -> StepView:
    return StepView(position, agent, "Claude Haiku 4.5")


def test_words_reach_the_thread_while_the_model_writes_in_batches(ctx, fake, fake_anthropic, worker_env):
    hostile = "Heads up <!channel>, ask <@U0ADMIN>. "
    fake_anthropic.reply(hostile + TEXT, deltas=[hostile, *DELTAS], chunk_delay=0.015)  # ~3 s of writing
    run, parent = _start(ctx, fake)
    _drain(ctx, fake, worker_env, run)

    [req] = fake_anthropic.calls("/v1/messages")
    first_token, model_done = req.sent_at("Heads up"), req.sent[-1][0]
    calls = fake.stream_calls(GENERAL)
    first_seen = next(c for c in calls if "Heads up" in fake.streamed_markdown(c))
    assert first_seen.time < model_done  # shown while the model was still writing
    assert first_seen.time >= first_token
    later = next(c for c in calls if "w100" in fake.streamed_markdown(c))
    assert later.time < model_done

    with_text = [c for c in calls if fake.streamed_markdown(c)]
    assert 2 <= len(with_text) <= 201 // 4, len(with_text)  # batched: far fewer calls than deltas
    assert all(len(fake.streamed_markdown(c)) <= 12_000 for c in calls)

    [stream] = fake.streams(GENERAL)
    assert stream["thread_ts"] == parent and stream["tasks"]["step-1"]["status"] == "complete"
    shown = stream["text"]
    assert "<!channel>" not in shown and "<@U0ADMIN>" not in shown
    assert (
        shown
        == step_heading(_view(1, "Drafter"))
        + f"Heads up <{ZWSP}!channel>, ask <{ZWSP}@U0ADMIN>. "
        + TEXT
        + STEP_SEPARATOR
    )


def test_an_expired_stream_carries_on_in_a_new_one_without_losing_text(ctx, fake, fake_anthropic, worker_env):
    # longer than the reply's pacing after a renewal (1.5 s), shorter than the ~3 s the model writes:
    # the stream expires mid-text once, and each renewed stream lives to take its next call
    fake.expire_streams_after(2.5)
    fake_anthropic.reply("A short first draft.")
    fake_anthropic.reply(TEXT, deltas=DELTAS, chunk_delay=0.015)
    run, parent = _start(ctx, fake, agents=("Drafter", "Critic"))
    _drain(ctx, fake, worker_env, run)

    streams = fake.streams(GENERAL)
    assert len(streams) >= 2, [s["ts"] for s in streams]
    assert any(c.error == "message_not_in_streaming_state" for c in fake.calls("chat.appendStream"))
    assert all(s["thread_ts"] == parent for s in streams)
    last = streams[-1]
    assert {k: v["status"] for k, v in last["tasks"].items()} == {"step-1": "complete", "step-2": "complete"}
    drafter, critic = _view(1, "Drafter"), _view(2, "Critic")
    joined = "".join(fake.streamed_markdown(c) for c in fake.stream_calls(GENERAL))
    for view in (drafter, critic):
        joined = joined.replace(continued_heading(view), "")
    assert joined == (
        step_heading(drafter) + "A short first draft." + STEP_SEPARATOR + step_heading(critic) + TEXT + STEP_SEPARATOR
    )
    final = [m for m in fake.replies(GENERAL, parent) if not m.get("_stream")][-1]
    assert final["blocks"][0]["type"] == "markdown" and "w199" in final["blocks"][0]["text"]


def test_a_run_longer_than_a_stream_under_slacks_tiers_loses_no_words(ctx, fake, fake_anthropic, worker_env):
    """Streams expire mid-text while Slack enforces its tiers (chat.startStream and
    chat.stopStream are Tier 2): renewals wait for the budget instead of fighting it, no
    streamed word is lost or repeated, the result is whole and the parent ends ✅."""
    fake.tiers = tiers = SlackTiers()
    fake.expire_streams_after(2.5)
    fake_anthropic.reply("A short first draft.")
    fake_anthropic.reply(TEXT, deltas=DELTAS, chunk_delay=0.015)
    run, parent = _start(ctx, fake, agents=("Drafter", "Critic"))
    _drain(ctx, fake, worker_env, run)

    assert tiers.violations() == [] and tiers.count_429() <= 5, tiers.count_429()
    drafter, critic = _view(1, "Drafter"), _view(2, "Critic")
    joined = "".join(fake.streamed_markdown(c) for c in fake.stream_calls(GENERAL))
    for view in (drafter, critic):
        joined = joined.replace(continued_heading(view), "")
    whole = step_heading(drafter) + "A short first draft." + STEP_SEPARATOR + step_heading(critic) + TEXT
    assert whole.startswith(joined.removesuffix(STEP_SEPARATOR)), joined[-300:]
    final = [m for m in fake.replies(GENERAL, parent) if not m.get("_stream")][-1]
    assert final["blocks"][0]["type"] == "markdown" and "w000" in final["blocks"][0]["text"]
    assert "w199" in final["blocks"][0]["text"]
    assert "✅" in str(fake.message(GENERAL, parent))


def test_refused_streaming_falls_back_to_an_edited_reply_with_the_words(ctx, fake, fake_anthropic, worker_env):
    fake.refuse_streaming("not_allowed")
    fake_anthropic.reply(TEXT, deltas=DELTAS, chunk_delay=0.015)
    run, parent = _start(ctx, fake)
    _drain(ctx, fake, worker_env, run)

    [req] = fake_anthropic.calls("/v1/messages")
    model_done = req.sent[-1][0]
    assert fake.streams(GENERAL) == [] and fake.calls("chat.startStream")[0].error == "not_allowed"
    progress = fake.replies(GENERAL, parent)[0]
    edits = [c for c in fake.calls("chat.update") if c.params.get("ts") == progress["ts"]]
    live = [c for c in edits if "w0" in str(c.params.get("blocks"))]
    assert live and live[0].time < model_done  # the words showed while the model wrote
    assert all(b.time - a.time >= 0.9 for a, b in pairwise(edits)), [c.time for c in edits]
    assert "all 1 steps done" in str(progress["blocks"])


def test_the_live_tail_fits_keeps_code_open_and_names_are_literal():
    from bot.slack.blocks.stream import live_tail

    text = "intro\n```python\n" + "x = 1\n" * 2000
    tail = live_tail(text, 1000)
    assert len(tail) <= 1000 and tail.startswith("…\n```\n") and text.endswith(tail.split("```\n", 1)[1])
    assert live_tail("short", 1000) == "short"
    heading = step_heading(StepView(1, "*Bold* <!channel> [x](y)", "Claude Haiku 4.5"))
    assert "<!channel>" not in heading and r"\*Bold\*" in heading and r"\[x\](y)" in heading
