"""Tenant credentials stay with their tenant; a dying upstream fails fast and comes back."""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import pytest
from mcp.shared.exceptions import MCPError

from tests.e2e._agents import agent_client, open_to_agent
from tests.e2e._atrium import atrium_env, mint_token, running_atrium
from tests.e2e.test_virtual_endpoint import add_upstream, approve_all
from tests.upstreams._process import free_port, serve_http

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


@pytest.fixture
async def atrium_api(database_url: str) -> AsyncIterator[tuple[str, httpx.AsyncClient, str]]:
    env = atrium_env(database_url, ATRIUM_WATCH_LIST_CHANGED="false")
    roles = ["platform_admin", "tenant_admin:acme", "tenant_admin:beta", "security_reviewer:*"]
    token = mint_token(env, "ops", *roles)
    async with (
        running_atrium(env) as base,
        httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as api,
    ):
        yield base, api, token


async def curate(api: httpx.AsyncClient, tenant: str, entries: list[dict[str, Any]]) -> None:
    created = await api.post(f"/api/v1/tenants/{tenant}/virtual-servers", json={"slug": "main", "name": "Main"})
    assert created.status_code == 201, created.text
    curated = await api.put(f"/api/v1/tenants/{tenant}/virtual-servers/main/entries", json=entries)
    assert curated.status_code == 200, curated.text


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_each_tenants_calls_carry_only_that_tenants_credentials(
    atrium_api: tuple[str, httpx.AsyncClient, str],
) -> None:
    base, api, admin_token = atrium_api
    secrets = {"acme": "acme-secret-1111", "beta": "beta-secret-2222"}
    async with serve_http() as upstream_url:
        for tenant, secret in secrets.items():
            await api.post("/api/v1/tenants", json={"slug": tenant, "name": tenant})
            created = await api.post(
                "/api/v1/upstreams",
                json={
                    "tenant": tenant,
                    "slug": "echo",
                    "name": "Echo",
                    "transport": "streamable_http",
                    "url": upstream_url,
                    "header_templates": {"X-Api-Key": "${API_KEY}"},
                },
            )
            upstream_id = created.json()["id"]
            path = f"/api/v1/tenants/{tenant}/upstreams/{upstream_id}/credentials/API_KEY"
            assert (await api.put(path, json={"kind": "secret", "value": secret})).status_code == 200
            assert (await api.post(f"/api/v1/upstreams/{upstream_id}/sync")).status_code == 200
            await approve_all(api, upstream_id)
            await curate(api, tenant, [{"upstream_id": upstream_id, "kind": "tool", "key": "echo_headers"}])

        headers = {"Authorization": f"Bearer {admin_token}"}
        for tenant, secret in secrets.items():
            key = await open_to_agent(api, tenant, "main")
            with anyio.fail_after(30):
                async with agent_client(f"{base}/mcp/{tenant}/main", key, mode="legacy") as client:
                    echoed = await client.call_tool("echo_echo_headers", {})
            text = echoed.content[0].text  # type: ignore[union-attr]
            assert secret in text
            others = [value for name, value in secrets.items() if name != tenant]
            assert all(other not in text for other in others)
            assert key not in text  # the client's own token never travels upstream
        listing = (await api.get("/api/v1/tenants/acme/upstreams/1/credentials", headers=headers)).text
        assert all(secret not in listing for secret in secrets.values())


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_killed_upstream_fails_fast_others_keep_serving_and_a_restart_is_picked_up(
    atrium_api: tuple[str, httpx.AsyncClient, str],
) -> None:
    base, api, _ = atrium_api
    port = free_port()
    await api.post("/api/v1/tenants", json={"slug": "acme", "name": "Acme"})
    async with serve_http(port=port) as upstream_url:
        web = await add_upstream(
            api, {"slug": "web", "name": "Web", "transport": "streamable_http", "url": upstream_url}
        )
        local = await add_upstream(
            api,
            {
                "slug": "local",
                "name": "Local",
                "transport": "stdio",
                "command": [sys.executable, "-m", "tests.upstreams.demo_server", "--transport", "stdio"],
            },
        )
        await approve_all(api, web)
        await approve_all(api, local)
        await curate(
            api,
            "acme",
            [
                {"upstream_id": web, "kind": "tool", "key": "add"},
                {"upstream_id": local, "kind": "tool", "key": "add", "exposed_name": "local_add"},
            ],
        )
        key = await open_to_agent(api, "acme", "main")
        async with agent_client(f"{base}/mcp/acme/main", key, mode="legacy") as client:
            assert (await client.call_tool("web_add", {"a": 1, "b": 1})).content[0].text == "2"  # type: ignore[union-attr]

    # The HTTP upstream is gone now.
    async with agent_client(f"{base}/mcp/acme/main", key, mode="legacy") as client:
        started = time.monotonic()
        with pytest.raises(MCPError):
            await client.call_tool("web_add", {"a": 1, "b": 1})
        assert time.monotonic() - started < 10
        assert (await client.call_tool("local_add", {"a": 2, "b": 2})).content[0].text == "4"  # type: ignore[union-attr]

    async with serve_http(port=port):
        async with agent_client(f"{base}/mcp/acme/main", key, mode="legacy") as client:
            with anyio.fail_after(30):
                result = await client.call_tool("web_add", {"a": 3, "b": 4})
        assert result.content[0].text == "7"  # type: ignore[union-attr]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_an_upstream_killed_mid_call_fails_that_call_quickly_and_nothing_else(
    atrium_api: tuple[str, httpx.AsyncClient, str], mode: str
) -> None:
    base, api, _ = atrium_api
    await api.post("/api/v1/tenants", json={"slug": "acme", "name": "Acme"})
    # Entered by hand: the upstream must die while the client's call is in flight.
    upstream = serve_http("tests.upstreams.forwarding_server", stop_grace=0.0)
    url = await upstream.__aenter__()
    try:
        slow = await add_upstream(api, {"slug": "slow", "name": "Slow", "transport": "streamable_http", "url": url})
        local = await add_upstream(
            api,
            {
                "slug": "local",
                "name": "Local",
                "transport": "stdio",
                "command": [sys.executable, "-m", "tests.upstreams.demo_server", "--transport", "stdio"],
            },
        )
        await approve_all(api, slow)
        await approve_all(api, local)
        await curate(
            api,
            "acme",
            [
                {"upstream_id": slow, "kind": "tool", "key": "wait"},
                {"upstream_id": local, "kind": "tool", "key": "add"},
            ],
        )
        key = await open_to_agent(api, "acme", "main")
    except BaseException:
        await upstream.__aexit__(None, None, None)
        raise
    async with agent_client(f"{base}/mcp/acme/main", key, mode=mode) as client:
        failed = anyio.Event()
        outcome: dict[str, Any] = {}

        async def call_the_slow_tool() -> None:
            with pytest.raises(MCPError) as refused:
                await client.call_tool("slow_wait", {})
            outcome["error"], outcome["at"] = refused.value.error, time.monotonic()
            failed.set()

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(call_the_slow_tool)
                await anyio.sleep(1.0)  # the call is in flight at the upstream by now
                killed = time.monotonic()
                await upstream.__aexit__(None, None, None)
                await failed.wait()
        assert outcome["at"] - killed < 5.0
        assert outcome["error"].message == "upstream unavailable (upstream_unreachable)"
        added = await client.call_tool("local_add", {"a": 2, "b": 2})
        assert added.content[0].text == "4"  # type: ignore[union-attr]
