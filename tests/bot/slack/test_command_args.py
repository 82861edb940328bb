"""bot.slack.commands_text (with command_tokens and name_match): what the user typed after /pipebot, as Slack delivers it."""

from __future__ import annotations

import pytest

from bot.slack.command_tokens import ArgumentError, split_args, tokenize
from bot.slack.commands_text import (
    AGENT_DELETE,
    AGENT_EDIT,
    AGENT_NEW,
    AGENTS,
    ARTIFACTS,
    AUDIT,
    COMMANDS,
    HELP,
    MCP_COMMANDS,
    PIPELINE_DELETE,
    PIPELINE_EDIT,
    PIPELINE_NEW,
    PIPELINES,
    RUN,
    SCHEDULE_NEW,
    SCHEDULES,
    SETTINGS,
    TRIGGER_NEW,
    TRIGGERS,
    UNKNOWN,
    Command,
    help_text,
    parse_command,
)
from bot.slack.name_match import did_you_mean, match_name

# ----------------------------------------------------------------------------- splitting


@pytest.mark.parametrize(
    "text, expected",
    [
        ("a b  c", ["a", "b", "c"]),
        ('"Weekly digest" x', ["Weekly digest", "x"]),
        ("“Weekly digest” x", ["Weekly digest", "x"]),  # macOS/iOS smart quotes
        ("„Wochenbericht“ x", ["Wochenbericht", "x"]),  # German-style pairing
        ("”odd pairing” x", ["odd pairing", "x"]),
        ("'single quoted' x", ["single quoted", "x"]),
        ("‘smart single’ x", ["smart single", "x"]),
        ("don’t stop", ["don’t", "stop"]),  # apostrophes are letters
        ("it's fine", ["it's", "fine"]),
        ("'it’s mine' ok", ["it’s mine", "ok"]),
        ('say "a \\"quoted\\" word"', ["say", 'a "quoted" word']),
        ('5" screen', ['5"', "screen"]),  # a quote mid-word is literal
        ('""', [""]),
        ("\ttabs\nand\nnewlines ", ["tabs", "and", "newlines"]),
        ("", []),
    ],
)
def test_split_args(text: str, expected: list[str]) -> None:
    assert split_args(text) == expected


@pytest.mark.parametrize("text", ['"unclosed', "“unclosed", "a 'open quote", "x ‘nope"])
def test_unbalanced_quote_is_a_clear_error(text: str) -> None:
    with pytest.raises(ArgumentError) as info:
        split_args(text)
    assert "no closing quote" in str(info.value)
    assert text[info.value.position] in "\"“'‘"


def test_tokens_know_where_they_were() -> None:
    text = "run  “Weekly digest”  rest"
    first, second, third = tokenize(text)
    assert (first.value, first.start, first.end, first.quoted) == ("run", 0, 3, False)
    assert second.value == "Weekly digest" and text[second.start : second.end] == "“Weekly digest”"
    assert second.quoted and third.start == text.index("rest")


def test_tokenize_is_lazy() -> None:
    tokens = tokenize('run x "never closed')
    assert [next(tokens).value, next(tokens).value] == ["run", "x"]  # no error until asked


# ----------------------------------------------------------------------------- commands


@pytest.mark.parametrize(
    "text, name, args",
    [
        ("", HELP, ()),
        ("   ", HELP, ()),
        ("help", HELP, ()),
        ("HELP run", HELP, ("run",)),
        ("?", HELP, ()),
        ("agents", AGENTS, ()),
        ("Agents", AGENTS, ()),
        ("agent list", AGENTS, ()),
        ("agent new", AGENT_NEW, ()),
        ("agent create", AGENT_NEW, ()),
        ("agent new Weekly digest", AGENT_NEW, ("Weekly digest",)),
        ("agent edit summariser", AGENT_EDIT, ("summariser",)),
        ('agent edit "Weekly digest"', AGENT_EDIT, ("Weekly digest",)),
        ("agent edit “Weekly digest”", AGENT_EDIT, ("Weekly digest",)),
        ("agent edit Weekly   digest", AGENT_EDIT, ("Weekly digest",)),
        ("AGENT DELETE old", AGENT_DELETE, ("old",)),
        ("agent rm old", AGENT_DELETE, ("old",)),
        ("pipelines", PIPELINES, ()),
        ("pipeline new", PIPELINE_NEW, ()),
        ("pipeline edit 'Daily news'", PIPELINE_EDIT, ("Daily news",)),
        ("pipeline delete x", PIPELINE_DELETE, ("x",)),
        ("pipeline ls", PIPELINES, ()),
        ("settings", SETTINGS, ()),
        ("config", SETTINGS, ()),
        ("artifacts", ARTIFACTS, ()),
        ("artifacts digest", ARTIFACTS, ("digest",)),
        ("artifacts Weekly digest", ARTIFACTS, ("Weekly digest",)),
        ('artifacts "Weekly digest"', ARTIFACTS, ("Weekly digest",)),
    ],
)
def test_subcommands(text: str, name: str, args: tuple[str, ...]) -> None:
    cmd = parse_command(text)
    assert (cmd.name, cmd.args, cmd.error) == (name, args, None)
    assert cmd.ok


def test_run_keeps_input_exactly_as_typed() -> None:
    text = 'run "Weekly digest"   Summarise:\n\n```\n  code  stays\n```\n* it’s "quoted'
    cmd = parse_command(text)
    assert cmd.name == RUN and cmd.args == ("Weekly digest",) and cmd.arg == "Weekly digest"
    assert cmd.rest == 'Summarise:\n\n```\n  code  stays\n```\n* it’s "quoted'
    assert cmd.ok


