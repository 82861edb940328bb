"""What pipebot says about schedules, one copy of each text (Slack's form and lists, the
worker's notices, the CLI). Plain text: a surface escapes it for its markup."""

from __future__ import annotations

from core.messages import COMMAND

CRON_EMPTY = "Enter when it runs, as a cron like 0 9 * * 1-5 (9:00 every weekday)."
CRON_TOO_LONG = "That cron is too long. Use the 5 fields: minute hour day-of-month month day-of-week."
PIPELINE_MISSING = "Pick the pipeline to run."
CHANNEL_MISSING = "Pick the channel the runs post in."
INPUT_TOO_LONG = "The input is too long."
NOT_FOUND = "That schedule no longer exists."
NOT_YOURS = "Only the person who made this schedule, or a workspace admin, can change it."
GUESTS_CANNOT = "Guests cannot create schedules."


def cron_fields(n: int) -> str:
    if n == 6:
        return (
            "Use 5 fields (minute hour day-of-month month day-of-week), like 0 9 * * 1-5; "
            "schedules do not take seconds."
        )
    return f"A cron has 5 fields (minute hour day-of-month month day-of-week), like 0 9 * * 1-5; this one has {n}."


def cron_invalid(expr: str, why: str) -> str:
    return f"“{expr}” is not a cron pipebot can read ({why}). Example: 0 9 * * 1-5 is 9:00 every weekday."


def cron_never(expr: str) -> str:
    return f"“{expr}” never fires (no such date). Check the day and month fields."


def unknown_timezone(name: str) -> str:
    shown = name[:64] if name else "(empty)"
    return f"“{shown}” is not a time zone pipebot knows. Use a name like Europe/Berlin or America/New_York."


def too_frequent(gap_minutes: int, min_minutes: int) -> str:
    every = "every minute" if gap_minutes <= 1 else f"every {gap_minutes} minutes"
    return (
        f"This schedule would run {every}; this workspace allows at most one run every {min_minutes} minutes "
        f"(an admin's setting). Pick a sparser cron."
    )


def paused_pipeline_gone(name: str) -> str:
    return f"Your schedule of “{name}” is paused: the pipeline was deleted. `{COMMAND} schedules` shows it."


def paused_failed_start(name: str, why: str) -> str:
    return f"Your schedule of “{name}” is paused: its run could not start ({why}). `{COMMAND} schedules` to resume it."


def caught_up(missed: int) -> str:
    return f"Caught up: {missed:,} earlier time{'s' if missed != 1 else ''} passed while no worker was running."
