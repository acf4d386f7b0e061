"""Small factories for test data."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from registry import Catalog, Review, TenantSpec, Upstream, UpstreamSpec, create_session_factory
from registry._catalog import tenant_row, upstream_row
from registry._types import ItemKind
from registry._versions import ListingCounts, record_listing


def make_tool(**overrides: Any) -> dict[str, Any]:
    tool: dict[str, Any] = {
        "name": "get_weather",
        "title": "Weather",
        "description": "Current weather for a city.",
        "inputSchema": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "City name"}},
            "required": ["city"],
        },
        "annotations": {"readOnlyHint": True, "openWorldHint": False},
    }
    tool.update(overrides)
    return tool


def make_upstream_spec(**overrides: Any) -> UpstreamSpec:
    fields: dict[str, Any] = {
        "slug": "weather",
        "name": "Weather",
        "tenant": "acme",
        "transport": "streamable_http",
        "url": "http://127.0.0.1:9/mcp",
    }
    fields.update(overrides)
    return UpstreamSpec(**fields)


async def make_tenant_and_upstream(
    engine: AsyncEngine, *, separation_of_duties: bool = False, auto_approve: bool = False, principal: str = "alice"
) -> tuple[Catalog, Review, Upstream]:
    sessions = create_session_factory(engine)
    catalog = Catalog(sessions)
    await catalog.create_tenant(
        TenantSpec(
            slug="acme", name="Acme", separation_of_duties=separation_of_duties, auto_approve_low_risk=auto_approve
        )
    )
    upstream = await catalog.create_upstream(make_upstream_spec(), principal=principal)
    return catalog, Review(sessions), upstream


async def record(
    engine: AsyncEngine,
    upstream: Upstream,
    tools: list[dict[str, Any]],
    *,
    principal: str = "syncer",
    kind: ItemKind = ItemKind.TOOL,
) -> ListingCounts:
    """Record one listing as a sync would, in its own transaction."""
    sessions = create_session_factory(engine)
    async with sessions() as session, session.begin():
        row = await upstream_row(session, upstream.id)
        tenant = None if upstream.tenant is None else await tenant_row(session, upstream.tenant)
        return await record_listing(session, row, tenant, kind, tools, principal=principal)
