from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from registry import Catalog, ItemKind, Review
from tests.composer.conftest import MintToken
from tests.registry.factories import make_tool, record

pytestmark = pytest.mark.anyio

Client = AsyncTestClient[Litestar]
HASH = "0" * 64


async def setup_acme(client: Client, auth: MintToken, engine: AsyncEngine) -> dict[str, Any]:
    """A tenant with one upstream and one recorded tool; returns ids and admin headers."""
    admin = await auth("platform_admin", principal="root")
    assert (
        await client.post("/api/v1/tenants", json={"slug": "acme", "name": "Acme"}, headers=admin)
    ).status_code == 201
    response = await client.post(
        "/api/v1/upstreams",
        json={
            "slug": "weather",
            "name": "Weather",
            "tenant": "acme",
            "transport": "streamable_http",
            "url": "http://127.0.0.1:9/mcp",
        },
        headers=admin,
    )
    assert response.status_code == 201, response.text
    from registry import create_session_factory

    sessions = create_session_factory(engine)
    upstream = await Catalog(sessions).get_upstream(response.json()["id"])
    await record(engine, upstream, [make_tool()])
    item = (await Review(sessions).list_items(upstream_id=upstream.id, kind=ItemKind.TOOL)).items[0]
    return {"admin": admin, "upstream_id": upstream.id, "item_id": item.id, "hash": item.current_hash}


def routes(ids: dict[str, Any]) -> list[tuple[str, str, dict[str, Any] | None]]:
    """Every admin API route, with a valid body where it takes one."""
    up, item, digest = ids["upstream_id"], ids["item_id"], ids["hash"]
    return [
        ("POST", "/api/v1/tenants", {"slug": "new", "name": "New"}),
        ("GET", "/api/v1/tenants", None),
        ("GET", "/api/v1/tenants/acme", None),
        ("PATCH", "/api/v1/tenants/acme", {"name": "Acme 2"}),
        ("DELETE", "/api/v1/tenants/acme", None),
        (
            "POST",
            "/api/v1/upstreams",
            {"slug": "x", "name": "X", "tenant": "acme", "transport": "sse", "url": "http://127.0.0.1:9/sse"},
        ),
        ("GET", "/api/v1/upstreams?tenant=acme", None),
        ("GET", f"/api/v1/upstreams/{up}", None),
        ("PATCH", f"/api/v1/upstreams/{up}", {"name": "W"}),
        ("DELETE", f"/api/v1/upstreams/{up}", None),
        ("POST", f"/api/v1/upstreams/{up}/sync", None),
        ("GET", "/api/v1/catalog/items?tenant=acme", None),
        ("GET", f"/api/v1/catalog/items/{item}", None),
        ("GET", f"/api/v1/catalog/items/{item}/versions", None),
        ("GET", f"/api/v1/catalog/items/{item}/versions/{digest}", None),
        ("GET", f"/api/v1/catalog/items/{item}/versions/{digest}/decisions", None),
        ("GET", "/api/v1/reviews/pending?tenant=acme", None),
        ("POST", f"/api/v1/reviews/items/{item}/versions/{digest}", {"decision": "approve", "reason": "ok"}),
        ("POST", "/api/v1/tenants/acme/virtual-servers", {"slug": "vs", "name": "VS"}),
        ("GET", "/api/v1/tenants/acme/virtual-servers", None),
        ("GET", "/api/v1/tenants/acme/virtual-servers/vs", None),
        ("PUT", "/api/v1/tenants/acme/virtual-servers/vs/entries", []),
        ("DELETE", "/api/v1/tenants/acme/virtual-servers/vs", None),
        ("GET", "/api/v1/reviews/overrides?tenant=acme", None),
        ("POST", "/api/v1/reviews/overrides/acme/vs/1", {"decision": "approve", "reason": "ok"}),
    ]


async def test_every_route_needs_a_valid_token(client: Client, auth: MintToken, engine: AsyncEngine) -> None:
    ids = await setup_acme(client, auth, engine)
    for method, path, body in routes(ids):
        for headers in ({}, {"Authorization": "Bearer atr_forged"}, {"Authorization": "Basic abc"}):
            response = await client.request(method, path, json=body, headers=headers)
            assert response.status_code == 401, (method, path)
            assert response.headers["www-authenticate"].startswith("Bearer")
            assert response.json()["code"] == "unauthenticated"


async def test_every_route_refuses_an_admin_of_another_tenant(
    client: Client, auth: MintToken, engine: AsyncEngine, catalog: Catalog
) -> None:
    ids = await setup_acme(client, auth, engine)
    await client.post("/api/v1/tenants", json={"slug": "other", "name": "Other"}, headers=ids["admin"])
    outsider = await auth("tenant_admin:other", "security_reviewer:other", principal="mallory")
    for method, path, body in routes(ids):
        response = await client.request(method, path, json=body, headers=outsider)
        assert response.status_code in (403, 404), (method, path, response.status_code)
        assert response.json()["code"] in ("forbidden", "not_found")
    assert (await catalog.get_tenant("acme")).name == "Acme"


