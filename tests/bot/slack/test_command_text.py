"""`/pipebot` text as Slack really sends it: ``&``, ``<`` and ``>`` arrive as ``&amp;``,
``&lt;`` and ``&gt;``; mentions, channels and links arrive as ``<@U…|name>``,
``<#C…|name>`` and ``<https://…|label>``; names may hold emoji and be long."""

from __future__ import annotations

import pytest

from core.context import AppContext
from tests.fakes.slack import TEAM_ID
from tests.support.runs import all_runs, make_agent, make_pipeline, with_keys
from tests.support.slack_app import SlackServer
from tests.support.slack_signing import DEFAULT_SIGNING_SECRET, SlackRequests, sign
from tests.support.waiting import wait_until


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def test_names_with_ampersand_and_brackets_are_found(ctx: AppContext, slack: SlackServer) -> None:
    with_keys(ctx, TEAM_ID, "anthropic")
    make_agent(ctx, TEAM_ID, "R&D <bots>")
    view = slack.open_modal("agent edit " + _slack_escape("R&D <bots>"))
    name = next(b for b in view["blocks"] if b.get("block_id") == "name")
    assert name["element"]["initial_value"] == "R&D <bots>"
    # a new agent's name given in the command is prefilled as typed, not as entities
    view = slack.open_modal("agent new " + _slack_escape("Q&A"))
    name = next(b for b in view["blocks"] if b.get("block_id") == "name")
    assert name["element"]["initial_value"] == "Q&A"
    # and the delete confirmation finds it too
    text = slack.command("agent delete " + _slack_escape("r&d <BOTS>")).text()
    assert "No agent named" not in text and "R&amp;D &lt;bots&gt;" in text


def test_run_input_entities_are_decoded_for_the_model(ctx: AppContext, slack: SlackServer) -> None:
    with_keys(ctx, TEAM_ID, "anthropic")
    agent = make_agent(ctx, TEAM_ID, "Drafter")
    make_pipeline(ctx, TEAM_ID, "Q&A digest", [agent])
    typed = (
        "see <https://example.com/a?b=1&amp;c=2|the page> and <https://x.org> for <@U0USER|casey> "
        "and <@U0OTHER> in <#C0GENERAL|general> <!here> <!subteam^S0TEAM|@devs>: a &lt; b &amp;&amp; c &gt; d "
        "&amp;lt;kept&amp;gt;"
    )
    sent = slack.command('run "Q&amp;A digest" ' + typed)
    assert sent.response.status_code == 200
    wait_until(lambda: len(all_runs(ctx, TEAM_ID)) == 1, 10, "the run")
    assert all_runs(ctx, TEAM_ID)[0].input == (
        "see the page (https://example.com/a?b=1&c=2) and https://x.org for @casey "
        "and <@U0OTHER> in #general @here @devs: a < b && c > d &lt;kept&gt;"
    )


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "\n\t ",
        "\u3000",
        "🤖",
        "agent",
        "agent 🤖",
        "run",
        "run   ",
        'run "',
        "run “Essay",
        'agent edit "',
        "pipeline delete 'x",
        "x" * 4000,
        "run Essay " + "y" * 12000,
        "<@U0USER>",
        "&lt;&gt;&amp;",
        "agent edit <#C0GENERAL|general>",
        "artifacts search",
        "help me",
    ],
)
def test_odd_text_always_gets_an_answer(ctx: AppContext, slack: SlackServer, text: str) -> None:
    sent = slack.command(text)
    assert sent.response.status_code == 200
    reply = sent.text()
    assert reply and "Something went wrong" not in reply


def test_emoji_and_80_char_names_round_trip(ctx: AppContext, slack: SlackServer) -> None:
    with_keys(ctx, TEAM_ID, "anthropic")
    long_name = ("🦦 Otter digest " + "ä" * 80)[:80]
    agent = make_agent(ctx, TEAM_ID, long_name)
    make_pipeline(ctx, TEAM_ID, "🚀 Launch", [agent])
    assert long_name[:30] in slack.command("agents").text()
    view = slack.open_modal(f'agent edit "{long_name}"')
    assert next(b for b in view["blocks"] if b.get("block_id") == "name")["element"]["initial_value"] == long_name
    slack.command("run 🚀 Launch go")  # unquoted emoji name
    wait_until(lambda: len(all_runs(ctx, TEAM_ID)) == 1, 10, "the run")


def test_command_from_enterprise_grid_and_dm(ctx: AppContext, slack: SlackServer) -> None:
    grid = SlackRequests(enterprise_id="E0GRID")
    hook = slack.fake.new_response_url()
    body, headers = grid.slash_command("agents", response_url=hook)
    body = body.replace(b"is_enterprise_install=false", b"is_enterprise_install=true")
    headers = sign(body, DEFAULT_SIGNING_SECRET, "application/x-www-form-urlencoded")
    r = slack.post((body, headers))
    assert r.status_code == 200 and "agent" in r.text.lower()
    sent = slack.command("agents", channel_id="D0USERDM", channel_name="directmessage")
    assert sent.response.status_code == 200 and sent.text()
