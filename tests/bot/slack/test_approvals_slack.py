"""Approvals in Slack (DESIGN §12, issue 18 item 4), through the real `/slack/events` endpoint
against the fake Slack: the builder's *Add approval* (add, edit prefilled, remove, inline
errors), and runs through real `pipebot worker` processes against the fake Anthropic API that
stop at an approval step: the request with its buttons in the thread, the parent message
waiting, Approve / Edit & approve / Reject by an approver, refusals for anyone else and for a
second click, and the request's message updated once decided."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk import WebClient

from bot.slack.blocks import approvals as approval_blocks
from bot.slack.blocks import pipelines as pipeline_blocks
from bot.slack.blocks.runs import parent_message
from bot.slack.reporter_factory import slack_reporter_for
from core import messages
from core.runs.approval_request import run_info_of, view_of
from core.runs.approvals import expire_due
from storage.db import transaction
from storage.repos import approvals as approval_repo
from storage.repos import pipelines as pipeline_repo
from storage.repos import runs as run_repo
from tests.fakes.slack import ADMIN_ID, GENERAL, OWNER_ID, TEAM_ID, USER_ID
from tests.support.approvals import agent_approval_agent, approvals_of
from tests.support.finished_runs import click, element
from tests.support.runs import all_runs, drain, make_agent, make_pipeline, read_run, read_steps, with_keys
from tests.support.slack_app import SlackServer
from tests.support.waiting import wait_until

APPROVER = ADMIN_ID  # named as the approval step's approver; USER_ID starts the runs


def _submit(slack: SlackServer, view: dict[str, Any], values: dict[str, Any], user_id: str = USER_ID) -> Any:
    r = slack.post(slack.signer.view_submission(view, values, user_id=user_id))
    assert r.status_code == 200, r.text
    return r.json() if r.content and r.text != "null" else {}


def _inputs(view: dict[str, Any]) -> list[tuple[str, str]]:
    return [(b["label"]["text"], b["block_id"]) for b in view["blocks"] if b["type"] == "input"]


def _press(slack: SlackServer, view: dict[str, Any], action_id: str, values: dict[str, Any], **kw: Any) -> dict:
    count = len(slack.fake.calls("views.update"))
    r = slack.post(slack.signer.block_actions(view=view, action_id=action_id, values=values, **kw))
    assert r.status_code == 200 and not r.content, r.text
    call = slack.fake.wait_for("views.update", count=count + 1)
    assert call.ok, call.response
    return call.response["view"]


# ---- the builder ---------------------------------------------------------------------------


def test_builder_adds_an_approval_step_checks_it_saves_it_and_edits_it_prefilled(ctx, slack):
    with_keys(ctx, TEAM_ID, "anthropic")
    a, b = make_agent(ctx, TEAM_ID, "Drafter"), make_agent(ctx, TEAM_ID, "Publisher")
    view = slack.open_modal("pipeline new")
    add = element(view["blocks"], pipeline_blocks.ADD_APPROVAL)
    assert add["text"]["text"] == "⏸️ Add approval" and len(add["text"]["text"]) <= 24
    view = _press(slack, view, pipeline_blocks.ADD_APPROVAL, {"Name": "Reviewed", "Step 1": str(a)})
    labels = [label for label, _ in _inputs(view)]
    assert labels == ["Name", "Step 1", "Approvers", "Timeout (hours)", "Budget (USD)"]
    assert "*Step 2 · Approval*" in json.dumps(view["blocks"], ensure_ascii=False)
    blocks = {label: bid for label, bid in _inputs(view)}
    approvers = next(x for x in view["blocks"] if x.get("block_id") == blocks["Approvers"])
    hours = next(x for x in view["blocks"] if x.get("block_id") == blocks["Timeout (hours)"])
    assert approvers["element"]["type"] == "multi_users_select" and approvers["optional"] is True
    assert hours["element"]["initial_value"] == "24"
    view = _press(
        slack, view, pipeline_blocks.ADD_STEP, {"Name": "Reviewed", "Step 1": str(a), "Approvers": [APPROVER]}
    )
    labels = [label for label, _ in _inputs(view)]
    assert labels == ["Name", "Step 1", "Approvers", "Timeout (hours)", "Step 3", "Budget (USD)"]
    blocks = {label: bid for label, bid in _inputs(view)}
    approvers = next(x for x in view["blocks"] if x.get("block_id") == blocks["Approvers"])
    assert approvers["element"]["initial_users"] == [APPROVER]  # kept across the rebuild

    # bad timeouts: core's rule, inline under the field
    for bad in ("soon", "0", "721", "1.5"):
        answer = _submit(
            slack,
            view,
            {"Name": "Reviewed", "Step 1": str(a), "Approvers": [APPROVER], "Timeout (hours)": bad, "Step 3": str(b)},
        )
        assert answer["response_action"] == "errors"
        assert answer["errors"] == {blocks["Timeout (hours)"]: messages.approval_timeout_range(1, 720)}
    assert (
        _submit(
            slack,
            view,
            {"Name": "Reviewed", "Step 1": str(a), "Approvers": [APPROVER], "Timeout (hours)": "48", "Step 3": str(b)},
        )
        == {}
    )
    with transaction(ctx.sessions) as s:
        p = pipeline_repo.get_pipeline_by_name(s, TEAM_ID, "reviewed")
        assert [(st.kind, st.agent_id, st.approvers, st.timeout_hours) for st in p.steps] == [
            ("agent", a, [], None),
            ("approval", None, [APPROVER], 48),
            ("agent", b, [], None),
        ]
    listing = slack.command("pipelines").text()
    assert "Drafter → ⏸️ Approval → Publisher" in listing and "⚠️" not in listing  # not an orphan

    # edit: the approval step prefilled; saving unchanged keeps it
    view = slack.open_modal("pipeline edit Reviewed")
    assert [label for label, _ in _inputs(view)] == [
        "Name",
        "Step 1",
        "Approvers",
        "Timeout (hours)",
        "Step 3",
        "Budget (USD)",
    ]
    blocks = {label: bid for label, bid in _inputs(view)}
    approvers = next(x for x in view["blocks"] if x.get("block_id") == blocks["Approvers"])
    hours = next(x for x in view["blocks"] if x.get("block_id") == blocks["Timeout (hours)"])
    assert approvers["element"]["initial_users"] == [APPROVER] and hours["element"]["initial_value"] == "48"
    assert "deleted agent" not in json.dumps(view["blocks"])
    same = {"Name": "Reviewed", "Step 1": str(a), "Approvers": [APPROVER], "Timeout (hours)": "48", "Step 3": str(b)}
    assert _submit(slack, view, same) == {}

    # remove the approval step (step 2): the agents close up, and it is gone once saved
    view = _press(slack, view, pipeline_blocks.REMOVE_STEP, same, value="2")
    assert [label for label, _ in _inputs(view)] == ["Name", "Step 1", "Step 2", "Budget (USD)"]
    step2 = next(x for x in view["blocks"] if x.get("label", {}).get("text") == "Step 2")
    assert step2["element"]["initial_option"]["value"] == str(b)
    assert _submit(slack, view, {"Name": "Reviewed", "Step 1": str(a), "Step 2": str(b)}) == {}
    with transaction(ctx.sessions) as s:
        p = pipeline_repo.get_pipeline_by_name(s, TEAM_ID, "reviewed")
        assert [(st.kind, st.agent_id) for st in p.steps] == [("agent", a), ("agent", b)]


def test_builder_refuses_an_approval_as_the_first_step_inline(ctx, slack):
    with_keys(ctx, TEAM_ID, "anthropic")
    a = make_agent(ctx, TEAM_ID, "Drafter")
    make_pipeline(ctx, TEAM_ID, "Solo", [a])
    view = slack.open_modal("pipeline edit Solo")
    view = _press(slack, view, pipeline_blocks.ADD_APPROVAL, {"Name": "Solo", "Step 1": str(a)})
    # remove the agent: the approval becomes step 1
    view = _press(slack, view, pipeline_blocks.REMOVE_STEP, {"Name": "Solo", "Step 1": str(a)}, value="1")
    blocks = {label: bid for label, bid in _inputs(view)}
    assert list(blocks) == ["Name", "Approvers", "Timeout (hours)", "Budget (USD)"]
    answer = _submit(slack, view, {"Name": "Solo"})
    assert answer["errors"] == {blocks["Approvers"]: messages.APPROVAL_FIRST_STEP}


# ---- a run that waits ----------------------------------------------------------------------


def _waiting_run(ctx, slack: SlackServer, env: dict[str, str], fake_anthropic, draft: str = "draft about otters"):
    """`/pipebot run Reviewed …` by USER_ID, run by a real worker up to the approval: the run,
    its approval row, and the request's message in the thread."""
    agent_approval_agent(ctx, TEAM_ID, approvers=(APPROVER,))
    fake_anthropic.reply(draft)
    r, _hook = slack.command("run Reviewed write about otters")
    assert r.status_code == 200
    wait_until(lambda: len(all_runs(ctx, TEAM_ID)) == 1, 10, "the run to be queued")
    drain(env)
    [run] = all_runs(ctx, TEAM_ID)
    assert run.status == "waiting", run.error_message
    (approval,) = approvals_of(ctx, run.id)
    request = next(
        m
        for m in slack.fake.replies(GENERAL, run.thread_ts)
        if any(b.get("block_id") == approval_blocks.ACTIONS_BLOCK for b in m.get("blocks") or [])
    )
    assert (approval.channel_id, approval.message_ts) == (GENERAL, request["ts"])  # remembered
    return run, approval, request


