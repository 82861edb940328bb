"""Internal timings: the intervals and timeouts the code relies on but operators do not tune.

What an operator tunes is a field of ``core.settings.Settings`` (heartbeat, stale-after,
maintenance interval, run time limit, provider timeout); what only a developer changes
lives here, named once, so a reader finds every clock of the system in one place (rq's
``rq/defaults.py`` is the model). Two layers below core keep their own, because they may
not import core: the provider retry policy (providers/retry.py ``RetryPolicy``) and the
artifact search's statement timeout (storage/repos/artifacts.py ``SEARCH_TIMEOUT_MS``).
"""

from __future__ import annotations

# ---- runs and their RQ jobs (core/runs/queue.py, core/runs/maintenance.py) --------------

# The RQ job outlives the run's own time limit by this much, so the run's own limit ends it
# (with its artifact written) before RQ kills the work horse.
JOB_TIMEOUT_MARGIN_S = 120
# How long RQ keeps a finished job's result, and a failed job's record (for `rq info`).
JOB_RESULT_TTL_S = 3600
JOB_FAILURE_TTL_S = 7 * 86400
# A run just created is enqueued by start_run right after its commit: maintenance leaves a
# queued run this long before it asks whether its job is gone.
QUEUED_GRACE_S = 5.0

# ---- inside a run (core/runs/steps.py, core/runs/cancel_watch.py, core/runs/job.py) -------

# A reply that broke off mid-stream is asked again after this (times the attempt number),
# or after the provider's retry-after, but never waits longer than the cap.
STREAM_RETRY_DELAY_S = 1.0
STREAM_RETRY_MAX_WAIT_S = 30.0
# A running step reads its run's cancel request from PostgreSQL at most this often.
CANCEL_POLL_S = 1.0
# A job waiting for its workspace's fair-share slot looks again after this.
SLOT_WAIT_S = 1.0
# A fair-share slot holder renews every few seconds; a dead one frees its slot after this.
SLOT_LEASE_S = 30.0

# ---- workers (bot/worker/) ---------------------------------------------------------------

# How long a worker's command-channel thread (RQ's pubsub listener) blocks in one read.
# RQ waits 60 s, and redis-py 8 joins that thread on stop, so a worker took up to a minute
# to exit; one second bounds the wait at the cost of one idle wake-up a second.
COMMAND_CHANNEL_POLL_S = 1.0
# A worker that lost Redis asks again after 1 s, doubling up to this.
REDIS_RECONNECT_MAX_S = 30.0
# RQ's own housekeeping (its registries), per worker.
RQ_MAINTENANCE_INTERVAL_S = 60

# ---- elsewhere -----------------------------------------------------------------------------

# How long an artifact edit link (core/artifacts/edit_links.py) stays valid.
EDIT_LINK_TTL_S = 600
# Checking a provider key when it is saved: one call, answered within this.
KEY_CHECK_TIMEOUT_S = 10
# `pipebot run` (bot/cli/run.py) reads its run's progress channel in reads of this length.
CLI_PROGRESS_POLL_S = 1.0

# How long a Slack message that matters (a run's parent message, its result, its ✅/❌ or
# cancelled mark, an error reply) waits for its turn and is retried before it is given up
# and logged with the run id (bot/slack/delivery.py). Slack's limits are per minute, so a
# busy workspace clears a backlog in minutes; a quarter of an hour covers a long outage too.
SLACK_DELIVERY_PATIENCE_S = 15 * 60.0
# A run whose first message would wait at least this long for Slack's budget tells its
# requester so (the slash command's ephemeral answer) instead of leaving them guessing.
SLACK_LONG_WAIT_NOTICE_S = 10.0
