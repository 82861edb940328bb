"""Internal timings: the intervals and timeouts the code relies on but operators do not tune.

What an operator tunes is a field of ``core.settings.Settings``; what only a developer
changes lives here, named once, so a reader finds every clock of the system in one place
(rq's ``rq/defaults.py`` is the model).
"""

from __future__ import annotations

# How long a worker's command-channel thread (RQ's pubsub listener) blocks in one read.
# RQ waits 60 s, and redis-py 8 joins that thread on stop, so a worker took up to a minute
# to exit; one second bounds the wait at the cost of one idle wake-up a second.
COMMAND_CHANNEL_POLL_S = 1.0

# How long a Slack message that matters (a run's parent message, its result, its ✅/❌ or
# cancelled mark, an error reply) waits for its turn and is retried before it is given up
# and logged with the run id (bot/slack/delivery.py). Slack's limits are per minute, so a
# busy workspace clears a backlog in minutes; a quarter of an hour covers a long outage too.
SLACK_DELIVERY_PATIENCE_S = 15 * 60.0