def _current(slack: SlackServer, request: dict[str, Any]) -> dict[str, Any]:
    return slack.fake.message(GENERAL, request["ts"])


def _open_form(slack: SlackServer, request: dict[str, Any], action_id: str, user_id: str = APPROVER) -> dict:
    count = len(slack.fake.calls("views.open"))
    r = slack.post(click(slack.signer, slack.fake, request, action_id, user_id=user_id))
    assert r.status_code == 200, r.text
    call = slack.fake.wait_for("views.open", count=count + 1)
    assert call.ok, call.response
    return call.response["view"]


def _told(slack: SlackServer, request: dict[str, Any], action_id: str, user_id: str) -> dict[str, Any]:
    """Click ``action_id`` on the request as ``user_id``: the ephemeral they are told (acked at once)."""
    before = len(slack.fake.ephemerals(GENERAL, user_id))
    r = slack.post(click(slack.signer, slack.fake, request, action_id, user_id=user_id))
    assert r.status_code == 200 and not r.content, r.text
    wait_until(lambda: len(slack.fake.ephemerals(GENERAL, user_id)) > before, 10, "an ephemeral to the clicker")
    return slack.fake.ephemerals(GENERAL, user_id)[before]


def test_a_waiting_run_shows_its_request_and_approve_by_an_approver_goes_on(ctx, slack, worker_env, fake_anthropic):
    fake = slack.fake
    env = dict(worker_env, SLACK_API_URL=fake.url, SLACK_BOT_TOKEN=fake.token)
    run, approval, request = _waiting_run(ctx, slack, env, fake_anthropic, draft="Otters <!channel> & *friends*")

    # the request: the output so far (mentions defused), who may decide and until when, three buttons
    body = json.dumps(request["blocks"], ensure_ascii=False)
    assert "Otters <\u200b!channel> & *friends*" in body and "<!channel>" not in body
    assert f"Waiting for <@{APPROVER}>, until <!date^" in body
    actions = next(b for b in request["blocks"] if b.get("block_id") == approval_blocks.ACTIONS_BLOCK)
    assert [(el["text"]["text"], el["action_id"], el["value"]) for el in actions["elements"]] == [
        ("Approve", approval_blocks.APPROVE, str(approval.id)),
        ("Edit & approve", approval_blocks.EDIT_APPROVE, str(approval.id)),
        ("Reject", approval_blocks.REJECT, str(approval.id)),
    ]
    parent = fake.message(GENERAL, run.thread_ts)
    assert "waiting for approval" in parent["text"]
    assert element(parent["blocks"], "run_cancel")["value"] == str(run.id)  # Cancel works while waiting

    # the run's starter is not the approver: told so, privately, in the thread; nothing changes
    told = _told(slack, request, approval_blocks.APPROVE, USER_ID)
    assert told["text"] == messages.approval_not_allowed([APPROVER], USER_ID)
    assert told.get("thread_ts") == run.thread_ts
    assert read_run(ctx, TEAM_ID, run.id).status == "waiting"
    assert approvals_of(ctx, run.id)[0].status == "pending"
    assert _current(slack, request)["blocks"] == request["blocks"]

    # the approver approves: the buttons go, the run is queued again and finishes
    r = slack.post(click(slack.signer, fake, request, approval_blocks.APPROVE, user_id=APPROVER))
    assert r.status_code == 200 and not r.content
    wait_until(lambda: read_run(ctx, TEAM_ID, run.id).status == "queued", 10, "the run queued again")
    wait_until(lambda: "Approved by" in _current(slack, request)["text"], 10, "the request updated")
    updated = _current(slack, request)
    assert f"✅ Approved by <@{APPROVER}>" in json.dumps(updated["blocks"], ensure_ascii=False)
    assert not [b for b in updated["blocks"] if b["type"] == "actions"]
    wait_until(lambda: "Running" in fake.message(GENERAL, run.thread_ts)["text"], 10, "the parent running again")

    # a second click: "already approved by", nothing else
    again = _told(slack, request, approval_blocks.APPROVE, APPROVER)
    assert again["text"].startswith(f"Already approved by <@{APPROVER}>")

    fake_anthropic.reply("published otters")
    drain(env)
    done = read_run(ctx, TEAM_ID, run.id)
    assert (done.status, done.output) == ("succeeded", "published otters")
    assert "Otters <!channel> & *friends*" in str(fake_anthropic.calls()[-1].json.get("messages"))
    assert "✅" in fake.message(GENERAL, run.thread_ts)["text"]