def test_run_input_on_the_next_line_keeps_its_indentation() -> None:
    cmd = parse_command("run digest\n\n    indented first line\nsecond")
    assert cmd.rest == "    indented first line\nsecond"
    assert parse_command("run digest \t hello  world ").rest == "hello  world "
    assert parse_command("run “Weekly digest” “quoted input”").rest == "“quoted input”"


@pytest.mark.parametrize(
    "text, name, fragment",
    [
        ("run", RUN, "Which pipeline"),
        ("run digest", RUN, "run on"),
        ("run digest   \n  ", RUN, "run on"),
        ('run "Weekly digest', RUN, "no closing quote"),
        ("agent edit", AGENT_EDIT, "Which agent"),
        ("pipeline delete", PIPELINE_DELETE, "Which pipeline"),
        ('agent delete "Weekly', AGENT_DELETE, "no closing quote"),
        ("artifacts search", ARTIFACTS, "Search for what"),
    ],
)
def test_incomplete_commands_say_what_to_fix(text: str, name: str, fragment: str) -> None:
    cmd = parse_command(text)
    assert cmd.name == name and not cmd.ok
    assert cmd.error and fragment in cmd.error
    if "Usage" in cmd.error:
        assert "`/pipebot " in cmd.error


def test_run_name_error_is_kept_for_the_input() -> None:
    cmd = parse_command("run digest")
    assert cmd.args == ("digest",)  # the handler can still say which pipeline


def test_artifacts_search() -> None:
    cmd = parse_command('artifacts digest search "rate limits" 2024')
    assert (cmd.name, cmd.args, cmd.rest) == (ARTIFACTS, ("digest",), '"rate limits" 2024')
    cmd = parse_command("artifacts search it’s broken")
    assert (cmd.args, cmd.rest) == ((), "it’s broken")
    cmd = parse_command('artifacts "search" search x')  # a pipeline called search
    assert (cmd.args, cmd.rest) == (("search",), "x")


def test_unknown_subcommands_suggest_what_was_meant() -> None:
    cmd = parse_command("agnets")
    assert cmd.name == UNKNOWN and cmd.args == ("agnets",) and not cmd.ok
    assert cmd.suggestions[0] == "agents"
    assert parse_command("runn digest hello").suggestions == ("run",)
    assert parse_command("agnet new").suggestions == ("agent new",)
    assert parse_command("pipelin edit x").suggestions == ("pipeline edit",)
    assert parse_command("sttings").suggestions == ("settings",)
    assert parse_command("xyzzy").suggestions == ()


def test_unknown_actions() -> None:
    cmd = parse_command("agent nwe")
    assert cmd.name == UNKNOWN and cmd.suggestions == ("agent new",) and "agent edit NAME" in cmd.error
    cmd = parse_command("pipeline")
    assert cmd.name == UNKNOWN and cmd.error and "pipeline new" in cmd.suggestions
    cmd = parse_command('nope "x')
    assert cmd.name == UNKNOWN and cmd.args == ("nope",) and "no closing quote" in cmd.error


def test_command_is_a_value() -> None:
    assert parse_command("agents") == Command(AGENTS)
    assert Command(RUN).arg is None


# ----------------------------------------------------------------------------- names


def test_did_you_mean_ignores_case_and_prefers_exact() -> None:
    names = ["Weekly digest", "Daily news", "weekly review"]
    assert did_you_mean("WEEKLY DIGEST", names) == ["Weekly digest"]
    assert did_you_mean("  weekly   digest ", names) == ["Weekly digest"]
    assert did_you_mean("weekly", names)[:2] == ["Weekly digest", "weekly review"]  # prefixes
    assert did_you_mean("daily nwes", names) == ["Daily news"]
    assert did_you_mean("zzz", names) == []
    assert did_you_mean("", names) == []
    assert len(did_you_mean("w", ["w1", "w2", "w3", "w4"], n=2)) <= 2


def test_match_name() -> None:
    assert match_name("weekly DIGEST", ["Daily", "Weekly digest"]) == "Weekly digest"
    assert match_name("weekly", ["Weekly digest"]) is None


# ----------------------------------------------------------------------------- help


def test_help_lists_every_subcommand() -> None:
    text = help_text()
    for spec in COMMANDS:
        assert f"`/pipebot {spec.usage}`" in text
    assert {s.name for s in COMMANDS} == {
        HELP,
        AGENT_NEW,
        AGENT_EDIT,
        AGENT_DELETE,
        AGENTS,
        PIPELINE_NEW,
        PIPELINE_EDIT,
        PIPELINE_DELETE,
        PIPELINES,
        RUN,
        ARTIFACTS,
        SETTINGS,
        AUDIT,
        *MCP_COMMANDS,
        SCHEDULE_NEW,
        SCHEDULES,
        TRIGGER_NEW,
        TRIGGERS,
    }


def test_help_for_an_unknown_word_escapes_it() -> None:
    cmd = parse_command("<!channel>")
    text = help_text(unknown=cmd.args[0], suggestions=cmd.suggestions)
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text
    text = help_text(unknown="agnets", suggestions=("agents",))
    assert text.startswith("I don't know `agnets`. Did you mean `/pipebot agents`?")
    assert help_text("/pb").count("`/pb ") == len(COMMANDS)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("schedule new", SCHEDULE_NEW),
        ("schedule create", SCHEDULE_NEW),
        ("schedules", SCHEDULES),
        ("schedule list", SCHEDULES),
    ],
)
def test_schedule_commands_parse(text: str, name: str) -> None:
    assert parse_command(text) == Command(name)


def test_a_schedule_command_without_an_action_says_what_to_type() -> None:
    cmd = parse_command("schedule frobnicate")
    assert cmd.name == UNKNOWN and "`/pipebot schedule new`" in (cmd.error or "")
