"""Versions, lineage and feedback of artifacts on real PostgreSQL: numbering, optimistic
concurrency, tenancy, and the indexes the reads are meant to use."""

from __future__ import annotations

import threading
import uuid

import pytest
from sqlalchemy import text

from storage.db import transaction
from storage.repos import agents as agent_repo
from storage.repos import artifact_versions as versions
from storage.repos import artifacts as artifact_repo
from storage.repos import feedback, lineage
from storage.repos import pipelines as pipeline_repo
from storage.repos import runs as run_repo
from storage.repos import workspaces as workspace_repo
from storage.repos.artifact_versions import ArtifactNotFound, VersionConflict


def _content(output: str, steps: tuple[str, ...] = ("draft",)) -> dict:
    return {
        "version": 1,
        "output": output,
        "cost_usd": "0.01",
        "steps": [{"position": i, "output": o} for i, o in enumerate(steps, 1)],
    }


def _artifact(s, team: str = "T1", output: str = "first output", *, pipeline=None):
    if pipeline is None:
        agent = agent_repo.create_agent(
            s, team, name=f"Writer {uuid.uuid4().hex[:6]}", system_prompt="", model="anthropic:claude-haiku-4-5"
        )
        pipeline = pipeline_repo.create_pipeline(s, team, f"Digest {uuid.uuid4().hex[:6]}", [agent.id])
    run = run_repo.create_run(s, team, pipeline, "in")
    aid = artifact_repo.insert_for_run(s, team, run, _content(output), models=["m"], cost_usd=None)
    return artifact_repo.get_artifact(s, team, aid)


def _save(s, aid, base, output, *, team="T1", author="U1", note=None, edited="output"):
    return versions.save_version(
        s, team, aid, base_version=base, content=_content(output), edited=edited, author=author, note=note
    )


def test_versions_are_numbered_from_two_and_version_one_stays_the_runs(ctx):
    with transaction(ctx.sessions) as s:
        art = _artifact(s, output="as the run wrote it")
        aid = art.id
        assert art.latest_version == 1  # the server default: the executor's insert needs no change
    with transaction(ctx.sessions) as s:
        assert _save(s, aid, 1, "second", note="tightened") == 2
        assert _save(s, aid, 2, "third", author="U2", edited="step:1") == 3
    with transaction(ctx.sessions) as s:
        v1 = versions.get_version(s, "T1", aid, 1)
        assert v1.content["output"] == "as the run wrote it" and v1.edited is None and v1.latest == 3
        v2 = versions.get_version(s, "T1", aid, 2)
        assert (v2.content["output"], v2.author, v2.note, v2.edited) == ("second", "U1", "tightened", "output")
        latest = versions.latest_version(s, "T1", aid)
        assert (latest.number, latest.content["output"], latest.author, latest.edited) == (3, "third", "U2", "step:1")
        assert versions.get_version(s, "T1", aid, 4) is None
        assert versions.get_version(s, "T1", aid, 0) is None
        # artifacts.content is version 1 and was never touched
        assert (
            s.scalar(text("SELECT content->>'output' FROM artifacts WHERE id = :a"), {"a": aid})
            == "as the run wrote it"
        )
        listed = versions.list_versions(s, "T1", aid)
        assert [v.number for v in listed] == [3, 2, 1]
        assert [v.edited for v in listed] == ["step:1", "output", None]
        assert listed[1].note == "tightened"
        assert [v.number for v in versions.list_versions(s, "T1", aid, limit=2)] == [3, 2]
        assert [v.number for v in versions.list_versions(s, "T1", aid, before=3)] == [2, 1]
        assert [v.number for v in versions.list_versions(s, "T1", aid, before=2)] == [1]
    with ctx.engine.connect() as conn:
        row = versions.latest_version_unscoped(conn, str(aid))
        assert (row.team_id, row.number, row.content["output"]) == ("T1", 3, "third")
        assert versions.version_unscoped(conn, aid, 1).content["output"] == "as the run wrote it"


def test_a_stale_base_loses_with_the_number_saved_meanwhile_and_keeps_its_text(ctx):
    with transaction(ctx.sessions) as s:
        aid = _artifact(s).id
    with transaction(ctx.sessions) as s:
        _save(s, aid, 1, "mine")
    with transaction(ctx.sessions) as s, pytest.raises(VersionConflict) as err:
        _save(s, aid, 1, "theirs, typed carefully", note="n")
    assert err.value.latest == 2
    assert err.value.content["output"] == "theirs, typed carefully" and err.value.note == "n"
    with transaction(ctx.sessions) as s:
        assert [v.number for v in versions.list_versions(s, "T1", aid)] == [2, 1]


