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
