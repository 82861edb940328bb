"""The workspace every fake Slack starts with, and Slack's limits as its API documentation states them.

One place for each number, so a test and the fake's check cannot disagree.
"""

# --- the workspace every FakeSlack starts with -------------------------------------
TOKEN = "xoxb-fake-bot-token"
TEAM_ID = "T0PIPEBOT"
TEAM_NAME = "Pipebot Test"
TEAM_DOMAIN = "pipebot-test"
APP_ID = "A0PIPEBOT"
BOT_ID = "B0PIPEBOT"
BOT_USER_ID = "U0PIPEBOT"
CLIENT_ID = "1111.2222"
CLIENT_SECRET = "fake-client-secret"
USER_ID = "U0USER"  # a regular member
ADMIN_ID = "U0ADMIN"  # a workspace admin
OWNER_ID = "U0OWNER"  # the workspace owner (is_admin and is_owner)
GENERAL = "C0GENERAL"  # public, bot is a member
RANDOM = "C0RANDOM"  # public, bot is not a member (join it)
PRIVATE = "C0PRIVATE"  # private, bot is not a member (cannot join)

# --- Slack's limits, as its API documentation states them -----------------------------
MSG_TEXT_LIMIT = 4000
MSG_BLOCKS_JSON_LIMIT = 13000
MSG_BLOCKS_LIMIT = 50
VIEW_BLOCKS_LIMIT = 100
VIEW_TITLE_LIMIT = 24
PRIVATE_METADATA_LIMIT = 3000
CALLBACK_ID_LIMIT = 255
SECTION_TEXT_LIMIT = 3000
SECTION_FIELD_LIMIT = 2000
SECTION_FIELDS_MAX = 10
HEADER_TEXT_LIMIT = 150
MARKDOWN_BLOCK_LIMIT = 12000
STREAM_TEXT_LIMIT = 12000
OPTIONS_LIMIT = 100
OPTION_TEXT_LIMIT = 75
OPTION_VALUE_LIMIT = 150
BUTTON_TEXT_LIMIT = 75
BUTTON_VALUE_LIMIT = 2000
CONTEXT_ACTIONS_MAX = 5
ACTION_ID_LIMIT = 255
BLOCK_ID_LIMIT = 255
INPUT_LABEL_LIMIT = 2000
PLACEHOLDER_LIMIT = 150
PLAIN_TEXT_INPUT_MAX = 3000
TRIGGER_TTL = 3.0
VIEW_STACK_LIMIT = 3
STREAM_TTL = 300.0
RESPONSE_URL_USES = 5