def test_edit_and_approve_goes_on_with_the_edited_text_and_refuses_empty_text(ctx, slack, worker_env, fake_anthropic):
    fake = slack.fake
    env = dict(worker_env, SLACK_API_URL=fake.url, SLACK_BOT_TOKEN=fake.token)
    run, approval, request = _waiting_run(ctx, slack, env, fake_anthropic)

    # a non-approver gets no form
    opened = len(fake.calls("views.open"))
    assert _told(slack, request, approval_blocks.EDIT_APPROVE, USER_ID)["text"] == messages.approval_not_allowed(
        [APPROVER], USER_ID
    )
    assert len(fake.calls("views.open")) == opened

    view = _open_form(slack, request, approval_blocks.EDIT_APPROVE)
    assert view["callback_id"] == approval_blocks.EDIT_CALLBACK and view["title"]["text"] == "Edit & approve"
    text = next(b for b in view["blocks"] if b.get("block_id") == approval_blocks.TEXT_BLOCK)
    assert text["label"]["text"] == "Text" and text["element"]["initial_value"] == "draft about otters"

    answer = _submit(slack, view, {"Text": "  \n "}, user_id=APPROVER)
    assert answer == {"response_action": "errors", "errors": {approval_blocks.TEXT_BLOCK: messages.APPROVAL_EMPTY_TEXT}}
    assert approvals_of(ctx, run.id)[0].status == "pending"

    assert _submit(slack, view, {"Text": "otters, edited by a person"}, user_id=APPROVER) == {}
    wait_until(lambda: read_run(ctx, TEAM_ID, run.id).status == "queued", 10, "the run queued again")
    wait_until(lambda: "with edits" in _current(slack, request)["text"], 10, "the request updated")
    fake_anthropic.reply("published edited otters")
    drain(env)
    assert read_run(ctx, TEAM_ID, run.id).status == "succeeded"
    sent = str(fake_anthropic.calls()[-1].json.get("messages"))
    assert "otters, edited by a person" in sent and "draft about otters" not in sent
    assert [st.output for st in read_steps(ctx, run.id)][1] == "otters, edited by a person"


