"""Which name a person meant: a pipeline or agent name typed loosely (case, spacing), the
"did you mean …?" guesses for one typed wrong, and the not-found reply that carries them (pure).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from bot.slack.text import escape_mrkdwn
from core.messages import COMMAND

__all__ = ["did_you_mean", "match_name", "not_found_hint"]


def match_name(name: str, choices: Iterable[str]) -> str | None:
    """The choice equal to ``name`` ignoring case and surrounding/repeated spaces."""
    key = " ".join(name.split()).casefold()
    for choice in choices:
        if " ".join(choice.split()).casefold() == key:
            return choice
    return None


def did_you_mean(word: str, choices: Iterable[str], n: int = 3, cutoff: float = 0.6) -> list[str]:
    """Up to ``n`` of ``choices`` that ``word`` probably meant, best first, ignoring case.

    An exact (case-insensitive) match comes alone; then names starting with ``word``;
    then :func:`difflib.get_close_matches`. Returns the choices as spelled.
    """
    by_key: dict[str, str] = {}
    for choice in choices:
        by_key.setdefault(" ".join(choice.split()).casefold(), choice)
    key = " ".join(word.split()).casefold()
    if not key:
        return []
    if key in by_key:
        return [by_key[key]]
    found: list[str] = []
    if len(key) >= 2:
        found += sorted((k for k in by_key if k.startswith(key)), key=len)
    found += difflib.get_close_matches(key, list(by_key), n=n, cutoff=cutoff)
    out: list[str] = []
    for k in found:
        if by_key[k] not in out:
            out.append(by_key[k])
    return out[:n]


def not_found_hint(
    kind: str, name: str, names: Iterable[str], *, if_none: str | None = None, command: str = COMMAND
) -> str:
    """mrkdwn for "no such agent/pipeline": the name as typed (escaped), did-you-mean, and
    the command that lists them, or ``if_none`` when the workspace has none at all."""
    names = list(names)
    text = f"No {kind} named “{escape_mrkdwn(' '.join(name.split()))}” in this workspace."
    guesses = did_you_mean(name, names)
    if guesses:
        text += " Did you mean " + " or ".join(f"*{escape_mrkdwn(g)}*" for g in guesses) + "?"
    elif not names and if_none:
        return f"{text} {if_none}"
    return text + f" `{command} {kind}s` lists them."
