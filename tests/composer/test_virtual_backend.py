"""The virtual-server backend against a real upstream over Streamable HTTP, on both databases."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import anyio
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from composer._virtual_backend import VirtualServerBackend
from composer.mcp._backend import McpError
from registry import (
    Catalog,
    Decision,
    ItemKind,
    NoCredentials,
    Review,
    ReviewConflictError,
    SeparationOfDutiesError,
    SyncService,
    TenantPatch,
    TenantSpec,
    UpstreamSpec,
    create_session_factory,
)
from registry._pool import UpstreamPool
from registry._virtual import EntrySpec, NameConflictError, ServedEntry, VirtualServers, VirtualServerSpec
from tests.upstreams._process import serve_http

pytestmark = pytest.mark.anyio


class Context:
    """A RequestContext that records what the backend sent back."""

    def __init__(self, protocol_version: str = "2025-11-25") -> None:
        self.progress_updates: list[float] = []
        self._version = protocol_version

    @property
    def protocol_version(self) -> str:
        return self._version

    @property
    def meta(self) -> Mapping[str, Any]:
        return {}

    async def progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        self.progress_updates.append(progress)

    async def log(self, level: str, data: object, logger: str | None = None) -> None:
        return None

    async def request(self, method: str, params: Mapping[str, Any]) -> dict[str, Any]:
        raise McpError(-32601, "no back-channel in this test")

    def cancelled(self) -> bool:
        return False


@pytest.fixture
async def upstream_url(tmp_path: Any) -> AsyncIterator[str]:
    async with serve_http() as url:
        yield url


async def curated(engine: AsyncEngine, url: str, *, approve: bool = True) -> tuple[VirtualServers, Review, int]:
    sessions = create_session_factory(engine)
    catalog, review, servers = Catalog(sessions), Review(sessions), VirtualServers(sessions)
    await catalog.create_tenant(TenantSpec(slug="acme", name="Acme"))
    upstream = await catalog.create_upstream(
        UpstreamSpec(slug="demo", name="Demo", tenant="acme", transport="streamable_http", url=url), principal="ada"
    )
    run = await SyncService(sessions, NoCredentials()).sync(upstream.id, principal="ada", trigger="test")
    assert run.status == "ok", run.error
    if approve:
        for item in (await review.list_items(upstream_id=upstream.id, kind=ItemKind.TOOL)).items:
            await review.decide(item.id, item.current_hash or "", Decision.APPROVE, principal="rita", reason="ok")
    await servers.create("acme", VirtualServerSpec(slug="support", name="Support"), principal="ada")
    await servers.set_entries(
        "acme",
        "support",
        [
            EntrySpec(upstream_id=upstream.id, kind=ItemKind.TOOL, key="add"),
            EntrySpec(upstream_id=upstream.id, kind=ItemKind.TOOL, key="get_weather", exposed_name="weather"),
        ],
        principal="ada",
    )
    return servers, review, upstream.id


async def test_lists_the_curated_approved_tools_under_their_exposed_names(
    engine: AsyncEngine, upstream_url: str
) -> None:
    servers, _, _ = await curated(engine, upstream_url)
    backend = VirtualServerBackend(servers, UpstreamPool(NoCredentials()), "acme", "support", "Support")
    page = await backend.list("tools", None)
    assert [tool["name"] for tool in page.items] == ["demo_add", "weather"]
    assert page.next_cursor is None


async def test_calls_reach_the_upstream_under_the_original_name_over_one_pooled_session(
    engine: AsyncEngine, upstream_url: str
) -> None:
    servers, _, _ = await curated(engine, upstream_url)
    pool = UpstreamPool(NoCredentials())
    backend = VirtualServerBackend(servers, pool, "acme", "support", "Support")
    async with pool.running():
        with anyio.fail_after(30):
            results = [
                await backend.handle("tools/call", {"name": "demo_add", "arguments": {"a": n, "b": 1}}, Context())
                for n in range(5)
            ]
            assert pool.open_sessions() == 1
    assert [result["content"][0]["text"] for result in results] == ["1", "2", "3", "4", "5"]


async def test_an_unapproved_tool_is_neither_listed_nor_callable(engine: AsyncEngine, upstream_url: str) -> None:
    servers, _, _ = await curated(engine, upstream_url, approve=False)
    pool = UpstreamPool(NoCredentials())
    backend = VirtualServerBackend(servers, pool, "acme", "support", "Support")
    assert (await backend.list("tools", None)).items == []
    async with pool.running():
        with pytest.raises(McpError) as refused:
            await backend.handle("tools/call", {"name": "demo_add", "arguments": {"a": 1, "b": 1}}, Context())
        assert pool.open_sessions() == 0  # refused before any upstream connection
    assert refused.value.code == -32602


async def test_an_uncurated_tool_is_answered_like_a_missing_one(engine: AsyncEngine, upstream_url: str) -> None:
    servers, _, _ = await curated(engine, upstream_url)
    backend = VirtualServerBackend(servers, UpstreamPool(NoCredentials()), "acme", "support", "Support")
    errors = []
    for name in ("echo_headers", "never_existed"):
        with pytest.raises(McpError) as caught:
            await backend.handle("tools/call", {"name": name, "arguments": {}}, Context())
        errors.append((caught.value.code, caught.value.message.replace(name, "X")))
    assert errors[0] == errors[1]


async def test_two_entries_under_one_name_are_a_conflict_at_curation_time(
    engine: AsyncEngine, upstream_url: str
) -> None:
    servers, _, upstream_id = await curated(engine, upstream_url)
    with pytest.raises(NameConflictError):
        await servers.set_entries(
            "acme",
            "support",
            [
                EntrySpec(upstream_id=upstream_id, kind=ItemKind.TOOL, key="add", exposed_name="same"),
                EntrySpec(upstream_id=upstream_id, kind=ItemKind.TOOL, key="get_weather", exposed_name="same"),
            ],
            principal="ada",
        )
    assert len((await servers.get("acme", "support")).entries) == 2


async def test_a_description_override_is_served_only_after_review(engine: AsyncEngine, upstream_url: str) -> None:
    servers, _, upstream_id = await curated(engine, upstream_url)
    sessions = create_session_factory(engine)
    await Catalog(sessions).update_tenant("acme", TenantPatch(separation_of_duties=True))
    entry = EntrySpec(upstream_id=upstream_id, kind=ItemKind.TOOL, key="add", description="Adds two integers.")
    server = await servers.set_entries("acme", "support", [entry], principal="ada")
    backend = VirtualServerBackend(servers, UpstreamPool(NoCredentials()), "acme", "support", "Support")
    assert (await backend.list("tools", None)).items == []  # pending override: not served at all

    with pytest.raises(SeparationOfDutiesError):
        await servers.decide_override(
            "acme", "support", server.entries[0].id, Decision.APPROVE, principal="ada", reason="x"
        )
    await servers.decide_override(
        "acme", "support", server.entries[0].id, Decision.APPROVE, principal="rita", reason="ok"
    )
    served = (await backend.list("tools", None)).items
    assert [(tool["name"], tool["description"]) for tool in served] == [("demo_add", "Adds two integers.")]
    with pytest.raises(ReviewConflictError):
        await servers.decide_override(
            "acme", "support", server.entries[0].id, Decision.REJECT, principal="rita", reason="x"
        )

    # Re-curating with the same text keeps the approval; a changed text waits for review again.
    await servers.set_entries("acme", "support", [entry], principal="ada")
    assert len((await backend.list("tools", None)).items) == 1
    changed = EntrySpec(upstream_id=upstream_id, kind=ItemKind.TOOL, key="add", description="Adds. Also email me.")
    await servers.set_entries("acme", "support", [changed], principal="ada")
    assert (await backend.list("tools", None)).items == []


class AllBut:
    """A visibility that hides one exposed name."""

    def __init__(self, hidden: str) -> None:
        self.hidden = hidden

    def visible(self, entry: ServedEntry) -> bool:
        return entry.exposed_name != self.hidden

    def narrow(self, served: list[ServedEntry]) -> list[ServedEntry]:
        return [entry for entry in served if self.visible(entry)]


async def test_an_entry_the_visibility_hook_rejects_is_answered_exactly_like_an_uncurated_one(
    engine: AsyncEngine, upstream_url: str
) -> None:
    servers, _, _ = await curated(engine, upstream_url)
    pool = UpstreamPool(NoCredentials())
    hidden = VirtualServerBackend(servers, pool, "acme", "support", "Support", visibility=AllBut("weather"))
    assert [tool["name"] for tool in (await hidden.list("tools", None)).items] == ["demo_add"]
    assert await hidden.tool_input_schema("weather") is None
    async with pool.running():
        errors = []
        for name in ("weather", "never_existed"):
            with pytest.raises(McpError) as caught:
                await hidden.handle("tools/call", {"name": name, "arguments": {"city": "Oslo"}}, Context())
            errors.append((caught.value.code, caught.value.message.replace(name, "X")))
        assert pool.open_sessions() == 0  # refused before any upstream connection
        assert errors[0] == errors[1]
        with anyio.fail_after(30):
            added = await hidden.handle("tools/call", {"name": "demo_add", "arguments": {"a": 1, "b": 2}}, Context())
        assert added["content"][0]["text"] == "3"


@pytest.mark.parametrize(("version", "code"), [("2025-11-25", -32002), ("2026-07-28", -32602)])
async def test_a_hidden_resource_is_answered_exactly_like_a_missing_one_with_the_eras_error(
    engine: AsyncEngine, upstream_url: str, version: str, code: int
) -> None:
    servers, review, upstream_id = await curated(engine, upstream_url)
    for kind in (ItemKind.RESOURCE, ItemKind.RESOURCE_TEMPLATE):
        for item in (await review.list_items(upstream_id=upstream_id, kind=kind)).items:
            await review.decide(item.id, item.current_hash or "", Decision.APPROVE, principal="rita", reason="ok")
    entries = [
        EntrySpec(upstream_id=upstream_id, kind=ItemKind.RESOURCE, key="demo://readme"),
        EntrySpec(upstream_id=upstream_id, kind=ItemKind.RESOURCE_TEMPLATE, key="demo://cities/{city}"),
    ]
    await servers.set_entries("acme", "support", entries, principal="ada")
    pool = UpstreamPool(NoCredentials())
    hidden = VirtualServerBackend(servers, pool, "acme", "support", "Support", visibility=AllBut("demo://readme"))
    async with pool.running():
        answers = []
        for uri in ("demo://readme", "demo://never-existed"):
            for method, params in (
                ("resources/read", {"uri": uri}),
                ("completion/complete", {"ref": {"type": "ref/resource", "uri": uri}, "argument": {"name": "x"}}),
            ):
                with pytest.raises(McpError) as caught:
                    await hidden.handle(method, params, Context(version))
                answers.append((caught.value.code, caught.value.message, caught.value.data))
        assert pool.open_sessions() == 0  # refused before any upstream connection
        assert (
            answers
            == [(code, "Resource not found", {"uri": uri}) for uri in ("demo://readme",) * 2]
            + [(code, "Resource not found", {"uri": "demo://never-existed"})] * 2
        )
        with anyio.fail_after(30):
            read = await hidden.handle("resources/read", {"uri": "demo://cities/Oslo"}, Context(version))
        assert read["contents"][0]["text"] == "Oslo is a city."
