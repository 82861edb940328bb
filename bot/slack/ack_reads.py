"""Database reads that answer a slash command inside its ack: lean and bounded.

Why a separate engine: `/pipebot agents` is answered in the HTTP ack (bot/slack/listeners/commands.py),
so its read sits on the path Slack times. Through the ORM session with the main engine's
``pool_pre_ping`` it cost about 0.45 ms of CPU and three round trips (ping, SELECT,
COMMIT); this engine does one: a Core select of the five columns the list shows, on an
AUTOCOMMIT connection (nothing to commit or roll back, and an idle connection holds no
locks), without a pre-ping. A connection that went stale (database restarted) fails its
first statement; SQLAlchemy then invalidates the pool and the read is tried once more,
which is what the ping would have done, paid only when it happens.

Bounded: PostgreSQL cancels the statement after ``STATEMENT_TIMEOUT_MS`` and the pool waits
at most ``POOL_TIMEOUT`` for a free connection, so a slow database turns into an empty ack
plus a later reply (bot.slack.listeners.commands.handle_command), never a missed 3 s deadline.

The SELECT is ``storage.repos.agent_list_rows`` (the rows and order of ``list_agents``).
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, Row, create_engine, event
from sqlalchemy.exc import DBAPIError

from storage.repos import agents as agent_repo

STATEMENT_TIMEOUT_MS = 800
POOL_TIMEOUT = 0.5  # seconds to wait for a free connection
POOL_SIZE = 8  # connections kept open; more concurrent readers wait for one (no overflow: no churn)


class AckReads:
    """The lean read engine beside ``main`` (same database); disposed when ``main`` is."""

    def __init__(self, main: Engine, *, statement_timeout_ms: int = STATEMENT_TIMEOUT_MS) -> None:
        self.engine = create_engine(
            main.url,
            pool_size=POOL_SIZE,
            max_overflow=0,
            pool_timeout=POOL_TIMEOUT,
            pool_pre_ping=False,
            isolation_level="AUTOCOMMIT",
            connect_args={"connect_timeout": 2, "options": f"-c statement_timeout={int(statement_timeout_ms)}"},
        )
        ref = weakref.ref(self.engine)

        def dispose(_engine: Engine | None = None, *, close: bool = True) -> None:
            engine = ref()
            if engine is not None:
                engine.dispose(close=close)

        event.listen(main, "engine_disposed", dispose)
        if hasattr(os, "register_at_fork"):  # pooled connections must not cross a fork
            os.register_at_fork(after_in_child=lambda: dispose(close=False))

    def _rows(self, read: Callable[[Connection], Sequence[Row[Any]]]) -> Sequence[Row[Any]]:
        for attempt in (1, 2):
            try:
                with self.engine.connect() as conn:
                    return read(conn)
            except DBAPIError as exc:
                if attempt == 2 or not exc.connection_invalidated:
                    raise
        raise AssertionError("unreachable")

    def agents(self, team_id: str) -> Sequence[Row[Any]]:
        """The workspace's agents for the list (id, name, model, temperature, max_output_tokens,
        tools), by name, case-insensitively."""
        return self._rows(lambda conn: agent_repo.agent_list_rows(conn, team_id))

    def close(self) -> None:
        self.engine.dispose()
