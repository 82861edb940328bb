"""The artifact page shows each step's tool calls (DESIGN §12): what was called, with what,
what came back, how long it took, what it cost, and errors; all of it other people's text,
printed escaped."""

from __future__ import annotations

import html as html_mod

from bot.web.markdown import render_artifact_markdown
from bot.web.pages import render_artifact_html
from tests.support.artifact_data import URLS, make_artifact
from tests.support.tool_call_data import SCRIPT, mcp_call, web_search


def _page(calls: list[dict]) -> str:
    art = make_artifact()
    art["steps"][0]["tool_calls"] = calls
    return render_artifact_html(art, **URLS)


def _step_body(page: str, position: int) -> str:
    """The HTML of one step's <details> (from its number to the next step's)."""
    start = page.index(f'<span class="step-n">{position}</span>')
    nxt = page.find(f'<span class="step-n">{position + 1}</span>', start)
    return page[start : nxt if nxt >= 0 else len(page)]


def test_each_call_shows_label_summary_arguments_result_duration_error_and_fee() -> None:
    page = _page(
        [
            web_search("pizza near me", fee="0.01"),
            mcp_call(arguments={"id": "TICKET-7", "fields": ["status"]}, approval={"verdict": "allow", "by": "U9"}),
            mcp_call("close_ticket", result="", error="Tickets did not answer within 30 s"),
        ]
    )
    first = _step_body(page, 1)
    assert "Tool calls (3)" in first
    assert "Web search: pizza near me" in first and "fee $0.0100" in first
    assert "Tickets · lookup_ticket" in first
    assert "1.2 s" in first  # the MCP call's duration
    assert html_mod.escape('"id": "TICKET-7"') in first and '<details class="tool-arguments">' in first
    assert "TICKET-7: open" in first and "allowed by U9" in first
    assert "Tickets · close_ticket" in first and "Tickets did not answer within 30 s" in first
    assert "No result." in first
    assert "Tool calls" not in _step_body(page, 2)  # a step without calls shows none


def test_hostile_arguments_and_results_are_shown_as_text() -> None:
    page = _page(
        [
            mcp_call(arguments={"q": SCRIPT}, result=SCRIPT + '<img src=x onerror="window.__pwned=1">', error=SCRIPT),
            {**web_search(SCRIPT), "label": "Web search" + SCRIPT},
            {"kind": "mcp", "label": SCRIPT, "arguments": SCRIPT, "result_excerpt": 5, "duration_ms": "x"},
        ]
    )
    body = page.split("<body", 1)[1]
    assert "<script" not in body and "<img src=x" not in body
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in body
    assert "onerror=&#34;" in body or "onerror=&quot;" in body


def test_arguments_are_pretty_json_and_odd_records_do_not_break_the_page() -> None:
    page = _page([mcp_call(arguments='{"b": 2, "a": [1]}'), mcp_call(arguments="not json {"), {"label": None}, {}])
    first = _step_body(page, 1)
    assert html_mod.escape('{\n  "a": [\n    1\n  ],\n  "b": 2\n}') in first
    assert "not json {" in first
    assert "Tool calls (4)" in first and first.count('class="tool-call"') == 4


def test_the_markdown_export_lists_the_calls_fenced() -> None:
    art = make_artifact()
    art["steps"][0]["tool_calls"] = [
        mcp_call(arguments={"q": "```\n# injected heading"}, result="# not a heading", error="boom"),
        web_search("pizza"),
    ]
    md = render_artifact_markdown(art)
    step1 = md.split("### Step 1", 1)[1].split("### Step 2", 1)[0]
    assert "#### Tool calls (2)" in step1
    assert "1. **Tickets · lookup\\_ticket** (Tickets · lookup\\_ticket) · MCP · 1.2 s" in step1
    assert "2. **Web search: pizza** (Web search) · web · fee $0.0100" in step1
    assert "\n# injected heading" not in step1  # JSON keeps the newline escaped, inside its fence
    assert "```text\n# not a heading\n```" in step1  # the result fenced: no heading of the document
    assert "### Step 2" in md and "Tool calls" not in md.split("### Step 2", 1)[1]
