"""Runs started from Slack, end to end: signed requests to the real `/slack/events` endpoint,
the fake Slack Web API, real PostgreSQL/Redis, fake provider servers and a real RQ worker
process (`python -m bot.cli.main worker --burst`) posting into the threads.

Starting a worker process costs seconds on a busy machine, so the worker scenarios share
one drain (the `scenario` fixture) and each test checks one aspect of what it left behind.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from bot.slack.blocks.common import ZWSP
from core.links import artifact_permalink
from storage.db import transaction
from storage.models import Base
from storage.repos import agents as agent_repo
from storage.repos import artifacts as artifact_repo
from tests.fakes.slack import GENERAL, PRIVATE, RANDOM, TEAM_ID, USER_ID, FakeSlack
from tests.support.runs import GPT, all_runs, drain, make_agent, make_pipeline, with_keys
from tests.support.slack_app import SlackServer
from tests.support.waiting import wait_until

LONG = "\n\n".join(f"Paragraph {i}: " + "the otters hold hands while they sleep. " * 12 for i in range(40))


def _truncate(ctx) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with ctx.engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    stale = list(ctx.redis.scan_iter("pipebot:*:*"))  # earlier dedupe claims must not swallow this one's submissions
    if stale:
        ctx.redis.delete(*stale)


def _text(msg: dict[str, Any]) -> str:
    parts = [msg.get("text") or ""]
    for b in msg.get("blocks") or []:
        t = b.get("text")
        parts.append(t if isinstance(t, str) else (t or {}).get("text", ""))
        for el in b.get("elements") or []:
            if isinstance(el, dict) and isinstance(el.get("text"), str):
                parts.append(el["text"])
            elif isinstance(el, dict) and el.get("url"):
                parts.append(el["url"])
    return "\n".join(parts)


def _command(slack: SlackServer, text: str, **kw: Any) -> str:
    response, hook = slack.command(text, **kw)
    assert response.status_code == 200, response.text
    return hook


@pytest.fixture(scope="module")
def scenario(_session_ctx, slack: SlackServer, base_env, _fake_providers) -> Iterator[dict[str, Any]]:
    """Three runs from `/pipebot run`, one worker drain:

    * "Essay" (2 steps) in #general, whose result post gets a 429 once;
    * "Weekly digest" (unquoted two-word name) in #random, where the bot is not a member
      yet, with an output far past Slack's limits;
    * "Doomed" in #general, whose agent is deleted after it was queued (fails in the worker).
    """
    ctx, fake = _session_ctx, slack.fake
    _truncate(ctx)
    anthropic, openai = _fake_providers
    anthropic.reset()
    openai.reset()
    fake.clear_calls()
    with_keys(ctx, TEAM_ID, "anthropic")
    drafter, critic = make_agent(ctx, TEAM_ID, "Drafter"), make_agent(ctx, TEAM_ID, "Critic")
    doomed_agent = make_agent(ctx, TEAM_ID, "Short-lived")
    make_pipeline(ctx, TEAM_ID, "Essay", [drafter, critic])
    make_pipeline(ctx, TEAM_ID, "Weekly digest", [drafter])
    make_pipeline(ctx, TEAM_ID, "Doomed", [doomed_agent])
    anthropic.reply("first draft about otters")
    anthropic.reply("**Final essay**: otters <!channel> everywhere")
    anthropic.reply(LONG)
    fake.fail_next(
        "chat.postMessage",
        status=429,
        retry_after=1,
        when=lambda p: bool(p.get("thread_ts")) and (p.get("blocks") or [{}])[0].get("type") == "markdown",
    )

    hooks = {}
    for i, (key, text, channel) in enumerate(
        [
            ("essay", "run Essay write about otters", GENERAL),
            ("digest", "run Weekly digest summarise the week", RANDOM),
            ("doomed", "run doomed critique this", GENERAL),
        ]
    ):
        hooks[key] = _command(slack, text, channel_id=channel)
        wait_until(lambda i=i: len(all_runs(ctx, TEAM_ID)) == i + 1, 10, f"run {key} to be queued")
    with transaction(ctx.sessions) as s:
        agent_repo.delete_agent(s, TEAM_ID, doomed_agent)

    env = dict(
        base_env,
        SLACK_API_URL=fake.url,
        SLACK_BOT_TOKEN=fake.token,
        ANTHROPIC_BASE_URL=anthropic.url,
        OPENAI_BASE_URL=openai.url,
        PIPEBOT_WORKER_CONCURRENCY="1",
    )  # the replies above are scripted in run order
    started = time.monotonic()
    worker = drain(env)
    assert "Traceback" not in worker.stderr, worker.stderr[-3000:]  # the reporter never failed
    runs = dict(zip(("essay", "digest", "doomed"), all_runs(ctx, TEAM_ID), strict=True))
    with transaction(ctx.sessions) as s:
        artifacts = {k: artifact_repo.get_artifact_for_run(s, TEAM_ID, r.id).id for k, r in runs.items()}
    links = {k: artifact_permalink(ctx, TEAM_ID, str(a)) for k, a in artifacts.items()}
    yield {
        "runs": runs,
        "hooks": hooks,
        "artifacts": artifacts,
        "links": links,
        "drain_s": time.monotonic() - started,
        "fake": fake,
    }


def _thread(fake: FakeSlack, run: Any) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """(parent, streamed progress replies, other replies) of a run's thread."""
    parent = fake.message(run.channel_id, run.thread_ts)
    replies = fake.replies(run.channel_id, run.thread_ts)
    return parent, [m for m in replies if m.get("_stream")], [m for m in replies if not m.get("_stream")]