def test_two_sessions_saving_from_the_same_base_at_once_one_wins(ctx):
    """The second save waits on the first one's row lock, then sees the bump and loses."""
    with transaction(ctx.sessions) as s:
        aid = _artifact(s).id
    outcome: dict = {}
    first = ctx.sessions()
    first.begin()
    assert _save(first, aid, 1, "first editor") == 2  # holds the artifact row, uncommitted

    def second() -> None:
        try:
            with transaction(ctx.sessions) as s:
                outcome["number"] = _save(s, aid, 1, "second editor", author="U2")
        except VersionConflict as exc:
            outcome["conflict"] = exc

    t = threading.Thread(target=second)
    t.start()
    first.commit()
    first.close()
    t.join(30)
    assert not t.is_alive()
    assert "number" not in outcome and outcome["conflict"].latest == 2
    assert outcome["conflict"].content["output"] == "second editor"
    with transaction(ctx.sessions) as s:
        assert versions.latest_version(s, "T1", aid).content["output"] == "first editor"


def test_another_workspace_never_reads_or_writes_a_version(ctx):
    with transaction(ctx.sessions) as s:
        aid = _artifact(s, "T1").id
        _save(s, aid, 1, "second")
        workspace_repo.ensure_workspace(s, "T2")
    with transaction(ctx.sessions) as s:
        with pytest.raises(ArtifactNotFound):
            _save(s, aid, 2, "intruder", team="T2")
        with pytest.raises(ArtifactNotFound):
            _save(s, "not-a-uuid", 1, "x")
        assert versions.get_version(s, "T2", aid, 1) is None
        assert versions.get_version(s, "T2", aid, 2) is None
        assert versions.latest_version(s, "T2", aid) is None
        assert versions.list_versions(s, "T2", aid) == []
        assert versions.latest_version(s, "T1", aid).number == 2


def test_version_reads_use_the_indexes(ctx):
    with transaction(ctx.sessions) as s:
        aid = _artifact(s).id
        _save(s, aid, 1, "second")
        s.execute(text("SET LOCAL enable_seqscan = off"))
        for stmt, params in (
            (versions._LATEST, {"aid": aid, "team": "T1"}),
            (versions._BY_NUMBER, {"aid": aid, "team": "T1", "number": 2}),
        ):
            plan = "\n".join(r[0] for r in s.execute(text("EXPLAIN " + stmt.text), params))
            assert "Seq Scan" not in plan and "uq_artifact_versions_artifact_number" in plan, plan


def test_lineage_branches_parent_and_related(ctx):
    with transaction(ctx.sessions) as s:
        source = _artifact(s, output="source")
        pipeline = pipeline_repo.get_pipeline(s, "T1", source.pipeline_id)
        _save(s, source.id, 1, "edited source")
        branch_a = _artifact(s, pipeline=pipeline)
        branch_b = _artifact(s, pipeline=pipeline)
        other = _artifact(s)  # another pipeline
        src, a, b = source.id, branch_a.id, branch_b.id
        s.execute(
            text("UPDATE artifacts SET created_at = created_at + make_interval(secs => :i) WHERE id = :id"),
            [{"i": 1, "id": a}, {"i": 2, "id": b}],
        )
    with transaction(ctx.sessions) as s:
        changes = {"model": "openai:gpt-5-mini"}
        assert lineage.set_parent(
            s, "T1", a, parent_artifact_id=src, parent_version=2, branched_from_step=3, branch_changes=changes
        )
        assert lineage.set_parent(
            s, "T1", b, parent_artifact_id=src, parent_version=1, branched_from_step=1, branch_changes=None
        )
        # a version the parent does not have, itself as parent: refused
        assert not lineage.set_parent(
            s, "T1", other.id, parent_artifact_id=src, parent_version=3, branched_from_step=1, branch_changes=None
        )
        assert not lineage.set_parent(
            s, "T1", src, parent_artifact_id=src, parent_version=1, branched_from_step=1, branch_changes=None
        )
    with transaction(ctx.sessions) as s:
        assert lineage.parent_of(s, "T1", a) == lineage.Parent(src, 2, 3, changes)
        assert lineage.parent_of(s, "T1", src) is None
        assert [r.id for r in lineage.list_branches(s, "T1", src)] == [b, a]
        assert lineage.list_branches(s, "T1", src)[1].branch_changes == changes
        assert [r.id for r in lineage.related_artifacts(s, "T1", a)] == [b, src]
        assert [r.id for r in lineage.related_artifacts(s, "T1", a, limit=1)] == [b]
        s.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(
            r[0] for r in s.execute(text("EXPLAIN " + lineage._BRANCHES.text), {"team": "T1", "aid": src, "limit": 20})
        )
        assert "ix_artifacts_parent_created" in plan, plan
    # the parent deleted: the branch keeps its version, step and changes
    with transaction(ctx.sessions) as s:
        s.execute(text("DELETE FROM artifacts WHERE id = :a"), {"a": src})
    with transaction(ctx.sessions) as s:
        assert lineage.parent_of(s, "T1", a) == lineage.Parent(None, 2, 3, changes)


