"""Agents at MCP endpoints: an agent key and a policy line through the admin API, and the
official SDK client presenting the key."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client


async def agent_key(api: httpx.AsyncClient, tenant: str, name: str, *roles: str) -> str:
    """A new agent key of ``tenant`` speaking for ``agent:<name>`` with ``roles``; its secret."""
    created = await api.post(f"/api/v1/tenants/{tenant}/agent-keys", json={"name": name, "roles": list(roles)})
    assert created.status_code == 201, created.text
    secret: str = created.json()["secret"]
    return secret


async def add_policy(api: httpx.AsyncClient, tenant: str, *lines: tuple[str, ...]) -> list[int]:
    """Add Casbin lines to ``tenant``'s policy (``("p", sub, dom, obj, act, eft)`` or ``("g", ...)``)."""
    body = [{"ptype": line[0], "values": list(line[1:])} for line in lines]
    added = await api.post(f"/api/v1/tenants/{tenant}/policies", json=body)
    assert added.status_code == 201, added.text
    return [line["id"] for line in added.json()]


async def allow_everything(api: httpx.AsyncClient, tenant: str, virtual_server: str, role: str) -> None:
    """``role`` may use all that ``virtual_server`` serves."""
    await add_policy(api, tenant, ("p", role, tenant, f"mcp/{virtual_server}/*", "*", "allow"))


@asynccontextmanager
async def agent_client(url: str, key: str, **options: Any) -> AsyncIterator[Client]:
    """The SDK client at ``url``, presenting ``key`` as its bearer token on every request."""
    headers = {"Authorization": f"Bearer {key}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30.0, read=300.0)) as http,
        Client(streamable_http_client(url, http_client=http), **options) as client,
    ):
        yield client


async def open_to_agent(api: httpx.AsyncClient, tenant: str, virtual_server: str, name: str = "agent") -> str:
    """The key of a new agent whose role may use all of ``virtual_server``; its secret."""
    role = f"{virtual_server}-user"
    await allow_everything(api, tenant, virtual_server, role)
    return await agent_key(api, tenant, name, role)
