"""Role endpoints and agent authentication, through a real ``atrium serve`` and the official SDK.

Tenant acme curates three tools and a prompt of one HTTP upstream in virtual server ``support``;
its policy lets ``analyst`` call the upstream's tools except ``echo_headers``. Tenant globex has
a ``support`` of its own. Every request to an MCP endpoint authenticates.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp.shared.exceptions import MCPError

from tests.e2e._agents import add_policy, agent_client, agent_key
from tests.e2e._atrium import atrium_env, mint_token, running_atrium
from tests.e2e.test_virtual_endpoint import approve_all
from tests.registry.issuer_server import IssuerServer, issuer_server, new_key
from tests.upstreams._process import serve_http

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

JSON_AND_SSE = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}


@dataclass
class Stage:
    base: str
    api: httpx.AsyncClient
    issuer: IssuerServer
    analyst_key: str  # agent:bot, role analyst in acme
    intern_key: str  # agent:intern, no role in acme
    globex_key: str  # agent:bot of globex, role analyst there


async def _tenant_with_support(api: httpx.AsyncClient, tenant: str, upstream_url: str) -> None:
    assert (await api.post("/api/v1/tenants", json={"slug": tenant, "name": tenant})).status_code == 201
    body = {"tenant": tenant, "slug": "web", "name": "Web", "transport": "streamable_http", "url": upstream_url}
    created = await api.post("/api/v1/upstreams", json=body)
    assert created.status_code == 201, created.text
    upstream_id = created.json()["id"]
    assert (await api.post(f"/api/v1/upstreams/{upstream_id}/sync")).status_code == 200
    await approve_all(api, upstream_id)
    made = await api.post(f"/api/v1/tenants/{tenant}/virtual-servers", json={"slug": "support", "name": "Support"})
    assert made.status_code == 201, made.text
    entries = [
        {"upstream_id": upstream_id, "kind": "tool", "key": key} for key in ("add", "get_weather", "echo_headers")
    ] + [{"upstream_id": upstream_id, "kind": "prompt", "key": "greet"}]
    curated = await api.put(f"/api/v1/tenants/{tenant}/virtual-servers/support/entries", json=entries)
    assert curated.status_code == 200, curated.text


@pytest.fixture
async def stage(tmp_path: Path) -> AsyncIterator[Stage]:
    env = atrium_env(f"sqlite+aiosqlite:///{tmp_path / 'atrium.db'}", ATRIUM_WATCH_LIST_CHANGED="false")
    roles = ("platform_admin", "tenant_admin:acme", "tenant_admin:globex", "security_reviewer:*")
    token = mint_token(env, "ops", *roles)
    async with (
        serve_http() as upstream_url,
        issuer_server() as issuer,
        running_atrium(env) as base,
        httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as api,
    ):
        for tenant in ("acme", "globex"):
            await _tenant_with_support(api, tenant, upstream_url)
        await add_policy(
            api,
            "acme",
            ("p", "analyst", "acme", "mcp/support/tool/web/*", "call", "allow"),
            ("p", "analyst", "acme", "mcp/support/tool/web/echo_headers", "call", "deny"),
        )
        await add_policy(api, "globex", ("p", "analyst", "globex", "mcp/support/*", "*", "allow"))
        issuer_body = {"issuer": issuer.url, "required_scopes": ["mcp:use"]}
        assert (await api.post("/api/v1/tenants/acme/issuers", json=issuer_body)).status_code == 201
        yield Stage(
            base=base,
            api=api,
            issuer=issuer,
            analyst_key=await agent_key(api, "acme", "bot", "analyst"),
            intern_key=await agent_key(api, "acme", "intern"),
            globex_key=await agent_key(api, "globex", "bot", "analyst"),
        )


async def _refusal(client: Any, name: str) -> tuple[int, str]:
    with pytest.raises(MCPError) as refused:
        await client.call_tool(name, {"a": 1, "b": 2})
    return refused.value.error.code, refused.value.error.message.replace(name, "X")


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_an_analyst_sees_and_calls_exactly_what_its_policy_allows(stage: Stage, mode: str) -> None:
    with anyio.fail_after(60):
        for path in ("/mcp/acme/support/analyst", "/mcp/acme/support"):  # the role, then the key's own roles
            async with agent_client(stage.base + path, stage.analyst_key, mode=mode) as client:
                tools = sorted(tool.name for tool in (await client.list_tools()).tools)
                assert tools == ["web_add", "web_get_weather"], path
                assert (await client.list_prompts()).prompts == []
                added = await client.call_tool("web_add", {"a": 2, "b": 3})
                assert added.content[0].text == "5"  # type: ignore[union-attr]
                # A tool the policy hides is refused exactly like one that never existed.
                assert await _refusal(client, "web_echo_headers") == await _refusal(client, "no_such_tool")
        async with agent_client(stage.base + "/mcp/acme/support", stage.intern_key, mode=mode) as client:
            assert (await client.list_tools()).tools == []
            assert await _refusal(client, "web_add") == await _refusal(client, "no_such_tool")


async def _post(stage: Stage, path: str, key: str | None, body: object = INITIALIZE, **headers: str) -> httpx.Response:
    auth = {"Authorization": f"Bearer {key}"} if key else {}
    async with httpx.AsyncClient(base_url=stage.base, timeout=30) as raw:
        return await raw.post(path, json=body, headers={**JSON_AND_SSE, **auth, **headers})


async def test_a_role_the_caller_does_not_hold_is_no_endpoint_at_all(stage: Stage) -> None:
    missing = await _post(stage, "/mcp/acme/nothing-here", stage.analyst_key)
    not_mine = await _post(stage, "/mcp/acme/support/analyst", stage.intern_key)
    other_role = await _post(stage, "/mcp/acme/support/tenant_admin", stage.analyst_key)
    assert missing.status_code == not_mine.status_code == other_role.status_code == 404
    assert missing.json() == not_mine.json() == other_role.json()


async def test_another_tenant_gets_nothing_however_it_forms_url_token_or_session(stage: Stage) -> None:
    # Its own endpoint works for it.
    own = await _post(stage, "/mcp/globex/support", stage.globex_key)
    assert own.status_code == 200
    # Its key is not a credential of acme, whatever the path.
    for path in ("/mcp/acme/support", "/mcp/acme/support/analyst", "/mcp/acme/support/", "/mcp/acme/nothing"):
        refused = await _post(stage, path, stage.globex_key)
        assert refused.status_code == 401, path
        assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    # Nor is a token of an issuer globex trusts and acme does not, even naming acme's endpoint.
    async with issuer_server() as theirs:
        trusted = await stage.api.post("/api/v1/tenants/globex/issuers", json={"issuer": theirs.url})
        assert trusted.status_code == 201, trusted.text
        for path in ("/mcp/acme/support", "/mcp/acme/support/analyst"):
            claims = {"sub": "mallory", "aud": stage.base + path, "roles": ["analyst"], "scope": "mcp:use"}
            refused = await _post(stage, path, theirs.sign(claims))
            assert refused.status_code == 401, path
            assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    # Neither is an admin token, not even a platform admin's.
    admin = stage.api.headers["authorization"].removeprefix("Bearer ")
    assert (await _post(stage, "/mcp/acme/support", admin)).status_code == 401
    # acme's session id is nobody else's: not at globex, not for another principal of acme.
    opened = await _post(stage, "/mcp/acme/support", stage.analyst_key)
    session = opened.headers["mcp-session-id"]
    listing = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
    session_headers = {"Mcp-Session-Id": session, "MCP-Protocol-Version": "2025-11-25"}
    hijacks = [
        await _post(stage, "/mcp/globex/support", stage.globex_key, listing, **session_headers),
        await _post(stage, "/mcp/acme/support", stage.intern_key, listing, **session_headers),
        await _post(stage, "/mcp/acme/support/analyst", stage.analyst_key, listing, **session_headers),
    ]
    assert [response.status_code for response in hijacks] == [404, 404, 404]
    # The session never authenticates by itself.
    assert (await _post(stage, "/mcp/acme/support", None, listing, **session_headers)).status_code == 401


async def test_a_policy_change_reaches_a_connected_agent_with_list_changed(stage: Stage) -> None:
    changed = anyio.Event()

    async def on_message(message: object) -> None:
        if type(message).__name__ == "ToolListChangedNotification":
            changed.set()

    url = stage.base + "/mcp/acme/support/analyst"
    with anyio.fail_after(60):
        async with agent_client(url, stage.analyst_key, mode="legacy", message_handler=on_message) as client:
            assert len((await client.list_tools()).tools) == 2
            [line] = await add_policy(
                stage.api, "acme", ("p", "analyst", "acme", "mcp/support/tool/web/add", "call", "deny")
            )
            await changed.wait()
            assert [tool.name for tool in (await client.list_tools()).tools] == ["web_get_weather"]
            assert await _refusal(client, "web_add") == await _refusal(client, "no_such_tool")
            changed = anyio.Event()
            assert (await stage.api.delete(f"/api/v1/tenants/acme/policies/{line}")).status_code == 204
            await changed.wait()
            assert len((await client.list_tools()).tools) == 2


def _challenge(response: httpx.Response) -> str:
    return response.headers.get("www-authenticate", "")


async def test_bad_credentials_get_the_authorization_spec_responses(stage: Stage) -> None:
    path = "/mcp/acme/support/analyst"
    resource = stage.base + path
    metadata = f'resource_metadata="{stage.base}/.well-known/oauth-protected-resource{path}"'

    def jwt(**claims: Any) -> str:
        body = {"sub": "alice", "aud": resource, "roles": ["analyst"], "scope": "mcp:use", **claims}
        return stage.issuer.sign(body)

    assert (await _post(stage, path, jwt())).status_code == 200  # the baseline: a good token works

    none = await _post(stage, path, None)
    assert none.status_code == 401
    assert _challenge(none).startswith(f"Bearer {metadata}")
    assert "error=" not in _challenge(none)
    assert 'scope="mcp:use"' in _challenge(none)

    revoked_key = await agent_key(stage.api, "acme", "gone", "analyst")
    assert (await _post(stage, path, revoked_key)).status_code == 200
    keys = (await stage.api.get("/api/v1/tenants/acme/agent-keys")).json()["items"]
    gone = next(key for key in keys if key["principal"] == "agent:gone")
    assert (await stage.api.delete(f"/api/v1/tenants/acme/agent-keys/{gone['id']}")).status_code == 204
    stranger = new_key(stage.issuer.alg)
    rejected = {
        "revoked key": revoked_key,
        "unknown key": "atr_" + "x" * 40,
        "expired jwt": jwt(exp=1_000_000_000, iat=999_999_000),
        "wrong audience": jwt(aud=stage.base + "/mcp/acme/support"),
        "other issuer": jwt(iss="http://127.0.0.1:9/"),
        "forged": stage.issuer.sign({"sub": "alice", "aud": resource, "scope": "mcp:use"}, key=stranger),
    }
    for what, credential in rejected.items():
        response = await _post(stage, path, credential)
        assert response.status_code == 401, what
        assert _challenge(response).startswith(f"Bearer {metadata}"), what
        assert 'error="invalid_token"' in _challenge(response), what

    scopeless = await _post(stage, path, jwt(scope="other"))
    assert scopeless.status_code == 403
    assert 'error="insufficient_scope"' in _challenge(scopeless)
    assert 'scope="mcp:use"' in _challenge(scopeless)

    malformed = await _post(stage, path, None, Authorization="Bearer a b")
    assert malformed.status_code == 400
    assert 'error="invalid_request"' in _challenge(malformed)

    async with httpx.AsyncClient(base_url=stage.base) as raw:
        document = (await raw.get(f"/.well-known/oauth-protected-resource{path}")).json()
        without_role = (await raw.get("/.well-known/oauth-protected-resource/mcp/acme/support")).json()
        unknown = await raw.get("/.well-known/oauth-protected-resource/mcp/acme/nothing")
    assert without_role["resource"] == stage.base + "/mcp/acme/support"
    assert document["resource"] == resource
    assert document["authorization_servers"] == [stage.issuer.url]
    assert document["scopes_supported"] == ["mcp:use"]
    assert unknown.status_code == 404
