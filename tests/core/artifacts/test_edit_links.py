"""Edit links: signed, bound to one artifact and user, short-lived, single use, with a CSRF
token for the form; each refusal says why. The store of used nonces is real PostgreSQL."""

from __future__ import annotations

import uuid

import pytest

from core.artifacts import edit_links, editing
from core.artifacts.edit_links import EditLinkError, Reason
from core.links import signing_keys
from core.permalinks import derive_key, sign
from core.timings import EDIT_LINK_TTL_S
from storage.db import transaction
from storage.repos import agents as agent_repo
from storage.repos import artifact_versions as versions
from storage.repos import artifacts as artifact_repo
from storage.repos import pipelines as pipeline_repo
from storage.repos import runs as run_repo

KEY = derive_key("a deployment secret")
AID = str(uuid.uuid4())
NOW = 1_800_000_000.0


def _mint(**over) -> str:
    args = dict(team_id="T1", artifact_id=AID, user_id="U1", base_version=1, now=NOW)
    args.update(over)
    return edit_links.mint([KEY], **args)


def _refused(reason: Reason, token: str, **kw) -> EditLinkError:
    kw.setdefault("artifact_id", AID)
    kw.setdefault("now", NOW + 1)
    with pytest.raises(EditLinkError) as err:
        edit_links.read(token, [KEY], **kw)
    assert err.value.reason is reason
    return err.value


def test_a_link_grants_what_it_was_made_for():
    link = edit_links.read(_mint(base_version=3), [KEY], artifact_id=AID.upper(), user_id="U1", now=NOW + 599)
    assert (link.team_id, link.artifact_id, link.user_id, link.base_version) == ("T1", AID, "U1", 3)
    assert link.expires_at == int(NOW) + EDIT_LINK_TTL_S
    assert len(link.nonce) >= 22 and _mint() != _mint()  # a fresh nonce each time


def test_expired_wrong_artifact_wrong_user_and_tampered_are_refused_each_with_its_reason():
    token = _mint()
    assert "expired" in str(_refused(Reason.EXPIRED, token, now=NOW + 600))
    assert "another artifact" in str(_refused(Reason.WRONG_ARTIFACT, token, artifact_id=str(uuid.uuid4())))
    assert "someone else" in str(_refused(Reason.WRONG_USER, token, user_id="U2"))
    payload, sig = token.split(".")
    # another workspace's key, a flipped signature, a payload altered (user swapped), garbage
    _refused(
        Reason.TAMPERED,
        edit_links.mint(
            [derive_key("another deployment")], team_id="T1", artifact_id=AID, user_id="U1", base_version=1, now=NOW
        ),
    )
    _refused(Reason.TAMPERED, f"{payload}.{sig[::-1]}")
    forged = _mint(user_id="U2").split(".")[0]
    _refused(Reason.TAMPERED, f"{forged}.{sig}")
    for junk in ("", "abc", "a.b.c", "Zm9v.bar", "é.é", None):
        _refused(Reason.TAMPERED, junk)
    # a permalink signature is never an edit link signature
    _refused(Reason.TAMPERED, f"{payload}.{sign(AID, 'T1', KEY)}")
    # rotation: a link signed with the older key still opens while the key is listed
    assert edit_links.read(token, [derive_key("newer"), KEY], artifact_id=AID, now=NOW).user_id == "U1"


def test_the_form_must_echo_the_links_csrf_token():
    link = edit_links.read(_mint(), [KEY], artifact_id=AID, now=NOW)
    good = edit_links.csrf_token(link, [KEY])
    edit_links.check_csrf(link, good, [KEY])
    other = edit_links.read(_mint(), [KEY], artifact_id=AID, now=NOW)
    for bad in (None, "", edit_links.csrf_token(other, [KEY]), good[:-1] + ("A" if good[-1] != "A" else "B")):
        with pytest.raises(EditLinkError) as err:
            edit_links.check_csrf(link, bad, [KEY])
        assert err.value.reason is Reason.CSRF


