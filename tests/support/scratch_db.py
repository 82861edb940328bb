"""A scratch database for migration tests: created empty (no schema), dropped afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url

from storage.db import normalise_url


@contextmanager
def empty_database(database_url: str) -> Iterator[Engine]:
    """A database of its own on the server of ``database_url``, with no schema."""
    name = f"pipebot_mig_{uuid.uuid4().hex[:8]}"
    admin = normalise_url(database_url).replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    engine = create_engine(make_url(normalise_url(database_url)).set(database=name))
    try:
        yield engine
    finally:
        engine.dispose()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