def test_reject_with_a_reason_fails_the_run_and_updates_the_request(ctx, slack, worker_env, fake_anthropic):
    fake = slack.fake
    env = dict(worker_env, SLACK_API_URL=fake.url, SLACK_BOT_TOKEN=fake.token)
    run, approval, request = _waiting_run(ctx, slack, env, fake_anthropic)
    calls = fake_anthropic.count()

    view = _open_form(slack, request, approval_blocks.REJECT)
    assert view["callback_id"] == approval_blocks.REJECT_CALLBACK
    assert [b["label"]["text"] for b in view["blocks"] if b["type"] == "input"] == ["Reason"]
    assert _submit(slack, view, {"Reason": "too <b>vague</b>"}, user_id=APPROVER) == {}
    wait_until(lambda: read_run(ctx, TEAM_ID, run.id).status == "failed", 10, "the run rejected")
    ended = read_run(ctx, TEAM_ID, run.id)
    assert ended.error_message == f"rejected by <@{APPROVER}>: too <b>vague</b>"
    wait_until(lambda: "Rejected by" in _current(slack, request)["text"], 10, "the request updated")
    shown = json.dumps(_current(slack, request)["blocks"], ensure_ascii=False)
    assert f"❌ Rejected by <@{APPROVER}>: too &lt;b&gt;vague&lt;/b&gt;" in shown
    assert "approval_actions" not in shown
    wait_until(lambda: "❌" in fake.message(GENERAL, run.thread_ts)["text"], 10, "the parent marked failed")
    assert "rejected by" in fake.message(GENERAL, run.thread_ts)["text"]

    # too late to approve now: told, nothing paid
    assert _told(slack, request, approval_blocks.APPROVE, APPROVER)["text"].startswith(
        f"Already rejected by <@{APPROVER}>"
    )
    assert fake_anthropic.count() == calls and read_run(ctx, TEAM_ID, run.id).status == "failed"


