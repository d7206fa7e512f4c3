"""Alembic's environment for the tracker: runs on the connection that
:func:`takedown.tracker.db.upgrade` passes in ``config.attributes``, so the
URL, the engine options (SQLite's WAL and foreign keys) and the error
messages stay those of :mod:`takedown.tracker.db`."""

from alembic import context

from takedown.tracker.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
