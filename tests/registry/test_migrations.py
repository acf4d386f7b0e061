from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from registry import Base, current_revision, upgrade_database
from registry._migrate import alembic_config

pytestmark = pytest.mark.anyio


async def test_migrations_produce_exactly_the_models_schema(engine: AsyncEngine) -> None:
    def diff(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    async with engine.connect() as connection:
        assert await connection.run_sync(diff) == []


async def test_upgrading_twice_is_harmless(engine: AsyncEngine) -> None:
    before = await current_revision(engine)
    await upgrade_database(engine)
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert await current_revision(engine) == before == head
