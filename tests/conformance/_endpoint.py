"""A real Atrium serving the conformance upstream as virtual server ``conf/everything``.

The virtual server exposes every upstream tool, prompt, resource and template under its
ORIGINAL name (the scenarios call fixed names such as ``test_simple_text``), after syncing the
upstream and approving every version, exactly as a security reviewer would. The suite connects
as ``agent:conformance``, with an agent key whose role a policy line lets use the whole server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from tests.e2e._atrium import atrium_env, mint_token, running_atrium
from tests.upstreams._process import serve_http

UPSTREAM = "tests.conformance.upstream"
TENANT, VIRTUAL_SERVER = "conf", "everything"
AGENT_ROLE = "conformance_agent"


async def _approve_all(api: httpx.AsyncClient, upstream_id: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (
        await api.get("/api/v1/catalog/items", params={"upstream_id": upstream_id, "limit": 500})
    ).json()["items"]
    for item in items:
        if item["current_status"] == "pending":
            decision = {"decision": "approve", "reason": "conformance upstream"}
            response = await api.post(
                f"/api/v1/reviews/items/{item['id']}/versions/{item['current_hash']}", json=decision
            )
            response.raise_for_status()
    return items


@dataclass(frozen=True)
class ConformanceEndpoint:
    url: str  # http://127.0.0.1:PORT/mcp/conf/everything
    authorization: str | None = None  # what every request to it must carry, if anything


@asynccontextmanager
async def conformance_endpoint(database_url: str) -> AsyncIterator[ConformanceEndpoint]:
    """Yield the virtual endpoint, once everything is synced, approved and curated."""
    # list_changed watching stays on: the 2026-07-28 listen scenarios change the upstream's lists.
    env = atrium_env(database_url, ATRIUM_WATCH_LIST_CHANGED="true")
    token = mint_token(env, "conformance", "platform_admin", f"tenant_admin:{TENANT}", f"security_reviewer:{TENANT}")
    async with (
        serve_http(UPSTREAM) as upstream_url,
        running_atrium(env) as base,
        httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as api,
    ):
        (await api.post("/api/v1/tenants", json={"slug": TENANT, "name": "Conformance"})).raise_for_status()
        body = {"tenant": TENANT, "slug": "up", "name": "Upstream", "transport": "streamable_http", "url": upstream_url}
        created = await api.post("/api/v1/upstreams", json=body)
        created.raise_for_status()
        upstream_id: int = created.json()["id"]
        (await api.post(f"/api/v1/upstreams/{upstream_id}/sync")).raise_for_status()
        items = await _approve_all(api, upstream_id)
        server = {"slug": VIRTUAL_SERVER, "name": "Everything"}
        (await api.post(f"/api/v1/tenants/{TENANT}/virtual-servers", json=server)).raise_for_status()
        entries = [
            {
                "upstream_id": upstream_id,
                "kind": item["kind"],
                "key": item["key"],
                **({"exposed_name": item["key"]} if item["kind"] in ("tool", "prompt") else {}),
            }
            for item in items
        ]
        curated = await api.put(f"/api/v1/tenants/{TENANT}/virtual-servers/{VIRTUAL_SERVER}/entries", json=entries)
        if curated.status_code != 200:
            raise RuntimeError(f"curation failed: {curated.status_code} {curated.text}")
        yield ConformanceEndpoint(f"{base}/mcp/{TENANT}/{VIRTUAL_SERVER}", await _agent_authorization(api))


async def _agent_authorization(api: httpx.AsyncClient) -> str:
    """An agent key for ``agent:conformance``, whose role may use everything the server serves."""
    line = {"ptype": "p", "values": [AGENT_ROLE, TENANT, f"mcp/{VIRTUAL_SERVER}/*", "*", "allow"]}
    (await api.post(f"/api/v1/tenants/{TENANT}/policies", json=[line])).raise_for_status()
    key = {"name": "conformance", "roles": [AGENT_ROLE], "ttl_days": 1}
    minted = await api.post(f"/api/v1/tenants/{TENANT}/agent-keys", json=key)
    minted.raise_for_status()
    return f"Bearer {minted.json()['secret']}"
