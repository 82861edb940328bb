"""The `/pipebot` command: its name, its help, and the parsing of what follows it (pure).

Why not :mod:`shlex`: Slack sends what the user's client typed, and macOS/iOS turn
``"`` into “smart quotes” and ``'`` into ’ (also inside words: ``don’t``). shlex
knows neither, and it raises a bare ``ValueError`` on an unbalanced quote. Run input
must also reach the pipeline exactly as typed (spacing, newlines, code blocks, stray
quotes), so only the words before it are tokenized and the rest is kept raw.

Usage::

    cmd = parse_command('run "Weekly digest" summarise this:\\n\\n* a\\n* b')
    cmd.name == "run"; cmd.args == ("Weekly digest",); cmd.rest == "summarise this:\\n\\n* a\\n* b"
    if cmd.error: respond_ephemeral(cmd.error)             # says what to fix
    if cmd.name == UNKNOWN: respond_ephemeral(help_text(unknown=cmd.args[0], suggestions=cmd.suggestions))
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from bot.slack.text import escape_mrkdwn

__all__ = [
    "AGENTS",
    "AGENT_DELETE",
    "AGENT_EDIT",
    "AGENT_NEW",
    "ARTIFACTS",
    "COMMANDS",
    "HELP",
    "PIPELINES",
    "PIPELINE_DELETE",
    "PIPELINE_EDIT",
    "PIPELINE_NEW",
    "RUN",
    "SETTINGS",
    "UNKNOWN",
    "COMMAND",
    "ArgumentError",
    "Command",
    "CommandSpec",
    "Token",
    "did_you_mean",
    "help_text",
    "match_name",
    "not_found_hint",
    "parse_command",
    "parse_run_args",
    "split_args",
    "tokenize",
]

COMMAND = "/pipebot"  # the one slash command (manifest.yml)
MAX_NAME_WORDS = 8  # unquoted multi-word run names: longest prefix of the words that names a pipeline

HELP = "help"
AGENT_NEW = "agent new"
AGENT_EDIT = "agent edit"
AGENT_DELETE = "agent delete"
AGENTS = "agents"
PIPELINE_NEW = "pipeline new"
PIPELINE_EDIT = "pipeline edit"
PIPELINE_DELETE = "pipeline delete"
PIPELINES = "pipelines"
RUN = "run"
ARTIFACTS = "artifacts"
SETTINGS = "settings"
UNKNOWN = "unknown"

# Opening quote -> the characters that may close it. Clients pair them sloppily
# (“x“, „x“, ”x”), so any quote of the same family closes.
_DOUBLE = '"“”„‟'
_SINGLE = "'‘’‚‛"
_CLOSERS = {q: _DOUBLE for q in _DOUBLE} | {q: _SINGLE for q in _SINGLE}
_SPACE = re.compile(r"\s")


class ArgumentError(ValueError):
    """The command text cannot be split; ``str(err)`` is a message for the user."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.position = position


@dataclass(frozen=True)
class Token:
    """One word of the command: its value (quotes removed) and where it sat in the text."""

    value: str
    start: int
    end: int
    quoted: bool


def _closes(text: str, i: int, opener: str) -> bool:
    ch = text[i]
    if ch not in _CLOSERS[opener]:
        return False
    if opener in _SINGLE:
        # ’ is also an apostrophe (it’s, don’t): it closes only before a space/end.
        return i + 1 == len(text) or bool(_SPACE.match(text[i + 1])) or text[i + 1] in _DOUBLE + _SINGLE
    return True