def test_cancel_while_waiting_closes_the_request_and_a_later_click_is_told(ctx, slack, worker_env, fake_anthropic):
    fake = slack.fake
    env = dict(worker_env, SLACK_API_URL=fake.url, SLACK_BOT_TOKEN=fake.token)
    run, approval, request = _waiting_run(ctx, slack, env, fake_anthropic)
    parent = fake.message(GENERAL, run.thread_ts)
    r = slack.post(click(slack.signer, fake, parent, "run_cancel", user_id=USER_ID, value=str(run.id)))
    assert r.status_code == 200
    wait_until(lambda: read_run(ctx, TEAM_ID, run.id).status == "failed", 10, "the run cancelled")
    wait_until(lambda: "Cancelled by" in _current(slack, request)["text"], 10, "the request updated")
    assert not [b for b in _current(slack, request)["blocks"] if b["type"] == "actions"]
    assert _told(slack, request, approval_blocks.APPROVE, APPROVER)["text"].startswith(
        f"This run was cancelled by <@{USER_ID}>"
    )
    assert read_run(ctx, TEAM_ID, run.id).status == "failed"


# ---- a tool call waiting for Allow / Deny ----------------------------------------------------


def _shown_waiting(
    ctx,
    slack: SlackServer,
    starter: str,
    *,
    kind: str = "tool_call",
    output: str = "",
    approvers: tuple[str, ...] = (),
    due_at: datetime | None = None,
) -> tuple[Any, Any, dict[str, Any]]:
    """A run waiting on an approval (a tool call's by default) as the executor leaves it, shown
    in its thread by the Slack reporter the worker would use: (run, approval row, message)."""
    with_keys(ctx, TEAM_ID, "anthropic")
    pid = make_pipeline(ctx, TEAM_ID, "Support", [make_agent(ctx, TEAM_ID, "Helper")])
    client = WebClient(token=slack.fake.token, base_url=slack.fake.url)
    text, blocks = parent_message("Support", starter, "ticket 7?", status="running")
    parent_ts = client.chat_postMessage(channel=GENERAL, text=text, blocks=[b.to_dict() for b in blocks])["ts"]
    args = {"id": 7, "note": "<!channel> ```break out``` & more"}
    with transaction(ctx.sessions) as s:
        pipeline = pipeline_repo.get_pipeline(s, TEAM_ID, pid)
        run = run_repo.create_run(
            s,
            TEAM_ID,
            pipeline,
            "ticket 7?",
            requested_by=starter,
            source="slack",
            channel_id=GENERAL,
            thread_ts=parent_ts,
        )
        run.status = "waiting"
        row = approval_repo.create(
            s,
            team_id=TEAM_ID,
            run_id=run.id,
            position=2 if kind == "step" else 1,
            approvers=approvers,
            requested_by=starter,
            output_shown=output,
            timeout_hours=1,
            kind=kind,
            payload={"server": "Tickets", "tool": "lookup_ticket", "arguments": args} if kind == "tool_call" else None,
            due_at=due_at,
        )
        view, info = view_of(row), run_info_of(s, run)
    reporter = slack_reporter_for(slack.ctx, TEAM_ID, str(run.id))  # the server's, with Slack set
    assert reporter is not None
    reporter.approval_requested(info, view)  # type: ignore[attr-defined]
    (approval,) = approvals_of(ctx, run.id)
    return run, approval, slack.fake.message(GENERAL, approval.message_ts)


