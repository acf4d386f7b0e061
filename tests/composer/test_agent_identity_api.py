"""The admin API for agent keys and OAuth issuers: tenant admins only, secrets shown once."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from registry import AgentAuthenticator, InvalidTokenError, Issuers, JwksCache, JwtVerifier, Tokens
from registry import create_session_factory as sessions_for
from tests.composer.conftest import MintToken

pytestmark = pytest.mark.anyio

Client = AsyncTestClient[Litestar]
RESOURCE = "http://127.0.0.1:8000/mcp/acme/support"
ISSUER = {"issuer": "https://id.example.com/realms/acme", "roles_claim": "realm_access.roles"}


async def setup(client: Client, auth: MintToken) -> dict[str, dict[str, str]]:
    """Tenants acme and beta, and the headers of their admins, a reviewer and a platform admin."""
    root = await auth("platform_admin", principal="root")
    for slug in ("acme", "beta"):
        response = await client.post("/api/v1/tenants", json={"slug": slug, "name": slug}, headers=root)
        assert response.status_code == 201, response.text
    return {
        "root": root,
        "acme": await auth("tenant_admin:acme", principal="ada"),
        "beta": await auth("tenant_admin:beta", principal="bo"),
        "reviewer": await auth("security_reviewer:acme", principal="rita"),
    }


def authenticator(engine: AsyncEngine, http: httpx.AsyncClient) -> AgentAuthenticator:
    sessions = sessions_for(engine)
    return AgentAuthenticator(Tokens(sessions), Issuers(sessions), JwtVerifier(JwksCache(http)))


async def test_an_agent_key_is_shown_once_and_lists_never_carry_a_secret_or_hash(
    client: Client, auth: MintToken, engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    who = await setup(client, auth)
    body = {"name": "support-bot", "roles": ["analyst"], "description": "the support agent"}
    created = await client.post("/api/v1/tenants/acme/agent-keys", json=body, headers=who["acme"])
    assert created.status_code == 201, created.text
    minted = created.json()
    secret, key = minted["secret"], minted["token"]
    assert secret.startswith("atr_")
    assert (key["principal"], key["tenant"], key["roles"], key["created_by"]) == (
        "agent:support-bot",
        "acme",
        ["analyst"],
        "ada",
    )
    assert key["expires_at"] is not None  # keys expire by default
    listed = await client.get("/api/v1/tenants/acme/agent-keys", headers=who["acme"])
    one = await client.get(f"/api/v1/tenants/acme/agent-keys/{key['id']}", headers=who["acme"])
    for response in (listed, one):
        assert response.status_code == 200
        assert secret not in response.text
        assert secret[12:] not in response.text
        assert "hash" not in response.text
    assert [item["id"] for item in listed.json()["items"]] == [key["id"]]
    assert secret not in caplog.text
    async with httpx.AsyncClient() as http:
        agent = await authenticator(engine, http).authenticate("acme", f"Bearer {secret}", RESOURCE)
    assert (agent.name, agent.roles) == ("agent:support-bot", ("analyst",))


async def test_rotation_returns_a_new_secret_and_revocation_ends_a_key(
    client: Client, auth: MintToken, engine: AsyncEngine
) -> None:
    who = await setup(client, auth)
    created = (
        await client.post(
            "/api/v1/tenants/acme/agent-keys", json={"name": "bot", "ttl_days": None}, headers=who["acme"]
        )
    ).json()
    key_id = created["token"]["id"]
    rotated = await client.post(
        f"/api/v1/tenants/acme/agent-keys/{key_id}/rotate", json={"grace_seconds": 600}, headers=who["acme"]
    )
    assert rotated.status_code == 201, rotated.text
    successor = rotated.json()
    assert successor["secret"] != created["secret"]
    old = (await client.get(f"/api/v1/tenants/acme/agent-keys/{key_id}", headers=who["acme"])).json()
    assert old["replaced_by"] == successor["token"]["id"]
    assert old["expires_at"] is not None
    again = await client.post(f"/api/v1/tenants/acme/agent-keys/{key_id}/rotate", headers=who["acme"])
    assert again.status_code == 409
    assert again.json()["code"] == "conflict"

    new_id = successor["token"]["id"]
    assert (await client.delete(f"/api/v1/tenants/acme/agent-keys/{new_id}", headers=who["acme"])).status_code == 204
    revoked = (await client.get(f"/api/v1/tenants/acme/agent-keys/{new_id}", headers=who["acme"])).json()
    assert revoked["revoked_at"] is not None
    async with httpx.AsyncClient() as http:
        with pytest.raises(InvalidTokenError):
            await authenticator(engine, http).authenticate("acme", f"Bearer {successor['secret']}", RESOURCE)


async def test_an_agent_key_is_refused_at_the_admin_api(client: Client, auth: MintToken) -> None:
    who = await setup(client, auth)
    minted = (await client.post("/api/v1/tenants/acme/agent-keys", json={"name": "bot"}, headers=who["acme"])).json()
    response = await client.get(
        "/api/v1/tenants/acme/agent-keys", headers={"Authorization": f"Bearer {minted['secret']}"}
    )
    assert response.status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        {"name": "bad name"},
        {"name": "bot", "roles": ["tenant_admin:acme"]},
        {"name": "bot", "ttl_days": 0},
        {"name": "bot", "principal": "agent:other"},
    ],
)
async def test_malformed_agent_keys_are_refused(client: Client, auth: MintToken, body: dict[str, Any]) -> None:
    who = await setup(client, auth)
    response = await client.post("/api/v1/tenants/acme/agent-keys", json=body, headers=who["acme"])
    assert response.status_code in (400, 422), response.text


async def test_issuers_are_created_listed_read_and_deleted(client: Client, auth: MintToken) -> None:
    who = await setup(client, auth)
    created = await client.post("/api/v1/tenants/acme/issuers", json=ISSUER, headers=who["acme"])
    assert created.status_code == 201, created.text
    issuer = created.json()
    assert issuer["jwks_uri"] is None  # discovered from the issuer's metadata when first needed
    assert issuer["algorithms"] == ["RS256", "ES256", "EdDSA"]
    assert (issuer["roles_claim"], issuer["principal_claim"], issuer["created_by"]) == (
        "realm_access.roles",
        "sub",
        "ada",
    )
    duplicate = await client.post("/api/v1/tenants/acme/issuers", json=ISSUER, headers=who["acme"])
    assert duplicate.status_code == 409
    listed = (await client.get("/api/v1/tenants/acme/issuers", headers=who["acme"])).json()
    assert [item["id"] for item in listed["items"]] == [issuer["id"]]
    path = f"/api/v1/tenants/acme/issuers/{issuer['id']}"
    assert (await client.get(path, headers=who["acme"])).json()["issuer"] == ISSUER["issuer"]
    assert (await client.get(f"/api/v1/tenants/beta/issuers/{issuer['id']}", headers=who["beta"])).status_code == 404
    assert (await client.delete(path, headers=who["acme"])).status_code == 204
    assert (await client.get(path, headers=who["acme"])).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"issuer": "http://id.example.com"},  # http only on loopback
        {"issuer": "https://id.example.com", "algorithms": ["HS256"]},
        {"issuer": "https://id.example.com", "algorithms": ["none"]},
        {"issuer": "https://id.example.com", "jwks_uri": "https://id.example.com/jwks#x"},
        {"issuer": "https://id.example.com", "roles_claim": "a..b"},
        {"issuer": "https://id.example.com", "required_scopes": ['a"b']},
        {"issuer": "https://id.example.com", "surprise": True},
    ],
)
async def test_unsafe_or_malformed_issuers_are_refused(client: Client, auth: MintToken, body: dict[str, Any]) -> None:
    who = await setup(client, auth)
    response = await client.post("/api/v1/tenants/acme/issuers", json=body, headers=who["acme"])
    assert response.status_code in (400, 422), response.text


ROUTES = [
    ("POST", "/api/v1/tenants/acme/agent-keys", {"name": "bot"}),
    ("GET", "/api/v1/tenants/acme/agent-keys", None),
    ("GET", "/api/v1/tenants/acme/agent-keys/{key}", None),
    ("POST", "/api/v1/tenants/acme/agent-keys/{key}/rotate", {}),
    ("DELETE", "/api/v1/tenants/acme/agent-keys/{key}", None),
    ("POST", "/api/v1/tenants/acme/issuers", {"issuer": "https://other.example.com"}),
    ("GET", "/api/v1/tenants/acme/issuers", None),
    ("GET", "/api/v1/tenants/acme/issuers/{issuer}", None),
    ("DELETE", "/api/v1/tenants/acme/issuers/{issuer}", None),
]


@pytest.mark.parametrize(("method", "template", "body"), ROUTES)
@pytest.mark.parametrize("caller", ["beta", "reviewer"])
async def test_every_route_refuses_a_caller_who_is_not_the_tenants_admin(
    client: Client, auth: MintToken, method: str, template: str, body: dict[str, Any] | None, caller: str
) -> None:
    who = await setup(client, auth)
    key = (await client.post("/api/v1/tenants/acme/agent-keys", json={"name": "bot"}, headers=who["acme"])).json()
    issuer = (await client.post("/api/v1/tenants/acme/issuers", json=ISSUER, headers=who["acme"])).json()
    path = template.format(key=key["token"]["id"], issuer=issuer["id"])
    response = await client.request(method, path, json=body, headers=who[caller])
    assert response.status_code == 403, response.text
    assert response.json()["code"] == "forbidden"
    assert key["secret"] not in response.text
    # The platform admin may (and nothing was changed by the refused call).
    allowed = await client.request(method, path, json=body, headers=who["root"])
    assert allowed.status_code in (200, 201, 204), allowed.text


async def test_without_a_token_every_route_is_401(client: Client, auth: MintToken) -> None:
    await setup(client, auth)
    for method, template, body in ROUTES:
        response = await client.request(method, template.format(key=1, issuer=1), json=body)
        assert response.status_code == 401
