"""*Compare* on a result, through the real `/slack/events` endpoint against the fake Slack:
what is compared (versions, else parent and branch, else a picked run of the same pipeline),
the summary (per step changed or unchanged, cost/tokens/time deltas, totals) and its signed
link to the compare page."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from bot.slack.blocks import artifact_buttons
from bot.slack.blocks import compare as compare_blocks
from core.artifacts.diff import compare
from core.artifacts.editing import save_edit
from core.links import compare_permalink, signing_keys
from core.permalinks import verify
from storage.db import transaction
from storage.repos import artifacts as artifact_repo
from storage.repos import lineage
from tests.fakes.slack import GENERAL, TEAM_ID, USER_ID
from tests.support.finished_runs import click, content_for, element, finished_run
from tests.support.runs import make_agent, make_pipeline
from tests.support.slack_app import SlackServer


@pytest.fixture
def essay(ctx) -> dict[str, int]:
    drafter = make_agent(ctx, TEAM_ID, "Drafter")
    return {
        "essay": make_pipeline(ctx, TEAM_ID, "Essay", [drafter]),
        "other": make_pipeline(ctx, TEAM_ID, "Weekly digest", [drafter]),
    }


def _compare_ephemeral(slack: SlackServer, message: dict[str, Any]) -> Any:
    count = len(slack.fake.calls("chat.postEphemeral"))
    r = slack.post(click(slack.signer, slack.fake, message, artifact_buttons.COMPARE_ARTIFACT))
    assert r.status_code == 200, r.text
    call = slack.fake.wait_for("chat.postEphemeral", count=count + 1)
    assert call.ok, call.response
    assert (call.params["user"], call.params["channel"]) == (USER_ID, GENERAL)
    return call


def _link_checks(ctx, url: str, left: str, right: str) -> dict[str, list[str]]:
    parts = urlsplit(url)
    assert parts.path == f"/artifacts/{left}/compare/{right}"
    query = parse_qs(parts.query)
    assert verify(f"compare:{left}:{right}", TEAM_ID, query["s"][0], signing_keys(ctx))
    assert not verify(f"compare:{left}:{right}", "T0OTHER", query["s"][0], signing_keys(ctx))
    return query


def test_an_edited_artifact_compares_its_latest_version_with_version_1(ctx, slack, essay):
    steps = [("Drafter", "Otters sleep.", "0.0010", 1000), ("Critic", "Otters hold hands.", "0.0020", 2000)]
    done = finished_run(ctx, TEAM_ID, essay["essay"], "Otters hold hands.", steps=steps, fake=slack.fake)
    save_edit(
        ctx,
        TEAM_ID,
        done.artifact_id,
        base_version=1,
        target="step:2",
        text="Otters hold hands while they sleep.",
        author=USER_ID,
        note="more detail",
    )
    call = _compare_ephemeral(slack, done.final)
    assert call.params.get("thread_ts") == done.thread_ts  # in the run's thread
    blocks = call.params["blocks"]
    text = json.dumps(blocks, ensure_ascii=False)
    assert "*Essay*: version 1 → version 2" in text
    assert "▫️ Step 1 · Drafter: unchanged" in text
    assert "✏️ Step 2 · Critic: changed (+4 / −1 words)" in text
    assert "✏️ Final output: changed (+4 / −1 words)" in text  # the last step is the final output
    assert "*Total* · $0.0030 → $0.0030" in text
    url = element(blocks, artifact_buttons.OPEN_LINK)["url"]
    query = _link_checks(ctx, url, done.artifact_id, done.artifact_id)
    assert (query["av"], query["bv"]) == (["1"], ["2"])
    assert url == compare_permalink(ctx, TEAM_ID, done.artifact_id, 1, done.artifact_id, 2)
    assert len(blocks) <= 50 and all(
        len(el["text"]["text"]) <= 24 for b in blocks if b["type"] == "actions" for el in b["elements"]
    )


def test_a_branch_compares_with_the_version_of_its_parent_it_came_from(ctx, slack, essay):
    parent = finished_run(
        ctx,
        TEAM_ID,
        essay["essay"],
        "Cats purr.",
        steps=[("Drafter", "Cats.", "0.0010", 1000), ("Critic", "Cats purr.", "0.0030", 3000)],
    )
    branch = finished_run(
        ctx,
        TEAM_ID,
        essay["essay"],
        "Cats purr loudly <at night>.",
        fake=slack.fake,
        steps=[("Drafter", "Cats.", None, 0), ("Critic", "Cats purr loudly <at night>.", "0.0050", 2500)],
    )
    with transaction(ctx.sessions) as s:
        art = artifact_repo.get_artifact(s, TEAM_ID, branch.artifact_id)
        content = dict(art.content)
        content["steps"] = [dict(content["steps"][0], reused=True, cost_usd=None), content["steps"][1]]
        art.content = content
        assert lineage.set_parent(
            s,
            TEAM_ID,
            branch.artifact_id,
            parent_artifact_id=parent.artifact_id,
            parent_version=1,
            branched_from_step=2,
            branch_changes={"model": "gpt"},
        )
    call = _compare_ephemeral(slack, branch.final)
    text = json.dumps(call.params["blocks"], ensure_ascii=False)
    assert "parent (version 1) → this branch from step 2" in text
    assert "▫️ Step 1 · Drafter: unchanged" in text and "(reused)" in text
    assert "$0.0030 → $0.0050 (+$0.0020)" in text  # step 2's cost
    assert "3.0 s → 2.5 s (−500 ms)" in text
    _link_checks(
        ctx, element(call.params["blocks"], artifact_buttons.OPEN_LINK)["url"], parent.artifact_id, branch.artifact_id
    )


def test_a_lone_artifact_opens_a_picker_of_the_same_pipelines_runs(ctx, slack, essay):
    fake = slack.fake
    older = [finished_run(ctx, TEAM_ID, essay["essay"], f"essay {i}", minutes_ago=10 + i) for i in range(3)]
    finished_run(ctx, TEAM_ID, essay["other"], "a digest", minutes_ago=5)
    foreign = make_pipeline(ctx, "T0OTHER", "Essay", [make_agent(ctx, "T0OTHER", "A")])
    finished_run(ctx, "T0OTHER", foreign, "their essay", minutes_ago=1)
    done = finished_run(ctx, TEAM_ID, essay["essay"], "the newest essay", fake=fake)
    opened = len(fake.calls("views.open"))
    slack.post(click(slack.signer, fake, done.final, artifact_buttons.COMPARE_ARTIFACT))
    call = fake.wait_for("views.open", count=opened + 1)
    assert call.ok, call.response
    picker = call.response["view"]
    assert picker["callback_id"] == compare_blocks.COMPARE_PICK_CALLBACK and picker["title"]["text"] == "Compare with…"
    select = next(b for b in picker["blocks"] if b.get("block_id") == compare_blocks.COMPARE_PICK_BLOCK)["element"]
    assert [o["value"] for o in select["options"]] == [r.artifact_id for r in older]  # newest first, ours only

    r = slack.post(slack.signer.view_submission(picker, {"Compare with": older[0].artifact_id}))
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["response_action"] == "update" and answer["view"]["title"]["text"] == "Compare"
    text = json.dumps(answer["view"]["blocks"], ensure_ascii=False)
    assert "→ this run" in text and "Final output: changed" in text
    _link_checks(
        ctx,
        element(answer["view"]["blocks"], artifact_buttons.OPEN_LINK)["url"],
        older[0].artifact_id,
        done.artifact_id,
    )

    # a forged pick naming another workspace's artifact compares nothing
    with transaction(ctx.sessions) as s:
        theirs = str(artifact_repo.latest_artifacts(s, "T0OTHER", limit=1)[0].id)
    state = {
        "values": {
            compare_blocks.COMPARE_PICK_BLOCK: {
                "value": {
                    "type": "static_select",
                    "selected_option": {"text": {"type": "plain_text", "text": "x"}, "value": theirs},
                }
            }
        }
    }
    r = slack.post(slack.signer.view_submission(picker, state=state))
    assert r.json() == {
        "response_action": "errors",
        "errors": {compare_blocks.COMPARE_PICK_BLOCK: compare_blocks.COMPARE_GONE},
    }


def test_the_picker_holds_at_most_100_runs_and_a_run_with_nothing_to_compare_says_so(ctx, slack, essay):
    fake = slack.fake
    lone = finished_run(ctx, TEAM_ID, essay["other"], "the only digest", fake=fake)
    call = _compare_ephemeral(slack, lone.final)
    assert "Nothing to compare *Weekly digest* with yet" in call.params["text"]

    for i in range(101):
        finished_run(ctx, TEAM_ID, essay["essay"], f"essay {i}", minutes_ago=5 + i)
    done = finished_run(ctx, TEAM_ID, essay["essay"], "the newest", fake=fake)
    opened = len(fake.calls("views.open"))
    slack.post(click(slack.signer, fake, done.final, artifact_buttons.COMPARE_ARTIFACT))
    call = fake.wait_for("views.open", count=opened + 1)
    assert call.ok, call.response  # the fake refuses a select of more than 100 options
    select = next(b for b in call.response["view"]["blocks"] if b.get("block_id") == compare_blocks.COMPARE_PICK_BLOCK)
    assert len(select["element"]["options"]) == 100


def test_compare_from_the_artifact_modal_opens_the_summary_over_it(ctx, slack, essay):
    fake = slack.fake
    done = finished_run(ctx, TEAM_ID, essay["essay"], "Version one.", fake=fake)
    save_edit(ctx, TEAM_ID, done.artifact_id, base_version=1, target="output", text="Version two.", author=USER_ID)
    listed = {
        "type": "message",
        "ts": "1.0",
        "text": "",
        "blocks": [
            {
                "type": "section",
                "block_id": "x",
                "text": {"type": "mrkdwn", "text": "x"},
                "accessory": {
                    "type": "button",
                    "action_id": "artifact_view",
                    "value": done.artifact_id,
                    "text": {"type": "plain_text", "text": "View"},
                },
            }
        ],
    }
    opened = len(fake.calls("views.open"))
    slack.post(slack.signer.block_actions(action_id="artifact_view", message=listed, trigger_id=fake.new_trigger_id()))
    modal = fake.wait_for("views.open", count=opened + 1).response["view"]
    compare_button = element(modal["blocks"], artifact_buttons.COMPARE_ARTIFACT)
    assert compare_button["value"] == f"{done.artifact_id}:2"  # the modal knows the latest version
    pushes = len(fake.calls("views.push"))
    slack.post(
        slack.signer.block_actions(
            action_id=artifact_buttons.COMPARE_ARTIFACT, view=fake.view(modal["id"]), trigger_id=fake.new_trigger_id()
        )
    )
    pushed = fake.wait_for("views.push", count=pushes + 1)
    assert pushed.ok, pushed.response
    assert "version 1 → version 2" in json.dumps(pushed.response["view"]["blocks"], ensure_ascii=False)


def test_the_summary_fits_a_message_for_a_long_pipeline() -> None:
    class Run:
        id, team_id, pipeline_id, pipeline_name, input, requested_by = "r", TEAM_ID, 1, "Long", "in", USER_ID
        created_at = datetime(2026, 1, 1)

    left = content_for(
        Run,
        "a",
        [(f"Agent {i}", f"left {i} " * 50, "0.001", 100) for i in range(40)],
        status="succeeded",
        channel=None,
        thread_ts=None,
    )
    right = content_for(
        Run,
        "b",
        [(f"Agent {i}", f"right {i} " * 50, "0.002", 200) for i in range(40)],
        status="succeeded",
        channel=None,
        thread_ts=None,
    )
    text, blocks = compare_blocks.compare_summary(
        "Long <pipeline>", "version 1", "version 2", compare(left, right), "http://pipebot.test/x"
    )
    rendered = [b.to_dict() for b in blocks]  # validates Slack's limits
    dumped = json.dumps(rendered, ensure_ascii=False)
    assert len(rendered) <= 50 and len(dumped) < 12_000 and len(text) <= 3000
    assert "…and 20 more steps on the compare page." in dumped and "Long &lt;pipeline&gt;" in dumped
    assert "*Total* · $0.0400 → $0.0800 (+$0.0400)" in dumped


def test_a_coarse_comparison_says_so_in_the_summary() -> None:
    """The same distinct lines with each neighbouring pair swapped: past the diff's budget, so
    the summary says the comparison is coarse; an ordinary edit's summary does not."""
    lines = [f"line {i} says something distinct {i * 7919}\n" for i in range(12_000)]
    left = {"output": "".join(lines), "steps": []}
    right = {"output": "".join(lines[i ^ 1] for i in range(len(lines))), "steps": []}
    coarse = compare(left, right)
    assert coarse.coarse
    _, blocks = compare_blocks.compare_summary("P", "version 1", "version 2", coarse, "http://pipebot.test/x")
    dumped = json.dumps([b.to_dict() for b in blocks], ensure_ascii=False)
    assert "This comparison is coarse: the texts differ in too many places to compare word by word" in dumped
    fine = compare(left, {"output": left["output"].replace("line 5 ", "row 5 "), "steps": []})
    assert not fine.coarse
    _, blocks = compare_blocks.compare_summary("P", "version 1", "version 2", fine, "http://pipebot.test/x")
    assert "coarse" not in json.dumps([b.to_dict() for b in blocks])
