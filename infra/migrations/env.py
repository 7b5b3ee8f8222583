"""Alembic environment: run with a connection handed over by infra.migrate (async engines)."""

from __future__ import annotations

from alembic import context

from infra.models import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `pointgate migrate` (infra.migrate.upgrade)")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
