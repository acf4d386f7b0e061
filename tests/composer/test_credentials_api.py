from __future__ import annotations

import logging
import stat
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from composer import create_app
from registry import Settings, generate_key
from tests.composer.conftest import MintToken
from tests.registry.oauth_server import token_server
from tests.upstreams._process import serve_http

pytestmark = pytest.mark.anyio

Client = AsyncTestClient[Litestar]
SECRET = "s3cret"
CLIENT_SECRET = "client-s3cret"
TEMPLATES = {"Authorization": "Bearer ${API_TOKEN}"}


@pytest.fixture
def settings(database_url: str) -> Settings:
    """The shared settings, with a key: PostgreSQL stores credentials only under one."""
    return Settings(database_url=database_url, watch_list_changed=False, scheduler_tick=0.2, secret_keys=generate_key())


async def setup_tenants(client: Client, auth: MintToken, url: str = "http://127.0.0.1:9/mcp") -> dict[str, Any]:
    """Tenants acme and beta, an upstream private to acme and a global one; admins' headers."""
    root = await auth("platform_admin", principal="root")
    for slug in ("acme", "beta"):
        assert (
            await client.post("/api/v1/tenants", json={"slug": slug, "name": slug}, headers=root)
        ).status_code == 201
    ids: dict[str, Any] = {"root": root}
    for key, tenant in (("private", "acme"), ("shared", None)):
        body = {
            "slug": key,
            "name": key,
            "tenant": tenant,
            "transport": "streamable_http",
            "url": url,
            "header_templates": TEMPLATES,
        }
        response = await client.post("/api/v1/upstreams", json=body, headers=root)
        assert response.status_code == 201, response.text
        ids[key] = response.json()["id"]
    ids["acme"] = await auth("tenant_admin:acme", principal="ada")
    ids["beta"] = await auth("tenant_admin:beta", principal="bo")
    ids["reviewer"] = await auth("security_reviewer:acme", "security_reviewer:*", principal="rita")
    return ids


def path(tenant: str, upstream_id: int, name: str | None = None) -> str:
    base = f"/api/v1/tenants/{tenant}/upstreams/{upstream_id}/credentials"
    return base if name is None else f"{base}/{name}"


