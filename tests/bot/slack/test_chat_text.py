"""Reading a mention's or a DM's text (bot/slack/chat_text.py): pure."""

from __future__ import annotations

from bot.slack.chat_text import ChatCommand, parse_chat_command


def test_mentions_and_dms_read_the_same_way():
    assert parse_chat_command("<@U0PIPEBOT> run Digest the week") == ChatCommand("run", "Digest the week")
    assert parse_chat_command('<@U0PIPEBOT|pipebot>: RUN  "Weekly digest"  a\nb') == ChatCommand(
        "run", '"Weekly digest"  a\nb'
    )
    assert parse_chat_command("run\nDigest") == ChatCommand("run", "Digest")
    assert parse_chat_command("<@U0PIPEBOT> run") == ChatCommand("run", "")
    assert parse_chat_command("<@U0PIPEBOT>  ") == ChatCommand("empty")
    assert parse_chat_command("") == ChatCommand("empty")
    assert parse_chat_command("<@U0PIPEBOT> Help") == ChatCommand("help")
    assert parse_chat_command("help") == ChatCommand("help")
    assert parse_chat_command("hello <@U0PIPEBOT>") == ChatCommand("other", "hello <@U0PIPEBOT>")
    assert parse_chat_command("running late") == ChatCommand("other", "running late")
