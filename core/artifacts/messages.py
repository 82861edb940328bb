"""What the lifecycle tells a person, one text per rule, shared by Slack, the web viewer and
the CLI."""

from __future__ import annotations

EMPTY_EDIT = "The edit is empty: write the new text, or cancel to keep the current version."
NO_CHANGE = "Nothing changed: the text is the same as in version {version}."
STEP_OUT_OF_RANGE = "There is no step {step}: this artifact has steps 1–{count}."
NO_STEPS = "There is no step {step}: this artifact has no steps."
BAD_TARGET = "An edit changes the final output or one step's output, not “{target}”."
NOTE_TOO_LONG = "The note is {length} characters long: keep it to {limit}."
VERSION_CONFLICT = (
    "Someone saved version {version} meanwhile. Your text was not saved and is kept below: "
    "open version {version}, then apply your change again."
)
NO_VERSION = "This artifact has no version {version}."
ARTIFACT_GONE = "This artifact was deleted, or belongs to another workspace."

COMPARE_COARSE = (
    "This comparison is coarse: the texts differ in too many places to compare word by word, "
    "so some changed passages are shown removed and added whole."
)

EDIT_LINK_TAMPERED = "This edit link is not valid: open Edit again from Slack."
EDIT_LINK_EXPIRED = "This edit link has expired (they work for a few minutes): open Edit again from Slack."
EDIT_LINK_REUSED = "This edit link was used already: each link saves once. Open Edit again from Slack."
EDIT_LINK_WRONG_ARTIFACT = "This edit link is for another artifact."
EDIT_LINK_WRONG_USER = "This edit link was made for someone else: press Edit in Slack to get your own."
EDIT_TOO_LONG = "The text is {size:,} bytes long: an edit holds at most {limit}. Nothing was saved: shorten it."
EDIT_FORM_TOO_LARGE = (
    "The form is over {limit}, so it was not read and nothing was saved (an edit's text holds at "
    "most {text_limit}). Go back to get your text, and shorten it."
)
EDIT_LINK_CSRF = "The form did not come from this edit link: reload the editor and save again."
