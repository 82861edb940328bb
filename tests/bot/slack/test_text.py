"""bot.slack.text: escaping and cutting text so Slack shows it and never rejects it."""

from __future__ import annotations

import random
import re

import pytest

from bot.slack.text import (
    PRACTICAL_MESSAGE_LIMIT,
    SECTION_TEXT_LIMIT,
    STREAM_CHUNK_LIMIT,
    clip,
    decode_slack_text,
    escape_mrkdwn,
    fit_message,
    fit_section,
    split_for_stream,
    truncate_at_boundary,
)

LINK = "https://pipebot.test/artifacts/abc?sig=1&x=2"
ENTITY_RE = re.compile(r"&(amp|lt|gt);")


def assert_no_broken_entity(text: str) -> None:
    """No '&' that does not start a complete entity, no '<' without its '>'."""
    for m in re.finditer("&", text):
        assert ENTITY_RE.match(text, m.start()), f"broken entity at {m.start()}: {text[m.start() : m.start() + 8]!r}"
    assert text.count("<") == text.count(">"), text[-60:]


# ----------------------------------------------------------------------------- escaping


def test_escape_mrkdwn_escapes_the_three_control_characters() -> None:
    assert escape_mrkdwn("a < b && c > d") == "a &lt; b &amp;&amp; c &gt; d"
    assert escape_mrkdwn("<!channel> <@U123> <https://evil|click>") == (
        "&lt;!channel&gt; &lt;@U123&gt; &lt;https://evil|click&gt;"
    )
    assert escape_mrkdwn("&amp;") == "&amp;amp;"  # already-escaped text is text too
    assert escape_mrkdwn("*bold* _it_ `code` ~s~") == "*bold* _it_ `code` ~s~"  # formatting survives
    assert escape_mrkdwn("") == ""


# ----------------------------------------------------------------------------- truncation


def test_text_that_fits_is_unchanged() -> None:
    assert truncate_at_boundary("short", 5, "…") == "short"
    assert truncate_at_boundary("", 0) == ""


def test_prefers_paragraph_then_line_then_sentence_then_word() -> None:
    para = "First paragraph is here.\n\nSecond one goes on and on and on."
    assert truncate_at_boundary(para, 40) == "First paragraph is here."
    lines = "line one is here\nline two is here and long"
    assert truncate_at_boundary(lines, 30) == "line one is here"
    sentences = "One sentence here. Another one follows here and it is long"
    assert truncate_at_boundary(sentences, 30) == "One sentence here."
    words = "alpha beta gamma delta epsilon"
    assert truncate_at_boundary(words, 14) == "alpha beta"


def test_an_early_paragraph_break_does_not_waste_the_room() -> None:
    text = "Hi.\n\n" + "word " * 40
    out = truncate_at_boundary(text, 100)
    assert len(out) > 50 and out.endswith("word")


def test_suffix_counts_toward_the_limit() -> None:
    text = "word " * 100
    for limit in range(1, 60):
        out = truncate_at_boundary(text, limit, "…")
        assert len(out) <= limit and out.endswith("…")
    with pytest.raises(ValueError):
        truncate_at_boundary("long text", 2, "...")
    with pytest.raises(ValueError):
        truncate_at_boundary("x", -1)


def test_hard_cut_when_there_is_no_boundary() -> None:
    assert truncate_at_boundary("x" * 50, 10) == "x" * 10
    assert truncate_at_boundary("x" * 50, 10, "…") == "x" * 9 + "…"


@pytest.mark.parametrize(
    "text, limit, expected",
    [
        ("ab&amp;cd", 4, "ab"),  # never "ab&a"
        ("ab&lt;cd", 5, "ab"),
        ("ab&gt;", 6, "ab&gt;"),  # fits whole
        ("abcdefgh&amp;", 12, "abcdefgh"),
        ("x <@U123ABC> y", 8, "x"),  # not "x <@U12"
        ("see <https://example.com/a|the docs> now", 20, "see"),
        ("ab👍🏽cd", 3, "ab"),  # skin tone stays on its thumb
        ("abe\u0301f", 3, "ab"),  # combining accent stays on its e
        ("ab👩\u200d💻cd", 4, "ab"),  # ZWJ sequence kept whole
        ("ab🇬🇧🇫🇷", 5, "ab🇬🇧"),  # flags are pairs of regional indicators
        ("ab🇬🇧🇫🇷", 4, "ab🇬🇧"),
        ("ab🇬🇧🇫🇷", 3, "ab"),
        ("ab\ud83d\ude00cd", 3, "ab"),  # a raw surrogate pair (surrogatepass text)
    ],
)
def test_never_splits_an_entity_or_a_glyph(text: str, limit: int, expected: str) -> None:
    assert truncate_at_boundary(text, limit) == expected


def test_random_escaped_text_never_breaks_entities() -> None:
    rng = random.Random(7)
    pieces = ["a", "word", " ", "\n", "&", "<", ">", ". ", "👍🏽", "é", "<@U1>", "\n\n"]
    for _ in range(300):
        raw = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 80)))
        escaped = escape_mrkdwn(raw).replace("&lt;@U1&gt;", "<@U1>")
        limit = rng.randint(1, 120)
        out = truncate_at_boundary(escaped, limit, "…")
        assert len(out) <= limit
        assert_no_broken_entity(out)


