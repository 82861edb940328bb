"""Alembic environment: the URL comes from the config's `sqlalchemy.url`, set by storage.migrate."""

from typing import Any

from alembic import context
from sqlalchemy import create_engine, pool

from storage.db import normalise_url
from storage.models import Base

config = context.config
target_metadata = Base.metadata

# Tables that live in our database but are not ours to model: slack_sdk's OAuth
# installation and state stores (slack_bots, slack_installations, slack_oauth_states…)
# are created by the migration that installs them, from slack_sdk's own definitions.
# Without this filter autogenerate/compare would propose dropping them.
FOREIGN_TABLE_PREFIXES = ("slack_",)


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Alembic's hook: leave slack_sdk's tables (and their indexes) out of comparisons."""
    table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
    if reflected and compare_to is None and table and table.startswith(FOREIGN_TABLE_PREFIXES):
        return False
    return True


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        context.configure(connection=connectable, target_metadata=target_metadata, include_object=include_object)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("alembic: no sqlalchemy.url set (storage.migrate sets it from the Settings)")
    engine = create_engine(normalise_url(url), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, include_object=include_object)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