async def test_a_tenant_admin_cannot_approve_and_a_reviewer_cannot_register(
    client: Client, auth: MintToken, engine: AsyncEngine
) -> None:
    ids = await setup_acme(client, auth, engine)
    tenant_admin = await auth("tenant_admin:acme", principal="ada")
    reviewer = await auth("security_reviewer:acme", principal="rita")
    decide = f"/api/v1/reviews/items/{ids['item_id']}/versions/{ids['hash']}"
    body = {"decision": "approve", "reason": "ok"}
    assert (await client.post(decide, json=body, headers=tenant_admin)).json()["code"] == "forbidden"
    create = {"slug": "y", "name": "Y", "tenant": "acme", "transport": "sse", "url": "http://127.0.0.1:9/sse"}
    assert (await client.post("/api/v1/upstreams", json=create, headers=reviewer)).json()["code"] == "forbidden"
    approved = await client.post(decide, json=body, headers=reviewer)
    assert approved.status_code == 200
    assert approved.json()["status"] == "approved"
    again = await client.post(decide, json=body, headers=reviewer)
    assert (again.status_code, again.json()["code"]) == (409, "review_conflict")


async def test_responses_never_contain_token_hashes_or_secrets(
    client: Client, auth: MintToken, engine: AsyncEngine
) -> None:
    ids = await setup_acme(client, auth, engine)
    secret = ids["admin"]["Authorization"].removeprefix("Bearer ")
    for method, path, _ in routes(ids):
        if method == "GET":
            text = (await client.get(path, headers=ids["admin"])).text
            assert secret not in text
            assert "token_hash" not in text


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/v1/tenants", {"slug": "Bad Slug!", "name": "x"}),
        ("POST", "/api/v1/tenants", {"slug": "ok", "name": "x", "unknown": 1}),
        ("POST", "/api/v1/tenants", {"slug": 5, "name": []}),
        ("POST", "/api/v1/tenants", "not an object"),
        ("PATCH", "/api/v1/tenants/acme", {"separation_of_duties": "yes please"}),
        ("POST", "/api/v1/upstreams", {"slug": "s", "name": "S", "transport": "carrier-pigeon"}),
        ("POST", "/api/v1/upstreams", {"slug": "s", "name": "S", "tenant": "acme", "transport": "stdio"}),
        (
            "POST",
            "/api/v1/upstreams",
            {"slug": "s", "name": "S", "tenant": "acme", "transport": "sse", "url": "ftp://x"},
        ),
        (
            "POST",
            "/api/v1/upstreams",
            {
                "slug": "s",
                "name": "S",
                "tenant": "acme",
                "transport": "sse",
                "url": "http://h",
                "header_templates": {"bad header": "v"},
            },
        ),
        (
            "POST",
            "/api/v1/upstreams",
            {
                "slug": "s",
                "name": "S",
                "tenant": "acme",
                "transport": "stdio",
                "command": ["x"],
                "sync_interval_seconds": 1,
            },
        ),
        ("PATCH", "/api/v1/upstreams/{up}", {"url": "not a url"}),
        ("PATCH", "/api/v1/upstreams/{up}", {"command": ["echo"]}),
        ("GET", "/api/v1/upstreams?tenant=acme&limit=0", None),
        ("GET", "/api/v1/upstreams?tenant=acme&limit=abc", None),
        ("GET", "/api/v1/upstreams?tenant=acme&cursor=%%%", None),
        ("GET", "/api/v1/catalog/items?tenant=acme&kind=spaceship", None),
        ("GET", "/api/v1/catalog/items/{item}/versions/not-a-hash", None),
        ("GET", "/api/v1/reviews/pending?tenant=acme&min_risk=extreme", None),
        ("POST", "/api/v1/reviews/items/{item}/versions/{hash}", {"decision": "maybe", "reason": "x"}),
        ("POST", "/api/v1/reviews/items/{item}/versions/{hash}", {"decision": "approve", "reason": ""}),
        ("POST", "/api/v1/reviews/items/{item}/versions/{hash}", {"decision": "approve"}),
        ("POST", "/api/v1/tenants/acme/virtual-servers", {"slug": "Bad!", "name": "x"}),
        ("PUT", "/api/v1/tenants/acme/virtual-servers/nope/entries", []),
        (
            "PUT",
            "/api/v1/tenants/acme/virtual-servers/nope/entries",
            [{"upstream_id": "x", "kind": "tool", "key": "k"}],
        ),
        (
            "PUT",
            "/api/v1/tenants/acme/virtual-servers/nope/entries",
            [{"upstream_id": 1, "kind": "tool", "key": "k", "extra": 1}],
        ),
        ("POST", "/api/v1/reviews/overrides/acme/nope/1", {"decision": "approve", "reason": "x"}),
    ],
)
async def test_bad_input_gets_a_4xx_problem_document(
    client: Client, auth: MintToken, engine: AsyncEngine, method: str, path: str, body: object
) -> None:
    ids = await setup_acme(client, auth, engine)
    headers = {**ids["admin"], **(await auth("security_reviewer:*", "platform_admin", principal="rita"))}
    path = path.format(up=ids["upstream_id"], item=ids["item_id"], hash=ids["hash"])
    response = await client.request(method, path, json=body, headers=headers)
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == response.status_code
    assert problem["code"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/tenants/nope",
        "/api/v1/upstreams/999999",
        "/api/v1/catalog/items/999999",
        "/api/v1/catalog/items/999999/versions",
        f"/api/v1/catalog/items/999999/versions/{HASH}",
        "/api/v1/nothing-here",
    ],
)
async def test_unknown_ids_are_404_problems(client: Client, auth: MintToken, path: str) -> None:
    admin = await auth("platform_admin", "security_reviewer:*")
    response = await client.get(path, headers=admin)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


