"""Alembic environment for the compliance store: always run by include.store.migrate, on the connection it passes
(which already holds the migration lock), with the store's own version table."""

from __future__ import annotations

from alembic import context

from include.store.migrate import VERSION_TABLE
from include.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reachable by calling the alembic CLI directly
    raise RuntimeError("run the compliance store's migrations with: python -m include.store.migrate")

context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
)
with context.begin_transaction():
    context.run_migrations()
