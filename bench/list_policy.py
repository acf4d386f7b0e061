"""What authorisation adds to ``tools/list``: the same request with and without it, in one run.

Run from the repository root (in-process, a temporary SQLite database, no network)::

    .venv/bin/python bench/list_policy.py            # about 30 seconds
    .venv/bin/python bench/list_policy.py --quick

A virtual server of 500 tools is served by the real MCP endpoint app (``composer.mcp``), driven
in-process with a 2026-07-28 ``tools/list`` request (JSON-RPC decode, the backend, the wire
encoding of 500 pinned definitions). The served view is warm in both cases, as in steady state.

* without authorisation: a resolver that returns the unfiltered backend;
* with: Atrium's own resolver: the agent key is verified (:class:`registry.AgentAuthenticator`,
  its cache warm), the role segment is checked against the policy engine, and the list is
  narrowed by the role's policy (an allow pattern and 20 deny lines the tools are checked
  against; the engine is loaded with 1,000 tenants' lines, 100,000 in all, as in bench/policies.py);
* cold: the same, right after a policy change in the tenant (its views and narrowed lists
  rebuilt), which happens once per change.

The two paths alternate in blocks, so machine noise falls on both. Target (issue 4): tools/list
for a role within 10% of the time without authorisation.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from composer._endpoint_access import EndpointAccess
from composer._endpoints import VirtualServerResolver
from composer._served_cache import ServedViewCache
from composer._virtual_backend import VirtualServerBackend
from composer.mcp import McpSettings, create_mcp_asgi
from policies import PolicyEngine, PolicyLine, PolicyStore, g_line, p_line
from registry import (
    AgentAuthenticator,
    AgentKeys,
    AgentKeySpec,
    Catalog,
    Issuers,
    ItemKind,
    JwksCache,
    JwtVerifier,
    Settings,
    TenantSpec,
    Tokens,
    Upstream,
    create_engine,
    create_session_factory,
    upgrade_database,
)
from registry._virtual import ServedEntry

if TYPE_CHECKING:
    from collections.abc import MutableMapping

TENANT, SERVER, ROLE, TOOLS = "bench", "wide", "bencher", 500
MODERN = "2026-07-28"


def other_tenant(tenant: str, rng: random.Random) -> list[PolicyLine]:
    """100 lines like a real tenant's: a role hierarchy, principals, patterns, exact tools, denies."""
    roles = ("viewer", "analyst", "lead", "owner")
    lines = [g_line(roles[i + 1], roles[i], tenant) for i in range(3)]
    lines += [g_line(f"user:u{n}", rng.choice(roles), tenant) for n in range(25)]
    while len(lines) < 100:
        obj = f"mcp/vs{rng.randrange(4)}/tool/up{rng.randrange(6)}/" + rng.choice(["*", f"tool_{rng.randrange(20)}"])
        line = p_line(rng.choice(roles), tenant, obj, "call", "deny" if rng.random() < 0.125 else "allow")
        if line not in lines:
            lines.append(line)
    return lines


def served_tools() -> list[ServedEntry]:
    stamp = datetime.now(UTC)
    upstream = Upstream(
        id=1, tenant=TENANT, slug="wide", name="wide", transport="streamable_http", url="http://127.0.0.1:9/mcp",
        header_templates={}, command=[], env_templates={}, cwd=None, sync_interval_seconds=None, enabled=True,
        created_by="bench", created_at=stamp, updated_at=stamp, last_sync_at=None, last_sync_status="ok",
        last_error_code=None, last_error=None, protocol_version=MODERN, server_name=None, server_version=None,
    )  # fmt: skip
    schema = {"type": "object", "properties": {"x": {"type": "integer", "description": "a number"}}}
    return [
        ServedEntry(
            exposed_name=f"wide_tool_{i}",
            kind=ItemKind.TOOL,
            key=f"tool_{i}",
            upstream=upstream,
            hash=f"{i:064x}",
            definition={"name": f"wide_tool_{i}", "description": f"Tool number {i}.", "inputSchema": schema},
        )
        for i in range(TOOLS)
    ]


class Unfiltered:
    """The resolver without authorisation: every request gets the whole served view."""

    def __init__(self, cache: ServedViewCache) -> None:
        self._cache = cache

    async def resolve(self, path_params: Any, headers: Any, base_url: str) -> VirtualServerBackend:
        return VirtualServerBackend(None, None, TENANT, SERVER, "Wide", self._cache)  # type: ignore[arg-type]


