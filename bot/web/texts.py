"""What the web viewer says about signing in and who may look: one place for these texts.

Pages print them through autoescaping templates; none holds untrusted text except where a
``{placeholder}`` is filled (a Slack error code, a user id), and those are escaped too.
"""

from __future__ import annotations

# ---- who is looking (the header line of every page) ----------------------------------------
SIGNED_IN_AS = "Signed in as {who}"
SIGN_OUT = "Sign out"
NOT_SIGNED_IN = "Not signed in"
SIGN_IN = "Sign in with Slack"
LOOPBACK_ONLY = (
    "Served to this computer only: set PIPEBOT_PUBLIC_URL to an https address and "
    "SLACK_CLIENT_ID / SLACK_CLIENT_SECRET to share pages"
)

# ---- refusals -------------------------------------------------------------------------------
LOOPBACK_REFUSED_TITLE = "These pages are served to this computer only"
LOOPBACK_REFUSED = (
    "pipebot shows its pages to other computers only once people can sign in with Slack, so that "
    "each person sees only the runs they can see in Slack. Set PIPEBOT_PUBLIC_URL to the https "
    "address of this server and SLACK_CLIENT_ID / SLACK_CLIENT_SECRET to your Slack app's "
    "credentials (Basic Information), add {callback} to the app's redirect URLs, and restart pipebot."
)
SIGNIN_OFF_TITLE = "Sign-in is not set up here"
SIGNIN_OFF = (
    "This pipebot serves its pages to this computer without signing in. To share them, set "
    "PIPEBOT_PUBLIC_URL to an https address and SLACK_CLIENT_ID / SLACK_CLIENT_SECRET."
)
SIGNIN_REQUIRED = "Sign in with Slack to open this: {signin}"

# ---- the sign-in flow -----------------------------------------------------------------------
SIGNIN_FAILED_TITLE = "Signing in didn't work"
STATE_GONE = "This sign-in link was already used or has expired — sign in again"
CANCELLED_TITLE = "You cancelled signing in"
CANCELLED = "Nothing was shared with pipebot. Sign in again whenever you want to open the page."
SLACK_REFUSED = "Slack refused the sign-in (Slack said `{error}`). Sign in again; if it keeps failing, tell your admin."
SLACK_REFUSED_CONFIG = (
    "Slack refused the sign-in (Slack said `{error}`): the app's SLACK_CLIENT_ID / SLACK_CLIENT_SECRET or "
    "its redirect URL ({callback}) do not match the Slack app. Tell your admin."
)
SLACK_UNREACHABLE = "I couldn't reach Slack to finish signing in. Please try again in a minute."
TOKEN_UNTRUSTED = "Slack's answer could not be checked ({reason}). Sign in again."
TEAM_NOT_SERVED = (
    "This pipebot does not serve your Slack workspace ({team}). Sign in with the workspace where "
    "pipebot is installed, or ask your admin to install it in yours."
)
MISSING_CODE = "Slack's answer had no sign-in code. Sign in again."
SIGN_IN_AGAIN = "Sign in again"
SIGNED_OUT_TITLE = "You are signed out"
SIGNED_OUT = "pipebot's pages will ask you to sign in with Slack again."

# ---- deleting a result from its page (bot/web/delete_routes.py) -------------------------------
DELETE_BUTTON = "Delete…"
DELETE_CONFIRM_TITLE = "Delete this result?"
DELETE_CONFIRM_BUTTON = "Delete for everyone"
KEEP_IT = "Keep it"
OPEN_THE_PAGE = "Open the page"
DELETE_FROM_SLACK_TITLE = "Delete it from Slack"
DELETE_FROM_SLACK = (
    "These pages are served without signing in, so they cannot tell who you are and nothing can be "
    "deleted here. Delete it from Slack: View → Delete."
)
DELETE_REFUSED_TITLE = "You can't delete this result"
DELETE_FORM_STALE_TITLE = "This delete was not sent from the page"
DELETE_FORM_STALE = (
    "Its check does not match this page and your sign-in (it came from elsewhere, or you signed in "
    "again since). Nothing was deleted: open the page again and use its Delete button."
)
DELETE_CHECK_FAILED_TITLE = "I couldn't check who may delete this"
DELETE_CHECK_FAILED = (
    "Slack did not say whether you are a workspace admin ({reason}). Nothing was deleted; try again in a minute."
)
DELETE_TOO_LARGE_TITLE = "That is not a Delete form"
DELETE_TOO_LARGE = "The request was larger than a Delete form ever is ({limit}). Nothing was deleted."

# ---- checking with Slack --------------------------------------------------------------------
MEMBERSHIP_UNKNOWN_TITLE = "I couldn't check what you can see"
