"""Compare says where two runs' tool calls differ (DESIGN §12): by kind, name and arguments,
in the core model, the Slack summary and the compare page alike."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from bot.slack.blocks.compare import compare_summary
from core.artifacts.diff import compare
from core.artifacts.tool_call_diff import tool_calls_diff
from core.links import compare_url
from tests.support.tool_call_data import SCRIPT, mcp_call, web_search
from tests.support.viewer_data import content, local, make_artifact, site


def _with_calls(outputs: list[str], calls: dict[int, list[dict]]) -> dict:
    body = content(outputs)
    for position, step_calls in calls.items():
        body["steps"][position - 1]["tool_calls"] = step_calls
    return body


def test_same_calls_by_kind_name_and_arguments_whatever_they_returned() -> None:
    left = {"tool_calls": [web_search("a"), mcp_call(arguments={"id": 1, "x": [2]}), mcp_call("other")]}
    right = {
        "tool_calls": [
            {**web_search("a"), "result_excerpt": "another page", "fee_usd": "0.02"},
            mcp_call(arguments='{"x": [2], "id": 1}', result="slower", error=None),  # same JSON, as text
            mcp_call("other"),
        ]
    }
    d = tool_calls_diff(2, left, right)
    assert d is not None and d.same and d.in_order
    assert d.text == "Same tool calls (3)" and d.step_text == "Step 2: same tool calls (3)"
    swapped = tool_calls_diff(1, left, {"tool_calls": list(reversed(right["tool_calls"]))})
    assert swapped is not None and swapped.same and swapped.text == "Same tool calls (3), in another order"
    assert tool_calls_diff(1, {"tool_calls": []}, {}) is None and tool_calls_diff(1, None, None) is None


def test_different_calls_are_counted_and_named_per_side() -> None:
    left = {"tool_calls": [web_search("pizza"), web_search("pasta"), mcp_call()]}
    right = {"tool_calls": [web_search("pizza")]}
    d = tool_calls_diff(2, left, right)
    assert d is not None and not d.same
    assert d.step_text == "Step 2: 3 tool calls vs 1"
    assert d.only_left == ["Web search: pasta", "Tickets · lookup_ticket"] and d.only_right == []
    other_args = tool_calls_diff(1, {"tool_calls": [web_search("a")]}, {"tool_calls": [web_search("b")]})
    assert other_args is not None and other_args.text == "1 tool call on each side, 1 different"
    assert other_args.only_left == ["Web search: a"] and other_args.only_right == ["Web search: b"]
    one_side = tool_calls_diff(3, None, {"tool_calls": [mcp_call()]})
    assert one_side is not None and one_side.text == "0 tool calls vs 1"
    # a branch's step taken over from its source made no call: nothing to set against the source's
    assert tool_calls_diff(1, left, {"reused": True, "output": "x"}) is None


def test_the_slack_summary_says_where_tool_calls_differ() -> None:
    left = _with_calls(["one", "two"], {1: [web_search("a")], 2: [web_search("x"), web_search("y"), mcp_call()]})
    right = _with_calls(["one", "two"], {1: [web_search("a")], 2: [web_search("x")]})
    c = compare(left, right)
    assert [st.tool_calls.text if st.tool_calls else None for st in c.steps] == [
        "Same tool calls (1)",
        "3 tool calls vs 1",
    ]
    _, blocks = compare_summary("P", "run A", "run B", c, "http://pipebot.test/x")
    dumped = json.dumps([b.to_dict() for b in blocks], ensure_ascii=False)
    assert "Same tool calls (1)" in dumped and "3 tool calls vs 1" in dumped
    plain = compare(content(["one"]), content(["one"]))  # runs without tools read as before
    _, blocks = compare_summary("P", "run A", "run B", plain, "http://pipebot.test/x")
    assert "tool call" not in json.dumps([b.to_dict() for b in blocks])


@pytest.fixture
def web(ctx):
    with site(ctx) as url:
        yield url


def test_the_compare_page_names_the_calls_only_one_side_made_escaped(ctx, web):
    hostile = web_search(SCRIPT)
    a, _ = make_artifact(ctx, "T1", _with_calls(["one", "two"], {2: [hostile, mcp_call()]}))
    b, _ = make_artifact(ctx, "T1", _with_calls(["one", "two"], {2: [mcp_call()]}))
    page = httpx.get(local(compare_url(ctx, "T1", a, b), web)).text
    assert "2 tool calls vs 1" in page and "Only on the left" in page
    assert "Web search: &lt;script&gt;window.__pwned=1&lt;/script&gt;" in page and "<script>" not in page
    assert "The two sides have the same outputs." not in page  # the outputs match, the calls do not
    same = httpx.get(local(compare_url(ctx, "T1", b, b), web)).text
    assert re.search(r"Tool calls: Same tool calls \(1\)", same) and "Only on the" not in same
