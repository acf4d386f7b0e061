from __future__ import annotations

import pytest
import sqlalchemy.exc
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

from registry import Base, Catalog, create_session_factory, current_revision, upgrade_database
from registry._migrate import alembic_config
from tests.registry.factories import make_upstream_spec

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


async def test_every_revision_downgrades_and_upgrades_again_with_data_in_place(engine: AsyncEngine) -> None:
    """Walk down from head one revision at a time, then back up: each downgrade must undo its upgrade."""
    script = ScriptDirectory.from_config(alembic_config())
    revisions = [revision.revision for revision in script.walk_revisions()]  # head first
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO tenants (slug, name, separation_of_duties, auto_approve_low_risk, created_at)"
                " VALUES ('acme', 'Acme', false, false, CURRENT_TIMESTAMP)"
            )
        )

    def downgrade(connection: Connection, revision: str) -> None:
        command.downgrade(alembic_config(connection), revision)

    for revision in revisions[1:]:
        async with engine.begin() as connection:
            await connection.run_sync(downgrade, revision)
        assert await current_revision(engine) == revision
    await upgrade_database(engine)
    assert await current_revision(engine) == revisions[0]
    await test_migrations_produce_exactly_the_models_schema(engine)


async def test_the_platforms_credentials_are_unique_per_upstream_and_name_despite_null_tenants(
    engine: AsyncEngine,
) -> None:
    upstream = await Catalog(create_session_factory(engine)).create_upstream(
        make_upstream_spec(tenant=None), principal="root"
    )
    insert = text(
        "INSERT INTO credentials (tenant_id, upstream_id, name, kind, ciphertext, details, created_by,"
        " created_at, updated_at) VALUES (NULL, :upstream, :name, 'secret', :ciphertext, '{}', 'root',"
        " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
    )
    values = {"upstream": upstream.id, "ciphertext": b"x"}
    async with engine.begin() as connection:
        await connection.execute(insert, {**values, "name": "API_TOKEN"})
        await connection.execute(insert, {**values, "name": "OTHER"})
    with pytest.raises(sqlalchemy.exc.IntegrityError):
        async with engine.begin() as connection:
            await connection.execute(insert, {**values, "name": "API_TOKEN"})
