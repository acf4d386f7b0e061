"""Every admin API route refuses a principal without the right role.

The table below names, for each route the app serves under ``/api/``, a request that the right
role could make and the principals who must be refused. A route that is not in the table fails
the test, so a new route cannot ship without its check being tested.
"""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.composer.conftest import MintToken
from tests.composer.test_api import setup_acme

pytestmark = pytest.mark.anyio

Client = AsyncTestClient[Litestar]

# Who is refused where: (roles on the token).
OUTSIDER = ("tenant_admin:other", "security_reviewer:other")
NO_ROLE: tuple[str, ...] = ()
REVIEWER = ("security_reviewer:acme",)
GLOBAL_REVIEWER = ("security_reviewer:*",)
TENANT_ADMIN = ("tenant_admin:acme",)
PLATFORM_ADMIN = ("platform_admin",)

PLATFORM = [OUTSIDER, NO_ROLE, REVIEWER, GLOBAL_REVIEWER, TENANT_ADMIN]
MANAGE = [OUTSIDER, NO_ROLE, REVIEWER, GLOBAL_REVIEWER]
READ = [OUTSIDER, NO_ROLE]
REVIEW = [OUTSIDER, NO_ROLE, TENANT_ADMIN, PLATFORM_ADMIN]
PLATFORM_READ = [OUTSIDER, NO_ROLE, REVIEWER, TENANT_ADMIN]

CSV_LINE = "p, analyst, acme, mcp/vs/tool/weather/*, call, allow\n"
LINE = {"ptype": "p", "values": ["analyst", "acme", "mcp/vs/tool/weather/*", "call", "allow"]}


