"""Deleting a run's result (core/artifacts/deletion.py) against real PostgreSQL: who may, what
is gone, what stays, and that every way of reusing it is refused afterwards."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy import text

from core.artifacts.deletion import NotAllowed, delete_result
from core.artifacts.editing import save_edit
from core.artifacts.versions import EditRefused
from core.audit import AuditAction
from core.errors import RunRejected
from core.runs.artifact import Artifact
from core.runs.branch import branch_source
from core.tools import ToolContext, run_tool
from storage.db import transaction
from storage.repos import artifact_versions as versions
from storage.repos import artifacts as artifact_repo
from storage.repos import audit, feedback
from storage.repos.artifact_versions import ArtifactNotFound
from tests.support.finished_runs import finished_run
from tests.support.runs import make_agent, make_pipeline
from tests.support.viewer_data import branch, save_version, vote

TEAM = "T0DEL"


@pytest.fixture
def done(ctx):
    pipeline = make_pipeline(ctx, TEAM, "Essay", [make_agent(ctx, TEAM, "Drafter")])
    run = finished_run(ctx, TEAM, pipeline, "the secret output", user_id="U0REQ")
    with transaction(ctx.sessions) as s:
        s.execute(
            text(
                "INSERT INTO run_steps (run_id, position, status, agent_snapshot, model, input, output, usage, cost_usd)"
                " VALUES (:r, 1, 'succeeded', '{}'::jsonb, 'anthropic:x', 'step in', 'step out',"
                " '{\"input_tokens\": 7}'::jsonb, 0.5)"
            ),
            {"r": run.run_id},
        )
    save_version(ctx, TEAM, run.artifact_id, 1, {"output": "an edited secret"})
    vote(ctx, TEAM, run.artifact_id, 1, "U0VOTER", 1)
    return run


def _row(ctx, sql: str, **params):
    with transaction(ctx.sessions) as s:
        return s.execute(text(sql), params).first()


def test_the_requester_deletes_and_a_tombstone_is_left(ctx, done):
    deleted = delete_result(ctx, TEAM, done.artifact_id, "U0REQ", admin=False)
    assert deleted is not None and not deleted.already and deleted.by == "U0REQ"

    art = _row(
        ctx,
        "SELECT content, latest_version, deleted_by, deleted_at, cost_usd, pipeline_name FROM artifacts WHERE id = :a",
        a=done.artifact_id,
    )
    assert art.deleted_by == "U0REQ" and art.deleted_at is not None and art.latest_version == 1
    assert art.cost_usd == Decimal("0.0012") and art.pipeline_name == "Essay"
    dumped = json.dumps(art.content)
    assert "secret" not in dumped and "input of" not in dumped
    content = Artifact.from_content(art.content)
    assert content.deleted and content.deleted_by == "U0REQ" and content.pipeline_name == "Essay"
    assert content.status == "succeeded" and content.cost_usd == Decimal("0.0012")

    assert _row(ctx, "SELECT count(*) AS n FROM artifact_versions WHERE artifact_id = :a", a=done.artifact_id).n == 0
    assert _row(ctx, "SELECT count(*) AS n FROM artifact_feedback WHERE artifact_id = :a", a=done.artifact_id).n == 0
    run = _row(ctx, "SELECT input, output, error_message, cost_usd FROM runs WHERE id = :r", r=done.run_id)
    assert (run.input, run.output, run.error_message) == ("", None, None) and run.cost_usd == Decimal("0.0012")
    step = _row(ctx, "SELECT input, output, usage, cost_usd FROM run_steps WHERE run_id = :r", r=done.run_id)
    assert (step.input, step.output) == ("", None)
    assert step.usage == {"input_tokens": 7} and step.cost_usd == Decimal("0.5")  # spend still adds up

    with transaction(ctx.sessions) as s:
        [event] = audit.latest(s, TEAM)
    assert event.action == AuditAction.RUN_DELETED and event.actor == "U0REQ" and event.subject == "Essay"

    again = delete_result(ctx, TEAM, done.artifact_id, "U0REQ", admin=False)
    assert again is not None and again.already and again.by == "U0REQ"
    with transaction(ctx.sessions) as s:
        assert len(audit.latest(s, TEAM)) == 1  # idempotent: nothing recorded twice


def test_an_admin_deletes_another_members_result_and_a_member_may_not(ctx, done):
    with pytest.raises(NotAllowed):
        delete_result(ctx, TEAM, done.artifact_id, "U0OTHER", admin=False)
    with transaction(ctx.sessions) as s:
        assert artifact_repo.get_artifact(s, TEAM, done.artifact_id).deleted_at is None
        assert audit.latest(s, TEAM) == []
    assert delete_result(ctx, "T0ELSEWHERE", done.artifact_id, "U0REQ", admin=True) is None  # another workspace's
    deleted = delete_result(ctx, TEAM, done.artifact_id, "U0ADMIN", admin=True)
    assert deleted is not None and deleted.by == "U0ADMIN"


def test_nothing_can_reuse_a_deleted_result_and_branches_keep_their_copy(ctx, done):
    pipeline = make_pipeline(ctx, TEAM, "Other", [make_agent(ctx, TEAM, "Writer")])
    child = finished_run(ctx, TEAM, pipeline, "the branch's own output", user_id="U0REQ")
    branch(ctx, TEAM, child.artifact_id, done.artifact_id, version=1, step=1)
    delete_result(ctx, TEAM, done.artifact_id, "U0REQ", admin=False)

    with transaction(ctx.sessions) as s, pytest.raises(RunRejected, match="deleted"):
        branch_source(s, TEAM, done.artifact_id)
    with pytest.raises(EditRefused, match="deleted"):
        save_edit(ctx, TEAM, done.artifact_id, base_version=1, target="output", text="new", author="U0REQ")
    with transaction(ctx.sessions) as s, pytest.raises(ArtifactNotFound):  # the version bump refuses too
        versions.save_version(s, TEAM, done.artifact_id, base_version=1, content={}, edited="output", author="U0REQ")
    with transaction(ctx.sessions) as s:
        assert feedback.toggle(s, TEAM, done.artifact_id, 1, "U0VOTER", 1) is None

    def load(aid: str):
        with transaction(ctx.sessions) as s:
            art = artifact_repo.get_artifact(s, TEAM, aid)
            return dict(art.content) if art else None

    answer, is_error = run_tool(ToolContext(TEAM, load), "read_artifact", {"artifact_id": done.artifact_id})
    assert not is_error and json.loads(answer)["deleted"] is True and "secret" not in answer

    with transaction(ctx.sessions) as s:
        kept = versions.latest_version(s, TEAM, child.artifact_id)
    assert kept.content["output"] == "the branch's own output"
