"""The handles a process needs (settings, database, Redis, the secret box), built once.

Processes differ only in what they start, so web, worker and CLI share this.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import redis

from core.settings import ConfigError, Settings
from storage.db import Engine, SessionFactory, make_engine, make_sessionmaker
from storage.secrets import SecretBox, new_key

LOCAL_KEY_FILE = "secret.key"


def secret_keys(settings: Settings, data_dir: Path | None = None, *, create: bool = False) -> list[str]:
    """PIPEBOT_SECRET_KEY, else (local development only) a key kept in the data directory."""
    if settings.secret_keys:
        return settings.secret_keys
    if data_dir is not None:
        path = data_dir / LOCAL_KEY_FILE
        if path.exists():
            return [path.read_text().strip()]
        if create:
            data_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(new_key() + "\n")
            path.chmod(0o600)
            return [path.read_text().strip()]
    raise ConfigError("PIPEBOT_SECRET_KEY is not set; create one with `pipebot keygen` and export it")


@dataclass
class AppContext:
    settings: Settings
    engine: Engine
    sessions: SessionFactory
    redis: redis.Redis
    box: SecretBox
    keys: list[str]
    database_url: str
    redis_url: str

    @classmethod
    def create(cls, settings: Settings, database_url: str, redis_url: str, keys: list[str]) -> AppContext:
        engine = make_engine(database_url)
        return cls(
            settings=settings,
            engine=engine,
            sessions=make_sessionmaker(engine),
            redis=redis.Redis.from_url(redis_url, health_check_interval=30),
            box=SecretBox(keys),
            keys=keys,
            database_url=database_url,
            redis_url=redis_url,
        )

    def close(self) -> None:
        self.engine.dispose()
        self.redis.close()
