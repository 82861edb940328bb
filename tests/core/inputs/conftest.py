"""Shared by the input tests: a model the catalog does not know (so it reads neither images
nor PDFs) that the fake Anthropic server serves for the length of a test."""

from __future__ import annotations

import pytest

TEXT_ONLY = "anthropic:claude-textonly-1"


@pytest.fixture
def text_only_model(fake_anthropic):
    fake_anthropic.add_model("claude-textonly-1", "Claude Textonly 1")
    yield TEXT_ONLY
    fake_anthropic.models[:] = [m for m in fake_anthropic.models if m.id != "claude-textonly-1"]
