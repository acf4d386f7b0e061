from __future__ import annotations

import anyio
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from registry import Catalog, NoCredentials, SyncScheduler, SyncService, create_session_factory
from tests.registry.factories import make_tenant_and_upstream, make_upstream_spec

pytestmark = pytest.mark.anyio


async def test_an_upstream_with_an_interval_is_synced_without_being_asked(engine: AsyncEngine) -> None:
    catalog, _, _ = await make_tenant_and_upstream(engine)
    timed = await catalog.create_upstream(make_upstream_spec(slug="timed", sync_interval_seconds=60), principal="alice")
    sessions = create_session_factory(engine)
    syncs = SyncService(sessions, NoCredentials(), timeout=2)
    scheduler = SyncScheduler(Catalog(sessions), syncs, NoCredentials(), tick=0.05, watch=False)
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(scheduler.run)
        with anyio.fail_after(10):
            while not (runs := await syncs.recent_runs(timed.id)) or runs[0].status == "running":
                await anyio.sleep(0.05)
        tasks.cancel_scope.cancel()
    runs = await syncs.recent_runs(timed.id)
    assert runs[0].trigger == "interval"
    assert runs[0].status == "error"  # nothing listens on port 9: recorded, not raised
    refreshed = await catalog.get_upstream(timed.id)
    assert refreshed.last_error_code == "upstream_unreachable"
    others = await catalog.list_upstreams(tenant="acme")
    untimed = next(upstream for upstream in others.items if upstream.slug == "weather")
    assert await syncs.recent_runs(untimed.id) == []