def test_run_command_streams_steps_posts_result_and_marks_the_parent(scenario):
    fake, run = scenario["fake"], scenario["runs"]["essay"]
    assert run.status == "succeeded" and run.source == "slack" and run.requested_by == USER_ID
    assert run.channel_id == GENERAL and run.recipient_team_id == TEAM_ID
    parent, [stream], [final] = _thread(fake, run)
    assert parent["text"].startswith("✅ *Essay* for <@U0USER> finished in")
    assert f"/artifacts/{scenario['artifacts']['essay']}" in _text(parent)
    assert "write about otters" in _text(parent)
    # progress: one task per step, streamed to the requester
    start = next(c for c in fake.calls("chat.startStream") if c.params["thread_ts"] == run.thread_ts)
    assert start.params["recipient_user_id"] == USER_ID and start.params["recipient_team_id"] == TEAM_ID
    assert {k: v["status"] for k, v in stream["tasks"].items()} == {"step-1": "complete", "step-2": "complete"}
    assert stream["tasks"]["step-2"]["title"].startswith("Step 2 · Critic")
    # the result: the model's Markdown, defused, with cost, models, time and the permalink
    assert final["blocks"][0]["type"] == "markdown"
    assert final["blocks"][0]["text"] == f"**Final essay**: otters <{ZWSP}!channel> everywhere"
    footer = _text(final)
    assert "Claude Haiku 4.5" in footer and "$" in footer
    assert scenario["links"]["essay"] in footer


def test_rate_limited_result_post_still_arrives_once(scenario):
    fake, run = scenario["fake"], scenario["runs"]["essay"]
    posts = [
        c
        for c in fake.calls("chat.postMessage")
        if c.params.get("thread_ts") == run.thread_ts and c.params.get("blocks")
    ]
    assert [c.status for c in posts] == [429, 200]
    assert posts[1].time - posts[0].time >= 0.9  # Retry-After honoured
    assert len(_thread(fake, run)[2]) == 1


def test_bot_joins_a_public_channel_and_long_output_is_cut_with_the_link(scenario):
    fake, run = scenario["fake"], scenario["runs"]["digest"]
    assert run.pipeline_name == "Weekly digest" and run.input == "summarise the week"
    join = fake.last("conversations.join")
    assert join.ok and join.params["channel"] == RANDOM and run.channel_id == RANDOM
    parent, _, [final] = _thread(fake, run)
    assert parent["text"].startswith("✅ *Weekly digest*")
    md = final["blocks"][0]["text"]
    link = scenario["links"]["digest"]
    assert len(LONG) > 13_000 and len(md) < 12_000
    assert md.startswith("Paragraph 0: ") and md.endswith(f"…\n\nfull output: [open the artifact]({link})")
    assert md.split("…\n\nfull output")[0].endswith("sleep.")
    assert all(c.ok for c in fake.calls() if c.params.get("channel") == RANDOM and c.method != "chat.postMessage")


