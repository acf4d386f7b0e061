"""The newcomer's demo: a tenant, a stdio upstream running composer.demo_upstream, a token."""

from __future__ import annotations

import contextlib
import logging
import sys

import click

from composer._services import Services
from policies import p_line
from registry import (
    AgentKeySpec,
    AlreadyExistsError,
    ConflictError,
    EntrySpec,
    ItemKind,
    NotFoundError,
    TenantSpec,
    UpstreamSpec,
    VirtualServerSpec,
)

logger = logging.getLogger(__name__)

DEMO_TENANT = "demo"
DEMO_UPSTREAM = "demo-weather"
DEMO_PRINCIPAL = "demo-admin"
DEMO_SERVER = "assistant"
DEMO_AGENT = "demo-agent"
DEMO_ROLE = "assistant-user"


async def _curate(services: Services, upstream_id: int) -> None:
    """A virtual server exposing the demo upstream's tools and prompt under their own names."""
    try:
        await services.virtual_servers.create(
            DEMO_TENANT, VirtualServerSpec(slug=DEMO_SERVER, name="Demo assistant"), principal=DEMO_PRINCIPAL
        )
    except AlreadyExistsError:
        return
    entries = [
        EntrySpec(upstream_id=upstream_id, kind=ItemKind.TOOL, key="forecast", exposed_name="forecast"),
        EntrySpec(upstream_id=upstream_id, kind=ItemKind.TOOL, key="add", exposed_name="add"),
        EntrySpec(upstream_id=upstream_id, kind=ItemKind.PROMPT, key="plan_trip", exposed_name="plan_trip"),
    ]
    await services.virtual_servers.set_entries(DEMO_TENANT, DEMO_SERVER, entries, principal=DEMO_PRINCIPAL)


async def _agent_key(services: Services) -> str:
    """A new key of the demo agent, whose role may use all of the demo virtual server."""
    line = p_line(DEMO_ROLE, DEMO_TENANT, f"mcp/{DEMO_SERVER}/*", "*")
    with contextlib.suppress(ConflictError):  # seeded by an earlier start
        await services.policies.add(DEMO_TENANT, [line], principal=DEMO_PRINCIPAL)
    spec = AgentKeySpec(name=DEMO_AGENT, roles=[DEMO_ROLE], description="atrium serve --demo")
    return (await services.agent_keys.create(DEMO_TENANT, spec, principal=DEMO_PRINCIPAL)).secret


async def seed_demo(services: Services, base_url: str) -> None:
    """Create what is missing, sync the demo upstream, and print how to try it."""
    try:
        await services.catalog.get_tenant(DEMO_TENANT)
    except NotFoundError:
        await services.catalog.create_tenant(TenantSpec(slug=DEMO_TENANT, name="Demo tenant"))
    spec = UpstreamSpec(
        slug=DEMO_UPSTREAM,
        name="Demo weather server (stdio)",
        tenant=DEMO_TENANT,
        transport="stdio",
        command=[sys.executable, "-m", "composer.demo_upstream"],
    )
    upstream_id = None
    try:
        upstream_id = (await services.catalog.create_upstream(spec, principal=DEMO_PRINCIPAL)).id
    except AlreadyExistsError:
        page = await services.catalog.list_upstreams(tenant=DEMO_TENANT, include_global=False, limit=500)
        upstream_id = next(u.id for u in page.items if u.slug == DEMO_UPSTREAM)
    minted = await services.tokens.mint(
        DEMO_PRINCIPAL,
        ["platform_admin", f"tenant_admin:{DEMO_TENANT}", "security_reviewer:*"],
        description="atrium serve --demo",
    )
    run = await services.syncs.sync(upstream_id, principal=DEMO_PRINCIPAL, trigger="demo")
    await _curate(services, upstream_id)
    agent_key = await _agent_key(services)
    token = minted.secret
    endpoint = f"{base_url}/mcp/{DEMO_TENANT}/{DEMO_SERVER}"
    click.echo(
        f"""
Atrium demo is up at {base_url}  (sync of the demo upstream: {run.status})
  export ATRIUM_TOKEN={token}
  curl -s -H "Authorization: Bearer $ATRIUM_TOKEN" {base_url}/api/v1/reviews/pending | python3 -m json.tool
  .venv/bin/atrium review pending
  .venv/bin/atrium review approve <item> <hash> --reason "looks fine"
Approved tools appear at the virtual MCP endpoint {endpoint}
  for any MCP client presenting the demo agent's key (role {DEMO_ROLE}; README.md shows a client):
  export ATRIUM_AGENT_KEY={agent_key}
  OpenAPI: {base_url}/schema/swagger
""",
        err=True,
    )
