"""Signed permalinks: a link opens exactly one artifact, for exactly one workspace."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, urlsplit

import pytest

from core.permalinks import SIG_LENGTH, derive_key, permalink, sign, verify

SECRET = derive_key("test-master-secret-0123456789abcdef")
AID = str(uuid.uuid4())
TEAM = "T0001"


def test_sign_is_deterministic_url_safe_and_long_enough() -> None:
    sig = sign(AID, TEAM, SECRET)
    assert sig == sign(AID, TEAM, SECRET)
    assert len(sig) == SIG_LENGTH >= 22
    assert set(sig) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert verify(AID, TEAM, sig, SECRET)


def test_str_and_bytes_secrets_agree() -> None:
    assert sign(AID, TEAM, "abc") == sign(AID, TEAM, b"abc")


@pytest.mark.parametrize(
    "aid, team, tweak_sig",
    [
        (str(uuid.uuid4()), TEAM, False),  # another artifact
        (AID, "T0002", False),  # another workspace
        (AID, TEAM, True),  # tampered signature
    ],
    # ids that do not depend on the random uuids: pytest-xdist workers must collect the same names
    ids=["another-artifact", "another-workspace", "tampered-signature"],
)
def test_tampering_fails(aid: str, team: str, tweak_sig: bool) -> None:
    sig = sign(AID, TEAM, SECRET)
    if tweak_sig:
        sig = ("A" if sig[0] != "A" else "B") + sig[1:]
    assert not verify(aid, team, sig, SECRET)


def test_wrong_secret_fails() -> None:
    assert not verify(AID, TEAM, sign(AID, TEAM, SECRET), derive_key("other"))


@pytest.mark.parametrize("bad", [None, "", "x", "A" * SIG_LENGTH, "é" * SIG_LENGTH, 123, b"bytes"])
def test_malformed_signatures_are_false_not_errors(bad: object) -> None:
    assert verify(AID, TEAM, bad, SECRET) is False  # type: ignore[arg-type]


def test_truncated_or_extended_signature_fails() -> None:
    sig = sign(AID, TEAM, SECRET)
    assert not verify(AID, TEAM, sig[:-1], SECRET)
    assert not verify(AID, TEAM, sig + "A", SECRET)


def test_field_boundaries_are_unambiguous() -> None:
    # ("ab", "c") must not collide with ("a", "bc").
    assert sign("ab", "c", SECRET) != sign("a", "bc", SECRET)


def test_uuid_case_and_form_do_not_matter() -> None:
    u = uuid.UUID(AID)
    sig = sign(AID, TEAM, SECRET)
    assert verify(AID.upper(), TEAM, sig, SECRET)
    assert verify("{" + AID + "}", TEAM, sig, SECRET)
    assert sign(u.hex, TEAM, SECRET) == sig


def test_rotation_any_listed_secret_verifies() -> None:
    old, new = derive_key("old-master"), derive_key("new-master")
    old_sig = sign(AID, TEAM, old)
    new_sig = sign(AID, TEAM, new)
    assert verify(AID, TEAM, old_sig, [new, old])
    assert verify(AID, TEAM, new_sig, [new, old])
    assert verify(AID, TEAM, new_sig, (new,))
    assert not verify(AID, TEAM, old_sig, [new])
    assert not verify(AID, TEAM, new_sig, [])


def test_derive_key_separates_uses() -> None:
    master = "pipebot-master"
    assert derive_key(master) != master.encode()
    assert derive_key(master) == derive_key(master.encode())
    assert sign(AID, TEAM, derive_key(master)) != sign(AID, TEAM, master)


def test_empty_secret_is_refused() -> None:
    with pytest.raises(ValueError):
        sign(AID, TEAM, "")
    with pytest.raises(ValueError):
        derive_key(b"")


@pytest.mark.parametrize(
    "base", ["https://pipebot.example.com", "https://pipebot.example.com/", "https://pipebot.example.com//"]
)
def test_permalink_shape(base: str) -> None:
    url = permalink(base, AID, TEAM, SECRET)
    assert url == f"https://pipebot.example.com/artifacts/{AID}?s={sign(AID, TEAM, SECRET)}"
    parts = urlsplit(url)
    sig = parse_qs(parts.query)["s"][0]
    assert verify(parts.path.rsplit("/", 1)[1], TEAM, sig, SECRET)


def test_permalink_with_path_prefix_and_suffixes() -> None:
    base = "https://example.com/pipebot/"
    sig = sign(AID, TEAM, SECRET)
    assert permalink(base, AID, TEAM, SECRET) == f"https://example.com/pipebot/artifacts/{AID}?s={sig}"
    assert permalink(base, AID, TEAM, SECRET, suffix=".json").endswith(f"/artifacts/{AID}.json?s={sig}")
    assert permalink(base, AID, TEAM, SECRET, suffix=".md").endswith(f"/artifacts/{AID}.md?s={sig}")
    with pytest.raises(ValueError):
        permalink(base, AID, TEAM, SECRET, suffix=".html")


def test_permalink_signs_with_first_of_rotation_list() -> None:
    new, old = derive_key("new"), derive_key("old")
    url = permalink("https://x", AID, TEAM, [new, old])
    assert url.endswith("?s=" + sign(AID, TEAM, new))
    assert permalink("https://x", AID.upper(), TEAM, new) == url  # canonical id in the link