def test_a_tool_call_shows_tool_and_arguments_and_allow_is_for_the_starter_or_an_admin(ctx, slack):
    run, approval, request = _shown_waiting(ctx, slack, starter=OWNER_ID)
    shown = json.dumps(request["blocks"], ensure_ascii=False)
    assert "*Tickets · lookup_ticket*" in shown
    assert "&lt;!channel&gt;" in shown and "<!channel>" not in shown and "``\u200b`break out" in shown
    assert f"Waiting for <@{OWNER_ID}> or an admin" in shown
    actions = next(b for b in request["blocks"] if b.get("block_id") == approval_blocks.ACTIONS_BLOCK)
    assert [(el["text"]["text"], el["value"]) for el in actions["elements"]] == [
        ("Allow", str(approval.id)),
        ("Deny", str(approval.id)),
    ]
    # a member who neither started the run nor is an admin
    assert _told(slack, request, approval_blocks.ALLOW, USER_ID)["text"] == messages.approval_not_allowed([], OWNER_ID)
    assert approvals_of(ctx, run.id)[0].status == "pending"
    # an admin denies: the request says so, and the run goes on (the model reads a refusal as
    # the tool's result: tests/core/runs/test_step_tools.py runs that part with a real worker)
    slack.post(click(slack.signer, slack.fake, request, approval_blocks.DENY, user_id=ADMIN_ID))
    wait_until(lambda: "Denied by" in _current(slack, request)["text"], 10, "the request updated")
    assert f"❌ Denied by <@{ADMIN_ID}>" in json.dumps(_current(slack, request)["blocks"], ensure_ascii=False)
    assert approvals_of(ctx, run.id)[0].status == "rejected"
    assert read_run(ctx, TEAM_ID, run.id).status == "queued"


def test_a_tool_call_allowed_by_its_starter(ctx, slack):
    run, approval, request = _shown_waiting(ctx, slack, starter=USER_ID)
    slack.post(click(slack.signer, slack.fake, request, approval_blocks.ALLOW, user_id=USER_ID))
    wait_until(lambda: "Allowed by" in _current(slack, request)["text"], 10, "the request updated")
    assert (approvals_of(ctx, run.id)[0].status, read_run(ctx, TEAM_ID, run.id).status) == ("approved", "queued")


# ---- long output, too late --------------------------------------------------------------------


def test_long_output_is_cut_in_the_request_and_edit_and_approve_says_why_not(ctx, slack):
    long_output = "Otters hold hands. " * 400  # 7,600 characters: more than a Slack input holds
    run, approval, request = _shown_waiting(ctx, slack, USER_ID, kind="step", output=long_output)
    md = next(b for b in request["blocks"] if b["type"] == "markdown")["text"]
    assert len(md) <= approval_blocks.OUTPUT_SHOWN_MAX and md.startswith("Otters hold hands.")
    assert f"{len(long_output.strip()):,} characters" in json.dumps(request["blocks"])
    opened = len(slack.fake.calls("views.open"))
    told = _told(slack, request, approval_blocks.EDIT_APPROVE, USER_ID)["text"]
    assert told == approval_blocks.too_long_to_edit(long_output) and "7,600 characters" in told
    assert "waits for approval of step 1's output" in json.dumps(request["blocks"])
    assert len(slack.fake.calls("views.open")) == opened
    assert approvals_of(ctx, run.id)[0].status == "pending"


def test_after_the_timeout_a_click_is_told_and_the_request_says_not_approved_in_time(ctx, slack):
    past = datetime.now(UTC) - timedelta(minutes=5)
    run, approval, request = _shown_waiting(ctx, slack, USER_ID, kind="step", output="late draft", due_at=past)
    assert _told(slack, request, approval_blocks.APPROVE, USER_ID)["text"] == messages.approval_too_late(1)
    assert approvals_of(ctx, run.id)[0].status == "pending"  # maintenance closes it
    assert expire_due(slack.ctx) == [str(run.id)]
    wait_until(lambda: "Not approved in time" in _current(slack, request)["text"], 10, "the request updated")
    assert not [b for b in _current(slack, request)["blocks"] if b["type"] == "actions"]
    assert read_run(ctx, TEAM_ID, run.id).status == "failed"
