"""The `/pipebot` command: its subcommands, its help, and the parsing of what follows it (pure).

The words are split by :mod:`bot.slack.command_tokens` (which says why not :mod:`shlex`);
names typed loosely are matched by :mod:`bot.slack.name_match`.

Usage::

    cmd = parse_command('run "Weekly digest" summarise this:\\n\\n* a\\n* b')
    cmd.name == "run"; cmd.args == ("Weekly digest",); cmd.rest == "summarise this:\\n\\n* a\\n* b"
    if cmd.error: respond_ephemeral(cmd.error)             # says what to fix
    if cmd.name == UNKNOWN: respond_ephemeral(help_text(unknown=cmd.args[0], suggestions=cmd.suggestions))
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.slack.command_tokens import ArgumentError, Token, raw_rest, tokenize
from bot.slack.name_match import did_you_mean, match_name
from core.messages import COMMAND

__all__ = [
    "AGENTS",
    "AGENT_DELETE",
    "AGENT_EDIT",
    "AGENT_NEW",
    "ARTIFACTS",
    "AUDIT",
    "COMMANDS",
    "HELP",
    "MCP",
    "MCP_ADD",
    "MCP_COMMANDS",
    "MCP_REMOVE",
    "MCP_TEST",
    "PIPELINES",
    "PIPELINE_DELETE",
    "PIPELINE_EDIT",
    "PIPELINE_NEW",
    "RUN",
    "SCHEDULES",
    "SCHEDULE_NEW",
    "SETTINGS",
    "TRIGGERS",
    "TRIGGER_NEW",
    "UNKNOWN",
    "Command",
    "CommandSpec",
    "help_text",
    "parse_command",
    "parse_run_args",
]

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
AUDIT = "audit"
MCP = "mcp"
MCP_ADD = "mcp add"
MCP_TEST = "mcp test"
MCP_REMOVE = "mcp remove"
MCP_COMMANDS = (MCP, MCP_ADD, MCP_TEST, MCP_REMOVE)
SCHEDULE_NEW = "schedule new"
SCHEDULES = "schedules"
TRIGGER_NEW = "trigger new"
TRIGGERS = "triggers"
UNKNOWN = "unknown"


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
    CommandSpec(SCHEDULE_NEW, "schedule new", "run a pipeline on a cron, posting in a channel"),
    CommandSpec(SCHEDULES, "schedules", "list schedules: pause, resume, delete"),
    CommandSpec(TRIGGER_NEW, "trigger new", "run a pipeline on a reaction, a new message or a webhook"),
    CommandSpec(TRIGGERS, "triggers", "list triggers; pause, resume or delete them"),
    CommandSpec(SETTINGS, "settings", "provider API keys (admins only)"),
    CommandSpec(MCP, "mcp", "MCP servers and their tools: list, test, remove (admins only)"),
    CommandSpec(MCP_ADD, "mcp add", "register an MCP server, so agents can use its tools (admins only)"),
    CommandSpec(MCP_TEST, "mcp test NAME", "check an MCP server answers (admins only)"),
    CommandSpec(MCP_REMOVE, "mcp remove NAME", "remove an MCP server (admins only)"),
    CommandSpec(AUDIT, "audit", "who changed keys, limits and settings, or deleted what (admins only)"),
    CommandSpec(HELP, "help", "this list"),
)
_USAGE = {spec.name: spec.usage for spec in COMMANDS}

_TOP = (
    "help",
    "agent",
    "agents",
    "pipeline",
    "pipelines",
    "run",
    "artifacts",
    "settings",
    "audit",
    "schedule",
    "schedules",
    "mcp",
    "trigger",
    "triggers",
)
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
    if word in (AGENTS, PIPELINES, SETTINGS, AUDIT):
        return Command(word, rest=raw_rest(text, first.end).strip())
    if word in ("agent", "pipeline"):
        return _parse_thing(word, list(tokens), command)
    if word == MCP:
        return _parse_mcp(list(tokens), command)
    if word in ("schedule", SCHEDULES):
        return _parse_schedule(word, list(tokens), command)
    if word in ("trigger", TRIGGERS):
        return _parse_trigger(word, [t.value.lower() for t in tokens], command)
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
                query = raw_rest(text, tok.end).strip()
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


def _parse_trigger(word: str, rest: list[str], command: str) -> Command:
    """``trigger new`` (aliases: create, add) and ``triggers`` / ``trigger list``; a trigger is
    changed from the list's buttons, so nothing else is taken."""
    action = _ACTION_ALIASES.get(rest[0], rest[0]) if rest else ("list" if word == TRIGGERS else "")
    if word == "trigger" and action == "new" and len(rest) == 1:
        return Command(TRIGGER_NEW)
    if action == "list" and len(rest) <= 1:
        return Command(TRIGGERS)
    usage = f"{_usage(TRIGGER_NEW, command)} or {_usage(TRIGGERS, command)}"
    return Command(UNKNOWN, (f"{word} {' '.join(rest)}".strip(),), error=f"Try {usage}.", suggestions=(TRIGGER_NEW,))


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


_MCP_ACTIONS = {"add": MCP_ADD, "new": MCP_ADD, "test": MCP_TEST, "check": MCP_TEST}
_MCP_ACTIONS.update({w: MCP_REMOVE for w in ("remove", "rm", "delete", "del")})
_MCP_ACTIONS.update({w: MCP for w in ("list", "ls")})


def _parse_mcp(tokens: list[Token], command: str) -> Command:
    """``mcp`` (the list), ``mcp add``, ``mcp test NAME``, ``mcp remove NAME``."""
    if not tokens:
        return Command(MCP)
    name = _MCP_ACTIONS.get(tokens[0].value.lower())
    if name is None:
        usage = ", ".join(_usage(n, command) for n in MCP_COMMANDS)
        return Command(
            UNKNOWN,
            (f"mcp {tokens[0].value}",),
            error=f"I don't know `mcp {tokens[0].value}`. Try {usage}.",
            suggestions=tuple(f"mcp {a}" for a in did_you_mean(tokens[0].value, ("add", "test", "remove"))),
        )
    if name in (MCP, MCP_ADD):
        return Command(name)
    target = _name_from(tokens[1:])
    if not target:
        return Command(name, error=f"Which MCP server? Usage: {_usage(name, command)}")
    return Command(name, (target,))


def _parse_schedule(word: str, tokens: list[Token], command: str) -> Command:
    """``schedule new`` opens the form; ``schedules`` (and ``schedule list``) lists them."""
    action = _ACTION_ALIASES.get(tokens[0].value.lower(), tokens[0].value.lower()) if tokens else ""
    if (word == SCHEDULES and not tokens) or action == "list":
        return Command(SCHEDULES)
    if action == "new":
        return Command(SCHEDULE_NEW)
    return Command(
        UNKNOWN,
        (" ".join([word, *(t.value for t in tokens[:1])]),),
        error=f"Try {_usage(SCHEDULE_NEW, command)} or {_usage(SCHEDULES, command)}.",
        suggestions=(SCHEDULE_NEW, SCHEDULES),
    )


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
    :func:`bot.slack.command_tokens.raw_rest`), quotes and all. Raises ArgumentError (its text is for the user)
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
        return tokens[0].value, raw_rest(args_text, tokens[0].end)
    plain = [t for t in tokens if not t.quoted]
    for n in range(len(plain), 1, -1):
        candidate = " ".join(t.value for t in plain[:n])
        if match_name(candidate, names) is not None:
            return candidate, raw_rest(args_text, plain[n - 1].end)
    return tokens[0].value, raw_rest(args_text, tokens[0].end)
