"""A global upstream that needs a credential: the platform's discovers it, each tenant calls with its own."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import httpx
import pytest
from mcp.shared.exceptions import MCPError

from tests.e2e._agents import agent_client, open_to_agent
from tests.e2e._atrium import atrium_env, mint_token, running_atrium
from tests.e2e.test_tenancy_and_failures import curate
from tests.e2e.test_virtual_endpoint import approve_all
from tests.upstreams._process import serve_http

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

PLATFORM_KEY = "platform-key-0000"
ACME_KEY = "acme-key-1111"


@pytest.fixture
async def atrium_api(database_url: str) -> AsyncIterator[tuple[str, httpx.AsyncClient]]:
    """A running Atrium and an admin API client of a platform admin who also reviews."""
    env = atrium_env(database_url, ATRIUM_WATCH_LIST_CHANGED="false")
    token = mint_token(env, "ops", "platform_admin", "tenant_admin:acme", "tenant_admin:beta", "security_reviewer:*")
    async with (
        running_atrium(env) as base,
        httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as api,
    ):
        yield base, api


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_global_upstream_syncs_with_the_platforms_credential_and_serves_tenants_with_theirs(
    atrium_api: tuple[str, httpx.AsyncClient],
) -> None:
    base, api = atrium_api
    require = f"X-Api-Key: {PLATFORM_KEY}|{ACME_KEY}"
    async with serve_http(env={"DEMO_REQUIRE_HEADER": require}) as upstream_url:
        for tenant in ("acme", "beta"):
            assert (await api.post("/api/v1/tenants", json={"slug": tenant, "name": tenant})).status_code == 201
        created = await api.post(
            "/api/v1/upstreams",
            json={
                "tenant": None,
                "slug": "echo",
                "name": "Echo",
                "transport": "streamable_http",
                "url": upstream_url,
                "header_templates": {"X-Api-Key": "${API_KEY}"},
            },
        )
        assert created.status_code == 201, created.text
        upstream_id = created.json()["id"]
        sync = f"/api/v1/upstreams/{upstream_id}/sync"
        unsynced = await api.post(sync)
        assert (unsynced.status_code, unsynced.json()["code"]) == (422, "invalid_input")
        assert "API_KEY" in unsynced.json()["detail"]

        platform = f"/api/v1/upstreams/{upstream_id}/credentials/API_KEY"
        assert (await api.put(platform, json={"kind": "secret", "value": PLATFORM_KEY})).status_code == 200
        synced = await api.post(sync)
        assert synced.status_code == 200, synced.text
        assert synced.json()["status"] == "ok"
        await approve_all(api, upstream_id)

        acme = f"/api/v1/tenants/acme/upstreams/{upstream_id}/credentials/API_KEY"
        assert (await api.put(acme, json={"kind": "secret", "value": ACME_KEY})).status_code == 200
        entries = [{"upstream_id": upstream_id, "kind": "tool", "key": "echo_headers"}]
        for tenant in ("acme", "beta"):
            await curate(api, tenant, entries)

        key = await open_to_agent(api, "acme", "main")
        with anyio.fail_after(30):
            async with agent_client(f"{base}/mcp/acme/main", key, mode="legacy") as client:
                echoed = await client.call_tool("echo_echo_headers", {})
        text = echoed.content[0].text  # type: ignore[union-attr]
        assert ACME_KEY in text
        assert PLATFORM_KEY not in text
        assert key not in text

        # Beta has no credential of its own: a clear error naming it, never the platform's.
        key = await open_to_agent(api, "beta", "main")
        with anyio.fail_after(30):
            async with agent_client(f"{base}/mcp/beta/main", key, mode="legacy") as client:
                with pytest.raises(MCPError) as refused:
                    await client.call_tool("echo_echo_headers", {})
        assert "API_KEY" in str(refused.value)
        assert PLATFORM_KEY not in str(refused.value)

        listing = await api.get(f"/api/v1/upstreams/{upstream_id}/credentials")
        assert [item["name"] for item in listing.json()["items"]] == ["API_KEY"]
        assert PLATFORM_KEY not in listing.text