def test_run_failing_in_the_worker_says_why_in_the_thread(scenario):
    fake, run = scenario["fake"], scenario["runs"]["doomed"]
    assert run.status == "failed" and run.error_kind == "orphaned_step"
    parent, streams, [final] = _thread(fake, run)
    assert streams == []  # it never reached a provider: no plan, just the reason
    assert parent["text"].startswith("❌ *Doomed* for <@U0USER> failed: Step 1 uses the agent")
    assert "Short-lived" in _text(final) and "pick another agent for step 1" in _text(final)
    assert scenario["links"]["doomed"] in _text(final)


# ---- no worker needed below ------------------------------------------------------------------------


def _ephemeral(slack: SlackServer, hook: str) -> str:
    post = slack.replies(hook)[-1]
    assert post.get("response_type", "ephemeral") == "ephemeral"
    return post["text"]


@pytest.fixture
def essay(ctx) -> dict[str, int]:
    with_keys(ctx, TEAM_ID, "anthropic")
    drafter = make_agent(ctx, TEAM_ID, "Drafter")
    return {"agent": drafter, "pipeline": make_pipeline(ctx, TEAM_ID, "Essay", [drafter])}


def test_private_channel_gets_invite_instructions_and_no_run(ctx, slack, essay):
    before = len(slack.fake.messages(PRIVATE))
    hook = _command(slack, "run Essay hello", channel_id=PRIVATE, channel_name="privategroup")
    text = _ephemeral(slack, hook)
    assert "/invite @pipebot" in text and f"<#{PRIVATE}>" in text
    assert all_runs(ctx, TEAM_ID) == [] and len(slack.fake.messages(PRIVATE)) == before


def test_conversation_the_bot_cannot_post_in_is_answered(ctx, slack, essay):
    hook = _command(slack, "run Essay hello", channel_id="D0SOMEONE", channel_name="directmessage")
    assert "can't post in this conversation" in _ephemeral(slack, hook)
    assert all_runs(ctx, TEAM_ID) == []


def test_same_request_twice_starts_one_run(ctx, slack, essay):
    fake = slack.fake
    before = len(fake.messages(GENERAL))
    hook, trigger = fake.new_response_url(), fake.new_trigger_id()
    signed = slack.signer.slash_command("run Essay only once", trigger_id=trigger, response_url=hook)
    assert slack.post(signed).status_code == 200
    assert slack.post(signed).status_code == 200
    wait_until(lambda: len(all_runs(ctx, TEAM_ID)) == 1, 10, "the run")
    time.sleep(0.5)  # let a second handler finish if there were one
    [run] = all_runs(ctx, TEAM_ID)
    assert run.dedupe_key == f"slack:{TEAM_ID}:cmd:{trigger}"
    assert len(fake.messages(GENERAL)) == before + 1


def test_input_reaches_the_run_as_typed(ctx, slack, essay):
    _command(slack, "run essay don't \"stop &lt;here&gt;\n\n  keep   spacing")
    wait_until(lambda: len(all_runs(ctx, TEAM_ID)) == 1, 10, "the run")
    assert all_runs(ctx, TEAM_ID)[0].input == "don't \"stop <here>\n\n  keep   spacing"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("run Esay hello", "Did you mean *Essay*?"),
        ("run Essay   ", "What should"),
        ('run "Essay hello', "no closing quote"),
    ],
)
def test_bad_requests_are_told_what_to_fix(ctx, slack, essay, text, expected):
    before = len(slack.fake.messages(GENERAL))
    assert expected in _ephemeral(slack, _command(slack, text))
    assert all_runs(ctx, TEAM_ID) == [] and len(slack.fake.messages(GENERAL)) == before


