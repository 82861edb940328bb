"""Engines and sessions. One engine per process; pools never cross a fork."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

#: The types the layers above name in annotations (and the one error they catch: a unique key
#: already taken), so that only storage imports SQLAlchemy.
SessionFactory = sessionmaker[Session]
__all__ = [
    "Engine",
    "IntegrityError",
    "Session",
    "SessionFactory",
    "make_engine",
    "make_sessionmaker",
    "normalise_url",
    "ping",
    "transaction",
]


def normalise_url(url: str) -> str:
    """Accept the `postgres://` and `postgresql://` spellings people paste; use psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str, *, pool_size: int = 5, connect_timeout: int = 5) -> Engine:
    engine = create_engine(
        normalise_url(url),
        pool_size=pool_size,
        max_overflow=10,
        pool_pre_ping=True,
        connect_args={"connect_timeout": connect_timeout},
    )
    _dispose_after_fork(engine)
    return engine


def _dispose_after_fork(engine: Engine) -> None:
    """RQ forks a work horse per job; inherited pooled connections must be dropped, not shared."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: DBAPIConnection, connection_record: ConnectionPoolEntry) -> None:
        connection_record.info["pid"] = os.getpid()

    @event.listens_for(engine, "checkout")
    # The event passes the pool's own record and proxy, which (unlike the ConnectionPoolEntry and
    # PoolProxiedConnection interfaces SQLAlchemy annotates them with) let the connection be dropped.
    def _checkout(dbapi_connection: DBAPIConnection, connection_record: Any, connection_proxy: Any) -> None:
        if connection_record.info.get("pid") != os.getpid():
            connection_record.dbapi_connection = connection_proxy.dbapi_connection = None
            from sqlalchemy import exc

            raise exc.DisconnectionError("connection belongs to another process")

    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=lambda: engine.dispose(close=False))


def make_sessionmaker(engine: Engine) -> SessionFactory:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: SessionFactory) -> Iterator[Session]:
    """A session whose work commits on success and rolls back on any exception."""
    with factory() as session, session.begin():
        yield session


def ping(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