def test_lineage_is_scoped_to_the_workspace(ctx):
    with transaction(ctx.sessions) as s:
        mine = _artifact(s, "T1")
        theirs = _artifact(s, "T2")
        branch = _artifact(s, "T1")
    with transaction(ctx.sessions) as s:
        # a parent of another workspace, or a branch written by another workspace: nothing written
        assert not lineage.set_parent(
            s,
            "T1",
            branch.id,
            parent_artifact_id=theirs.id,
            parent_version=1,
            branched_from_step=1,
            branch_changes=None,
        )
        assert not lineage.set_parent(
            s, "T2", branch.id, parent_artifact_id=mine.id, parent_version=1, branched_from_step=1, branch_changes=None
        )
        assert lineage.set_parent(
            s, "T1", branch.id, parent_artifact_id=mine.id, parent_version=1, branched_from_step=1, branch_changes=None
        )
    with transaction(ctx.sessions) as s:
        assert lineage.parent_of(s, "T2", branch.id) is None
        assert lineage.list_branches(s, "T2", mine.id) == []
        assert lineage.related_artifacts(s, "T2", mine.id) == []
        assert [r.id for r in lineage.list_branches(s, "T1", mine.id)] == [branch.id]


def test_votes_last_click_wins_and_a_clear_deletes(ctx):
    with transaction(ctx.sessions) as s:
        art = _artifact(s)
        aid = art.id
        _save(s, aid, 1, "second")
        other = _artifact(s).id
    with transaction(ctx.sessions) as s:
        assert feedback.vote(s, "T1", aid, 1, "U1", 1)
        assert feedback.vote(s, "T1", aid, 1, "U2", 1)
        assert feedback.vote(s, "T1", aid, 1, "U1", -1)  # changed their mind: one vote, the last
        assert feedback.vote(s, "T1", aid, 2, "U1", 1)  # another version, another vote
        assert feedback.vote(s, "T1", other, 1, "U3", -1)
        assert not feedback.vote(s, "T1", aid, 3, "U1", 1)  # no version 3
    with transaction(ctx.sessions) as s:
        assert feedback.counts(s, "T1", aid, 1) == feedback.VoteCounts(up=1, down=1)
        assert feedback.counts(s, "T1", aid, 2) == feedback.VoteCounts(up=1, down=0)
        assert feedback.counts_for_artifacts(s, "T1", [aid, other, uuid.uuid4()]) == {
            aid: feedback.VoteCounts(2, 1),
            other: feedback.VoteCounts(0, 1),
        }
        assert feedback.vote(s, "T1", aid, 1, "U1", None)  # the toggle: cleared
        assert not feedback.vote(s, "T1", aid, 1, "U1", None)  # nothing left to clear
        assert feedback.counts(s, "T1", aid, 1) == feedback.VoteCounts(up=1, down=0)
        with pytest.raises(ValueError):
            feedback.vote(s, "T1", aid, 1, "U1", 2)
        s.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(
            r[0] for r in s.execute(text("EXPLAIN " + feedback._COUNTS.text), {"team": "T1", "aid": aid, "version": 1})
        )
        assert "pk_artifact_feedback" in plan, plan


def test_votes_are_scoped_to_the_workspace(ctx):
    with transaction(ctx.sessions) as s:
        aid = _artifact(s, "T1").id
        workspace_repo.ensure_workspace(s, "T2")
        assert feedback.vote(s, "T1", aid, 1, "U1", 1)
    with transaction(ctx.sessions) as s:
        assert not feedback.vote(s, "T2", aid, 1, "U1", -1)
        assert not feedback.vote(s, "T2", aid, 1, "U1", None)
        assert feedback.counts(s, "T2", aid, 1) == feedback.VoteCounts()
        assert feedback.counts_for_artifacts(s, "T2", [aid]) == {}
        assert feedback.counts(s, "T1", aid, 1) == feedback.VoteCounts(up=1)


# ---- the edit rules (pure) ----------------------------------------------------------------

from core.artifacts import messages  # noqa: E402
from core.artifacts.versions import EditRefused, EditTarget, apply_edit, clean_note, parse_target  # noqa: E402


