"""The word-level diff rejoins to both texts exactly and marks inserted and deleted words; the
compare model lines steps up by position and gives the totals' differences."""

from __future__ import annotations

import random
from decimal import Decimal

from core.artifacts import diff as diffmod
from core.artifacts.diff import DiffOp, Work, compare, diff_words, side_text


def _both(a: str, b: str, work: Work | None = None) -> list[DiffOp]:
    ops = diff_words(a, b, work)
    assert side_text(ops, "left") == a and side_text(ops, "right") == b
    assert all(op.text for op in ops)
    assert all(x.op != y.op for x, y in zip(ops, ops[1:], strict=False))  # neighbours merged
    return ops


def test_inserted_and_deleted_words_are_marked_and_rejoin_exactly():
    ops = _both("The quick brown fox jumps.", "The quick red fox leaps over.")
    assert [op for op in ops if op.op != "equal"] == [
        DiffOp("delete", "brown"),
        DiffOp("insert", "red"),
        DiffOp("delete", "jumps"),
        DiffOp("insert", "leaps over"),
    ]
    assert _both("same text\n", "same text\n") == [DiffOp("equal", "same text\n")]
    assert _both("", "new") == [DiffOp("insert", "new")]
    assert _both("old", "") == [DiffOp("delete", "old")]
    assert diff_words(None, "x") == [DiffOp("insert", "x")] and diff_words(None, None) == []
    # whitespace, punctuation, unicode and CRLF survive exactly
    _both("  Ünïcode — naïve café!\r\n\ttabs  and   spaces\n", "Ünïcode – naive café?\n\ttabs and spaces  \n\n")
    ops = _both("line one\nline two\nline three\n", "line one\nline 2\nline three\n")
    assert [op for op in ops if op.op != "equal"] == [DiffOp("delete", "two"), DiffOp("insert", "2")]


def test_random_edits_always_rejoin():
    rng = random.Random(7)
    vocab = ["alpha", "beta", "gamma", " ", "  ", "\n", ".", ", ", "é", "the "]
    for _ in range(300):
        a = "".join(rng.choice(vocab) for _ in range(rng.randint(0, 60)))
        b = list(a)
        for _ in range(rng.randint(0, 6)):
            i = rng.randint(0, len(b))
            b[i : i + rng.randint(0, 5)] = rng.choice(vocab)
        _both(a, "".join(b))


def _long(rng: random.Random, size: int, newlines: bool) -> str:
    words = [f"w{i}" for i in range(3000)] + ["the", "a", "of"] * 300
    out, n = [], 0
    while n < size:
        line = " ".join(rng.choice(words) for _ in range(rng.randint(5, 20))) + (".\n" if newlines else ". ")
        out.append(line)
        n += len(line)
    return "".join(out)


def test_two_long_outputs_are_diffed_word_by_word_where_they_differ():
    rng = random.Random(1)
    for newlines in (True, False):  # with line breaks, and one 200 KB line
        a = _long(rng, 200_000, newlines)
        words = a.split(" ")
        for i in rng.sample(range(len(words)), 20):
            words[i] = "CHANGED"
        b = " ".join(words)
        work = Work()
        ops = _both(a, b, work)
        inserted = [op.text for op in ops if op.op == "insert"]
        assert len(inserted) <= 20 and all("CHANGED" in t and len(t) < 40 for t in inserted)
        assert not work.coarse and work.spent < work.limit // 10  # ordinary edits use little of it


def test_texts_with_nothing_in_common_are_one_deletion_and_one_insertion():
    """The bound on cost: a long stretch with no line or sentence in common is not matched
    word by word (that is what would be quadratic)."""
    rng = random.Random(2)
    a, b = _long(rng, 200_000, False), _long(rng, 200_000, False)
    ops = _both(a, b)
    assert len(ops) <= 5
    assert len(diffmod._tokens(a)) > diffmod.EXACT_WORD_LIMIT


# ---- bounded work: the crafted inputs ------------------------------------------------------------

MAX_TEXT = 512 * 1024  # an edit's cap (core/artifacts/editing.EDIT_TEXT_MAX_BYTES); ASCII here


def _distinct_lines(template: str = "line {i} says something distinct {j}\n") -> list[str]:
    out, n = [], 0
    while n < MAX_TEXT:
        out.append(template.format(i=len(out), j=len(out) * 7919))
        n += len(out[-1])
    return out


def _swapped(items: list[str]) -> list[str]:
    return [items[i ^ 1] if (i ^ 1) < len(items) else items[i] for i in range(len(items))]