def table(ids: dict[str, Any]) -> dict[tuple[str, str], tuple[str, Any, list[tuple[str, ...]]]]:
    """(method, route) → (path, body, principals refused). ``str`` bodies are sent as CSV."""
    up, item, digest = ids["upstream_id"], ids["item_id"], ids["hash"]
    line, key, issuer, builtin = ids["line_id"], ids["key_id"], ids["issuer_id"], ids["builtin_id"]
    upstream = {"slug": "x", "name": "X", "tenant": "acme", "transport": "sse", "url": "http://127.0.0.1:9/sse"}
    decision = {"decision": "approve", "reason": "ok"}
    return {
        ("POST", "/api/v1/tenants"): ("/api/v1/tenants", {"slug": "new", "name": "New"}, PLATFORM),
        ("GET", "/api/v1/tenants"): ("/api/v1/tenants", None, PLATFORM),
        ("GET", "/api/v1/tenants/{tenant:str}"): ("/api/v1/tenants/acme", None, MANAGE),
        ("PATCH", "/api/v1/tenants/{tenant:str}"): ("/api/v1/tenants/acme", {"name": "Acme 2"}, MANAGE),
        ("DELETE", "/api/v1/tenants/{tenant:str}"): ("/api/v1/tenants/acme", None, PLATFORM),
        ("POST", "/api/v1/upstreams"): ("/api/v1/upstreams", upstream, MANAGE),
        ("GET", "/api/v1/upstreams"): ("/api/v1/upstreams?tenant=acme", None, READ),
        ("GET", "/api/v1/upstreams/{upstream_id:int}"): (f"/api/v1/upstreams/{up}", None, READ),
        ("PATCH", "/api/v1/upstreams/{upstream_id:int}"): (f"/api/v1/upstreams/{up}", {"name": "W"}, MANAGE),
        ("DELETE", "/api/v1/upstreams/{upstream_id:int}"): (f"/api/v1/upstreams/{up}", None, MANAGE),
        ("POST", "/api/v1/upstreams/{upstream_id:int}/sync"): (f"/api/v1/upstreams/{up}/sync", None, MANAGE),
        ("GET", "/api/v1/catalog/items"): ("/api/v1/catalog/items?tenant=acme", None, READ),
        ("GET", "/api/v1/catalog/items/{item_id:int}"): (f"/api/v1/catalog/items/{item}", None, READ),
        ("GET", "/api/v1/catalog/items/{item_id:int}/versions"): (f"/api/v1/catalog/items/{item}/versions", None, READ),
        ("GET", "/api/v1/catalog/items/{item_id:int}/versions/{digest:str}"): (
            f"/api/v1/catalog/items/{item}/versions/{digest}",
            None,
            READ,
        ),
        ("GET", "/api/v1/catalog/items/{item_id:int}/versions/{digest:str}/decisions"): (
            f"/api/v1/catalog/items/{item}/versions/{digest}/decisions",
            None,
            READ,
        ),
        ("GET", "/api/v1/reviews/pending"): ("/api/v1/reviews/pending?tenant=acme", None, REVIEW),
        ("POST", "/api/v1/reviews/items/{item_id:int}/versions/{digest:str}"): (
            f"/api/v1/reviews/items/{item}/versions/{digest}",
            decision,
            REVIEW,
        ),
        ("GET", "/api/v1/reviews/overrides"): ("/api/v1/reviews/overrides?tenant=acme", None, REVIEW),
        ("POST", "/api/v1/reviews/overrides/{tenant:str}/{slug:str}/{entry_id:int}"): (
            "/api/v1/reviews/overrides/acme/vs/1",
            decision,
            REVIEW,
        ),
        ("POST", "/api/v1/tenants/{tenant:str}/virtual-servers"): (
            "/api/v1/tenants/acme/virtual-servers",
            {"slug": "vs2", "name": "VS"},
            MANAGE,
        ),
        ("GET", "/api/v1/tenants/{tenant:str}/virtual-servers"): ("/api/v1/tenants/acme/virtual-servers", None, READ),
        ("GET", "/api/v1/tenants/{tenant:str}/virtual-servers/{slug:str}"): (
            "/api/v1/tenants/acme/virtual-servers/vs",
            None,
            READ,
        ),
        ("PUT", "/api/v1/tenants/{tenant:str}/virtual-servers/{slug:str}/entries"): (
            "/api/v1/tenants/acme/virtual-servers/vs/entries",
            [],
            MANAGE,
        ),
        ("DELETE", "/api/v1/tenants/{tenant:str}/virtual-servers/{slug:str}"): (
            "/api/v1/tenants/acme/virtual-servers/vs",
            None,
            MANAGE,
        ),
        ("GET", "/api/v1/tenants/{tenant:str}/upstreams/{upstream_id:int}/credentials"): (
            f"/api/v1/tenants/acme/upstreams/{up}/credentials",
            None,
            MANAGE,
        ),
        ("PUT", "/api/v1/tenants/{tenant:str}/upstreams/{upstream_id:int}/credentials/{name:str}"): (
            f"/api/v1/tenants/acme/upstreams/{up}/credentials/TOKEN",
            {"kind": "secret", "value": "s3cret"},
            MANAGE,
        ),
        ("DELETE", "/api/v1/tenants/{tenant:str}/upstreams/{upstream_id:int}/credentials/{name:str}"): (
            f"/api/v1/tenants/acme/upstreams/{up}/credentials/TOKEN",
            None,
            MANAGE,
        ),
        ("GET", "/api/v1/upstreams/{upstream_id:int}/credentials"): (
            f"/api/v1/upstreams/{up}/credentials",
            None,
            PLATFORM,
        ),
        ("PUT", "/api/v1/upstreams/{upstream_id:int}/credentials/{name:str}"): (
            f"/api/v1/upstreams/{up}/credentials/TOKEN",
            {"kind": "secret", "value": "s3cret"},
            PLATFORM,
        ),
        ("DELETE", "/api/v1/upstreams/{upstream_id:int}/credentials/{name:str}"): (
            f"/api/v1/upstreams/{up}/credentials/TOKEN",
            None,
            PLATFORM,
        ),
        ("GET", "/api/v1/tenants/{tenant:str}/agent-keys"): ("/api/v1/tenants/acme/agent-keys", None, MANAGE),
        ("POST", "/api/v1/tenants/{tenant:str}/agent-keys"): (
            "/api/v1/tenants/acme/agent-keys",
            {"name": "bot2", "roles": ["analyst"]},
            MANAGE,
        ),
        ("GET", "/api/v1/tenants/{tenant:str}/agent-keys/{key_id:int}"): (
            f"/api/v1/tenants/acme/agent-keys/{key}",
            None,
            MANAGE,
        ),
        ("POST", "/api/v1/tenants/{tenant:str}/agent-keys/{key_id:int}/rotate"): (
            f"/api/v1/tenants/acme/agent-keys/{key}/rotate",
            None,
            MANAGE,
        ),
        ("DELETE", "/api/v1/tenants/{tenant:str}/agent-keys/{key_id:int}"): (
            f"/api/v1/tenants/acme/agent-keys/{key}",
            None,
            MANAGE,
        ),
        ("GET", "/api/v1/tenants/{tenant:str}/issuers"): ("/api/v1/tenants/acme/issuers", None, MANAGE),
        ("POST", "/api/v1/tenants/{tenant:str}/issuers"): (
            "/api/v1/tenants/acme/issuers",
            {"issuer": "https://login.example.com/other"},
            MANAGE,
        ),
        ("GET", "/api/v1/tenants/{tenant:str}/issuers/{issuer_id:int}"): (
            f"/api/v1/tenants/acme/issuers/{issuer}",
            None,
            MANAGE,
        ),
        ("DELETE", "/api/v1/tenants/{tenant:str}/issuers/{issuer_id:int}"): (
            f"/api/v1/tenants/acme/issuers/{issuer}",
            None,
            MANAGE,
        ),
        ("GET", "/api/v1/tenants/{tenant:str}/policies"): ("/api/v1/tenants/acme/policies", None, READ),
        ("POST", "/api/v1/tenants/{tenant:str}/policies"): ("/api/v1/tenants/acme/policies", [LINE], MANAGE),
        ("DELETE", "/api/v1/tenants/{tenant:str}/policies/{line_id:int}"): (
            f"/api/v1/tenants/acme/policies/{line}",
            None,
            MANAGE,
        ),
        ("GET", "/api/v1/tenants/{tenant:str}/policies/csv"): ("/api/v1/tenants/acme/policies/csv", None, READ),
        ("PUT", "/api/v1/tenants/{tenant:str}/policies/csv"): ("/api/v1/tenants/acme/policies/csv", CSV_LINE, MANAGE),
        ("GET", "/api/v1/policies"): ("/api/v1/policies", None, PLATFORM_READ),
        ("POST", "/api/v1/policies"): (
            "/api/v1/policies",
            [{"ptype": "p", "values": ["auditor", "*", "admin/catalog", "read", "allow"]}],
            PLATFORM,
        ),
        ("DELETE", "/api/v1/policies/{line_id:int}"): (f"/api/v1/policies/{builtin}", None, PLATFORM),
        ("GET", "/api/v1/policies/csv"): ("/api/v1/policies/csv", None, PLATFORM_READ),
        ("PUT", "/api/v1/policies/csv"): (
            "/api/v1/policies/csv",
            "p, platform_admin, *, admin/*, *, allow\n",
            PLATFORM,
        ),
    }


