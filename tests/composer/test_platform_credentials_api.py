"""The platform's credentials for global upstreams: only to discover them, never for a tenant's call."""

from __future__ import annotations

import logging

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from registry import (
    Catalog,
    CredentialStore,
    DatabaseCredentials,
    SecretBox,
    SecretCredential,
    Settings,
    create_session_factory,
    generate_key,
)
from tests.composer.conftest import MintToken
from tests.composer.test_credentials_api import SECRET, path, setup_tenants
from tests.upstreams._process import serve_http

pytestmark = pytest.mark.anyio

Client = AsyncTestClient[Litestar]
PLATFORM_SECRET = "platform-s3cret"


@pytest.fixture
def settings(database_url: str) -> Settings:
    """The shared settings, with a key: PostgreSQL stores credentials only under one."""
    return Settings(database_url=database_url, watch_list_changed=False, scheduler_tick=0.2, secret_keys=generate_key())


def platform_path(upstream_id: int, name: str | None = None) -> str:
    base = f"/api/v1/upstreams/{upstream_id}/credentials"
    return base if name is None else f"{base}/{name}"


async def test_a_platform_admin_sets_lists_and_deletes_platform_credentials_and_never_sees_a_value(
    client: Client, auth: MintToken, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ids = await setup_tenants(client, auth)
    root, shared = ids["root"], ids["shared"]
    body = {"kind": "secret", "value": PLATFORM_SECRET}
    responses = [
        await client.put(platform_path(shared, "API_TOKEN"), json=body, headers=root),
        await client.put(platform_path(shared, "API_TOKEN"), json=body, headers=root),  # replaces, no duplicate
    ]
    for response in responses:
        assert response.status_code == 200, response.text
        assert (response.json()["tenant"], response.json()["name"]) == (None, "API_TOKEN")
    listed = await client.get(platform_path(shared), headers=root)
    assert [(item["tenant"], item["name"], item["kind"]) for item in listed.json()["items"]] == [
        (None, "API_TOKEN", "secret")
    ]
    responses.append(listed)
    # A tenant's list for the same global upstream does not show the platform's, nor the reverse.
    assert (await client.get(path("acme", shared), headers=ids["acme"])).json()["items"] == []
    tenant_body = {"kind": "secret", "value": SECRET}
    assert (
        await client.put(path("acme", shared, "API_TOKEN"), json=tenant_body, headers=ids["acme"])
    ).status_code == 200
    assert [item["name"] for item in (await client.get(platform_path(shared), headers=root)).json()["items"]] == [
        "API_TOKEN"
    ]
    deleted = await client.delete(platform_path(shared, "API_TOKEN"), headers=root)
    assert deleted.status_code == 204
    again = await client.delete(platform_path(shared, "API_TOKEN"), headers=root)
    assert (again.status_code, again.json()["code"]) == (404, "not_found")
    assert (await client.get(platform_path(shared), headers=root)).json()["items"] == []
    assert len((await client.get(path("acme", shared), headers=ids["acme"])).json()["items"]) == 1
    for response in responses:
        assert PLATFORM_SECRET not in response.text
    assert PLATFORM_SECRET not in caplog.text


async def test_platform_credentials_are_for_global_upstreams_and_platform_admins_only(
    client: Client, auth: MintToken
) -> None:
    ids = await setup_tenants(client, auth)
    root, private, shared = ids["root"], ids["private"], ids["shared"]
    body = {"kind": "secret", "value": PLATFORM_SECRET}
    on_private = await client.put(platform_path(private, "API_TOKEN"), json=body, headers=root)
    assert (on_private.status_code, on_private.json()["code"]) == (422, "invalid_input")
    listed_private = await client.get(platform_path(private), headers=root)
    assert (listed_private.status_code, listed_private.json()["code"]) == (422, "invalid_input")
    missing = await client.put(platform_path(9999, "API_TOKEN"), json=body, headers=root)
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")
    for headers in (ids["acme"], ids["beta"], ids["reviewer"]):
        for method, url, json in (
            ("PUT", platform_path(shared, "API_TOKEN"), body),
            ("GET", platform_path(shared), None),
            ("DELETE", platform_path(shared, "API_TOKEN"), None),
        ):
            response = await client.request(method, url, json=json, headers=headers)
            assert (response.status_code, response.json()["code"]) == (403, "forbidden"), (method, url)
    unauthenticated = await client.get(platform_path(shared))
    assert unauthenticated.status_code == 401
    assert (await client.get(platform_path(shared), headers=root)).json()["items"] == []


async def test_only_discovery_of_a_global_upstream_gets_the_platforms_credential(
    client: Client, auth: MintToken, engine: AsyncEngine, settings: Settings
) -> None:
    ids = await setup_tenants(client, auth)
    sessions = create_session_factory(engine)
    store = CredentialStore(sessions, SecretBox.from_settings(settings))
    credentials = DatabaseCredentials(store)
    catalog = Catalog(sessions)
    shared, private = await catalog.get_upstream(ids["shared"]), await catalog.get_upstream(ids["private"])
    await store.set_credential(None, shared.id, "API_TOKEN", SecretCredential(value=PLATFORM_SECRET), principal="root")
    await store.set_credential("acme", shared.id, "API_TOKEN", SecretCredential(value=SECRET), principal="ada")

    assert dict(await credentials.values_for(shared, None)) == {"API_TOKEN": PLATFORM_SECRET}
    assert dict(await credentials.values_for(shared, "acme")) == {"API_TOKEN": SECRET}
    # A tenant without its own credential gets nothing: never the platform's.
    assert dict(await credentials.values_for(shared, "beta")) == {}
    # A private upstream is discovered with its tenant's credentials; the platform has none for it.
    assert dict(await credentials.values_for(private, None)) == {}
    assert PLATFORM_SECRET not in repr(await credentials.values_for(shared, None))


@pytest.mark.slow
async def test_a_global_upstream_syncs_only_with_a_platform_credential(client: Client, auth: MintToken) -> None:
    async with serve_http(env={"DEMO_REQUIRE_HEADER": f"Authorization: Bearer {PLATFORM_SECRET}"}) as url:
        ids = await setup_tenants(client, auth, url)
        root, shared = ids["root"], ids["shared"]
        sync = f"/api/v1/upstreams/{shared}/sync"
        missing = await client.post(sync, headers=root)
        assert (missing.status_code, missing.json()["code"]) == (422, "invalid_input")
        assert "API_TOKEN" in missing.json()["detail"]
        # A tenant's credential for the global upstream does not serve discovery either.
        tenant_body = {"kind": "secret", "value": SECRET}
        assert (
            await client.put(path("acme", shared, "API_TOKEN"), json=tenant_body, headers=ids["acme"])
        ).status_code == 200
        assert (await client.post(sync, headers=root)).json()["code"] == "invalid_input"
        body = {"kind": "secret", "value": PLATFORM_SECRET}
        assert (await client.put(platform_path(shared, "API_TOKEN"), json=body, headers=root)).status_code == 200
        synced = await client.post(sync, headers=root)
        assert synced.status_code == 200, synced.text
        assert synced.json()["status"] == "ok"
        assert PLATFORM_SECRET not in synced.text