async def call(app: Any, path: str, body: bytes, headers: list[tuple[bytes, bytes]]) -> float:
    scope = {"type": "http", "method": "POST", "path": path, "headers": headers, "scheme": "http"}
    inbox = [{"type": "http.request", "body": body}]
    status: list[int] = []

    async def receive() -> dict[str, Any]:
        return inbox.pop(0) if inbox else {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    start = time.perf_counter()
    await app(scope, receive, send)
    elapsed = time.perf_counter() - start
    if status != [200]:
        raise RuntimeError(f"{path}: status {status}")
    return elapsed


async def main(quick: bool) -> None:
    tenants, rounds, block = (100, 20, 50) if quick else (1000, 40, 100)
    with tempfile.TemporaryDirectory() as workdir:
        settings = Settings(database_url=f"sqlite+aiosqlite:///{workdir}/bench.db")
        engine = create_engine(settings)
        await upgrade_database(engine)
        sessions = create_session_factory(engine)
        await Catalog(sessions).create_tenant(TenantSpec(slug=TENANT, name="Bench"))
        tokens = Tokens(sessions)
        key = (await AgentKeys(tokens).create(TENANT, AgentKeySpec(name="b", roles=[ROLE]), principal="bench")).secret
        policies = PolicyEngine(PolicyStore(sessions))
        await policies.load()
        rng = random.Random(7)
        # Deny lines that every listed tool is checked against, naming tools this server does not
        # serve: both paths then encode the same 500 definitions.
        hidden = [p_line(ROLE, TENANT, f"mcp/{SERVER}/tool/wide/gone_{i}", "call", "deny") for i in range(20)]
        await policies.add(TENANT, [p_line(ROLE, TENANT, f"mcp/{SERVER}/*", "*"), *hidden], principal="bench")
        others = [f"t{n}" for n in range(tenants - 1)]
        for other in others:  # the other tenants' lines, straight into the index (no need to store them)
            policies._swap(other, other_tenant(other, rng))
        async with httpx.AsyncClient() as http:
            authenticator = AgentAuthenticator(tokens, Issuers(sessions), JwtVerifier(JwksCache(http)))
            cache = ServedViewCache(ttl=1e9)
            served = served_tools()

            async def load() -> list[ServedEntry]:
                return served

            async def title() -> str:
                return "Wide"

            await cache.get(TENANT, SERVER, ItemKind.TOOL, load)
            await cache.title(TENANT, SERVER, title)
            access = EndpointAccess(lambda: authenticator, lambda: policies)
            resolver = VirtualServerResolver(lambda: None, lambda: None, cache, access)  # type: ignore[arg-type,return-value]
            open_app = create_mcp_asgi(Unfiltered(cache), McpSettings())
            policy_app = create_mcp_asgi(resolver, McpSettings())
            meta = {
                "io.modelcontextprotocol/protocolVersion": MODERN,
                "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "1"},
                "io.modelcontextprotocol/clientCapabilities": {},
            }
            body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": meta}}).encode()
            base = [
                (b"content-type", b"application/json"),
                (b"accept", b"application/json, text/event-stream"),
                (b"mcp-protocol-version", MODERN.encode()),
                (b"mcp-method", b"tools/list"),
                (b"host", b"127.0.0.1:8000"),
            ]
            authorised = [*base, (b"authorization", f"Bearer {key}".encode())]
            path = f"/{TENANT}/{SERVER}/{ROLE}"
            for _ in range(block):  # warm-up: keys verified, views built, lists narrowed
                await call(open_app, f"/{TENANT}/{SERVER}", body, base)
                await call(policy_app, path, body, authorised)
            without: list[float] = []
            with_policy: list[float] = []
            for _ in range(rounds):
                without += [await call(open_app, f"/{TENANT}/{SERVER}", body, base) for _ in range(block)]
                with_policy += [await call(policy_app, path, body, authorised) for _ in range(block)]
            cold: list[float] = []
            for i in range(max(10, rounds)):
                await policies.add(TENANT, [p_line(f"extra{i}", TENANT, "mcp/x/*", "*")], principal="bench")
                cold.append(await call(policy_app, path, body, authorised))
        await engine.dispose()

    def ms(samples: list[float], q: float) -> float:
        ordered = sorted(samples)
        return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    print(f"tools/list of {TOOLS} tools, in-process, {len(without)} requests per path; engine with {tenants} tenants")
    print(f"{'':<34}{'p50 ms':>9}{'p99 ms':>9}")
    for label, samples in (
        ("without authorisation", without),
        ("with key, role and policy", with_policy),
        ("right after a policy change", cold),
    ):
        print(f"{label:<34}{ms(samples, 0.5):>9.3f}{ms(samples, 0.99):>9.3f}")
    ratio = statistics.median(with_policy) / statistics.median(without)
    print(f"\nwith / without, p50: {ratio:.3f} (target: within 1.10)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    anyio.run(main, parser.parse_args().quick)
