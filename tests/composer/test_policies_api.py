"""The policy routes: lines as JSON and Casbin CSV, applied to the very next request."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.composer.conftest import MintToken

pytestmark = pytest.mark.anyio

Client = AsyncTestClient[Litestar]
POLICIES = "/api/v1/tenants/acme/policies"


def p(*values: str, effect: str = "allow") -> dict[str, Any]:
    return {"ptype": "p", "values": [*values, effect]}


def g(*values: str) -> dict[str, Any]:
    return {"ptype": "g", "values": list(values)}


async def setup(client: Client, auth: MintToken) -> dict[str, dict[str, str]]:
    root = await auth("platform_admin", principal="root")
    for slug in ("acme", "other"):
        assert (
            await client.post("/api/v1/tenants", json={"slug": slug, "name": slug}, headers=root)
        ).status_code == 201
    return {
        "root": root,
        "ada": await auth("tenant_admin:acme", principal="ada"),
        "rita": await auth("security_reviewer:other", principal="rita"),
    }


async def put_csv(client: Client, path: str, text: str, headers: dict[str, str]) -> Any:
    return await client.put(path, content=text.encode(), headers={**headers, "Content-Type": "text/csv"})


async def test_a_tenant_admin_adds_lists_exports_and_deletes_lines(client: Client, auth: MintToken) -> None:
    who = await setup(client, auth)
    body = [p("analyst", "acme", "mcp/support/tool/*", "call"), g("agent:bot", "analyst", "acme")]
    added = await client.post(POLICIES, json=body, headers=who["ada"])
    assert added.status_code == 201, added.text
    assert [line["values"] for line in added.json()] == [line["values"] for line in body]
    listed = (await client.get(POLICIES, headers=who["ada"])).json()
    assert [line["id"] for line in listed] == [line["id"] for line in added.json()]
    exported = await client.get(f"{POLICIES}/csv", headers=who["ada"])
    assert exported.headers["content-type"].startswith("text/csv")
    assert exported.text == "p, analyst, acme, mcp/support/tool/*, call, allow\ng, agent:bot, analyst, acme\n"
    again = await client.post(POLICIES, json=body[:1], headers=who["ada"])
    assert (again.status_code, again.json()["code"]) == (409, "conflict")
    gone = await client.delete(f"{POLICIES}/{listed[0]['id']}", headers=who["ada"])
    assert gone.status_code == 204
    assert [line["values"] for line in (await client.get(POLICIES, headers=who["ada"])).json()] == [body[1]["values"]]
    missing = await client.delete(f"{POLICIES}/{listed[0]['id']}", headers=who["ada"])
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")


async def test_an_import_replaces_the_tenants_lines_at_once_and_a_bad_line_changes_nothing(
    client: Client, auth: MintToken
) -> None:
    who = await setup(client, auth)
    await client.post(POLICIES, json=[p("analyst", "acme", "mcp/*", "call")], headers=who["ada"])
    text = "# reviewed in git\np, analyst, acme, mcp/support/*, call, deny\n\ng, user:bo, analyst, acme\n"
    imported = await put_csv(client, f"{POLICIES}/csv", text, who["ada"])
    assert imported.status_code == 200, imported.text
    assert len(imported.json()) == 2
    exported = (await client.get(f"{POLICIES}/csv", headers=who["ada"])).text
    assert exported == "p, analyst, acme, mcp/support/*, call, deny\ng, user:bo, analyst, acme\n"
    for bad, line in (
        ("p, analyst, acme, mcp/*, call, allow\np, analyst, acme, mcp/*/x, call, allow\n", "line 2"),
        ("g, user:bo, analyst, other\n", "line 1"),
        ("p, analyst, acme, mcp/*, call\n", "line 1"),
        ("x, analyst, acme\n", "line 1"),
    ):
        refused = await put_csv(client, f"{POLICIES}/csv", bad, who["ada"])
        assert (refused.status_code, refused.json()["code"]) == (422, "invalid_input"), bad
        assert refused.json()["detail"].startswith(line), refused.json()
    assert (await client.get(f"{POLICIES}/csv", headers=who["ada"])).text == exported


async def test_only_a_platform_admin_writes_privileged_lines_into_a_tenant(client: Client, auth: MintToken) -> None:
    who = await setup(client, auth)
    for line in (
        g("user:ada", "security_reviewer", "acme"),
        p("tenant_admin", "acme", "admin/reviews", "review"),
        p("analyst", "acme", "admin/reviews", "review"),
        p("analyst", "acme", "*", "*"),
    ):
        refused = await client.post(POLICIES, json=[line], headers=who["ada"])
        assert (refused.status_code, refused.json()["code"]) == (403, "forbidden"), line
    granted = await client.post(POLICIES, json=[g("user:rita", "security_reviewer", "acme")], headers=who["root"])
    assert granted.status_code == 201
    # ... and a tenant admin can neither remove it nor import it away.
    line_id = granted.json()[0]["id"]
    assert (await client.delete(f"{POLICIES}/{line_id}", headers=who["ada"])).status_code == 403
    assert (await put_csv(client, f"{POLICIES}/csv", "", who["ada"])).status_code == 403
    kept = "g, user:rita, security_reviewer, acme\np, analyst, acme, mcp/*, call, allow\n"
    assert (await put_csv(client, f"{POLICIES}/csv", kept, who["ada"])).status_code == 200


async def test_a_policy_change_decides_the_next_request_without_a_restart(client: Client, auth: MintToken) -> None:
    who = await setup(client, auth)
    catalog = "/api/v1/catalog/items?tenant=acme"
    assert (await client.get(catalog, headers=who["rita"])).status_code == 403
    granted = await client.post(POLICIES, json=[g("user:rita", "security_reviewer", "acme")], headers=who["root"])
    assert (await client.get(catalog, headers=who["rita"])).status_code == 200
    await client.delete(f"{POLICIES}/{granted.json()[0]['id']}", headers=who["root"])
    assert (await client.get(catalog, headers=who["rita"])).status_code == 403
    # A deny line in "*" wins over the tenant admin's built-in allow, for every tenant.
    deny = p("tenant_admin", "*", "admin/catalog", "read", effect="deny")
    denied = await client.post("/api/v1/policies", json=[deny], headers=who["root"])
    assert denied.status_code == 201
    assert (await client.get(catalog, headers=who["ada"])).status_code == 403
    await client.delete(f"/api/v1/policies/{denied.json()[0]['id']}", headers=who["root"])
    assert (await client.get(catalog, headers=who["ada"])).status_code == 200


async def test_the_platform_lines_are_the_built_in_roles_and_cannot_lock_the_admins_out(
    client: Client, auth: MintToken
) -> None:
    who = await setup(client, auth)
    exported = (await client.get("/api/v1/policies/csv", headers=who["root"])).text
    assert "p, platform_admin, *, admin/*, manage, allow\n" in exported
    assert "p, security_reviewer, *, admin/reviews, review, allow\n" in exported
    assert "review" not in "".join(line for line in exported.splitlines() if "platform_admin" in line)
    reviewer = await auth("security_reviewer:*", principal="sam")
    assert (await client.get("/api/v1/policies/csv", headers=reviewer)).text == exported
    assert (await put_csv(client, "/api/v1/policies/csv", exported, reviewer)).status_code == 403
    locked = await put_csv(client, "/api/v1/policies/csv", "p, member, *, admin/catalog, read, allow\n", who["root"])
    assert (locked.status_code, locked.json()["code"]) == (409, "conflict")
    assert (await put_csv(client, "/api/v1/policies/csv", exported, who["root"])).status_code == 200
    assert (await client.get("/api/v1/policies/csv", headers=who["root"])).text == exported


async def test_deleting_a_tenant_deletes_its_lines(client: Client, auth: MintToken) -> None:
    who = await setup(client, auth)
    await client.post(POLICIES, json=[g("user:rita", "security_reviewer", "acme")], headers=who["root"])
    assert (await client.delete("/api/v1/tenants/acme", headers=who["root"])).status_code == 204
    assert (
        await client.post("/api/v1/tenants", json={"slug": "acme", "name": "New"}, headers=who["root"])
    ).status_code == 201
    assert (await client.get(POLICIES, headers=who["root"])).json() == []
    assert (await client.get("/api/v1/catalog/items?tenant=acme", headers=who["rita"])).status_code == 403
