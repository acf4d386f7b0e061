"""The policy engine on a real database: changes apply at once here and reach other processes."""

from __future__ import annotations

import anyio
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from policies import PolicyEngine, PolicyStore, g_line, p_line
from registry import (
    Catalog,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    Settings,
    TenantSpec,
    create_engine,
    create_session_factory,
)

pytestmark = pytest.mark.anyio

TOOL = "mcp/support/tool/weather/forecast"


async def make_engine(engine: AsyncEngine, *, poll: float = 0.05) -> PolicyEngine:
    policies = PolicyEngine(PolicyStore(create_session_factory(engine)), poll_interval=poll)
    await policies.load()
    return policies


async def add_tenant(engine: AsyncEngine, slug: str = "acme") -> None:
    await Catalog(create_session_factory(engine)).create_tenant(TenantSpec(slug=slug, name=slug))


async def test_a_fresh_database_holds_the_built_in_admin_roles(engine: AsyncEngine) -> None:
    policies = await make_engine(engine)
    csv = await policies.export_csv("*")
    assert "p, platform_admin, *, admin/*, manage, allow\n" in csv
    assert policies.decide("user:root", "acme", "admin/upstreams", "manage", (), ("platform_admin",))
    assert policies.decide("user:ada", "acme", "admin/upstreams", "manage", ("tenant_admin",))
    assert not policies.decide("user:ada", "other", "admin/upstreams", "manage")
    assert not policies.decide("user:root", "acme", "admin/reviews", "review", (), ("platform_admin",))


async def test_a_change_applies_in_process_at_once_and_tells_the_listeners(engine: AsyncEngine) -> None:
    await add_tenant(engine)
    policies = await make_engine(engine)
    heard: list[str] = []
    policies.on_change(heard.append)
    assert not policies.decide("agent:bot", "acme", TOOL, "call")
    view = policies.view("agent:bot", "acme")
    added = await policies.add(
        "acme",
        [p_line("analyst", "acme", "mcp/support/tool/*", "call"), g_line("agent:bot", "analyst", "acme")],
        principal="ada",
    )
    assert policies.decide("agent:bot", "acme", TOOL, "call")
    assert policies.view("agent:bot", "acme") is not view  # the cached view was dropped
    assert heard == ["acme"]
    await policies.remove("acme", added[1].id)
    assert not policies.decide("agent:bot", "acme", TOOL, "call")
    assert policies.decide("agent:bot", "acme", TOOL, "call", ("analyst",))
    assert heard == ["acme", "acme"]
    assert not await policies.refresh()  # nobody else wrote: nothing to reload


async def test_another_process_sees_a_change_by_polling_the_revision(engine: AsyncEngine, settings: Settings) -> None:
    await add_tenant(engine)
    other_engine = create_engine(settings)  # its own connection pool, as another process would have
    try:
        mine = await make_engine(engine)
        theirs = await make_engine(other_engine)
        heard: list[str] = []
        theirs.on_change(heard.append)
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(theirs.run)
            await mine.add("acme", [p_line("agent:bot", "acme", "mcp/*", "call")], principal="ada")
            with anyio.fail_after(5):
                while not theirs.decide("agent:bot", "acme", TOOL, "call"):
                    await anyio.sleep(0.02)
            await mine.import_csv("acme", "", principal="ada")
            with anyio.fail_after(5):
                while theirs.decide("agent:bot", "acme", TOOL, "call"):
                    await anyio.sleep(0.02)
            tasks.cancel_scope.cancel()
        assert heard == ["acme", "acme"]
        assert theirs.revision == mine.revision
    finally:
        await other_engine.dispose()


async def test_bad_lines_are_refused_as_a_whole(engine: AsyncEngine) -> None:
    await add_tenant(engine)
    policies = await make_engine(engine)
    good = p_line("analyst", "acme", "mcp/*", "call")
    for lines in (
        [good, p_line("analyst", "other", "mcp/*", "call")],
        [good, good],
        [p_line("Bad Role", "acme", "mcp/*", "call")],
    ):
        with pytest.raises(InvalidInputError):
            await policies.add("acme", lines, principal="ada")
    with pytest.raises(InvalidInputError, match=r"^line 2"):
        await policies.import_csv(
            "acme", "p, analyst, acme, mcp/*, call, allow\np, analyst, acme, mcp/*, call, maybe\n", principal="ada"
        )
    with pytest.raises(NotFoundError):
        await policies.add("nope", [p_line("analyst", "nope", "mcp/*", "call")], principal="ada")
    assert await policies.lines("acme") == []


async def test_privileged_lines_need_the_privilege_and_star_keeps_its_platform_admin(engine: AsyncEngine) -> None:
    await add_tenant(engine)
    policies = await make_engine(engine)
    with pytest.raises(PermissionDeniedError):
        await policies.add("acme", [g_line("user:ada", "security_reviewer", "acme")], principal="ada")
    await policies.add("acme", [g_line("user:ada", "security_reviewer", "acme")], principal="root", privileged=True)
    with pytest.raises(ConflictError):
        await policies.add("*", [p_line("platform_admin", "*", "admin/policies", "manage", "deny")], principal="root")
    with pytest.raises(ConflictError):
        await policies.import_csv("*", "", principal="root")
    assert policies.decide("user:root", "*", "admin/policies", "manage", (), ("platform_admin",))


async def test_forgetting_a_domain_drops_its_lines_everywhere(engine: AsyncEngine) -> None:
    await add_tenant(engine)
    policies = await make_engine(engine)
    await policies.add("acme", [p_line("agent:bot", "acme", "mcp/*", "call")], principal="ada")
    await policies.forget("acme")
    assert not policies.decide("agent:bot", "acme", TOOL, "call")
    assert await policies.lines("acme") == []
