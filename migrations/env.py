"""Alembic environment. Atrium runs migrations on a connection it hands over (see
registry._migrate), so the same code serves SQLite and PostgreSQL, in and out of an event loop."""

from __future__ import annotations

from typing import TYPE_CHECKING

from alembic import context

from registry import _models, _virtual_models  # noqa: F401 - registers the tables on Base.metadata
from registry._db import Base

if TYPE_CHECKING:
    from sqlalchemy import Connection

config = context.config
target_metadata = Base.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things: batch mode rebuilds tables instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through `atrium db upgrade`, which provides the connection")
    _configure(connection)


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported")
run()
