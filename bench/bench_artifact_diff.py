"""Word-level diff of two 200 KB outputs (core/artifacts/diff.py), by kind of change,
beside a baseline measured in the same run on the same inputs: Python's own
``difflib.SequenceMatcher`` over the same word tokens, with none of our cuts (common head
and tail, segments first). That is the obvious word diff, and the one ours replaces.

Prints p50/p99 per case (ours 30 calls, the baseline 5: it takes up to a second a call);
the compare page's budget for the whole page is 300 ms at p99.

Then the crafted inputs of issue 16 (the worst found, at the edit cap of 512 KB): CPU time of
``compare`` (target < 1 s), beside the same code with no work budget, which is the previous
algorithm (difflib's matcher by segments, then by words) on the same input. ``--quick`` skips
the unbounded runs (they take up to a minute each).
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from difflib import SequenceMatcher
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import summary, timed  # noqa: E402
from core.artifacts.diff import _TOKEN, Work, compare, diff_words  # noqa: E402

SIZE = 200_000
RUNS, BASELINE_RUNS = 30, 5


def _difflib_words(a: str, b: str) -> object:
    """The baseline: difflib's matcher over the same tokens as ours, nothing cut first."""
    return SequenceMatcher(None, _TOKEN.findall(a), _TOKEN.findall(b)).get_opcodes()


def _text(rng: random.Random, newlines: bool) -> str:
    words = [f"w{i}" for i in range(3000)] + ["the", "a", "of"] * 500
    out, n = [], 0
    while n < SIZE:
        line = " ".join(rng.choice(words) for _ in range(rng.randint(5, 20))) + (".\n" if newlines else ". ")
        out.append(line)
        n += len(line)
    return "".join(out)


def _mutate(rng: random.Random, text: str, k: int) -> str:
    words = text.split(" ")
    for i in rng.sample(range(len(words)), k):
        words[i] = "CHANGED"
    return " ".join(words)


def main() -> None:
    rng = random.Random(1)
    cases = {}
    for newlines, label in ((True, "lines"), (False, "one line")):
        a = _text(rng, newlines)
        cases[f"{label}, 20 words changed"] = (a, _mutate(rng, a, 20))
        cases[f"{label}, 1 word in 13 changed"] = (a, _mutate(rng, a, 3000))
        cases[f"{label}, nothing in common"] = (a, _text(rng, newlines))
        cases[f"{label}, identical"] = (a, a)
    for name, (a, b) in cases.items():
        ours = timed(lambda a=a, b=b: diff_words(a, b), RUNS)
        base = timed(lambda a=a, b=b: _difflib_words(a, b), BASELINE_RUNS)
        print(f"diff_words  {name:32s} {summary(ours)}")
        print(f"  difflib   {name:32s} {summary(base)}   ours/difflib p50 {_ratio(ours, base)}")
    a, b = cases["lines, 20 words changed"]
    left = {"output": a, "steps": [{"position": 1, "output": a, "model": "m"}]}
    right = {"output": b, "steps": [{"position": 1, "output": b, "model": "m"}]}
    print(f"compare     {'one step + output, 20 changed':32s} {summary(timed(lambda: compare(left, right), RUNS))}")
    bounded_cases("--quick" in sys.argv)


CAP = 512 * 1024  # an edit's text (core/artifacts/editing.EDIT_TEXT_MAX_BYTES)


def _distinct_lines(template: str = "line {i} says something distinct {j}\n") -> list[str]:
    out: list[str] = []
    n = 0
    while n < CAP:
        out.append(template.format(i=len(out), j=len(out) * 7919))
        n += len(out[-1])
    return out


def _swapped(items: list[str]) -> list[str]:
    return [items[i ^ 1] if (i ^ 1) < len(items) else items[i] for i in range(len(items))]


def crafted() -> dict[str, tuple[str, str]]:
    """The worst inputs found, each side at most 512 KB."""
    lines = _distinct_lines()
    sentences = _distinct_lines("Sentence {i} is here. ")
    same = ["same line\n"] * (CAP // 10)
    words = [f"w{i % 50}" for i in range(CAP // 5)]
    return {
        "neighbouring lines swapped (issue)": ("".join(lines), "".join(_swapped(lines))),
        "sentences of one line swapped": ("".join(sentences), "".join(_swapped(sentences))),
        "every line one word changed": ("".join(lines), "".join(x.replace("something", "anything") for x in lines)),
        "repeated line, 1 in 7 changed": (
            "".join(same),
            "".join("other line\n" if i % 7 == 0 else x for i, x in enumerate(same)),
        ),
        "one line, a word in 3 changed": (
            " ".join(words),
            " ".join("X" if i % 3 == 0 else w for i, w in enumerate(words)),
        ),
        "lines reversed": ("".join(lines), "".join(reversed(lines))),
        "alternating tokens, shifted": ("a b " * (CAP // 4), "b " + "a b " * (CAP // 4)),
    }


def _cpu(fn: object, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.process_time()
        fn()  # type: ignore[operator]
        out.append(time.process_time() - t0)
    return out


def bounded_cases(quick: bool) -> None:
    print("\n-- crafted compares at the edit cap (512 KB a side): CPU seconds; target < 1 s")
    print(f"{'case':40s} {'ours p50':>9s} {'ours max':>9s}  coarse  {'no budget (previous)':>21s}")
    for name, (a, b) in crafted().items():
        left, right = {"output": a, "steps": []}, {"output": b, "steps": []}
        ours = _cpu(lambda left=left, right=right: compare(left, right), 5)
        coarse = compare(left, right).coarse
        if quick:
            before = "skipped"
        else:
            unbounded = Work(limit=10**15, text_limit=10**15)
            t0 = time.process_time()
            diff_words(a, b, unbounded)
            before = f"{time.process_time() - t0:8.2f} s"
        print(f"{name:40s} {statistics.median(ours):8.3f}s {max(ours):8.3f}s  {str(coarse):6s}  {before:>21s}")
    lines = _distinct_lines()
    steps_l = ["".join(lines).replace("line", f"step{k}") for k in range(10)]
    steps_r = ["".join(_swapped(lines)).replace("line", f"step{k}") for k in range(10)]
    left = {"output": "".join(lines), "steps": [{"position": k + 1, "output": t} for k, t in enumerate(steps_l)]}
    right = {
        "output": "".join(_swapped(lines)),
        "steps": [{"position": k + 1, "output": t} for k, t in enumerate(steps_r)],
    }
    ours = _cpu(lambda: compare(left, right), 3)
    print(f"{'output + 10 steps, all 512 KB swapped':40s} {statistics.median(ours):8.3f}s {max(ours):8.3f}s  True")


def _ratio(ours: list[float], base: list[float]) -> str:
    b = sorted(base)[len(base) // 2]
    return f"{sorted(ours)[len(ours) // 2] / b:.2f}x" if b > 0 else "n/a"


if __name__ == "__main__":
    main()
