"""bot/web/sessions.py: the session cookie opens only when sealed by us, within its 8 hours,
under any key of the rotation list; and it cannot stand in for a permalink or a stored secret."""

from __future__ import annotations

import time

from bot.web.sessions import SESSION_TTL_S, WebSession, derive_session_key, open_session, seal_session
from core.permalinks import derive_key
from storage.secrets import new_key

OLD, NEW = new_key(), new_key()


def test_a_session_opens_under_any_key_of_the_rotation_list_and_is_sealed_under_the_newest() -> None:
    now = int(time.time())
    who = WebSession("T1", "U1", now, "anna")
    assert open_session([OLD], seal_session([OLD], who)) == who
    sealed_before_rotation = seal_session([OLD], who)
    assert open_session([NEW, OLD], sealed_before_rotation) == who
    sealed_after = seal_session([NEW, OLD], who)
    assert open_session([NEW], sealed_after) == who and open_session([OLD], sealed_after) is None
    assert open_session([NEW], sealed_before_rotation) is None  # the old key retired


def test_an_old_forged_or_malformed_cookie_opens_nothing() -> None:
    now = int(time.time())
    sealed = seal_session([OLD], WebSession("T1", "U1", now - SESSION_TTL_S - 1))
    assert open_session([OLD], sealed) is None
    assert open_session([OLD], seal_session([OLD], WebSession("T1", "U1", now - SESSION_TTL_S + 60))) is not None
    fresh = seal_session([OLD], WebSession("T1", "U1", now))
    for bad in (None, "", "x", fresh[:-2] + "AA", fresh + "A" * 3000, "é" * 10):
        assert open_session([OLD], bad) is None, bad


def test_the_session_key_is_its_own() -> None:
    """Derived with its own label: not the permalink key, not the key that encrypts secrets."""
    key = derive_session_key(OLD)
    assert key != OLD.encode() and key != derive_key(OLD) and len(key) == 44
