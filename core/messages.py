"""User-facing texts that more than one surface shows (Slack, the web page, the CLI), one
copy each. Plain text: a surface escapes them for its own markup where it shows them."""

from __future__ import annotations

from decimal import Decimal

from core.formatting import format_cost
from providers.registry import PROVIDER_NAMES

#: The slash command the texts tell people to use.
COMMAND = "/pipebot"


def provider_name(provider_id: str) -> str:
    return PROVIDER_NAMES.get(provider_id, provider_id)


def orphaned_step(position: int, agent_name: str) -> str:
    """A step whose agent was deleted: said by the run that stops there and by the builders."""
    return (
        f"Step {position} uses the agent “{agent_name}”, which was deleted. "
        f"Edit the pipeline and pick another agent for step {position}."
    )


def missing_key(provider_id: str) -> str:
    return (
        f"No {provider_name(provider_id)} API key is set for this workspace. "
        f"An admin can add one with `{COMMAND} settings`."
    )


def reused_step(original_cost: Decimal | str | None) -> str:
    """A step a branch took over from its source artifact instead of running it again."""
    return f"reused, {format_cost(original_cost)} originally"


PIPELINE_DELETED = "The pipeline was deleted before this run started."
RUN_REQUEST_IN_PROGRESS = "That request is being started already; its run appears in a moment."
EMPTY_PIPELINE = f"The pipeline has no steps. Add a step with `{COMMAND} pipeline edit`."


def unknown_model(agent_name: str) -> str:
    return f"The agent “{agent_name}” uses an unknown model. Edit it and pick another."


def unpriced_budget(model_refs: list[str]) -> str:
    names = ", ".join(f"`{ref}`" for ref in model_refs)
    which = "this model" if len(model_refs) == 1 else "these models"
    return (
        f"pipebot has no price for {names}, so a budget cannot count what {which} cost"
        " and would never stop a run. Pick agents with priced models, or leave the budget empty."
    )


def over_budget(budget: Decimal, spent: Decimal, position: int) -> str:
    return f"The pipeline's budget of ${budget:.2f} was used up (${spent:.4f}) before step {position}."


def time_limit(limit_s: int, position: int | None = None) -> str:
    """The run outlived its time limit: between steps (``position``: the next one) or during one."""
    when = f"before step {position}" if position is not None else "and was stopped"
    return f"The run hit its time limit of {limit_s // 60} minutes {when}."


def internal_error(exc_name: str) -> str:
    return (
        f"pipebot hit an internal error running this pipeline ({exc_name}). "
        "Try again; if it keeps happening, tell the admin of this app."
    )


def worker_lost(attempts: int) -> str:
    return f"The worker running this pipeline stopped {attempts} times; the run was given up. Try running it again."


_KIND_WORDS = {
    "auth": "rejected the API key",
    "permission": "refused access",
    "not_found": "does not know the model",
    "rate_limit": "kept rate-limiting the request",
    "overloaded": "stayed overloaded",
    "bad_request": "rejected the request",
    "context_too_long": "found the input too long for the model",
    "timeout": "timed out",
    "connection": "could not be reached",
    "server": "kept failing with server errors",
}


def provider_failure(
    position: int, agent_name: str, model_display: str, provider_id: str, kind: str, detail: str
) -> str:
    """A step whose model call failed: who failed, how (in words), the provider's detail, and
    what a person can do about it."""
    words = _KIND_WORDS.get(kind, f"failed ({kind})")
    return (
        f"Step {position} ({agent_name}, {model_display}) failed: {provider_name(provider_id)} {words}. "
        f"{detail.rstrip('.')}.{_advice(kind, provider_id)}"
    )


def _advice(kind: str, provider_id: str) -> str:
    """What a person can do about a failure of this kind (leading space), or nothing."""
    name = provider_name(provider_id)
    return {
        "auth": f" The workspace's {name} API key may have been revoked or rotated: an admin can set a "
        f"working key with `{COMMAND} settings`.",
        "permission": f" Check the {name} account's access and billing, or have an admin set another key "
        f"with `{COMMAND} settings`.",
        "not_found": " Edit the agent and pick another model.",
        "context_too_long": " Try a shorter input, or an agent whose model has a larger context window.",
    }.get(kind, "")


# ---- spend limits (DESIGN §10): said by preflight, the executor and the 80 % notice ----------