def test_problems_the_run_would_hit_are_told_up_front(ctx, slack, essay):
    gpt = make_agent(ctx, TEAM_ID, "Critic", GPT)
    make_pipeline(ctx, TEAM_ID, "Review", [essay["agent"], gpt])
    orphan = make_agent(ctx, TEAM_ID, "Gone")
    make_pipeline(ctx, TEAM_ID, "Broken", [orphan])
    with transaction(ctx.sessions) as s:
        agent_repo.delete_agent(s, TEAM_ID, orphan)
    before = len(slack.fake.messages(GENERAL))
    assert "No OpenAI API key is set" in _ephemeral(slack, _command(slack, "run review hi"))
    text = _ephemeral(slack, _command(slack, "run Broken hi"))
    assert "Step 1 uses the agent “Gone”, which was deleted" in text
    assert all_runs(ctx, TEAM_ID) == [] and len(slack.fake.messages(GENERAL)) == before


def _shortcut(slack: SlackServer, message: dict[str, Any], channel: str = GENERAL) -> dict[str, Any]:
    count = len(slack.fake.calls("views.open"))
    signed = slack.signer.message_action(
        "run_on_message",
        message,
        channel_id=channel,
        trigger_id=slack.fake.new_trigger_id(),
        response_url=slack.fake.new_response_url(channel),
    )
    assert slack.post(signed).status_code == 200
    call = slack.fake.wait_for("views.open", count=count + 1)
    assert call.ok, call.response
    return call.response["view"]


def test_message_shortcut_runs_on_the_message_in_its_thread(ctx, slack, essay):
    fake = slack.fake
    # Slack sends message text with &, < and > as entities; the model gets the characters
    msg = {
        "type": "message",
        "user": USER_ID,
        "ts": f"{time.time():.6f}",
        "text": "Please summarise: otters &amp; &lt;b&gt;",
    }
    view = _shortcut(slack, msg)
    inputs = [b for b in view["blocks"] if b["type"] == "input"]
    assert [b["label"]["text"] for b in inputs] == ["Pipeline", "Input", "Extra instructions"]
    assert inputs[1]["element"]["initial_value"] == "Please summarise: otters & <b>"
    response = slack.post(
        slack.signer.view_submission(
            view, {"Pipeline": str(essay["pipeline"]), "Input": "Please summarise: otters & <b>"}
        )
    )
    assert response.status_code == 200 and response.text in ("", "null"), response.text
    [run] = all_runs(ctx, TEAM_ID)
    assert (run.channel_id, run.thread_ts, run.source) == (GENERAL, msg["ts"], "slack")
    assert run.input == "Please summarise: otters & <b>"
    [status] = fake.replies(GENERAL, msg["ts"])
    assert status["text"].startswith("⏳ Running *Essay* for <@U0USER>")
    assert ctx.redis.get(f"pipebot:run:{run.id}:status_ts").decode() == status["ts"]


def test_message_shortcut_with_a_long_message_keeps_its_text(ctx, slack, essay):
    text = "Long report. " * 600
    msg = {"type": "message", "user": USER_ID, "ts": f"{time.time():.6f}", "text": text}
    view = _shortcut(slack, msg)
    assert [b.get("label", {}).get("text") for b in view["blocks"] if b["type"] == "input"] == [
        "Pipeline",
        "Extra instructions",
    ]
    assert "7,800 characters" in json.dumps(view["blocks"])
    response = slack.post(slack.signer.view_submission(view, {"Pipeline": str(essay["pipeline"])}))
    assert response.status_code == 200, response.text
    [run] = all_runs(ctx, TEAM_ID)
    assert run.input == text.strip()


def test_message_shortcut_in_a_private_channel_says_to_invite_the_bot(ctx, slack, essay):
    msg = {"type": "message", "user": USER_ID, "ts": f"{time.time():.6f}", "text": "hello"}
    view = _shortcut(slack, msg, channel=PRIVATE)
    response = slack.post(slack.signer.view_submission(view, {"Pipeline": str(essay["pipeline"]), "Input": "hello"}))
    body = response.json()
    assert body["response_action"] == "errors" and "/invite @pipebot" in body["errors"]["pipeline"]
    assert all_runs(ctx, TEAM_ID) == []