def _artifact(ctx, team="T1", output="the run's output"):
    with transaction(ctx.sessions) as s:
        agent = agent_repo.create_agent(s, team, name="Writer", system_prompt="", model="anthropic:claude-haiku-4-5")
        pipeline = pipeline_repo.create_pipeline(s, team, "Digest", [agent.id])
        run = run_repo.create_run(s, team, pipeline, "in")
        content = {"output": output, "steps": [{"position": 1, "output": output}]}
        return str(artifact_repo.insert_for_run(s, team, run, content, models=[], cost_usd=None))


def test_a_link_saves_once_and_a_replay_is_refused(ctx):
    aid = _artifact(ctx)
    url = editing.new_link(ctx, "T1", aid, "U1", 1)
    assert url.startswith(f"http://pipebot.test/artifacts/{aid}/edit?t=")
    token = url.split("?t=")[1]
    editor = editing.open_editor(ctx, token, aid)
    assert (editor.text, editor.latest, editor.link.user_id, editor.steps) == ("the run's output", 1, "U1", [1])
    assert editing.open_editor(ctx, token, aid).csrf == editor.csrf  # reloading the page is fine
    with pytest.raises(EditLinkError) as err:
        editing.save_from_link(ctx, token, aid, csrf="forged", target="output", text="new")
    assert err.value.reason is Reason.CSRF
    # a refused edit leaves the link unspent
    with pytest.raises(editing.EditRefused):
        editing.save_from_link(ctx, token, aid, csrf=editor.csrf, target="output", text="   ")
    long_text = "a long output line\n" * 1000
    assert editing.save_from_link(ctx, token, aid, csrf=editor.csrf, target="output", text=long_text, note="fixed") == 2
    with pytest.raises(EditLinkError) as err:
        editing.save_from_link(ctx, token, aid, csrf=editor.csrf, target="output", text="again")
    assert err.value.reason is Reason.REUSED and "used already" in str(err.value)
    with pytest.raises(EditLinkError) as err:
        editing.open_editor(ctx, token, aid)
    assert err.value.reason is Reason.REUSED
    with transaction(ctx.sessions) as s:
        latest = versions.latest_version(s, "T1", aid)
        assert (latest.number, latest.author, latest.note) == (2, "U1", "fixed")
        assert latest.content["output"] == long_text  # whole: no 3,000-character cut
        assert latest.content["steps"][0]["output"] == long_text  # the last step follows the output
        assert versions.get_version(s, "T1", aid, 1).content["output"] == "the run's output"


def test_an_expired_link_and_a_link_of_another_workspace_save_nothing(ctx):
    mine = _artifact(ctx, "T1")
    theirs = _artifact(ctx, "T2")
    keys = signing_keys(ctx)
    token = edit_links.mint(keys, team_id="T1", artifact_id=mine, user_id="U1", base_version=1, now=NOW)
    link = edit_links.read(token, keys, artifact_id=mine, now=NOW)
    with pytest.raises(EditLinkError) as err:
        editing.save_from_link(
            ctx, token, mine, csrf=edit_links.csrf_token(link, keys), target="output", text="late", now=NOW + 601
        )
    assert err.value.reason is Reason.EXPIRED
    # a link minted for T1 naming T2's artifact finds nothing to edit
    cross = edit_links.mint(keys, team_id="T1", artifact_id=theirs, user_id="U1", base_version=1, now=NOW)
    cross_link = edit_links.read(cross, keys, artifact_id=theirs, now=NOW)
    with pytest.raises(editing.ArtifactNotFound):
        editing.save_from_link(
            ctx, cross, theirs, csrf=edit_links.csrf_token(cross_link, keys), target="output", text="intrusion", now=NOW
        )
    with transaction(ctx.sessions) as s:
        assert versions.latest_version(s, "T1", mine).number == 1
        assert versions.latest_version(s, "T2", theirs).number == 1
