"""Word-level diff of two 200 KB outputs (core/artifacts/diff.py), by kind of change,
beside a baseline measured in the same run on the same inputs: Python's own
``difflib.SequenceMatcher`` over the same word tokens, with none of our cuts (common head
and tail, segments first). That is the obvious word diff, and the one ours replaces.

Prints p50/p99 per case (ours 30 calls, the baseline 5: it takes up to a second a call);
the compare page's budget for the whole page is 300 ms at p99.
"""

from __future__ import annotations

import random
import sys
from difflib import SequenceMatcher
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import summary, timed  # noqa: E402
from core.artifacts.diff import _TOKEN, compare, diff_words  # noqa: E402

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


def _ratio(ours: list[float], base: list[float]) -> str:
    b = sorted(base)[len(base) // 2]
    return f"{sorted(ours)[len(ours) // 2] / b:.2f}x" if b > 0 else "n/a"


if __name__ == "__main__":
    main()