def _run_content() -> dict:
    return {
        "version": 1,
        "output": "final text",
        "input": "in",
        "steps": [
            {"position": 1, "output": "draft", "model": "m1"},
            {"position": 2, "output": "final text", "model": "m2"},
        ],
    }


def test_an_edit_makes_a_new_content_and_leaves_the_base_alone():
    base = _run_content()
    v2 = apply_edit(base, parse_target("step:1"), "better draft", base_version=1)
    assert v2["steps"][0]["output"] == "better draft" and v2["output"] == "final text"
    assert v2["steps"][1] == base["steps"][1] and v2["input"] == "in" and v2["version"] == 1
    assert base == _run_content()  # the base is never changed
    # the final output is the last step's output: while they agree, either edit changes both
    v3 = apply_edit(v2, parse_target("output"), "new final", base_version=2)
    assert v3["output"] == v3["steps"][1]["output"] == "new final"
    v4 = apply_edit(v3, EditTarget(2), "newer final", base_version=3)
    assert v4["output"] == v4["steps"][1]["output"] == "newer final"
    # where they differ (a run that failed after its last step, say), each edit changes its own
    differ = {**base, "output": None}
    v5 = apply_edit(differ, EditTarget(None), "only the output", base_version=1)
    assert (v5["output"], v5["steps"][1]["output"]) == ("only the output", "final text")
    v6 = apply_edit(differ, EditTarget(2), "only the step", base_version=1)
    assert (v6["output"], v6["steps"][1]["output"]) == (None, "only the step")


def test_empty_unchanged_and_out_of_range_edits_are_refused_with_clear_messages():
    base = _run_content()
    for empty in ("", "   \n\t", "\x00"):
        with pytest.raises(EditRefused, match="empty"):
            apply_edit(base, EditTarget(), empty, base_version=1)
    with pytest.raises(EditRefused) as err:
        apply_edit(base, EditTarget(), "final text", base_version=4)
    assert str(err.value) == messages.NO_CHANGE.format(version=4)
    # a browser's textarea sends CRLF: unchanged text still reads as unchanged
    multi = {**base, "output": "line one\nline two"}
    with pytest.raises(EditRefused, match="Nothing changed"):
        apply_edit(multi, EditTarget(), "line one\r\nline two", base_version=1)
    with pytest.raises(EditRefused) as err:
        apply_edit(base, EditTarget(3), "text", base_version=1)
    assert str(err.value) == "There is no step 3: this artifact has steps 1–2."
    with pytest.raises(EditRefused, match="no steps"):
        apply_edit({"output": "x", "steps": []}, EditTarget(1), "text", base_version=1)
    for bad in ("step:0", "step:-1", "steps:1", "input", ""):
        with pytest.raises(EditRefused):
            parse_target(bad)
    assert parse_target("step:12") == EditTarget(12) and parse_target("step:12").key == "step:12"


def test_any_length_is_kept_and_bad_characters_are_cleaned():
    long_text = "word " * 200_000  # a megabyte: no 3,000-character cut
    assert apply_edit(_run_content(), EditTarget(1), long_text, base_version=1)["steps"][0]["output"] == long_text
    cleaned = apply_edit(_run_content(), EditTarget(1), "a\x00b \ud800c", base_version=1)["steps"][0]["output"]
    assert cleaned == "ab \ufffdc"


def test_notes_are_trimmed_optional_and_bounded():
    assert clean_note(None) is None and clean_note("   ") is None
    assert clean_note("  tightened the intro ") == "tightened the intro"
    assert clean_note("x" * 500) == "x" * 500
    with pytest.raises(EditRefused, match="501 characters"):
        clean_note("x" * 501)


def test_save_edit_numbers_versions_and_a_stale_base_hands_the_text_back(ctx):
    from core.artifacts import editing

    with transaction(ctx.sessions) as s:
        aid = str(_artifact(s).id)
    assert editing.save_edit(ctx, "T1", aid, base_version=1, target="step:1", text="v2 draft", author="U1") == 2
    with pytest.raises(VersionConflict) as err:
        editing.save_edit(ctx, "T1", aid, base_version=1, target="output", text="late edit", author="U2")
    assert err.value.latest == 2 and err.value.content["output"] == "late edit"
    assert messages.VERSION_CONFLICT.format(version=err.value.latest).startswith("Someone saved version 2 meanwhile")
    with pytest.raises(EditRefused, match="no version 7"):
        editing.save_edit(ctx, "T1", aid, base_version=7, target="output", text="x", author="U1")
    with pytest.raises(ArtifactNotFound):
        editing.save_edit(ctx, "T2", aid, base_version=1, target="output", text="x", author="U1")
    with transaction(ctx.sessions) as s:
        assert [v.number for v in versions.list_versions(s, "T1", aid)] == [2, 1]
