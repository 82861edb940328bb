"""The fake Slack's tiers (tests/fakes/slack_tiers.py): the buckets, the Retry-After they
announce, and the violations a test asserts on."""

from __future__ import annotations

from tests.fakes.slack_tiers import SlackTiers


def test_a_tier_allows_ten_seconds_of_burst_then_says_when_to_come_back() -> None:
    tiers = SlackTiers()
    answers = [tiers.check("chat.startStream", "T1", {}, 100.0) for _ in range(5)]  # Tier 2: 20/min
    assert answers[:3] == [None, None, None] and answers[3] == 3  # 3.3 tokens, one more in 3 s
    assert tiers.check("chat.startStream", "T2", {}, 100.0) is None  # another workspace: its own bucket
    assert tiers.check("chat.startStream", "T1", {}, 103.5) is None  # refilled


def test_chat_post_message_is_limited_per_channel() -> None:
    tiers = SlackTiers()
    burst = [tiers.check("chat.postMessage", "T1", {"channel": "C1"}, 0.0) for _ in range(11)]
    assert burst.count(None) == 10 and burst[-1] == 1
    assert tiers.check("chat.postMessage", "T1", {"channel": "C2"}, 0.0) is None


def test_a_call_inside_an_announced_window_is_a_violation() -> None:
    tiers = SlackTiers()
    for _ in range(4):
        tiers.check("chat.stopStream", "T1", {}, 0.0)
    assert tiers.count_429("chat.stopStream") == 1
    tiers.check("chat.stopStream", "T2", {}, 1.0)  # another workspace: allowed
    assert tiers.violations() == []
    tiers.check("chat.stopStream", "T1", {}, 1.0)  # told to wait until 3
    assert [(lim.method, t) for lim, t in tiers.violations()] == [("chat.stopStream", 1.0)]
