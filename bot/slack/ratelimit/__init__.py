"""Slack's rate limits, kept by every process that calls Slack: the tiers (tiers.py), the
shared budget in Redis (budget.py), the WebClient that takes a token before each call
(paced.py) and the counters /healthz shows (stats.py)."""