def admin_routes(app: Litestar) -> set[tuple[str, str]]:
    return {
        (method, route.path)
        for route in app.routes
        if isinstance(route, HTTPRoute) and route.path.startswith("/api/")
        for method in route.methods - {"HEAD", "OPTIONS"}
    }


async def prepare(client: Client, auth: MintToken, engine: AsyncEngine) -> dict[str, Any]:
    ids = await setup_acme(client, auth, engine)
    root = ids["admin"]
    for body in ({"slug": "other", "name": "Other"},):
        assert (await client.post("/api/v1/tenants", json=body, headers=root)).status_code == 201
    vs = await client.post("/api/v1/tenants/acme/virtual-servers", json={"slug": "vs", "name": "VS"}, headers=root)
    assert vs.status_code == 201, vs.text
    added = await client.post("/api/v1/tenants/acme/policies", json=[LINE], headers=root)
    assert added.status_code == 201, added.text
    key = await client.post("/api/v1/tenants/acme/agent-keys", json={"name": "bot"}, headers=root)
    assert key.status_code == 201, key.text
    issuer = await client.post(
        "/api/v1/tenants/acme/issuers", json={"issuer": "https://login.example.com/acme"}, headers=root
    )
    assert issuer.status_code == 201, issuer.text
    builtin = (await client.get("/api/v1/policies", headers=root)).json()
    return {
        **ids,
        "line_id": added.json()[0]["id"],
        "key_id": key.json()["token"]["id"],
        "issuer_id": issuer.json()["id"],
        "builtin_id": builtin[0]["id"],
    }


async def test_every_admin_route_has_a_row_in_the_refusal_table(
    app: Litestar, client: Client, auth: MintToken, engine: AsyncEngine
) -> None:
    ids = await prepare(client, auth, engine)
    assert set(table(ids)) == admin_routes(app)


async def test_every_admin_route_refuses_a_principal_without_the_right_role(
    client: Client, auth: MintToken, engine: AsyncEngine
) -> None:
    ids = await prepare(client, auth, engine)
    tokens = {roles: await auth(*roles, principal="mallory") for roles in {*PLATFORM, *REVIEW, *PLATFORM_READ}}
    for (method, route), (path, body, refused) in table(ids).items():
        for roles in refused:
            if isinstance(body, str):
                headers = {**tokens[roles], "Content-Type": "text/csv"}
                response = await client.request(method, path, content=body.encode(), headers=headers)
            else:
                response = await client.request(method, path, json=body, headers=tokens[roles])
            assert response.status_code in (403, 404), (method, route, roles, response.status_code, response.text)
            assert response.json()["code"] in ("forbidden", "not_found"), (method, route, roles)
    # Nothing was changed by a refused request.
    root = ids["admin"]
    assert (await client.get("/api/v1/tenants/acme", headers=root)).json()["name"] == "Acme"
    lines = (await client.get("/api/v1/tenants/acme/policies", headers=root)).json()
    assert [line["values"] for line in lines] == [LINE["values"]]
