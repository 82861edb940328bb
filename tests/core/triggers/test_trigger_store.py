"""Making and changing triggers (core/triggers/store.py): each kind's fields checked and named,
a webhook's secret returned once and kept only as a hash, guests refused, only the creator or
an admin changes one."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.errors import ValidationFailed
from core.triggers import store
from core.triggers.store import TriggerDraft, TriggerRefused
from storage.db import transaction
from storage.models import Trigger
from tests.support.runs import HAIKU, make_agent, make_pipeline


def _pid(ctx) -> int:
    return make_pipeline(ctx, "T1", "Summary", [make_agent(ctx, "T1", "Summer", HAIKU)])


def test_each_kind_saves_what_it_needs(ctx):
    pid = _pid(ctx)
    reaction, none = store.create(ctx, "T1", "U1", TriggerDraft("reaction", pid, ("C1",), emoji=":memo:"))
    assert none is None and reaction.emoji == "memo" and reaction.listens_in("C1") and not reaction.listens_in("C2")
    message, _ = store.create(ctx, "T1", "U1", TriggerDraft("message", pid, (), matching="Outage", runs_per_hour="5"))
    assert message.runs_per_hour == 5 and message.listens_in("C9")
    assert message.matches("big OUTAGE now") and not message.matches("all good")
    hook, secret = store.create(ctx, "T1", "U1", TriggerDraft("webhook", pid, ("C1",), name="CI"))
    assert hook.name == "CI" and secret and len(secret) >= 40
    with transaction(ctx.sessions) as s:
        stored = s.scalars(select(Trigger.secret_hash).where(Trigger.kind == "webhook")).one()
    assert stored != secret and store.secret_matches(stored, secret) and not store.secret_matches(stored, secret + "x")
    assert [t.kind for t in store.list_triggers(ctx, "T1")] == ["reaction", "message", "webhook"]


@pytest.mark.parametrize(
    ("draft", "field"),
    [
        (TriggerDraft("reaction", 0, ()), "emoji"),
        (TriggerDraft("reaction", 0, (), emoji="two words"), "emoji"),
        (TriggerDraft("message", 0, (), runs_per_hour="lots"), "runs_per_hour"),
        (TriggerDraft("message", 0, (), runs_per_hour="0"), "runs_per_hour"),
        (TriggerDraft("webhook", 0, ()), "channels"),
        (TriggerDraft("webhook", 0, ("C1", "C2")), "channels"),
        (TriggerDraft("sometimes", 0, ()), "kind"),
    ],
)
def test_bad_fields_are_named_and_nothing_is_saved(ctx, draft, field):
    pid = _pid(ctx)
    draft = TriggerDraft(draft.kind, pid, draft.channels, draft.emoji, draft.matching, draft.runs_per_hour)
    with pytest.raises(ValidationFailed) as err:
        store.create(ctx, "T1", "U1", draft)
    assert field in err.value.errors
    assert store.list_triggers(ctx, "T1") == []


def test_guests_create_none_and_only_the_creator_or_an_admin_changes_one(ctx):
    pid = _pid(ctx)
    with pytest.raises(TriggerRefused):
        store.create(ctx, "T1", "UGUEST", TriggerDraft("message", pid), is_guest=True)
    view, _ = store.create(ctx, "T1", "U1", TriggerDraft("message", pid))
    with pytest.raises(TriggerRefused):
        store.pause(ctx, "T1", view.id, "U2")
    assert store.pause(ctx, "T1", view.id, "U2", is_admin=True).paused
    assert store.active(ctx, "T1", "message") == []
    assert not store.resume(ctx, "T1", view.id, "U1").paused
    assert [t.id for t in store.active(ctx, "T1", "message")] == [view.id]
    with pytest.raises(TriggerRefused):
        store.delete(ctx, "T1", "nonsense", "U1")
    store.delete(ctx, "T1", view.id, "U1")
    assert store.list_triggers(ctx, "T1") == []