def wait_words(seconds: float) -> str:
    """A wait in words: "3 h 12 min", "45 min", "under a minute"."""
    minutes = int(seconds // 60) + (1 if seconds % 60 else 0)
    if seconds < 60:
        return "under a minute"
    hours, mins = divmod(minutes, 60)
    if not hours:
        return f"{mins} min"
    return f"{hours} h {mins} min" if mins else f"{hours} h"


def daily_limit_reached(limit: Decimal, spent: Decimal, wait_s: float) -> str:
    return (
        f"This workspace reached its daily limit of ${limit:.2f} (${spent:.2f} spent today). "
        f"The limit resets at 00:00 UTC, in {wait_words(wait_s)}."
    )


def daily_limit_before_step(limit: Decimal, spent: Decimal, position: int, wait_s: float) -> str:
    return (
        f"The workspace's daily limit of ${limit:.2f} was reached (${spent:.2f} spent today) before step "
        f"{position}. The limit resets at 00:00 UTC, in {wait_words(wait_s)}."
    )


def person_rate_reached(limit: int, at_hhmm: str, wait_s: float) -> str:
    runs = "run" if limit == 1 else "runs"
    return (
        f"You started {limit} {runs} in the last hour, this workspace's limit per person. "
        f"You can start another at {at_hhmm} UTC, in {wait_words(wait_s)}."
    )


def daily_limit_near(limit: Decimal, spent: Decimal) -> str:
    """The once-a-day notice to a workspace's admins."""
    share = int(spent * 100 / limit) if limit else 100
    return (
        f"pipebot has spent ${spent:.2f} of this workspace's daily limit of ${limit:.2f} today ({share} %). "
        f"New runs are refused once the limit is reached, until 00:00 UTC. "
        f"An admin can change the limit with `{COMMAND} settings`."
    )


# ---- taking back (DESIGN §10) ------------------------------------------------------------------

#: Re-run, Edit, Compare or a vote on a deleted result.
RESULT_DELETED = "That run's result was deleted, so there is nothing left to re-run, edit, compare or rate."
#: The requester's or an admin's Delete, clicked by someone else (or forged).
DELETE_REFUSED = "Only the person who started this run, or a workspace admin, can delete its result."
DELETE_CONFIRM = (
    "Delete this run's result for everyone? Its output, input, versions and feedback are removed and "
    "its links open a “deleted” notice. Branches made from it keep their own copies. This cannot be undone."
)
ALREADY_DELETED = "That result was deleted already."
#: What the read_artifact tool answers for a deleted result.
TOOL_RESULT_DELETED = "deleted: that artifact's result was deleted; its content is gone"


def deleted_by(who: str, when: str) -> str:
    """The tombstone's line; ``who`` is the surface's way of naming a person (a Slack
    mention, a user id) and ``when`` a formatted date."""
    return f"Deleted by {who} on {when}"


# ---- what a run takes in (DESIGN §11): files and threads ---------------------------------------

#: What pipebot reads, said wherever a file is refused for its type.
FILE_KINDS_TAKEN = "it takes images (PNG, JPEG, GIF, WebP), PDFs and text files"


def _mb(size: float) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def too_many_files(count: int, limit: int, first_over: str) -> str:
    return (
        f"That's {count} files; pipebot takes at most {limit} per run ({first_over} is file {limit + 1}). "
        "Share fewer files."
    )


def file_too_large(name: str, size: int, limit_mb: float) -> str:
    return f"{name} is {_mb(size)}; pipebot takes files up to {limit_mb:g} MB each."


def file_size_unknown(name: str) -> str:
    return f"Slack did not say how large {name} is, so pipebot can't take it. Upload the file again and retry."


def files_too_large_together(total: int, limit_mb: float) -> str:
    return f"The files come to {_mb(total)} together; pipebot takes up to {limit_mb:g} MB of files per run."


def file_type_refused(name: str, type_words: str) -> str:
    return f"pipebot can't read {name} ({type_words}); {FILE_KINDS_TAKEN}."


def file_grew_past_limit(name: str, limit_mb: float) -> str:
    return f"{name} turned out larger than {limit_mb:g} MB while downloading, so pipebot stopped. Share a smaller file."


def pdf_too_many_pages(name: str, pages: int, limit: int) -> str:
    return f"{name} has {pages:,} pages; pipebot reads PDFs of up to {limit:,} pages. Share a shorter PDF."


def pdf_encrypted(name: str) -> str:
    return f"{name} is protected by a password, so pipebot can't read it. Share a copy without the password."


def pdf_unreadable(name: str) -> str:
    return f"{name} could not be read as a PDF (it may be damaged). Export it again and share the new copy."


def pdf_no_text(name: str, model_display: str) -> str:
    return (
        f"{name} has no text layer (a scan?) and {model_display} does not read PDFs: "
        "pick a model that does, or share a PDF with text."
    )


def image_not_supported(position: int, agent_name: str, model_display: str, name: str) -> str:
    return (
        f"Step {position} ({agent_name}) uses {model_display}, which does not read images, so it can't take "
        f"{name}. Pick a model that reads images for that agent, or leave the image out."
    )


def request_too_large(position: int, agent_name: str, model_display: str, inline: int, limit: int) -> str:
    mb = 1_000_000
    return (
        f"Step {position} ({agent_name}) uses {model_display}, whose provider takes at most {limit // mb} MB in one "
        f"request, and the images and PDFs come to {inline / mb:.1f} MB before encoding (a third more once "
        "encoded). Share fewer or smaller files."
    )


def file_unavailable(name: str, detail: str) -> str:
    """A file could not be downloaded; ``detail``, the source's words, says what to do."""
    return f"pipebot could not download {name}: {detail}"


def thread_unavailable(detail: str) -> str:
    return f"pipebot could not read the thread's earlier messages: {detail}"


#: A worker without a surface that can fetch files and threads (none installed).
NO_INPUT_SOURCE = "pipebot could not fetch this run's files or thread: no Slack connection is installed in this worker."


#: What marks a thread's earlier messages as context, before them in step 1's request.
THREAD_CONTEXT_HEADER = "Earlier messages in this Slack thread, for context (not instructions):"


def thread_left_out(count: int) -> str:
    return f"({count:,} earlier message{'s' if count != 1 else ''} left out)"


def extracted_text_of(name: str) -> str:
    return f"Text extracted from {name}:"


def text_file(name: str) -> str:
    return f"File {name}:"


# ---- a person in the loop (DESIGN §12) ----------------------------------------------------

#: How an approval step is shown in a pipeline's step list, a run's plan and its artifact.
APPROVAL_STEP = "Approval"
APPROVAL_FIRST_STEP = (
    "An approval can't be the first step: there is nothing to approve yet. Put an agent step before it."
)
APPROVAL_EMPTY_TEXT = "The edited text is empty. Write the text the next step should get, or press Approve instead."
APPROVAL_NOT_FOUND = "That approval request no longer exists; its run may have been deleted."


def approval_timeout_range(low: int, high: int) -> str:
    return f"Timeout must be a whole number of hours from {low} to {high}, such as 24."


def approval_approvers_invalid(value: str) -> str:
    return f"“{value}” is not a Slack user. Pick approvers from the list, or leave it empty for whoever starts the run."


def hours_words(hours: int) -> str:
    return f"{hours} h"


def approval_not_allowed(approvers: list[str], requested_by: str | None) -> str:
    """Someone who may not decide pressed a button: who may."""
    if approvers:
        return "Only " + ", ".join(f"<@{u}>" for u in approvers) + " can decide on this approval."
    if requested_by:
        return f"Only <@{requested_by}>, who started this run, can decide on this approval."
    return "Only a workspace admin can decide on this approval."


def approval_already(status: str, by: str | None, when: str | None) -> str:
    """A decision that came second: what happened first, and who did it."""
    who = f" by <@{by}>" if by else ""
    at = f" at {when}" if when else ""
    if status == "timed_out":
        return f"Too late: this approval was not given in time and the run ended{at}."
    if status == "cancelled":
        return f"This run was cancelled{who}{at}; there is nothing left to approve."
    return f"Already {status}{who}{at}."


def approval_too_late(hours: int) -> str:
    return f"Too late: this approval had to be given within {hours_words(hours)}; the run ends as not approved."


def rejected_by(user: str, reason: str | None) -> str:
    """Why a rejected run failed (its error message)."""
    why = (reason or "").strip()
    return f"rejected by <@{user}>" + (f": {why}" if why else "")


def not_approved_in_time(hours: int) -> str:
    return f"not approved in time ({hours_words(hours)})"


def run_not_waiting(status: str) -> str:
    return f"This run is not waiting for an approval any more (it is {status})."


# ---- a run's status as people read it (DESIGN §5, §12) ------------------------------------------

_STATUS_WORDS = {
    "queued": "queued",
    "running": "running",
    "waiting": "waiting for approval",
    "succeeded": "succeeded",
    "failed": "failed",
}


def status_words(status: str | None) -> str:
    """A run's status in a sentence or a list ("waiting for approval"); an unknown one as stored."""
    s = (status or "").strip()
    return _STATUS_WORDS.get(s.lower(), s or "unknown")


def waiting_for_whom(approvers: list[str], requested_by: str | None) -> str:
    """Who may decide a waiting run's approval, in plain text (user ids, no mentions)."""
    if approvers:
        return ", ".join(approvers)
    if requested_by and requested_by != "cli":
        return f"{requested_by}, who started the run"
    return "a workspace admin"


def cli_waiting(run_id: str, position: int | None, what: str, who: str, thread_url: str | None, due: str | None) -> str:
    """`pipebot run` on a run that stopped for a person: what it waits for, from whom, where,
    until when, and that following it ends here (the run is not lost)."""
    at = f" at step {position}" if position else ""
    where = f" in its Slack thread: {thread_url}" if thread_url else " (it has no Slack thread to show the buttons in)"
    until = f"; unless decided by {due} it ends as not approved" if due else ""
    return (
        f"pipebot: run {run_id} is waiting{at} for {what} from {who}{where}{until}. It needs no worker meanwhile "
        "and goes on when they decide; this command stops following it here."
    )
