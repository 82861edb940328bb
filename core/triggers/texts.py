"""What pipebot says about triggers, one copy of each text. Plain text: a surface escapes it."""

from __future__ import annotations

KIND_UNKNOWN = "Choose when it runs: a reaction, a new message, or a webhook."
PIPELINE_MISSING = "Pick the pipeline to run."
EMOJI_MISSING = "Pick the emoji that starts a run, like memo."
EMOJI_MALFORMED = "Type the emoji's name without colons, like memo or white_check_mark."
MATCHING_TOO_LONG = "Keep the matching text to 200 characters or fewer."
RUNS_PER_HOUR = "Runs per hour must be a whole number from 1 to 1,000."
WEBHOOK_ONE_CHANNEL = "A webhook posts in exactly one channel: pick one."
TOO_MANY_CHANNELS = "Pick at most 100 channels (or none for every channel pipebot is in)."
NAME_TOO_LONG = "Keep the name to 80 characters or fewer."
NOT_FOUND = "That trigger no longer exists."
NOT_YOURS = "Only the person who made this trigger, or a workspace admin, can change it."
GUESTS_CANNOT = "Guests cannot create triggers."
TOO_MANY = "This workspace has 200 triggers, the most it may hold. Delete one first."


def pipeline_gone(name: str) -> str:
    return f"The pipeline “{name}” of this trigger was deleted; the trigger does nothing until it is deleted."


# ---- Slack's form, list and events (bot/slack/listeners/triggers.py, trigger_events.py) ----
NO_PIPELINES = "There are no pipelines yet: create one with /pipebot pipeline new, then make its trigger."
WHEN_REACTION = "a reaction"
WHEN_MESSAGE = "a new message"
WHEN_WEBHOOK = "a webhook"
HINT_EMOJI = "The emoji's name, like memo: anyone reacting with it to a message runs the pipeline on that message."
HINT_MATCHING = "Only messages containing this text (any case). Empty: every new message."
HINT_MESSAGE = (
    "A new message is a person's top-level post: replies in threads, edits, joins and bots' posts never run it."
)
HINT_RUNS_PER_HOUR = "At most this many runs each hour; messages past it are skipped (you get a DM)."
HINT_CHANNELS = "Empty: every channel pipebot is in. pipebot must be in a channel to read it."
HINT_WEBHOOK_CHANNEL = "Exactly one channel: where each webhook run posts its result."
HINT_NAME = "Shown in the run's first message, like “webhook CI deploys”."
GUESTS_CANNOT_OPEN = "Guests cannot create triggers. Ask a full member of this workspace to make one."
NO_TRIGGERS = "No triggers yet. Make one with /pipebot trigger new."
SECRET_ONCE = "Copy the secret now: it is not shown again. If you lose it, delete the trigger and make a new one."
STALE_BUTTON = "That button is out of date. Run /pipebot triggers again."
NOTHING_TO_RUN = "That message has no text or files to run the pipeline on."


def emoji_unknown(name: str) -> str:
    return f"There is no emoji called :{name}: in this workspace. Type the name of one that exists, like memo."


def invite_to_read(channel_ref: str) -> str:
    """``channel_ref``: how the surface names the channel (a Slack channel link)."""
    return f"pipebot cannot read messages in {channel_ref}: invite @pipebot there (/invite @pipebot) and react again."


def runs_skipped(pipeline: str, channel_ref: str, per_hour: int) -> str:
    return (
        f"Your message trigger for “{pipeline}” reached its limit of {per_hour} runs this hour, so new "
        f"messages in {channel_ref} are skipped until the hour is over. Raise Runs per hour by making "
        "the trigger again if that is too few."
    )


def not_in_channels(channel_refs: str, *, webhook: bool) -> str:
    """``channel_refs``: the channels as the surface names them."""
    if webhook:
        return f"pipebot is not in {channel_refs} and cannot join a private channel: invite @pipebot there first."
    return f"pipebot is not in {channel_refs}, so it never sees messages there: invite @pipebot there first."
