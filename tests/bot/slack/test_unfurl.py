"""A pasted permalink unfurls into a card (`link_shared` → `chat.unfurl`), through the real
`/slack/events` endpoint against the fake Slack: only this deployment's signed permalinks,
only in the workspace the artifact belongs to; and the manifest asks for what that needs."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from bot.slack.blocks import artifact_buttons
from bot.slack.listeners.unfurl import read_permalink
from bot.slack.oauth import BOT_SCOPES
from core.artifacts.editing import new_link, save_edit
from core.links import artifact_permalink, compare_permalink
from tests.fakes.slack import GENERAL, TEAM_ID, USER_ID
from tests.support.finished_runs import click, element, finished_run
from tests.support.runs import make_agent, make_pipeline
from tests.support.slack_app import SlackServer
from tests.support.slack_signing import SlackRequests

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def essay(ctx) -> dict[str, int]:
    drafter = make_agent(ctx, TEAM_ID, "Drafter")
    return {"essay": make_pipeline(ctx, TEAM_ID, "Essay <weekly>", [drafter])}


def _share(
    slack: SlackServer,
    urls: list[str],
    *,
    signer: SlackRequests | None = None,
    team_id: str = TEAM_ID,
    source: str = "conversations_history",
) -> tuple[dict[str, Any], Any]:
    """Paste ``urls``; returns the event and the chat.unfurl call it led to."""
    count = len(slack.fake.calls("chat.unfurl"))
    event = slack.fake.share_links(urls, team_id=team_id, source=source)
    r = slack.post((signer or slack.signer).event(event))
    assert r.status_code == 200, r.text
    return event, slack.fake.wait_for("chat.unfurl", count=count + 1)


def _fields(card: dict[str, Any]) -> dict[str, str]:
    head = card["blocks"][0]
    return {f["text"].split("\n", 1)[0].strip("*"): f["text"].split("\n", 1)[1] for f in head["fields"]}


def test_own_permalink_unfurls_into_a_card_and_nothing_else_does(ctx, slack, essay):
    done = finished_run(ctx, TEAM_ID, essay["essay"], "An essay.", fake=slack.fake)  # a run of #general
    save_edit(ctx, TEAM_ID, done.artifact_id, base_version=1, target="output", text="A better essay.", author=USER_ID)
    foreign = make_pipeline(ctx, "T0OTHER", "Theirs", [make_agent(ctx, "T0OTHER", "A")])
    theirs = finished_run(ctx, "T0OTHER", foreign, "their secret")
    link = artifact_permalink(ctx, TEAM_ID, done.artifact_id)
    tampered = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
    ignored = [
        tampered,  # signature altered
        artifact_permalink(ctx, "T0OTHER", theirs.artifact_id),  # another workspace's artifact
        link.replace(done.artifact_id, theirs.artifact_id),  # our signature on their id
        link.replace("http://pipebot.test", "http://elsewhere.test"),  # not this deployment
        artifact_permalink(ctx, TEAM_ID, "0b1a2c3d-0000-4000-8000-000000000000"),  # no such artifact
        compare_permalink(ctx, TEAM_ID, done.artifact_id, 1, done.artifact_id, 2),
        new_link(ctx, TEAM_ID, done.artifact_id, USER_ID, 2),  # an edit link never unfurls
        f"{link}&v=3",  # no version 3
    ]
    event, call = _share(slack, [link, f"{link}&v=1", *ignored])
    assert call.ok, call.response
    assert call.params["unfurl_id"] == event["unfurl_id"] and call.params["source"] == "conversations_history"
    assert set(call.params["unfurls"]) == {link, f"{link}&v=1"}

    card = call.params["unfurls"][link]
    assert len(card["blocks"]) <= 50
    head = card["blocks"][0]["text"]["text"]
    assert "Essay &lt;weekly&gt;" in head and "<weekly>" not in head and link.replace("&", "&amp;") in head
    fields = _fields(card)
    assert fields["Status"] == "✅ succeeded" and fields["Version"] == "2 of 2"
    assert fields["Cost"] == "$0.0012" and fields["Models"] == "Claude Haiku 4.5"
    assert re.match(r"<!date\^\d+\^", fields["Date"])
    buttons = card["blocks"][1]["elements"]
    assert [(b["text"]["text"], b["action_id"], b["value"]) for b in buttons] == [
        ("Re-run from…", "artifact_rerun", f"{done.artifact_id}:2"),
        ("Compare", "artifact_compare", f"{done.artifact_id}:2"),
    ]
    older = call.params["unfurls"][f"{link}&v=1"]
    assert _fields(older)["Version"] == "1 of 2"
    assert element(older["blocks"], "artifact_rerun")["value"] == f"{done.artifact_id}:1"
    [stored] = [u for u in slack.fake.unfurls(GENERAL) if u["url"] == link]
    assert stored["ts"] == event["message_ts"]


def test_a_link_in_the_composer_unfurls_by_unfurl_id(ctx, slack, essay):
    done = finished_run(ctx, TEAM_ID, essay["essay"], "Draft.")
    link = artifact_permalink(ctx, TEAM_ID, done.artifact_id)
    event, call = _share(slack, [link], source="composer")
    assert call.ok, call.response
    assert (call.params["unfurl_id"], call.params["source"]) == (event["unfurl_id"], "composer")
    assert "channel" not in call.params and "ts" not in call.params


def test_another_workspace_gets_no_card_for_our_permalink(ctx, slack, essay):
    done = finished_run(ctx, TEAM_ID, essay["essay"], "Ours.")
    foreign = make_pipeline(ctx, "T0OTHER", "Theirs", [make_agent(ctx, "T0OTHER", "A")])
    theirs = finished_run(ctx, "T0OTHER", foreign, "Theirs.")
    ours, their_link = (
        artifact_permalink(ctx, TEAM_ID, done.artifact_id),
        artifact_permalink(ctx, "T0OTHER", theirs.artifact_id),
    )
    other = SlackRequests(slack.signer.signing_secret, team_id="T0OTHER", team_domain="other")
    _, call = _share(slack, [ours, their_link], signer=other, team_id="T0OTHER")
    # the event came from T0OTHER: only its own artifact gets a card, ours none (this test
    # server holds one workspace's token, so the fake refuses the call itself; what matters
    # is what was asked)
    assert set(call.params["unfurls"]) == {their_link}
    assert "Ours" not in json.dumps(call.params) and "Essay" not in json.dumps(call.params)


def test_compare_on_the_card_answers_the_person_who_clicked(ctx, slack, essay):
    done = finished_run(ctx, TEAM_ID, essay["essay"], "First.", fake=slack.fake)
    save_edit(ctx, TEAM_ID, done.artifact_id, base_version=1, target="output", text="Second.", author=USER_ID)
    link = artifact_permalink(ctx, TEAM_ID, done.artifact_id)
    event, call = _share(slack, [link])
    card = call.params["unfurls"][link]
    shared = slack.fake.message(GENERAL, event["message_ts"])
    message = dict(shared, blocks=card["blocks"])
    count = len(slack.fake.calls("chat.postEphemeral"))
    slack.post(click(slack.signer, slack.fake, message, artifact_buttons.COMPARE_ARTIFACT))
    answer = slack.fake.wait_for("chat.postEphemeral", count=count + 1)
    assert answer.ok and answer.params["user"] == USER_ID
    assert "version 1 → version 2" in json.dumps(answer.params["blocks"], ensure_ascii=False)


def test_read_permalink_takes_only_this_deployments_artifact_pages() -> None:
    aid = "0b1a2c3d-0000-4000-8000-000000000000"
    base = "https://pipebot.example.com/sub"
    got = read_permalink(base, f"https://PIPEBOT.example.com/sub/artifacts/{aid.upper()}.json?s=abc&amp;v=4")
    assert got is not None and (got.artifact_id, got.signature, got.version) == (aid, "abc", 4)
    for url in (
        f"https://pipebot.example.com/artifacts/{aid}?s=abc",  # outside the base path
        f"https://pipebot.example.com.evil/sub/artifacts/{aid}?s=abc",  # another host
        f"ftp://pipebot.example.com/sub/artifacts/{aid}?s=abc",
        f"https://pipebot.example.com/sub/artifacts/{aid}/edit?t=x",
        f"https://pipebot.example.com/sub/artifacts/{aid}?s=abc&v=two",
        "https://pipebot.example.com/sub/artifacts/not-a-uuid?s=abc",
    ):
        assert read_permalink(base, url) is None, url


def test_manifest_asks_for_unfurling_and_matches_the_code_scopes() -> None:
    text = (ROOT / "manifest.yml").read_text()
    bot = text.split("    bot:\n", 1)[1].split("\nsettings:", 1)[0]
    listed = [line.split("#")[0].strip()[2:].strip() for line in bot.splitlines() if line.strip().startswith("- ")]
    assert sorted(listed) == sorted(BOT_SCOPES) and {"links:read", "links:write"} <= set(listed)
    events = text.split("    bot_events:\n", 1)[1].split("\n  interactivity:", 1)[0]
    assert "- link_shared" in events
    features = text.split("\nfeatures:\n", 1)[1].split("\noauth_config:", 1)[0]
    domains = features.split("  unfurl_domains:\n", 1)[1]
    first = next(line for line in domains.splitlines() if line.strip().startswith("- "))
    assert first.strip() == "- YOUR-HOST"
    readme = (ROOT / "README.md").read_text()
    assert "unfurl_domains" in readme and "Slack does not unfurl `localhost`" in readme
