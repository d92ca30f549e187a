"""Alembic environment: always run against the connection the store hands over."""

from alembic import context

from copilot.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only via `alembic` CLI without our store
    raise RuntimeError("run migrations through copilot (copilot.store.migrate.upgrade)")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
