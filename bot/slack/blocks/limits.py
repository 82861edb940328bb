"""Slack's limits, in one place: every builder and text helper reads them from here.

The numbers are Slack's (Block Kit reference; slack_sdk.models checks some of them) or
what Slack enforces in practice where that is stricter than its documentation: messages
fail past about 4,000 characters of text (``msg_too_long``) and about 13k characters of
blocks (``msg_blocks_too_long``). Lengths are counted in Python characters.
"""

from __future__ import annotations

# ---- messages -------------------------------------------------------------------------------
PRACTICAL_MESSAGE_LIMIT = 3900  # leaves room for the "full output" link line
MESSAGE_BLOCKS_JSON_BUDGET = 12_000  # Slack rejects ~13k of blocks JSON; keep a margin
MARKDOWN_BLOCK_BUDGET = 11_000  # markdown blocks: 12,000 cumulative per message
STREAM_CHUNK_LIMIT = 12000  # markdown per chat.appendStream call
TASK_TEXT_LIMIT = 256  # a streamed task's details/output


# ---- blocks and elements ----------------------------------------------------------------------
SECTION_TEXT_LIMIT = 3000  # section text, context element
HEADER_TEXT_LIMIT = 150
BUTTON_TEXT_LIMIT = 24  # our rule for every button (Slack allows 75 outside modals)
SELECT_OPTIONS_LIMIT = 100  # options per select, groups included
OPTION_TEXT_LIMIT = 75  # option text, description and group label
OPTION_VALUE_LIMIT = 150
PLAIN_TEXT_INPUT_LIMIT = 3000  # plain_text_input.max_length (not checked by slack_sdk)


# ---- views (modals and the Home tab) ----------------------------------------------------------
MODAL_TITLE_LIMIT = 24  # modal title, submit and close buttons
PRIVATE_METADATA_LIMIT = 3000
VIEW_BLOCKS_LIMIT = 100  # blocks per modal or Home tab
PLACEHOLDER_TEXT_LIMIT = 150
HINT_TEXT_LIMIT = 2000
TASK_TITLE_LIMIT = 150  # a streamed task's title