async def test_a_tenant_admin_sets_lists_and_deletes_credentials_and_never_sees_a_value(
    client: Client, auth: MintToken, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ids = await setup_tenants(client, auth)
    acme, private = ids["acme"], ids["private"]
    oauth = {
        "kind": "oauth_client_credentials",
        "token_url": "https://auth.example/token",
        "client_id": "atrium",
        "client_secret": CLIENT_SECRET,
        "scope": "read",
        "audience": "https://api.example",
    }
    responses = [
        await client.put(path("acme", private, "API_TOKEN"), json={"kind": "secret", "value": SECRET}, headers=acme),
        await client.put(path("acme", private, "API_TOKEN"), json={"kind": "secret", "value": SECRET}, headers=acme),
        await client.put(path("acme", private, "OAUTH"), json=oauth, headers=acme),
    ]
    assert [response.status_code for response in responses] == [200, 200, 200]
    assert responses[0].json()["kind"] == "secret"
    assert responses[2].json()["metadata"] == {
        "token_url": "https://auth.example/token",
        "client_id": "atrium",
        "scope": "read",
        "audience": "https://api.example",
        "auth_method": "client_secret_basic",
    }
    listed = await client.get(path("acme", private), headers=acme)
    responses.append(listed)
    assert [(item["name"], item["kind"]) for item in listed.json()["items"]] == [
        ("API_TOKEN", "secret"),
        ("OAUTH", "oauth_client_credentials"),
    ]
    assert set(listed.json()["items"][0]) == {
        "tenant",
        "upstream_id",
        "name",
        "kind",
        "metadata",
        "created_by",
        "created_at",
        "updated_at",
    }
    responses.append(await client.get(f"/api/v1/upstreams/{private}", headers=acme))
    responses.append(await client.get("/schema/openapi.json"))
    deleted = await client.delete(path("acme", private, "API_TOKEN"), headers=acme)
    assert deleted.status_code == 204
    again = await client.delete(path("acme", private, "API_TOKEN"), headers=acme)
    assert (again.status_code, again.json()["code"]) == (404, "not_found")
    responses.append(await client.get(path("acme", private), headers=ids["root"]))
    assert [item["name"] for item in responses[-1].json()["items"]] == ["OAUTH"]
    for response in responses:
        assert SECRET not in response.text
        assert CLIENT_SECRET not in response.text
    assert SECRET not in caplog.text
    assert CLIENT_SECRET not in caplog.text


async def test_another_tenants_admin_cannot_read_set_or_delete_credentials(client: Client, auth: MintToken) -> None:
    ids = await setup_tenants(client, auth)
    acme, beta, private, shared = ids["acme"], ids["beta"], ids["private"], ids["shared"]
    body = {"kind": "secret", "value": SECRET}
    assert (await client.put(path("acme", private, "API_TOKEN"), json=body, headers=acme)).status_code == 200
    assert (await client.put(path("acme", shared, "API_TOKEN"), json=body, headers=acme)).status_code == 200
    attempts = [
        (beta, "GET", path("acme", private), None),
        (beta, "PUT", path("acme", private, "API_TOKEN"), {"kind": "secret", "value": "evil"}),
        (beta, "DELETE", path("acme", private, "API_TOKEN"), None),
        (beta, "GET", path("acme", shared), None),
        (beta, "DELETE", path("acme", shared, "API_TOKEN"), None),
        (beta, "GET", path("beta", private), None),
        (beta, "PUT", path("beta", private, "API_TOKEN"), {"kind": "secret", "value": "evil"}),
        (ids["reviewer"], "GET", path("acme", private), None),
        (ids["reviewer"], "PUT", path("acme", private, "X"), body),
        ({}, "GET", path("acme", private), None),
    ]
    for headers, method, url, json in attempts:
        response = await client.request(method, url, json=json, headers=headers)
        assert response.status_code in (401, 403, 404), (method, url, response.status_code)
        assert response.json()["code"] in ("unauthenticated", "forbidden", "not_found")
        assert SECRET not in response.text
    # Beta keeps its own credential for the global upstream, and sees only that one.
    assert (await client.put(path("beta", shared, "API_TOKEN"), json=body, headers=beta)).status_code == 200
    listed = (await client.get(path("beta", shared), headers=beta)).json()["items"]
    assert [(item["tenant"], item["name"], item["created_by"]) for item in listed] == [("beta", "API_TOKEN", "bo")]
    assert [item["name"] for item in (await client.get(path("acme", private), headers=acme)).json()["items"]] == [
        "API_TOKEN"
    ]


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("API_TOKEN", {"kind": "secret", "value": SECRET, "extra": 1}),
        ("API_TOKEN", {"kind": "password", "value": SECRET}),
        ("API_TOKEN", {"value": SECRET}),
        ("API_TOKEN", {"kind": "secret", "value": f"{SECRET}\r\nX-Evil: 1"}),
        ("API_TOKEN", {"kind": "secret", "value": ""}),
        ("API_TOKEN", {"kind": "secret", "value": SECRET * 3000}),
        (
            "API_TOKEN",
            {"kind": "oauth_client_credentials", "token_url": "http://auth.example/t", "client_id": "c"}
            | {"client_secret": SECRET},
        ),
        (
            "API_TOKEN",
            {"kind": "oauth_client_credentials", "token_url": "https://a/t", "client_id": "c", "client_secret": SECRET}
            | {"auth_method": "private_key_jwt"},
        ),
        ("1BAD", {"kind": "secret", "value": SECRET}),
        ("BAD-NAME", {"kind": "secret", "value": SECRET}),
        ("A" * 65, {"kind": "secret", "value": SECRET}),
    ],
)
async def test_bad_credentials_are_refused_without_echoing_the_value(
    client: Client, auth: MintToken, caplog: pytest.LogCaptureFixture, name: str, body: dict[str, Any]
) -> None:
    caplog.set_level(logging.DEBUG)
    ids = await setup_tenants(client, auth)
    response = await client.put(path("acme", ids["private"], name), json=body, headers=ids["acme"])
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] in ("invalid_request", "invalid_input")
    assert SECRET not in response.text
    assert SECRET not in caplog.text


