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


def cannot_post_run(name: str, channel_id: str, why: str) -> str:
    """To a schedule's creator (mrkdwn ``why`` from Slack's surface): its run ran unseen."""
    return f"Your scheduled run of “{name}” could not post in <#{channel_id}>, so its result is not in Slack: {why}"


def paused_cannot_post(name: str, channel_id: str, why: str) -> str:
    """To a schedule's creator when its channel took no message (archived, deleted, pipebot
    removed): the run ran unseen, and the schedule pauses rather than run unseen again."""
    return (
        f"{cannot_post_run(name, channel_id, why)}\nThe schedule is paused so it does not run unseen again; "
        f"resume it with `{COMMAND} schedules` once pipebot can post there."
    )


def paused_creator_gone(name: str) -> str:
    return (
        f"The schedule of “{name}” is paused: the person who made it is no longer in this workspace. "
        f"Someone else can make it again with `{COMMAND} schedule new`."
    )


def caught_up(missed: int) -> str:
    return f"Caught up: {missed:,} earlier time{'s' if missed != 1 else ''} passed while no worker was running."


# ---- Slack's form, list and parent message (bot/slack/blocks/schedules.py) -----------------------
MODAL_TITLE = "New schedule"
CRON_HINT = (
    "5 fields: minute hour day-of-month month day-of-week. 0 9 * * 1-5 is 9:00 Monday to Friday; "
    "*/30 * * * * every half hour; 0 8 1 * * 8:00 on the 1st of each month."
)
TIMEZONE_HINT = "The cron's times are in this zone (daylight saving included), e.g. Europe/Berlin."
CHANNEL_HINT = "The runs post here, each in a thread of its own. Private channels: invite @pipebot first."
INPUT_HINT = "What each run works on. Optional when the channel's messages are added."
DIGEST_OPTION = "Add the channel's messages since the last run"
DIGEST_DESCRIPTION = "Each run reads what was posted in the channel since the run before."
INPUT_OR_DIGEST = "Give the runs some input, or tick “Add the channel's messages since the last run”."
NOT_IN_CHANNEL = (
    "I'm not in that channel, so I could not post the runs there. Invite me with /invite @pipebot, or pick another."
)
CHANNEL_ARCHIVED = "That channel is archived. Pick another one."
NO_PIPELINES = "There are no pipelines in this workspace yet. Create one first with `{command} pipeline new`."
NONE_YET = "No schedules yet. `{command} schedule new` makes one."
LIST_TITLE = "Schedules"
DELETE_CONFIRM_TITLE = "Delete this schedule?"
DELETE_CONFIRM_TEXT = "It stops running. Runs it already made stay."
MIN_MINUTES_LABEL = "Shortest schedule interval (minutes)"
MIN_MINUTES_HINT = "Schedules may run at most once every this many minutes (1 to 1440). Empty: 1."
MIN_MINUTES_ERROR = "Enter a whole number of minutes from 1 to 1440, such as 15, or leave it empty for 1."


def paused_note(reason: str | None) -> str:
    return f"paused: {reason}" if reason else "paused"


def deleted(name: str) -> str:
    return f"Deleted the schedule of “{name}”."


def paused(name: str) -> str:
    return f"Paused the schedule of “{name}”."


def resumed(name: str) -> str:
    return f"Resumed the schedule of “{name}”."