def test_a_run_refused_after_its_message_is_posted_says_not_started_there_and_to_the_requester(ctx, slack, essay):
    """The one refusal path of every way in (bot/slack/run_start.py): the pipeline is deleted
    while the run's first message is being posted, so recording refuses it; the message says
    it could not start, the requester alone is told why, and no run exists."""
    from core.runs.intake import PIPELINE_GONE
    from storage.repos import pipelines as pipeline_repo

    fake = slack.fake
    before = len(fake.messages(GENERAL))

    def delete_while_posting(params: dict[str, Any]) -> bool:
        if "Essay" in str(params.get("text")):
            with transaction(ctx.sessions) as s:
                pipeline_repo.delete_pipeline(s, TEAM_ID, essay["pipeline"])
        return False  # no fault: the post goes through

    fake.fail_next("chat.postMessage", "unused", when=delete_while_posting)
    hook = _command(slack, "run Essay write about otters")
    assert _ephemeral(slack, hook) == PIPELINE_GONE
    fake.wait_for("chat.update", lambda c: "could not start" in _text(c.params))
    posted = fake.messages(GENERAL)
    assert len(posted) == before + 1 and "could not start" in _text(posted[-1])
    assert all_runs(ctx, TEAM_ID) == []


def test_a_long_wait_for_slacks_budget_is_said_and_the_run_still_starts(ctx, slack, essay):
    """Slack told the app to hold chat.postMessage (a 429's Retry-After, shared by every
    process): the requester hears that the run will start late, then it starts; nothing is
    refused because Slack is busy."""
    from bot.slack.ratelimit.budget import budget_for, workspace_key
    from bot.slack.run_start import long_wait_text

    budget_for(ctx.redis).hold(workspace_key(slack.fake.token), "chat.postMessage", 11.0)
    before = len(slack.fake.messages(GENERAL))
    hook = _command(slack, "run Essay hello")
    notice = slack.replies(hook, timeout=5)[0]["text"]
    assert notice.startswith(long_wait_text(11.0).split(":")[0]) and "starts in about" in notice
    assert len(slack.fake.messages(GENERAL)) == before  # said before the message waits its turn
    wait_until(lambda: len(all_runs(ctx, TEAM_ID)) == 1, 90, "the run to start after the hold")
    assert len(slack.fake.messages(GENERAL)) == before + 1
    held = [c for c in slack.fake.calls("chat.postMessage") if c.params.get("channel") == GENERAL]
    assert held, "the run's message went out once the hold ended"


def test_a_result_slack_refuses_is_said_on_the_artifact_page(ctx, slack, essay, worker_env, fake_anthropic):
    """Slack never takes the run's result (here it refuses it; a 429 storm past the delivery
    patience ends the same way): the artifact page says the thread is incomplete."""
    import httpx

    fake = slack.fake
    fake_anthropic.reply("an essay about otters")
    fake.fail_next(
        "chat.postMessage",
        "channel_not_found",
        times=5,
        when=lambda p: bool(p.get("thread_ts")) and (p.get("blocks") or [{}])[0].get("type") == "markdown",
    )
    _command(slack, "run Essay write about otters")
    wait_until(lambda: len(all_runs(ctx, TEAM_ID)) == 1, 10, "the run to be queued")
    drain(dict(worker_env, SLACK_API_URL=fake.url, SLACK_BOT_TOKEN=fake.token))
    with transaction(ctx.sessions) as s:
        art = artifact_repo.get_artifact_for_run(s, TEAM_ID, all_runs(ctx, TEAM_ID)[0].id)
        assert art is not None and art.slack_undelivered == "its result"
        artifact_id = str(art.id)
    link = artifact_permalink(ctx, TEAM_ID, artifact_id)
    page = httpx.get(slack.url + link.removeprefix("http://pipebot.test"), timeout=10)
    assert page.status_code == 200
    assert "Not all of this run reached Slack" in page.text and "Slack did not take its result" in page.text