def _read_token(text: str, pos: int) -> Token | None:
    n = len(text)
    while pos < n and text[pos].isspace():
        pos += 1
    if pos >= n:
        return None
    start = pos
    out: list[str] = []
    quoted = False
    while pos < n and not text[pos].isspace():
        ch = text[pos]
        if ch in _CLOSERS and pos == start:
            quoted = True
            opener, qstart = ch, pos
            pos += 1
            while True:
                if pos >= n:
                    snippet = text[qstart : qstart + 30].splitlines()[0] if text[qstart:] else opener
                    raise ArgumentError(
                        f"There is an opening {opener} with no closing quote ({snippet}…). "
                        f"Close it with a matching quote, or remove it.",
                        qstart,
                    )
                c = text[pos]
                if c == "\\" and pos + 1 < n and text[pos + 1] in _CLOSERS:
                    out.append(text[pos + 1])
                    pos += 2
                    continue
                if _closes(text, pos, opener):
                    pos += 1
                    break
                out.append(c)
                pos += 1
            continue
        if ch == "\\" and pos + 1 < n and text[pos + 1] in _CLOSERS:
            out.append(text[pos + 1])
            pos += 2
            continue
        out.append(ch)
        pos += 1
    return Token("".join(out), start, pos, quoted)


def tokenize(text: str, pos: int = 0) -> Iterator[Token]:
    """Tokens of ``text`` from ``pos``, lazily: a caller may stop early and keep the
    rest raw (so quotes in run input are never parsed).

    Quotes (``"..."``, “...”, ``'...'``, ‘...’) group words and are removed; they
    open only at the start of a word, and a single quote closes only before a space,
    so apostrophes stay literal. ``\\"`` is a literal quote. Raises
    :class:`ArgumentError` for an unbalanced quote.
    """
    while True:
        tok = _read_token(text, pos)
        if tok is None:
            return
        yield tok
        pos = tok.end


def split_args(text: str) -> list[str]:
    """All words of ``text`` (see :func:`tokenize`), like ``shlex.split`` but for Slack."""
    return [t.value for t in tokenize(text)]


def _raw_rest(text: str, pos: int) -> str:
    """The text after ``pos`` as typed, minus the separator: leading blank lines go,
    the indentation of the first content line stays."""
    rest = text[pos:]
    m = re.match(r"(?:[ \t]*\r?\n)+", rest)
    return rest[m.end() :] if m else rest.lstrip(" \t")


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


@dataclass(frozen=True)
class CommandSpec:
    """One line of help: the canonical name, how to type it, what it does."""

    name: str
    usage: str
    summary: str


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(RUN, "run NAME INPUT…", "run a pipeline on some input; results land in a thread"),
    CommandSpec(AGENTS, "agents", "list agents"),
    CommandSpec(AGENT_NEW, "agent new", "create an agent"),
    CommandSpec(AGENT_EDIT, "agent edit NAME", "edit an agent"),
    CommandSpec(AGENT_DELETE, "agent delete NAME", "delete an agent (asks first)"),
    CommandSpec(PIPELINES, "pipelines", "list pipelines"),
    CommandSpec(PIPELINE_NEW, "pipeline new", "chain agents into a pipeline"),
    CommandSpec(PIPELINE_EDIT, "pipeline edit NAME", "edit a pipeline"),
    CommandSpec(PIPELINE_DELETE, "pipeline delete NAME", "delete a pipeline (asks first)"),
    CommandSpec(ARTIFACTS, "artifacts [PIPELINE] [search WORDS…]", "latest results, with links"),
    CommandSpec(SETTINGS, "settings", "provider API keys (admins only)"),
    CommandSpec(HELP, "help", "this list"),
)
_USAGE = {spec.name: spec.usage for spec in COMMANDS}

_TOP = ("help", "agent", "agents", "pipeline", "pipelines", "run", "artifacts", "settings")
_TOP_ALIASES = {
    "?": "help",
    "-h": "help",
    "--help": "help",
    "h": "help",
    "artifact": "artifacts",
    "setting": "settings",
    "config": "settings",
}
_ACTIONS = ("new", "edit", "delete")
_ACTION_ALIASES = {
    "create": "new",
    "add": "new",
    "update": "edit",
    "change": "edit",
    "modify": "edit",
    "remove": "delete",
    "rm": "delete",
    "del": "delete",
    "list": "list",
    "ls": "list",
}


