"""The edit text cap (core/artifacts/editing.py), on the path both the Slack modal and the web
editor save through."""

from __future__ import annotations

import pytest

from core.artifacts import editing
from core.artifacts.versions import EditRefused
from storage.db import transaction
from storage.repos import artifact_versions as versions
from tests.support.viewer_data import content, make_artifact


def test_the_cap_counts_utf8_bytes_and_names_the_limit(ctx):
    aid, _ = make_artifact(ctx, "T1", content(["the output"]))
    four_byte = "\U0001f600" * (editing.EDIT_TEXT_MAX_BYTES // 4) + "x"  # under the cap in characters
    with pytest.raises(editing.EditTooLong) as refused:
        editing.save_edit(ctx, "T1", str(aid), base_version=1, target="output", text=four_byte, author="U1")
    assert isinstance(refused.value, EditRefused)  # the Slack modal shows it inline like any refusal
    assert "524,289 bytes" in str(refused.value) and "512 KB (524,288 bytes of UTF-8)" in str(refused.value)
    at_cap = "y" * editing.EDIT_TEXT_MAX_BYTES
    assert editing.edit_too_long(at_cap) is None
    number = editing.save_edit(ctx, "T1", str(aid), base_version=1, target="output", text=at_cap, author="U1")
    with transaction(ctx.sessions) as s:
        assert versions.get_version(s, "T1", str(aid), number).content["output"] == at_cap
