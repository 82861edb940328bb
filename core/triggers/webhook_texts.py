"""What a webhook answers (DESIGN §13), one copy of each text. Plain text: the answer is JSON,
and whoever shows it escapes it."""

from __future__ import annotations

from core.messages import COMMAND, wait_words

UNAUTHORIZED = (
    "Unknown webhook or wrong secret. Send the trigger's secret as `Authorization: Bearer SECRET` "
    "to the URL pipebot showed when the trigger was made."
)
PAUSED = f"This webhook's trigger is paused: resume it with `{COMMAND} triggers` to start runs again."
EMPTY_INPUT = "empty input: send the run's input as a JSON or plain text body."
BODY_TOO_LARGE = "The body is over 1 MiB, the most a webhook takes."
UNSUPPORTED_TYPE = "Send the body as `Content-Type: application/json` or `text/plain` (UTF-8)."
NOT_UTF8 = "The body is not valid UTF-8."
NESTED_TOO_DEEPLY = "The body is not usable JSON: it is nested too deeply."
NUMBER_TOO_LONG = "The body is not usable JSON: a number in it has too many digits."
IDEMPOTENCY_KEY_BAD = "Idempotency-Key must be 1 to 200 characters."
RUN_NOT_FOUND = "This webhook started no run with that id."
UNAVAILABLE = "pipebot cannot answer right now; try again in a minute."


def pipeline_gone(name: str) -> str:
    return f"The pipeline “{name}” of this webhook was deleted: make a new trigger for another pipeline."


def cannot_run(why: str) -> str:
    return f"The pipeline of this webhook cannot run now: {why}"


def limited(why: str) -> str:
    return f"The workspace's limits refuse another run now. {why}"


def creator_rate(wait_s: float) -> str:
    return (
        "A webhook's runs count as its creator's, who started this workspace's limit of runs per "
        f"person in the last hour. Try again in {wait_words(wait_s)}."
    )


def unsupported_charset(charset: str) -> str:
    return f"The body must be UTF-8, not {charset[:40]!r}."


def bad_json(detail: str) -> str:
    return f"The body is not valid JSON: {detail}."


def input_too_long(limit: int) -> str:
    return (
        f"The input is over {limit:,} characters, the most a run takes (a JSON body counts as "
        "indented JSON; a top-level JSON string or a text/plain body counts as it is)."
    )