def test_clip_for_labels() -> None:
    assert clip("Claude Haiku 4.5 (2025-10-01) with a very long description indeed", 24) == "Claude Haiku 4.5…"
    assert clip("short", 24) == "short"
    assert len(clip("x" * 200, 75)) == 75


# ----------------------------------------------------------------------------- fit_message


def test_fit_message_leaves_short_text_alone() -> None:
    assert fit_message("all good", LINK) == "all good"
    assert fit_message("x" * PRACTICAL_MESSAGE_LIMIT, LINK) == "x" * PRACTICAL_MESSAGE_LIMIT


def test_fit_message_cuts_and_links_the_artifact() -> None:
    text = "\n\n".join(f"Paragraph {i}. " + "lorem ipsum " * 30 for i in range(40))
    out = fit_message(text, LINK)
    assert len(out) <= PRACTICAL_MESSAGE_LIMIT < 4000
    body, _, tail = out.partition("…\n\nfull output: ")
    assert tail == "<https://pipebot.test/artifacts/abc?sig=1&amp;x=2|open the artifact>"
    assert text.startswith(body) and body.endswith("lorem ipsum")  # a clean cut
    assert_no_broken_entity(out)


def test_fit_message_label_limit_and_no_link() -> None:
    out = fit_message("word " * 2000, "https://x.test/a|b>c", limit=500, label="<all> of it")
    assert len(out) <= 500
    assert out.endswith("<https://x.test/a%7Cb&gt;c|&lt;all&gt; of it>")
    assert fit_message("word " * 2000, None, limit=100).endswith("word…")
    with pytest.raises(ValueError):
        fit_message("word " * 100, LINK, limit=30)


def test_fit_message_closes_an_open_code_block() -> None:
    text = "Result:\n```\n" + "print('hello')\n" * 500 + "```\nafter"
    out = fit_message(text, LINK)
    assert len(out) <= PRACTICAL_MESSAGE_LIMIT
    assert out.count("```") % 2 == 0
    assert "\n```\n…\n\nfull output:" in out


def test_fit_section() -> None:
    out = fit_section("sentence here. " * 500, LINK)
    assert len(out) <= SECTION_TEXT_LIMIT and "full output" in out
    assert fit_section("fine") == "fine"


# ----------------------------------------------------------------------------- streaming


def test_split_for_stream_is_lossless_and_bounded() -> None:
    rng = random.Random(3)
    words = ["alpha", "beta", "&amp;", "<@U1>", "👍🏽", "\n", "\n\n", ". ", " ", "```"]
    text = "".join(rng.choice(words) for _ in range(20000))
    pieces = split_for_stream(text)
    assert "".join(pieces) == text
    assert all(0 < len(p) <= STREAM_CHUNK_LIMIT for p in pieces)
    for p in pieces[:-1]:
        assert_no_broken_entity(p)
        assert p[-1].isspace()  # cut after a separator, so no piece starts with one


def test_split_for_stream_small_chunks_and_edges() -> None:
    assert split_for_stream("") == []
    assert split_for_stream("short") == ["short"]
    assert split_for_stream("para one.\n\npara two", chunk=12) == ["para one.\n\n", "para two"]
    assert split_for_stream("x" * 25, chunk=10) == ["x" * 10, "x" * 10, "x" * 5]
    assert split_for_stream("ab👍🏽cd", chunk=3) == ["ab", "👍🏽c", "d"]
    with pytest.raises(ValueError):
        split_for_stream("x", chunk=0)


def test_split_for_stream_default_chunk_is_slacks_limit() -> None:
    text = "line of text\n" * 2000
    pieces = split_for_stream(text)
    assert len(pieces) == 3 and all(len(p) <= 12000 for p in pieces)
    assert all(p.endswith("\n") for p in pieces)


# ----------------------------------------------------------------------------- decoding


@pytest.mark.parametrize(
    "sent, typed",
    [
        ("R&amp;D", "R&D"),
        ("a &lt;b&gt; c", "a <b> c"),
        ("&amp;lt;", "&lt;"),  # the user typed the entity itself
        ("<@U1|casey>", "@casey"),
        ("<@U1>", "<@U1>"),
        ("<#C1|general>", "#general"),
        ("<!here>", "@here"),
        ("<!subteam^S1|@devs>", "@devs"),
        ("<https://a.b/c?x=1&amp;y=2>", "https://a.b/c?x=1&y=2"),
        ("<https://a.b|a.b>", "https://a.b"),
        ("<https://a.b/doc|the doc>", "the doc (https://a.b/doc)"),
        ("<mailto:x@y.z|x@y.z>", "x@y.z"),
        ("no entities 🤖", "no entities 🤖"),
    ],
)
def test_decode_slack_text(sent: str, typed: str) -> None:
    assert decode_slack_text(sent) == typed