@dataclass(frozen=True)
class Command:
    """What the user asked for.

    ``name`` is one of the module constants (``"run"``, ``"agent edit"``, ...) or
    ``UNKNOWN``. ``args`` holds names (``("Weekly digest",)``); ``rest`` is raw text
    (run input, artifact search words). When ``error`` is set the text names a known
    command but cannot be used as typed, and ``error`` tells the user what to fix.
    For ``UNKNOWN``, ``args[0]`` is the word typed and ``suggestions`` the likely
    intended subcommands (for "did you mean …?").
    """

    name: str
    args: tuple[str, ...] = ()
    rest: str = ""
    error: str | None = None
    suggestions: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when the handler can act on it directly."""
        return self.error is None and self.name != UNKNOWN

    @property
    def arg(self) -> str | None:
        """The first argument (usually a NAME), or None."""
        return self.args[0] if self.args else None


def _usage(name: str, command: str) -> str:
    return f"`{command} {_USAGE[name]}`"


def _name_from(tokens: Sequence[Token]) -> str:
    """A NAME given as one quoted word or as several plain words (``Weekly digest``)."""
    return " ".join(t.value for t in tokens).strip()


def parse_command(text: str, command: str = COMMAND) -> Command:
    """Parse the text after ``/pipebot`` (``command`` only shapes error messages).

    Empty text means help. Subcommands and actions ignore case and accept a few
    aliases (``agent create``, ``pipeline rm``, ``agent list``...). NAME may be
    quoted, or several unquoted words for edit/delete/artifacts; for ``run`` a
    multi-word NAME must be quoted because the input follows it.
    """
    try:
        return _parse(text, command)
    except ArgumentError as err:  # an unbalanced quote: say where, keep the intent
        name = _intended(text)
        if name == UNKNOWN:
            word = text.split()[0]
            return Command(UNKNOWN, (word,), error=str(err), suggestions=tuple(did_you_mean(word, _TOP)))
        return Command(name, error=str(err))


def _intended(text: str) -> str:
    """The subcommand a text that cannot be tokenized was meant for (plain split)."""
    words = [w.lower() for w in text.split()[:2]]
    if not words:
        return HELP
    top = _TOP_ALIASES.get(words[0], words[0])
    if top in ("agent", "pipeline"):
        action = _ACTION_ALIASES.get(words[1], words[1]) if len(words) > 1 else ""
        if action == "list":
            return top + "s"
        return f"{top} {action}" if action in _ACTIONS else UNKNOWN
    return top if top in _TOP else UNKNOWN


def _parse(text: str, command: str) -> Command:
    tokens = tokenize(text)
    first = next(tokens, None)
    if first is None:
        return Command(HELP)
    word = first.value.lower()
    word = _TOP_ALIASES.get(word, word)

    if word == HELP:
        return Command(HELP, tuple(t.value for t in tokens))
    if word in (AGENTS, PIPELINES, SETTINGS):
        return Command(word, rest=_raw_rest(text, first.end).strip())
    if word in ("agent", "pipeline"):
        return _parse_thing(word, list(tokens), command)
    if word == RUN:
        name, rest = parse_run_args(text[first.end :], ())
        if not name.strip():
            return Command(RUN, error=f"Which pipeline should I run? Usage: {_usage(RUN, command)}")
        if not rest.strip():
            return Command(
                RUN,
                (name,),
                error=(f"What should *{name}* run on? Put the input after the name: {_usage(RUN, command)}"),
            )
        return Command(RUN, (name,), rest)
    if word == ARTIFACTS:
        parts: list[Token] = []
        for tok in tokens:
            if tok.value.lower() == "search" and not tok.quoted:
                query = _raw_rest(text, tok.end).strip()
                pipeline = (_name_from(parts),) if parts else ()
                if not query:
                    return Command(ARTIFACTS, pipeline, error=(f"Search for what? Usage: {_usage(ARTIFACTS, command)}"))
                return Command(ARTIFACTS, pipeline, query)
            parts.append(tok)
        return Command(ARTIFACTS, (_name_from(parts),) if parts else ())
    guesses = did_you_mean(first.value, _TOP)
    second = next(tokens, None)
    action = _ACTION_ALIASES.get(second.value.lower(), second.value.lower()) if second else ""
    if action in _ACTIONS:  # "agnet new" -> "agent new", not "agents"
        guesses = [f"{g} {action}" for g in guesses if g in ("agent", "pipeline")] or guesses
    return Command(UNKNOWN, (first.value,), suggestions=tuple(guesses))


def _parse_thing(thing: str, tokens: list[Token], command: str) -> Command:
    plural = thing + "s"
    usage = ", ".join(_usage(f"{thing} {a}", command) for a in _ACTIONS)
    if not tokens:
        return Command(
            UNKNOWN,
            (thing,),
            error=f"What should I do with {plural}? Try {usage}.",
            suggestions=(f"{thing} new", plural),
        )
    action = tokens[0].value.lower()
    action = _ACTION_ALIASES.get(action, action)
    if action == "list":
        return Command(plural)
    if action not in _ACTIONS:
        guesses = tuple(f"{thing} {a}" for a in did_you_mean(action, _ACTIONS))
        return Command(
            UNKNOWN,
            (f"{thing} {tokens[0].value}",),
            suggestions=guesses,
            error=f"I don't know `{thing} {tokens[0].value}`. Try {usage}.",
        )
    name = f"{thing} {action}"
    target = _name_from(tokens[1:])
    if action == "new":
        return Command(name, (target,) if target else ())
    if not target:
        return Command(name, error=f"Which {thing}? Usage: {_usage(name, command)}")
    return Command(name, (target,))


def help_text(command: str = COMMAND, *, unknown: str | None = None, suggestions: Sequence[str] = ()) -> str:
    """The help message (mrkdwn): one line per subcommand, led by "did you mean …?"
    when the user typed something unknown. User text is escaped."""
    lines: list[str] = []
    if unknown is not None:
        typed = unknown.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("`", "'")
        line = f"I don't know `{typed}`."
        if suggestions:
            line += " Did you mean " + " or ".join(f"`{command} {s}`" for s in suggestions) + "?"
        lines += [line, ""]
    lines.append(f"*{command}* runs AI agents and pipelines here in Slack:")
    lines += [f"• `{command} {spec.usage}` — {spec.summary}" for spec in COMMANDS]
    lines.append('Names with spaces go in quotes: `run "Weekly digest" …`')
    return "\n".join(lines)


def parse_run_args(args_text: str, pipeline_names: Iterable[str]) -> tuple[str, str]:
    """(NAME, INPUT) from the text after ``run``: the one parser of run arguments.

    A quoted NAME is taken as typed. Unquoted, the longest run of leading words that names
    one of ``pipeline_names`` wins, so ``run Weekly digest some text`` finds "Weekly digest"
    without quotes; otherwise the first word is the name. INPUT is the rest as typed (see
    :func:`_raw_rest`), quotes and all. Raises ArgumentError (its text is for the user)
    for an unbalanced quote in NAME; a stray quote inside the input is the input's business.
    """
    names = list(pipeline_names)
    tokens: list[Token] = []
    words = tokenize(args_text)
    while len(tokens) < MAX_NAME_WORDS:
        try:
            tok = next(words, None)
        except ArgumentError:
            if not tokens:  # the NAME itself has an unbalanced quote
                raise
            break
        if tok is None:
            break
        tokens.append(tok)
        if tok.quoted:
            break
    if not tokens:
        return "", ""
    if tokens[0].quoted:
        return tokens[0].value, _raw_rest(args_text, tokens[0].end)
    plain = [t for t in tokens if not t.quoted]
    for n in range(len(plain), 1, -1):
        candidate = " ".join(t.value for t in plain[:n])
        if match_name(candidate, names) is not None:
            return candidate, _raw_rest(args_text, plain[n - 1].end)
    return tokens[0].value, _raw_rest(args_text, tokens[0].end)


def args_after_first_word(text: str) -> str:
    """What follows the subcommand word (``run``, ``artifacts``), as typed."""
    m = re.match(r"\s*\S+", text)
    return text[m.end() :].lstrip() if m else ""


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
