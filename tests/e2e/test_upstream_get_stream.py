"""What a handshake-era Streamable HTTP upstream sends outside any request reaches the client.

A real Atrium, a real upstream on the official SDK (``--era legacy``), and the SDK as client: the
upstream's ``touch_later`` answers first and sends ``notifications/resources/updated`` afterwards,
when no request of Atrium's is open, so Atrium hears it only on the session's standalone GET stream.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, NamedTuple

import anyio
import httpx
import mcp_types as types
import pytest

from tests.e2e._agents import agent_client, open_to_agent
from tests.e2e._atrium import atrium_env, mint_token, running_atrium
from tests.e2e.test_virtual_endpoint import add_upstream, approve_all
from tests.upstreams._process import serve_http
from tests.upstreams.forwarding_server import status_uri

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

FORWARDING = "tests.upstreams.forwarding_server"
STATUS = status_uri("streamable-http", "legacy")


class Endpoint(NamedTuple):
    url: str
    key: str


@pytest.fixture
async def endpoint(tmp_path: Any) -> AsyncIterator[Endpoint]:
    """Atrium with a handshake-only HTTP upstream's touch tools and resource curated into acme/later."""
    env = atrium_env(f"sqlite+aiosqlite:///{tmp_path / 'atrium.db'}", ATRIUM_WATCH_LIST_CHANGED="false")
    token = mint_token(env, "ops", "platform_admin", "tenant_admin:acme", "security_reviewer:acme")
    async with (
        serve_http(FORWARDING, args=("--era", "legacy")) as upstream_url,
        running_atrium(env) as base,
        httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as api,
    ):
        await api.post("/api/v1/tenants", json={"slug": "acme", "name": "Acme"})
        upstream_id = await add_upstream(
            api, {"slug": "web", "name": "web", "transport": "streamable_http", "url": upstream_url}
        )
        await approve_all(api, upstream_id)
        entries = [
            {"upstream_id": upstream_id, "kind": "tool", "key": "touch_later"},
            {"upstream_id": upstream_id, "kind": "resource", "key": STATUS},
        ]
        created = await api.post("/api/v1/tenants/acme/virtual-servers", json={"slug": "later", "name": "Later"})
        assert created.status_code == 201, created.text
        curated = await api.put("/api/v1/tenants/acme/virtual-servers/later/entries", json=entries)
        assert curated.status_code == 200, curated.text
        yield Endpoint(f"{base}/mcp/acme/later", await open_to_agent(api, "acme", "later"))


@pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning")  # a handshake-era method
async def test_a_subscribed_client_hears_an_update_the_upstream_sends_after_its_request_ended(
    endpoint: Endpoint,
) -> None:
    updated: list[str] = []

    async def on_message(message: object) -> None:
        if isinstance(message, types.ResourceUpdatedNotification):
            updated.append(message.params.uri)

    with anyio.fail_after(30):
        async with agent_client(endpoint.url, endpoint.key, mode="legacy", message_handler=on_message) as client:
            await client.subscribe_resource(STATUS)
            # Atrium opens its GET stream beside the first request; until it is open, a later
            # update has nowhere to go (the spec's server drops it), so touch until one is heard.
            while STATUS not in updated:
                touched = await client.call_tool("web_touch_later", {"uri": "fwd://not/subscribed", "delay": 0.05})
                assert not touched.is_error, touched
                touched = await client.call_tool("web_touch_later", {"uri": STATUS, "delay": 0.1})
                assert not touched.is_error, touched
                with anyio.move_on_after(1):
                    while STATUS not in updated:
                        await anyio.sleep(0.02)
    assert "fwd://not/subscribed" not in updated
