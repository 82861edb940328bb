"""The run's Slack thread (bot/slack_reporter.py) against the fake Slack Web API.

The reporter is driven here with the events core's executor sends, so each Slack
behaviour (streaming, its fallback, limits, 429s, outages) is checked in isolation and
fast; tests/bot/slack/test_runs.py runs the same reporter inside real RQ worker processes.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from decimal import Decimal
from itertools import pairwise

import pytest
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot.slack.blocks.common import ZWSP
from bot.slack.blocks.runs import StepView, parent_message
from bot.slack.blocks.stream import STEP_SEPARATOR, continued_heading, step_heading
from bot.slack.reporter import SlackRunReporter, remember_status_message
from bot.slack.reporter_factory import slack_reporter_for
from core.reporter import RunInfo, RunOutcome, StepPlan, StepResult
from core.runs.intake import start_run
from core.runs.request import Origin, ReportTo
from tests.fakes.slack import GENERAL, TEAM_ID, USER_ID, FakeSlack
from tests.support.runs import HAIKU, make_agent, make_pipeline, with_keys
from tests.support.slack_app import slack_settings

LINK = "http://pipebot.test/artifacts/0b6f?sig=abc"


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as f:
        yield f


@pytest.fixture
def client(fake: FakeSlack) -> WebClient:
    """Built like bot.slack.client.make_client: SLACK_API_URL and 429 retries after Retry-After."""
    return WebClient(
        token=fake.token, base_url=fake.url, timeout=10, retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)]
    )


def plan(n: int = 2) -> list[StepPlan]:
    names = ["Drafter", "Critic", "Polisher", "Checker", "Editor"]
    return [StepPlan(i, names[i - 1], HAIKU, "Claude Haiku 4.5") for i in range(1, n + 1)]


def info_for(parent_ts: str, steps: list[StepPlan], *, name: str = "Essay", resumed_from: int = 0) -> RunInfo:
    return RunInfo(
        run_id="00000000-0000-0000-0000-000000000001",
        team_id=TEAM_ID,
        pipeline_name=name,
        input="write about otters",
        requested_by=USER_ID,
        source="slack",
        channel_id=GENERAL,
        thread_ts=parent_ts,
        recipient_team_id=TEAM_ID,
        steps=steps,
        resumed_from=resumed_from,
    )


def result(step: StepPlan, output: str = "ok") -> StepResult:
    return StepResult(step.position, step.agent_name, step.model, output, Decimal("0.00042"), 120, 80, 900)


def outcome(
    status: str = "succeeded", output: str | None = "final essay", error: str | None = None, kind: str | None = None
) -> RunOutcome:
    return RunOutcome(
        run_id="00000000-0000-0000-0000-000000000001",
        status=status,
        output=output,
        error_kind=kind,
        error_message=error,
        cost_usd=Decimal("0.00084"),
        models=[HAIKU],
        duration_ms=3200,
        artifact_id="0b6f",
        permalink=LINK,
    )


def post_parent(client: WebClient, name: str = "Essay") -> str:
    text, blocks = parent_message(name, USER_ID, "write about otters")
    return client.chat_postMessage(channel=GENERAL, text=text, blocks=[b.to_dict() for b in blocks])["ts"]


def reporter(client: WebClient, parent: str, **kw) -> SlackRunReporter:
    kw.setdefault("post_interval", 0.0)
    return SlackRunReporter(
        client, channel_id=GENERAL, thread_ts=parent, recipient_user_id=USER_ID, recipient_team_id=TEAM_ID, **kw
    )


def drive(rep: SlackRunReporter, info: RunInfo, final: RunOutcome, *, fail_at: int | None = None) -> None:
    rep.run_started(info)
    for st in info.steps:
        if st.position <= info.resumed_from:
            continue
        rep.step_started(info, st)
        rep.text_delta(info, st, "partial text")
        if st.position == fail_at:
            break
        rep.step_finished(info, result(st))
    rep.run_finished(info, final)


def final_reply(fake: FakeSlack, parent: str) -> dict:
    replies = [m for m in fake.replies(GENERAL, parent) if not m.get("_stream")]
    assert replies, fake.replies(GENERAL, parent)
    return replies[-1]


def all_text(msg: dict) -> str:
    parts = [msg.get("text") or ""]
    for b in msg.get("blocks") or []:
        t = b.get("text")
        parts.append(t if isinstance(t, str) else (t or {}).get("text", ""))
        for el in b.get("elements") or []:
            if isinstance(el, dict):
                parts.append(el.get("text") if isinstance(el.get("text"), str) else json.dumps(el))
    return "\n".join(parts)


def test_streams_each_step_then_posts_the_result_and_marks_the_parent(fake, client):
    parent = post_parent(client)
    info = info_for(parent, plan(2))
    drive(reporter(client, parent), info, outcome())

    start = fake.last("chat.startStream")
    assert start.ok, start.response
    assert start.params["recipient_user_id"] == USER_ID and start.params["recipient_team_id"] == TEAM_ID
    assert start.params["thread_ts"] == parent and start.params["task_display_mode"] == "plan"
    assert [c["type"] for c in start.params["chunks"]] == ["plan_update", "task_update", "task_update"]
    assert all(c.ok for c in fake.calls()), [(c.method, c.error) for c in fake.calls() if not c.ok]
    [stream] = fake.streams(GENERAL)
    assert stream["streaming"] is False and stream["thread_ts"] == parent
    tasks = stream["tasks"]
    assert [tasks[k]["status"] for k in ("step-1", "step-2")] == ["complete", "complete"]
    assert tasks["step-2"]["title"] == "Step 2 · Critic · Claude Haiku 4.5"
    assert "120 → 80 tokens" in tasks["step-1"]["output"] and "$0.0004" in tasks["step-1"]["output"]

    final = final_reply(fake, parent)
    assert final["blocks"][0] == {"type": "markdown", "text": "final essay", "block_id": final["blocks"][0]["block_id"]}
    footer = all_text(final)
    assert "3.2 s" in footer and "$0.0008" in footer and "Claude Haiku 4.5" in footer and LINK in footer
    top = fake.message(GENERAL, parent)
    assert top["text"].startswith("✅ *Essay* for <@U0USER> finished in 3.2 s") and LINK in all_text(top)


def test_long_output_is_cut_cleanly_with_the_link_and_accepted(fake, client):
    parent = post_parent(client)
    # JSON-heavy text (quotes, newlines, emoji) makes the payload longer than the characters
    para = 'A "quoted" line with émojis 🦦🦦 and a tab\t.\n' * 12
    long_output = "\n\n".join(f"## Part {i}\n{para}" for i in range(60))
    assert len(long_output) > 30_000
    drive(reporter(client, parent), info_for(parent, plan(1)), outcome(output=long_output))

    post = [c for c in fake.calls("chat.postMessage") if c.params.get("thread_ts") == parent][-1]
    assert post.ok, post.response
    md = post.params["blocks"][0]["text"]
    assert len(json.dumps(post.params["blocks"], ensure_ascii=False)) < 13_000
    assert len(md) < 12_000 and len(post.params["text"]) < 4_000
    assert md.endswith(f"full output: [open the artifact]({LINK})")
    body = md.rsplit("…", 1)[0]
    assert long_output.startswith(body.rstrip()) and body.rstrip().endswith(".")  # a clean boundary


def test_output_cannot_ping_the_channel(fake, client):
    parent = post_parent(client)
    evil = "Done. <!channel> see <@U0ADMIN> & <https://evil.example|click>"
    drive(reporter(client, parent), info_for(parent, plan(1)), outcome(output=evil))
    final = final_reply(fake, parent)
    assert "<!channel>" not in final["blocks"][0]["text"] and f"<{ZWSP}!channel>" in final["blocks"][0]["text"]
    assert "<!channel>" not in final["text"] and "&lt;!channel&gt;" in final["text"]


def test_failed_step_is_marked_in_the_plan_and_the_reason_posted(fake, client):
    parent = post_parent(client)
    reason = "Step 2 (Critic, Claude Haiku 4.5) failed: Anthropic rejected the API key. invalid x-api-key"
    drive(reporter(client, parent), info_for(parent, plan(3)), outcome("failed", None, reason, "auth"), fail_at=2)
    [stream] = fake.streams(GENERAL)
    assert [stream["tasks"][f"step-{i}"]["status"] for i in (1, 2, 3)] == ["complete", "error", "pending"]
    assert "rejected the API key" in stream["tasks"]["step-2"]["output"]
    final = final_reply(fake, parent)
    assert "❌ *Essay* failed" in all_text(final) and "rejected the API key" in all_text(final)
    assert LINK in all_text(final)
    assert fake.message(GENERAL, parent)["text"].startswith("❌ *Essay* for <@U0USER> failed: Step 2")


def test_preflight_failure_posts_only_the_reason(fake, client):
    parent = post_parent(client)
    info = info_for(parent, plan(2))
    rep = reporter(client, parent)
    rep.run_started(info)
    rep.run_finished(
        info,
        outcome(
            "failed",
            None,
            "No Anthropic API key is set for this workspace. An admin can add one with `/pipebot settings`.",
            "missing_key",
        ),
    )
    assert fake.calls("chat.startStream") == []
    assert "No Anthropic API key" in all_text(final_reply(fake, parent))
    assert fake.message(GENERAL, parent)["text"].startswith("❌")


def test_without_streaming_progress_is_edited_at_most_once_per_interval(fake, client):
    fake.fail_next("chat.startStream", "unknown_method")
    parent = post_parent(client)
    info = info_for(parent, plan(5))
    drive(reporter(client, parent, update_interval=0.3), info, outcome())

    replies = fake.replies(GENERAL, parent)
    progress, final = replies[0], replies[-1]
    assert not progress.get("_stream") and len(replies) == 2
    assert "all 5 steps done" in all_text(progress) and all_text(progress).count("✅") >= 5
    edits = [c.time for c in fake.calls("chat.update") if c.params["ts"] == progress["ts"]]
    assert edits and all(b - a >= 0.25 for a, b in pairwise(edits)), edits
    assert len(edits) <= 4  # ten events, throttled
    assert final["blocks"][0]["type"] == "markdown"


def test_a_stream_that_expires_midway_continues_in_a_new_stream(fake, client):
    parent = post_parent(client)
    fake.fail_next("chat.appendStream", "message_not_in_streaming_state")
    info = info_for(parent, plan(2))
    rep = reporter(client, parent, append_interval=0.05)
    rep.run_started(info)
    rep.step_started(info, info.steps[0])
    rep.text_delta(info, info.steps[0], "first words ")
    fake.wait_for("chat.appendStream", lambda c: c.error == "message_not_in_streaming_state")
    rep.text_delta(info, info.steps[0], "and the rest.")
    rep.step_finished(info, result(info.steps[0]))
    rep.step_started(info, info.steps[1])
    rep.text_delta(info, info.steps[1], "critique")
    rep.step_finished(info, result(info.steps[1]))
    rep.run_finished(info, outcome())

    first, second = fake.streams(GENERAL)
    assert second["thread_ts"] == parent and second["plan_title"] == first["plan_title"]
    assert [second["tasks"][k]["status"] for k in ("step-1", "step-2")] == ["complete", "complete"]
    assert "first words" not in first["text"]  # never accepted there: carried into the new stream
    views = [StepView(st.position, st.agent_name, st.model_display) for st in info.steps]
    assert (first["text"] + second["text"]).replace(continued_heading(views[0]), "") == (
        step_heading(views[0])
        + "first words and the rest."
        + STEP_SEPARATOR
        + step_heading(views[1])
        + "critique"
        + STEP_SEPARATOR
    )
    assert fake.message(GENERAL, parent)["text"].startswith("✅")


def test_an_old_stream_is_renewed_before_slack_ends_it(fake, client):
    parent = post_parent(client)
    info = info_for(parent, plan(1))
    rep = reporter(client, parent, append_interval=0.05, stream_renew_after=0.3)
    rep.run_started(info)
    rep.step_started(info, info.steps[0])
    rep.text_delta(info, info.steps[0], "early words, ")
    fake.wait_for("chat.appendStream")
    time.sleep(0.4)
    rep.text_delta(info, info.steps[0], "late words.")
    fake.wait_for("chat.startStream", count=2)
    rep.step_finished(info, result(info.steps[0]))
    rep.run_finished(info, outcome())
    first, second = fake.streams(GENERAL)
    assert first["streaming"] is False and second["streaming"] is False  # the old one was stopped, not left to expire
    assert first["text"].endswith("early words, ")
    view = StepView(1, "Drafter", "Claude Haiku 4.5")
    assert second["text"].startswith(continued_heading(view) + "late words.")
    assert all(c.ok for c in fake.stream_calls()) and not [c for c in fake.calls() if c.error]


def test_streamed_text_cannot_ping_even_split_across_deltas(fake, client):
    parent = post_parent(client)
    info = info_for(parent, plan(1))
    rep = reporter(client, parent, append_interval=0.05)
    rep.run_started(info)
    rep.step_started(info, info.steps[0])
    for piece in ["Hi <", "!channel> and <", "@U0ADMIN> <#C0GENERAL|x> <", "!here>"]:
        rep.text_delta(info, info.steps[0], piece)
        time.sleep(0.08)  # several appends, so the split "<" meets its rest in another call
    rep.step_finished(info, result(info.steps[0]))
    rep.run_finished(info, outcome())
    [stream] = fake.streams(GENERAL)
    text = stream["text"]
    for raw in ("<!channel>", "<@U0ADMIN>", "<#C0GENERAL", "<!here>"):
        assert raw not in text
        assert raw.replace("<", "<" + ZWSP) in text
    assert len([c for c in fake.stream_calls() if fake.streamed_markdown(c)]) >= 2


def test_a_huge_piece_of_text_is_split_into_calls_of_12000(fake, client):
    parent = post_parent(client)
    info = info_for(parent, plan(1))
    big = "All work and no play makes a dull otter. " * 800  # 33,600 characters in one delta
    rep = reporter(client, parent, append_interval=0.05)
    rep.run_started(info)
    rep.step_started(info, info.steps[0])
    rep.text_delta(info, info.steps[0], big)
    rep.step_finished(info, result(info.steps[0]))
    rep.run_finished(info, outcome())
    calls = fake.stream_calls()
    sizes = [len(fake.streamed_markdown(c)) for c in calls]
    assert max(sizes) <= 12_000 and sum(1 for n in sizes if n) >= 3, sizes
    assert not [c for c in fake.calls() if c.error]
    [stream] = fake.streams(GENERAL)
    assert big in stream["text"]


def test_refused_streaming_shows_the_words_in_the_edited_reply(fake, client):
    fake.refuse_streaming("not_allowed")
    parent = post_parent(client)
    info = info_for(parent, plan(1))
    rep = reporter(client, parent, update_interval=0.1)
    rep.run_started(info)
    rep.step_started(info, info.steps[0])
    words = " ".join(f"word{i}" for i in range(1500))  # far past a message's 4,000 characters
    rep.text_delta(info, info.steps[0], words + " <!channel>")
    edit = fake.wait_for("chat.update", lambda c: "word1499" in json.dumps(c.params.get("blocks")))
    assert edit.ok, edit.response
    shown = edit.params["blocks"][-1]["text"]
    assert shown.startswith("**Step 1 · Drafter · Claude Haiku 4.5** is writing…") and "\n\n…" in shown
    assert len(json.dumps(edit.params["blocks"])) < 13_000 and len(shown) < 4_000
    assert "<!channel>" not in shown and f"<{ZWSP}!channel>" in shown
    rep.step_finished(info, result(info.steps[0]))
    rep.run_finished(info, outcome())
    assert fake.calls("chat.startStream")[0].error == "not_allowed" and fake.streams(GENERAL) == []
    assert fake.message(GENERAL, parent)["text"].startswith("✅")


def test_rate_limited_appends_wait_their_turn_and_lose_nothing(fake, client):
    fake.set_rate_limit("chat.appendStream", 1, 1.0, retry_after=1)
    parent = post_parent(client)
    info = info_for(parent, plan(1))
    rep = reporter(client, parent, append_interval=0.05)
    rep.run_started(info)
    rep.step_started(info, info.steps[0])
    for i in range(30):
        rep.text_delta(info, info.steps[0], f"t{i} ")
        time.sleep(0.03)
    rep.step_finished(info, result(info.steps[0]))
    rep.run_finished(info, outcome())
    assert any(c.status == 429 for c in fake.calls("chat.appendStream"))
    [stream] = fake.streams(GENERAL)  # still the one stream: a 429 is no reason to give up streaming
    assert "".join(f"t{i} " for i in range(30)) in stream["text"]
    assert stream["tasks"]["step-1"]["status"] == "complete"


def test_rate_limited_result_is_retried_after_retry_after_and_delivered_once(fake, client):
    parent = post_parent(client)
    fake.fail_next(
        "chat.postMessage",
        status=429,
        retry_after=1,
        when=lambda p: p.get("thread_ts") == parent and bool(p.get("blocks")),
    )
    t0 = time.monotonic()
    drive(reporter(client, parent), info_for(parent, plan(1)), outcome())
    posts = [c for c in fake.calls("chat.postMessage") if c.params.get("thread_ts") == parent]
    assert [c.status for c in posts] == [429, 200]
    assert posts[1].time - posts[0].time >= 0.9 and time.monotonic() - t0 >= 0.9
    assert len([m for m in fake.replies(GENERAL, parent) if not m.get("_stream")]) == 1


def test_resumed_run_shows_finished_steps_as_done(fake, client):
    parent = post_parent(client)
    drive(reporter(client, parent), info_for(parent, plan(3), resumed_from=2), outcome())
    [stream] = fake.streams(GENERAL)
    assert stream["tasks"]["step-1"]["output"] == "done in an earlier attempt"
    assert [stream["tasks"][f"step-{i}"]["status"] for i in (1, 2, 3)] == ["complete"] * 3


def test_slack_outage_never_raises(fake, client):
    parent = post_parent(client)
    fake.clear_calls()
    fake.revoke_token(fake.token)
    drive(reporter(client, parent, update_interval=0.05), info_for(parent, plan(2)), outcome())  # nothing raises
    calls = fake.calls()
    assert calls and all(c.error == "token_revoked" for c in calls)
    # the result and the ✅/❌ were still attempted after the progress reply failed
    assert {"chat.startStream", "chat.postMessage", "chat.update"} <= {c.method for c in calls}


def test_reporter_for_runs_with_a_thread_only(ctx, fake):
    sctx = dataclasses.replace(ctx, settings=slack_settings(ctx.settings, fake))
    with_keys(ctx, TEAM_ID, "anthropic")
    make_pipeline(ctx, TEAM_ID, "Essay", [make_agent(ctx, TEAM_ID, "Drafter")])
    cli_run = start_run(sctx, TEAM_ID, "Essay", "hello", origin=Origin.CLI)
    assert slack_reporter_for(sctx, TEAM_ID, str(cli_run.id)) is None
    slack_run = start_run(
        sctx,
        TEAM_ID,
        "Essay",
        "hello",
        requested_by=USER_ID,
        origin=Origin.SLASH_COMMAND,
        report_to=ReportTo(GENERAL, "1700000000.000100"),
    )
    rep = slack_reporter_for(sctx, TEAM_ID, str(slack_run.id))
    assert isinstance(rep, SlackRunReporter)
    assert (rep.channel_id, rep.thread_ts, rep.status_ts) == (GENERAL, "1700000000.000100", "1700000000.000100")
    assert (rep.recipient_user_id, rep.recipient_team_id) == (USER_ID, TEAM_ID)
    remember_status_message(sctx, slack_run.id, "1700000000.000200")
    assert slack_reporter_for(sctx, TEAM_ID, str(slack_run.id)).status_ts == "1700000000.000200"
    assert slack_reporter_for(sctx, "T0OTHER", str(slack_run.id)) is None  # another workspace's run
    assert slack_reporter_for(ctx, TEAM_ID, str(slack_run.id)) is None  # Slack not configured