def _crafted() -> dict[str, tuple[str, str]]:
    lines = _distinct_lines()
    sentences = _distinct_lines("Sentence {i} is here. ")
    same = ["same line\n"] * (MAX_TEXT // 10)
    every7 = [("other line\n" if i % 7 == 0 else x) for i, x in enumerate(same)]
    words = [f"w{i % 50}" for i in range(MAX_TEXT // 5)]
    return {
        "neighbouring lines swapped (the issue's)": ("".join(lines), "".join(_swapped(lines))),
        "lines reversed": ("".join(lines), "".join(reversed(lines))),
        "sentences of one long line swapped": ("".join(sentences), "".join(_swapped(sentences))),
        "every line has one word changed": (
            "".join(lines),
            "".join(x.replace("something", "anything") for x in lines),
        ),
        "one repeated line, one in 7 changed": ("".join(same), "".join(every7)),
        "one line without breaks, a word in 3 changed": (
            " ".join(words),
            " ".join("X" if i % 3 == 0 else w for i, w in enumerate(words)),
        ),
        "alternating tokens, shifted": ("a b " * (MAX_TEXT // 4), "b " + "a b " * (MAX_TEXT // 4)),
    }


def test_crafted_inputs_within_the_caps_stay_within_the_work_budget_and_rejoin():
    """Work is counted, not timed: every match the diff runs is charged to the budget before
    it runs, so no input spends more than WORK_LIMIT probes; and a side's ops still join to
    that text exactly however coarse the diff became."""
    for name, (a, b) in _crafted().items():
        work = Work()
        _both(a, b, work)
        assert work.spent <= diffmod.WORK_LIMIT, name
        assert work.text_spent <= diffmod.TEXT_LIMIT, name


def test_the_issues_crafting_takes_the_coarse_path_which_still_finds_the_lines_in_order():
    """Neighbouring pairs swapped: difflib found one-line matches one pass at a time (seconds
    of CPU). Past the budget the patience rule keeps the lines whose order agrees, so about
    half the lines stay marked equal, the other half moved, each as one line."""
    lines = _distinct_lines()
    work = Work()
    ops = _both("".join(lines), "".join(_swapped(lines)), work)
    assert work.coarse
    equal = sum(op.text.count("\n") for op in ops if op.op == "equal")
    assert equal >= len(lines) // 2 - 1
    assert max(len(op.text) for op in ops if op.op != "equal") < 100  # single lines, not blocks


def test_a_compare_shares_one_budget_and_past_its_text_limit_cuts_only_head_and_tail():
    """Ten steps of 512 KB each plus the output: one budget for all, the output first; texts
    past TEXT_LIMIT keep their common head and tail and show the middle whole."""
    lines = _distinct_lines()
    left_steps = ["".join(lines).replace("line", f"step{k}") for k in range(10)]
    right_steps = ["".join(_swapped(lines)).replace("line", f"step{k}") for k in range(10)]
    left = {"output": "".join(lines), "steps": [{"position": k + 1, "output": t} for k, t in enumerate(left_steps)]}
    right = {
        "output": "".join(lines[:-1]) + "the last line changed\n",
        "steps": [{"position": k + 1, "output": t} for k, t in enumerate(right_steps)],
    }
    cmp = compare(left, right)
    assert cmp.coarse
    assert sum(len(op.text) for op in cmp.output_diff if op.op != "equal") < 100  # the output: word by word
    for step, a, b in zip(cmp.steps, left_steps, right_steps, strict=True):
        assert side_text(step.diff, "left") == a and side_text(step.diff, "right") == b
    quick = cmp.steps[-1].diff  # long past the text limit: head and tail only
    assert [op.op for op in quick][:3] == ["equal", "delete", "insert"] and quick[0].text == "step9 "


def test_an_ordinary_compare_is_not_coarse():
    a = "".join(_distinct_lines()[:2000])
    cmp = compare({"output": a}, {"output": a.replace("line 1000 ", "row 1000 ")})
    assert not cmp.coarse
    assert [op.text for op in cmp.output_diff if op.op != "equal"] == ["line", "row"]


def _content(output, cost, tokens, duration, steps):
    return {
        "output": output,
        "cost_usd": cost,
        "duration_ms": duration,
        "usage": {"input_tokens": tokens[0], "output_tokens": tokens[1]},
        "steps": [
            {
                "position": p,
                "output": o,
                "model": m,
                "model_display": m.title(),
                "agent": {"name": "Writer"},
                "status": "succeeded",
                "usage": {"input_tokens": ti, "output_tokens": to},
                "cost_usd": c,
                "latency_ms": ms,
                **({"reused": True} if r else {}),
            }
            for p, o, m, ti, to, c, ms, r in steps
        ],
    }


def test_compare_lines_steps_up_by_position_with_the_totals_differences():
    parent = _content(
        "final answer",
        "0.0300",
        (100, 50),
        4000,
        [
            (1, "research notes", "haiku", 60, 30, "0.0100", 1500, False),
            (2, "final answer", "sonnet", 40, 20, "0.0200", 2500, False),
        ],
    )
    branch = _content(
        "a better final answer",
        "0.0150",
        (90, 70),
        3000,
        [
            (1, "research notes", "haiku", 60, 30, None, 0, True),
            (2, "a better final answer", "gpt", 30, 40, "0.0150", 3000, False),
            (3, "extra step", "gpt", 0, 10, "0.0001", 100, False),
        ],
    )
    cmp = compare(parent, branch)
    assert cmp.output_changed
    assert side_text(cmp.output_diff, "left") == "final answer"
    assert side_text(cmp.output_diff, "right") == "a better final answer"
    assert [s.position for s in cmp.steps] == [1, 2, 3]
    one, two, three = cmp.steps
    assert not one.changed and one.right.reused and not one.left.reused and one.right.cost_usd is None
    assert two.changed and (two.left.model, two.right.model, two.right.model_display) == ("sonnet", "gpt", "Gpt")
    assert (two.left.tokens_in, two.right.tokens_out, two.left.latency_ms) == (40, 40, 2500)
    assert two.left.cost_usd == Decimal("0.0200") and two.left.agent == "Writer"
    assert three.left is None and three.right.position == 3 and three.diff == [DiffOp("insert", "extra step")]
    assert cmp.cost_usd.difference == Decimal("-0.0150")
    assert (cmp.tokens_in.difference, cmp.tokens_out.difference, cmp.duration_ms.difference) == (-10, 20, -1000)
    # an unknown figure on either side makes its difference unknown, never a wrong number
    unknown = compare({**parent, "cost_usd": None}, branch)
    assert unknown.cost_usd.left is None and unknown.cost_usd.difference is None
    same = compare(parent, parent)
    assert not same.output_changed and not any(s.changed for s in same.steps)
    assert same.cost_usd.difference == 0
