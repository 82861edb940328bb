"""Process configuration, read once from the environment and `.env`.

Every entry point calls `load_settings()`, which turns a validation problem into one
line naming the variable and the fix (`ConfigError`), so nobody sees a traceback for a
typo in their environment.
"""

from __future__ import annotations

import ipaddress
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.fernet import Fernet
from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SLACK_API_URL = "https://slack.com/api/"


class ConfigError(Exception):
    """A configuration value is missing or malformed; the message is one actionable line."""


def _check_url(name: str, value: str | None, schemes: tuple[str, ...], example: str) -> str | None:
    if value is None or value == "":
        return None
    parts = urlsplit(value)
    if parts.scheme not in schemes or not (parts.netloc or parts.path or parts.query):
        raise ValueError(f"{name} must be a URL like {example} (got {value!r})")
    return value


class Settings(BaseSettings):
    """The variables of the README's configuration tables. Names match the environment exactly."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=True)

    DATABASE_URL: str | None = None
    REDIS_URL: str | None = None
    SLACK_BOT_TOKEN: str | None = None
    SLACK_SIGNING_SECRET: str | None = None
    SLACK_APP_TOKEN: str | None = None
    SLACK_CLIENT_ID: str | None = None
    SLACK_CLIENT_SECRET: str | None = None
    SLACK_API_URL: str = DEFAULT_SLACK_API_URL
    ANTHROPIC_BASE_URL: str | None = None
    OPENAI_BASE_URL: str | None = None
    ANTHROPIC_API_KEY: str | None = None
    OPENAI_API_KEY: str | None = None
    PIPEBOT_SECRET_KEY: str | None = None
    PIPEBOT_PUBLIC_URL: str | None = None
    PIPEBOT_ADMINS: str = ""
    # OAuth mode: the teams the deployment's ANTHROPIC_/OPENAI_API_KEY serve (empty: none).
    PIPEBOT_FALLBACK_KEY_TEAMS: str = ""
    # The teams that may install and use this deployment (empty: any).
    PIPEBOT_ALLOWED_TEAMS: str = ""
    PORT: int = Field(default=3000, ge=1, le=65535)
    # Runs one `pipebot worker` keeps in flight (each mostly waits on a model, so threads fit).
    PIPEBOT_WORKER_CONCURRENCY: int = Field(default=32, ge=1, le=1024)
    # Runs of one workspace in flight at once across all workers, so one team cannot take every slot.
    PIPEBOT_WORKSPACE_CONCURRENCY: int = Field(default=8, ge=1, le=1024)

    # Tuning (README "Tuning"): operators may change these; tests shorten the timings.
    PIPEBOT_QUEUE: str = Field(default="pipebot", min_length=1)  # one deployment, one RQ queue
    PIPEBOT_RUN_TIME_LIMIT_SECONDS: float = Field(default=900, gt=0)  # longer runs are stopped and failed
    PIPEBOT_PROVIDER_TIMEOUT_SECONDS: float = Field(default=120, gt=0)  # longest wait for a model's next bytes
    PIPEBOT_HEARTBEAT_SECONDS: float = Field(default=5, gt=0)  # how often a running run proves its worker alive
    PIPEBOT_STALE_AFTER_SECONDS: float = Field(default=30, gt=0)  # no heartbeat for longer: its worker is gone
    PIPEBOT_REAP_SECONDS: float = Field(default=10, gt=0)  # how often a worker looks for such runs
    # How often a worker looks for due schedules (DESIGN §13: a fire starts within 15 s of its time).
    PIPEBOT_SCHEDULE_SECONDS: float = Field(default=2, gt=0)
    PIPEBOT_QUEUE_STATUS_SECONDS: float = Field(default=3, gt=0)  # how often "Queued: N runs ahead" is refreshed
    PIPEBOT_DATA_DIR: Path = Path(".pipebot")  # embedded services' data and the local secret key
    # Finished runs and their artifacts older than this many days are purged by the workers'
    # maintenance (core/runs/retention.py); unset keeps them for ever.
    PIPEBOT_RETENTION_DAYS: int | None = None
    # Files a run takes in (DESIGN §11), checked from Slack's file object before any download.
    PIPEBOT_MAX_FILES: int = Field(default=10, ge=0)  # files one run takes
    PIPEBOT_MAX_FILE_MB: float = Field(default=20, gt=0)  # the largest single file
    PIPEBOT_MAX_RUN_FILES_MB: float = Field(default=50, gt=0)  # all of one run's files together
    PIPEBOT_MAX_PDF_PAGES: int = Field(default=100, gt=0)  # pages of one PDF
    # MCP servers (DESIGN §12, core/mcp/): hosts whose URLs may be plain http and may resolve
    # to private, loopback or link-local addresses (comma-separated host names or IPs).
    PIPEBOT_MCP_ALLOWED_HOSTS: str = ""
    PIPEBOT_MCP_TIMEOUT_SECONDS: float = Field(default=30, gt=0)  # one MCP operation (list or call), start to end
    PIPEBOT_MCP_RESULT_MAX_CHARS: int = Field(default=20_000, ge=100)  # a tool result reaching the model
    PIPEBOT_MCP_TOOLS_CACHE_MINUTES: float = Field(default=5, ge=0)  # a server's tool list kept in Redis

    @field_validator("DATABASE_URL")
    @classmethod
    def _database_url(cls, v: str | None) -> str | None:
        return _check_url(
            "DATABASE_URL",
            v,
            ("postgres", "postgresql", "postgresql+psycopg"),
            "postgresql://user:password@host:5432/dbname",
        )

    @field_validator("REDIS_URL")
    @classmethod
    def _redis_url(cls, v: str | None) -> str | None:
        return _check_url("REDIS_URL", v, ("redis", "rediss", "unix"), "redis://localhost:6379/0")

    @field_validator("SLACK_API_URL", "ANTHROPIC_BASE_URL", "OPENAI_BASE_URL", "PIPEBOT_PUBLIC_URL")
    @classmethod
    def _http_url(cls, v: str | None, info: ValidationInfo) -> str | None:
        return _check_url(info.field_name or "URL", v, ("http", "https"), "https://example.com")

    @field_validator("SLACK_BOT_TOKEN")
    @classmethod
    def _bot_token(cls, v: str | None) -> str | None:
        if v and not v.startswith("xoxb-"):
            raise ValueError("SLACK_BOT_TOKEN must be a bot token starting with xoxb- (OAuth & Permissions page)")
        return v or None

    @field_validator("SLACK_APP_TOKEN")
    @classmethod
    def _app_token(cls, v: str | None) -> str | None:
        if v and not v.startswith("xapp-"):
            raise ValueError(
                "SLACK_APP_TOKEN must be an app-level token starting with xapp- (Basic Information > App-Level Tokens, scope connections:write)"
            )
        return v or None

    @field_validator("PIPEBOT_SECRET_KEY")
    @classmethod
    def _secret_key(cls, v: str | None) -> str | None:
        if not v:
            return None
        for key in (k.strip() for k in v.split(",")):
            try:
                Fernet(key.encode())
            except (ValueError, TypeError):
                raise ValueError(
                    "PIPEBOT_SECRET_KEY must be one or more comma-separated Fernet keys; create one with `pipebot keygen`"
                ) from None
        return v

    @field_validator("PIPEBOT_RETENTION_DAYS", mode="before")
    @classmethod
    def _retention_days(cls, v: Any) -> int | None:
        if v is None or (isinstance(v, str) and not v.strip()):
            return None
        text = str(v).strip()
        if isinstance(v, bool) or not text.isdigit() or int(text) < 1:
            raise ValueError(
                "PIPEBOT_RETENTION_DAYS must be a whole number of days, 1 or more (leave it unset to keep runs for ever)"
            )
        return int(text)

    @field_validator("PIPEBOT_ADMINS")
    @classmethod
    def _admins(cls, v: str) -> str:
        for uid in _split(v):
            if not uid.isalnum() or uid[0] not in "UW":
                raise ValueError(f"PIPEBOT_ADMINS must be comma-separated Slack user ids like U012ABCDEF (got {uid!r})")
        return v

    @field_validator("PIPEBOT_FALLBACK_KEY_TEAMS", "PIPEBOT_ALLOWED_TEAMS")
    @classmethod
    def _teams(cls, v: str, info: ValidationInfo) -> str:
        for tid in _split(v):
            if not tid.isalnum() or tid[0] not in "TE":
                raise ValueError(
                    f"{info.field_name} must be comma-separated Slack team ids like T012ABCDEF (got {tid!r})"
                )
        return v

    @field_validator("PIPEBOT_MCP_ALLOWED_HOSTS")
    @classmethod
    def _mcp_hosts(cls, v: str) -> str:
        for host in _split(v):
            if not _plain_host(host):
                raise ValueError(
                    f"PIPEBOT_MCP_ALLOWED_HOSTS must be comma-separated host names or IP addresses, without "
                    f"scheme, port or path, like tools.internal,10.0.0.5 (got {host!r})"
                )
        return v

    @cached_property
    def mcp_allowed_hosts(self) -> frozenset[str]:
        """Lower-case, without a trailing dot or IPv6 brackets, as core/mcp/urls.py compares them."""
        return frozenset(h.lower().rstrip(".").strip("[]") for h in _split(self.PIPEBOT_MCP_ALLOWED_HOSTS))

    @cached_property
    def fallback_key_teams(self) -> frozenset[str]:
        return frozenset(_split(self.PIPEBOT_FALLBACK_KEY_TEAMS))

    @cached_property
    def allowed_teams(self) -> frozenset[str]:
        """Empty: every team is allowed."""
        return frozenset(_split(self.PIPEBOT_ALLOWED_TEAMS))

    def team_allowed(self, team_id: str | None) -> bool:
        return not self.allowed_teams or (team_id or "") in self.allowed_teams

    def fallback_keys_serve(self, team_id: str) -> bool:
        """Whether the deployment's provider keys serve ``team_id``: with a bot token (one
        workspace) always; in multi-workspace OAuth mode only the listed teams."""
        if self.SLACK_BOT_TOKEN or not self.slack_oauth_enabled:
            return True
        return team_id in self.fallback_key_teams

    @cached_property
    def admin_ids(self) -> frozenset[str]:
        return frozenset(_split(self.PIPEBOT_ADMINS))

    @cached_property
    def secret_keys(self) -> list[str]:
        """Fernet keys, newest first: the first encrypts, all decrypt (rotation)."""
        return [k.strip() for k in (self.PIPEBOT_SECRET_KEY or "").split(",") if k.strip()]

    @property
    def public_url(self) -> str:
        return (self.PIPEBOT_PUBLIC_URL or f"http://localhost:{self.PORT}").rstrip("/")

    @property
    def run_time_limit_s(self) -> int:
        """Whole seconds: the limit is said in minutes and the RQ job timeout is set above it."""
        return int(self.PIPEBOT_RUN_TIME_LIMIT_SECONDS)

    @property
    def slack_oauth_enabled(self) -> bool:
        """Multi-workspace installs (``/slack/install``): a client id and secret and no
        SLACK_BOT_TOKEN. With a bot token set, the client id and secret only serve Sign in
        with Slack for that one workspace (DESIGN §10)."""
        return bool(self.SLACK_CLIENT_ID and self.SLACK_CLIENT_SECRET and not self.SLACK_BOT_TOKEN)

    @property
    def slack_signin_enabled(self) -> bool:
        """Whether the web viewer can ask who is looking (Sign in with Slack): Slack accepts
        only https redirect URLs, and the flow needs a Slack app's client id and secret.
        Otherwise pages are served to this computer only (bot/web/access.py)."""
        public = (self.PIPEBOT_PUBLIC_URL or "").strip().lower()
        return public.startswith("https://") and bool(self.SLACK_CLIENT_ID and self.SLACK_CLIENT_SECRET)


def _plain_host(host: str) -> bool:
    """A host name or an IP address alone: no scheme, port, path, user or spaces."""
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        return not any(c in host for c in ":/@?# \t")


def _split(value: str) -> list[str]:
    return [p.strip() for p in value.split(",") if p.strip()]


def load_settings(**overrides: Any) -> Settings:
    """Build settings or raise `ConfigError` with one line naming the variable and the fix."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        err = exc.errors()[0]
        name = ".".join(str(p) for p in err.get("loc", ())) or "configuration"
        msg = str(err.get("msg", "invalid value"))
        msg = msg.removeprefix("Value error, ")
        if name not in msg:
            got = err.get("input")
            msg = f"{name}: {msg[:1].lower() + msg[1:]}" + (f" (got {got!r})" if isinstance(got, str) else "")
        raise ConfigError(f"{msg}; fix it in the environment or .env") from None