@pytest.mark.parametrize(
    "database_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
async def test_without_secret_keys_sqlite_generates_one_and_postgresql_refuses(
    database_url: str, engine: AsyncEngine, auth: MintToken
) -> None:
    keyless = Settings(database_url=database_url, watch_list_changed=False)
    async with AsyncTestClient(create_app(keyless, run_scheduler=False)) as client:
        ids = await setup_tenants(client, auth)
        response = await client.put(
            path("acme", ids["private"], "API_TOKEN"), json={"kind": "secret", "value": SECRET}, headers=ids["acme"]
        )
    if database_url.startswith("postgresql"):
        assert (response.status_code, response.json()["code"]) == (503, "secret_key_error")
        assert "ATRIUM_SECRET_KEYS" in response.json()["detail"]
        return
    assert response.status_code == 200
    db_path = keyless.sqlite_path()
    assert db_path is not None
    key_file = Path(db_path).parent / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


@pytest.mark.slow
async def test_a_sync_renders_the_header_template_with_the_tenants_credential(
    client: Client, auth: MintToken, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with (
        serve_http(env={"DEMO_REQUIRE_HEADER": f"Authorization: Bearer {SECRET}"}) as url,
        token_server() as oauth_server,
        serve_http(env={"DEMO_REQUIRE_HEADER": "Authorization: Bearer token-1"}) as oauth_url,
    ):
        ids = await setup_tenants(client, auth, url)
        acme, private = ids["acme"], ids["private"]
        sync = f"/api/v1/upstreams/{private}/sync"
        missing = await client.post(sync, headers=acme)
        assert (missing.status_code, missing.json()["code"]) == (422, "invalid_input")
        assert "API_TOKEN" in missing.json()["detail"]
        wrong = {"kind": "secret", "value": "not-the-s3cret"}
        assert (await client.put(path("acme", private, "API_TOKEN"), json=wrong, headers=acme)).status_code == 200
        refused = await client.post(sync, headers=acme)
        assert refused.status_code >= 500
        assert "not-the-s3cret" not in refused.text
        right = {"kind": "secret", "value": SECRET}
        assert (await client.put(path("acme", private, "API_TOKEN"), json=right, headers=acme)).status_code == 200
        synced = await client.post(sync, headers=acme)
        assert synced.status_code == 200, synced.text
        assert synced.json()["status"] == "ok"
        assert SECRET not in synced.text
        # The same through OAuth client credentials: the access token fills the placeholder.
        body = {
            "slug": "oauth",
            "name": "OAuth",
            "tenant": "acme",
            "transport": "streamable_http",
            "url": oauth_url,
            "header_templates": TEMPLATES,
        }
        oauth_id = (await client.post("/api/v1/upstreams", json=body, headers=acme)).json()["id"]
        credential = {
            "kind": "oauth_client_credentials",
            "token_url": oauth_server.url,
            "client_id": "atrium",
            "client_secret": CLIENT_SECRET,
        }
        assert (await client.put(path("acme", oauth_id, "API_TOKEN"), json=credential, headers=acme)).status_code == 200
        synced = await client.post(f"/api/v1/upstreams/{oauth_id}/sync", headers=acme)
        assert synced.status_code == 200, synced.text
        assert oauth_server.issued == 1
    for secret in (SECRET, CLIENT_SECRET, "token-1"):
        assert secret not in caplog.text
