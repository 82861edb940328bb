"""An artifact's content in the shape the run executor writes, for tests of its readers."""

from __future__ import annotations

from typing import Any

URLS = dict(
    slack_thread_url="https://acme.slack.com/archives/C1/p1700000000000100",
    json_url="/artifacts/0b5c7d0e-8d5b-4c59-9d0a-1a2b3c4d5e6f.json?s=sig",
    markdown_url="/artifacts/0b5c7d0e-8d5b-4c59-9d0a-1a2b3c4d5e6f.md?s=sig",
)


def make_artifact(**overrides: Any) -> dict[str, Any]:
    """A realistic two-step artifact in the shape the run executor writes."""
    art: dict[str, Any] = {
        "version": 1,
        "run_id": "0b5c7d0e-8d5b-4c59-9d0a-1a2b3c4d5e6f",
        "team_id": "T1",
        "status": "succeeded",
        "pipeline": {"id": 12, "name": "Weekly digest"},
        "input": "Summarise this week's #eng channel",
        "output": (
            "# Weekly digest\n\nShipped **billing v2** ([PR](https://github.com/acme/app/pull/123)).\n\n"
            "| Risk | Owner | Severity |\n|:--|:-:|--:|\n| API deprecation | Ana | High |\n\n"
            "~~old plan~~ new plan\n\n```python\nprint('hi')\n```\n"
        ),
        "requested_by": "U123ABC",
        "created_at": "2026-11-24T10:00:00+00:00",
        "started_at": "2026-11-24T10:00:00+00:00",
        "finished_at": "2026-11-24T10:00:03.400000+00:00",
        "duration_ms": 3400,
        "cost_usd": "0.001234",
        "models": ["anthropic:claude-haiku-4-5", "openai:gpt-5-mini"],
        "usage": {"input_tokens": 1520, "output_tokens": 812, "cache_read_tokens": 64, "cache_write_tokens": 0},
        "slack": {"channel_id": "C1", "thread_ts": "1700000000.000100", "thread_url": URLS["slack_thread_url"]},
        "error": None,
        "steps": [
            {
                "position": 1,
                "status": "succeeded",
                "agent": {
                    "id": 3,
                    "name": "Summariser",
                    "system_prompt": "You summarise Slack channels.",
                    "model": "anthropic:claude-haiku-4-5",
                    "temperature": None,
                    "max_output_tokens": 1024,
                },
                "model": "anthropic:claude-haiku-4-5",
                "model_display": "Claude Haiku 4.5",
                "input": "Summarise this week's #eng channel",
                "output": "Draft: billing v2 shipped.",
                "usage": {"input_tokens": 1000, "output_tokens": 500},
                "raw_usage": {"input_tokens": 1000, "output_tokens": 500},
                "cost_usd": "0.0008",
                "price_version": "2026-11-01",
                "latency_ms": 1850,
                "error": None,
            },
            {
                "position": 2,
                "status": "succeeded",
                "agent": {
                    "id": 4,
                    "name": "Editor",
                    "system_prompt": "Polish the draft.",
                    "model": "openai:gpt-5-mini",
                    "temperature": 0.3,
                    "max_output_tokens": 2048,
                },
                "model": "openai:gpt-5-mini",
                "model_display": "GPT-5 mini",
                "input": "Draft: billing v2 shipped.",
                "output": "Final: billing v2 shipped.",
                "usage": {"input_tokens": 520, "output_tokens": 312},
                "cost_usd": None,
                "latency_ms": 1550,
                "error": None,
            },
        ],
    }
    art.update(overrides)
    return art
