"""A tool that fails tells the model and the log; the log never holds the tool's arguments."""

from __future__ import annotations

import logging
from typing import Any

from core.tools import ToolContext, run_tool


def _broken_store(artifact_id: str) -> dict[str, Any] | None:
    raise RuntimeError(f"store unreachable while reading {artifact_id}")


def test_a_tool_exception_reaches_the_model_and_the_log_without_arguments(caplog):
    ctx = ToolContext("T1", _broken_store, run_id="run-42")
    with caplog.at_level(logging.WARNING, logger="core.tools"):
        content, is_error = run_tool(ctx, "read_artifact", {"artifact_id": "secret-token-xyz"})
    assert is_error and content.startswith("RuntimeError")
    [record] = [r for r in caplog.records if r.name == "core.tools"]
    text = record.getMessage()
    assert "read_artifact" in text and "run-42" in text and "RuntimeError" in text
    assert "secret-token-xyz" not in caplog.text


def test_an_unknown_tool_is_logged_with_its_run(caplog):
    with caplog.at_level(logging.WARNING, logger="core.tools"):
        content, is_error = run_tool(ToolContext("T1", lambda _id: None, run_id="run-7"), "nope", {"x": "k"})
    assert is_error and "unknown tool" in content
    assert "run-7" in caplog.text and "nope" in caplog.text
