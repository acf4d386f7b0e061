"""Agents through a virtual endpoint: the official SDK client, real Atrium, real upstreams."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp.shared.exceptions import MCPError

from tests.e2e._agents import agent_client, open_to_agent
from tests.e2e._atrium import atrium_env, mint_token, running_atrium
from tests.upstreams._process import serve_http

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


async def approve_all(api: httpx.AsyncClient, upstream_id: int) -> None:
    page = (await api.get("/api/v1/catalog/items", params={"upstream_id": upstream_id})).json()
    for item in page["items"]:
        if item["current_status"] == "pending":
            decision = {"decision": "approve", "reason": "reviewed"}
            response = await api.post(
                f"/api/v1/reviews/items/{item['id']}/versions/{item['current_hash']}", json=decision
            )
            assert response.status_code == 200, response.text


async def add_upstream(api: httpx.AsyncClient, body: dict[str, Any]) -> int:
    created = await api.post("/api/v1/upstreams", json={"tenant": "acme", **body})
    assert created.status_code == 201, created.text
    upstream_id: int = created.json()["id"]
    synced = await api.post(f"/api/v1/upstreams/{upstream_id}/sync")
    assert synced.status_code == 200, synced.text
    return upstream_id


@pytest.fixture
async def endpoint(database_url: str, tmp_path: Path) -> AsyncIterator[tuple[str, httpx.AsyncClient, str]]:
    """Atrium with tenant acme, an HTTP and a stdio upstream, and virtual server 'support'."""
    env = atrium_env(database_url, ATRIUM_WATCH_LIST_CHANGED="false")
    token = mint_token(env, "ops", "platform_admin", "tenant_admin:acme", "security_reviewer:acme")
    async with (
        serve_http() as upstream_url,
        running_atrium(env) as base,
        httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as api,
    ):
        await api.post("/api/v1/tenants", json={"slug": "acme", "name": "Acme"})
        http_id = await add_upstream(
            api, {"slug": "web", "name": "Web", "transport": "streamable_http", "url": upstream_url}
        )
        stdio_id = await add_upstream(
            api,
            {
                "slug": "local",
                "name": "Local",
                "transport": "stdio",
                "command": [sys.executable, "-m", "tests.upstreams.demo_server", "--transport", "stdio"],
            },
        )
        await approve_all(api, http_id)
        await approve_all(api, stdio_id)
        created = await api.post("/api/v1/tenants/acme/virtual-servers", json={"slug": "support", "name": "Support"})
        assert created.status_code == 201, created.text
        entries = [
            {"upstream_id": http_id, "kind": "tool", "key": "add"},
            {"upstream_id": stdio_id, "kind": "tool", "key": "get_weather", "exposed_name": "weather"},
        ]
        curated = await api.put("/api/v1/tenants/acme/virtual-servers/support/entries", json=entries)
        assert curated.status_code == 200, curated.text
        key = await open_to_agent(api, "acme", "support")
        yield f"{base}/mcp/acme/support", api, key


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_the_sdk_client_sees_and_calls_exactly_the_curated_tools_of_two_upstreams(
    endpoint: tuple[str, httpx.AsyncClient, str], mode: str
) -> None:
    url, _, key = endpoint
    with anyio.fail_after(60):
        async with agent_client(url, key, mode=mode) as client:
            tools = await client.list_tools()
            assert sorted(tool.name for tool in tools.tools) == ["weather", "web_add"]
            added = await client.call_tool("web_add", {"a": 2, "b": 3})
            assert added.content[0].text == "5"  # type: ignore[union-attr]
            weather = await client.call_tool("weather", {"city": "Oslo"})
            assert "Oslo" in weather.content[0].text  # type: ignore[union-attr]
            # Uncurated tools of a curated upstream look exactly like tools that never existed.
            refusals = []
            for name in ("web_echo_headers", "no_such_tool"):
                with pytest.raises(MCPError) as refused:
                    await client.call_tool(name, {})
                refusals.append((refused.value.error.code, refused.value.error.message.replace(name, "X")))
            assert refusals[0] == refusals[1]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_connected_client_hears_list_changed_and_sees_a_disabled_upstream_go(
    endpoint: tuple[str, httpx.AsyncClient, str],
) -> None:
    url, api, key = endpoint
    changed = anyio.Event()

    async def on_message(message: object) -> None:
        if type(message).__name__ == "ToolListChangedNotification":
            changed.set()

    with anyio.fail_after(60):
        async with agent_client(url, key, mode="legacy", message_handler=on_message) as client:
            assert len((await client.list_tools()).tools) == 2
            upstreams = (await api.get("/api/v1/upstreams", params={"tenant": "acme"})).json()["items"]
            web = next(upstream for upstream in upstreams if upstream["slug"] == "web")
            assert (await api.patch(f"/api/v1/upstreams/{web['id']}", json={"enabled": False})).status_code == 200
            await changed.wait()
            assert [tool.name for tool in (await client.list_tools()).tools] == ["weather"]