async def test_an_unknown_version_hash_of_a_known_item_is_404(
    client: Client, auth: MintToken, engine: AsyncEngine
) -> None:
    ids = await setup_acme(client, auth, engine)
    response = await client.get(f"/api/v1/catalog/items/{ids['item_id']}/versions/{HASH}", headers=ids["admin"])
    assert (response.status_code, response.json()["code"]) == (404, "not_found")


async def test_a_huge_body_is_refused_before_parsing(client: Client, auth: MintToken) -> None:
    admin = await auth("platform_admin")
    body = b'{"slug": "big", "name": "' + b"x" * 2_000_000 + b'"}'
    response = await client.post("/api/v1/tenants", content=body, headers={**admin, "Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["code"] == "body_too_large"


async def test_malformed_json_is_a_400(client: Client, auth: MintToken) -> None:
    admin = await auth("platform_admin")
    response = await client.post(
        "/api/v1/tenants", content=b"{not json", headers={**admin, "Content-Type": "application/json"}
    )
    assert response.status_code == 400


async def test_duplicates_are_409(client: Client, auth: MintToken) -> None:
    admin = await auth("platform_admin")
    body = {"slug": "acme", "name": "Acme"}
    assert (await client.post("/api/v1/tenants", json=body, headers=admin)).status_code == 201
    response = await client.post("/api/v1/tenants", json=body, headers=admin)
    assert (response.status_code, response.json()["code"]) == (409, "already_exists")


async def test_lists_paginate_with_cursors(client: Client, auth: MintToken) -> None:
    admin = await auth("platform_admin")
    for number in range(7):
        await client.post("/api/v1/tenants", json={"slug": f"t{number}", "name": "T"}, headers=admin)
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"limit": "3"} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/api/v1/tenants", params=params, headers=admin)).json()
        seen += [tenant["slug"] for tenant in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"t{number}" for number in range(7)]


async def test_a_sync_of_an_unreachable_upstream_is_a_recorded_502(
    client: Client, auth: MintToken, engine: AsyncEngine
) -> None:
    ids = await setup_acme(client, auth, engine)
    response = await client.post(f"/api/v1/upstreams/{ids['upstream_id']}/sync", headers=ids["admin"])
    assert (response.status_code, response.json()["code"]) == (502, "upstream_unreachable")
    status = (await client.get(f"/api/v1/upstreams/{ids['upstream_id']}", headers=ids["admin"])).json()
    assert status["upstream"]["last_sync_status"] == "error"
    assert status["upstream"]["last_error_code"] == "upstream_unreachable"
    assert status["recent_syncs"][0]["status"] == "error"
    items = (await client.get(f"/api/v1/catalog/items?upstream_id={ids['upstream_id']}", headers=ids["admin"])).json()
    assert len(items["items"]) == 1


async def test_the_openapi_document_is_served(client: Client) -> None:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    assert "/api/v1/reviews/pending" in response.json()["paths"]


async def test_curating_two_entries_under_one_name_is_a_409_that_changes_nothing(
    client: Client, auth: MintToken, engine: AsyncEngine
) -> None:
    ids = await setup_acme(client, auth, engine)
    admin = ids["admin"]
    assert (
        await client.post("/api/v1/tenants/acme/virtual-servers", json={"slug": "vs", "name": "VS"}, headers=admin)
    ).status_code == 201
    entry = {"upstream_id": ids["upstream_id"], "kind": "tool", "key": "get_weather"}
    ok = await client.put("/api/v1/tenants/acme/virtual-servers/vs/entries", json=[entry], headers=admin)
    assert [e["exposed_name"] for e in ok.json()["entries"]] == ["weather_get_weather"]
    clash = [{**entry, "exposed_name": "same"}, {**entry, "key": "other", "exposed_name": "same"}]
    response = await client.put("/api/v1/tenants/acme/virtual-servers/vs/entries", json=clash, headers=admin)
    assert (response.status_code, response.json()["code"]) == (409, "name_conflict")
    after = (await client.get("/api/v1/tenants/acme/virtual-servers/vs", headers=admin)).json()
    assert [e["exposed_name"] for e in after["entries"]] == ["weather_get_weather"]
