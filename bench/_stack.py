"""The processes a benchmark runs, and the admin-API set-up of what Atrium serves.

:class:`Stack` starts processes on free loopback ports with their output in log files, waits
(bounded) for each to accept connections, and stops every one on the way out (SIGTERM, then
SIGKILL). :class:`Admin` drives Atrium's admin API as an operator would: tenant, upstreams,
sync, approve every pending version, curate a virtual server.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Self

import anyio
import anyio.abc
import httpx

if TYPE_CHECKING:
    from types import TracebackType

REPO_ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ATRIUM = str(BIN / "atrium")
STARTUP_TIMEOUT = 30.0
STOP_GRACE = 5.0
APPROVERS = 8


def free_port() -> int:
    """A loopback port nothing listens on (until someone binds it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def atrium_env(workdir: Path) -> dict[str, str]:
    """Atrium's environment: a fresh SQLite database in ``workdir``, every other setting default."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ATRIUM_")}
    return {**env, "ATRIUM_DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'atrium.db'}"}


def mint_token(env: dict[str, str], principal: str, *roles: str) -> str:
    """``atrium token create`` (it migrates the database first); bounded, blocking."""
    role_args = [part for role in roles for part in ("--role", role)]
    completed = subprocess.run(
        [ATRIUM, "token", "create", "--principal", principal, *role_args],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"atrium token create exited with {completed.returncode}: {completed.stderr[-2000:]}")
    return completed.stdout.strip()


class Service:
    """One started process: its name, port, URL and log file."""

    def __init__(self, name: str, process: anyio.abc.Process, port: int, url: str, log: Path) -> None:
        self.name, self.process, self.port, self.url, self.log = name, process, port, url, log

    def log_tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


class Stack:
    """``async with Stack(workdir) as stack:``; every process it started is stopped on exit."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.services: list[Service] = []
        self._logs: list[IO[bytes]] = []

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        with anyio.CancelScope(shield=True):
            for service in reversed(self.services):
                await _stop(service.process)
            for log in self._logs:
                log.close()
        if exc is not None:  # the logs go with the temporary directory: show their ends first
            for service in self.services:
                print(f"--- last lines of {service.name}'s output ---\n{service.log_tail()}", file=sys.stderr)

    async def spawn(
        self, name: str, argv: list[str], *, port: int, path: str, env: dict[str, str] | None = None
    ) -> Service:
        """Start ``argv`` (output to ``<workdir>/<name>.log``); call :meth:`ready` before using it."""
        log_path = self.workdir / f"{name}.log"
        log = log_path.open("wb")
        self._logs.append(log)
        process = await anyio.open_process(
            argv, env=env or dict(os.environ), cwd=REPO_ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=log
        )
        service = Service(name, process, port, f"http://127.0.0.1:{port}{path}", log_path)
        self.services.append(service)
        return service

    async def ready(self, service: Service, health: str | None = None) -> None:
        """Wait (bounded) until the port accepts connections, or ``health`` answers 200."""
        try:
            with anyio.fail_after(STARTUP_TIMEOUT):
                async with httpx.AsyncClient(timeout=5) as client:
                    while not await _answers(client, service, health):
                        if service.process.returncode is not None:
                            raise RuntimeError(f"{service.name} exited with {service.process.returncode}")
                        await anyio.sleep(0.05)
        except (TimeoutError, RuntimeError) as exc:
            raise RuntimeError(f"{service.name} did not start: {exc}\n{service.log_tail()}") from exc


async def _answers(client: httpx.AsyncClient, service: Service, health: str | None) -> bool:
    try:
        if health is None:
            stream = await anyio.connect_tcp("127.0.0.1", service.port)
            await stream.aclose()
            return True
        return (await client.get(f"http://127.0.0.1:{service.port}{health}")).status_code == 200
    except (OSError, httpx.TransportError):
        return False


async def _stop(process: anyio.abc.Process) -> None:
    """SIGTERM, then SIGKILL after a grace period; every wait bounded."""
    if process.returncode is None:
        process.terminate()
        with anyio.move_on_after(STOP_GRACE):
            await process.wait()
    if process.returncode is None:
        process.kill()
        with anyio.move_on_after(STOP_GRACE):
            await process.wait()
    await process.aclose()


class SetupError(RuntimeError):
    """An admin-API call answered something other than what set-up needs."""


class Admin:
    """The admin-API calls of the set-up, for one tenant."""

    def __init__(self, api: httpx.AsyncClient, tenant: str) -> None:
        self.api, self.tenant = api, tenant

    async def _expect(self, response: httpx.Response, *statuses: int) -> Any:
        if response.status_code not in statuses:
            request = response.request
            raise SetupError(f"{request.method} {request.url.path}: {response.status_code} {response.text[:500]}")
        return response.json() if response.content else None

    async def create_tenant(self, *, auto_approve_low_risk: bool) -> None:
        body = {"slug": self.tenant, "name": "Bench", "auto_approve_low_risk": auto_approve_low_risk}
        await self._expect(await self.api.post("/api/v1/tenants", json=body), 201)

    async def add_upstream(self, slug: str, url: str) -> int:
        """Register a Streamable HTTP upstream and sync it; its id."""
        body = {"tenant": self.tenant, "slug": slug, "name": slug, "transport": "streamable_http", "url": url}
        upstream_id: int = (await self._expect(await self.api.post("/api/v1/upstreams", json=body), 201))["id"]
        await self._expect(await self.api.post(f"/api/v1/upstreams/{upstream_id}/sync"), 200)
        return upstream_id

    async def approve_all(self, upstream_id: int) -> tuple[list[dict[str, Any]], int]:
        """Approve every pending version of the upstream's items; the items (all pages), how many were pending."""
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"upstream_id": upstream_id, "limit": 500}
            if cursor is not None:
                params["cursor"] = cursor
            page = await self._expect(await self.api.get("/api/v1/catalog/items", params=params), 200)
            items += page["items"]
            cursor = page.get("next_cursor")
            if cursor is None:
                break
        pending = [item for item in items if item["current_status"] == "pending"]

        async def approve(share: list[dict[str, Any]]) -> None:
            for item in share:
                path = f"/api/v1/reviews/items/{item['id']}/versions/{item['current_hash']}"
                decision = {"decision": "approve", "reason": "benchmark fixture"}
                await self._expect(await self.api.post(path, json=decision), 200)

        async with anyio.create_task_group() as reviewers:  # a few at a time: set-up is not measured
            for index in range(APPROVERS):
                reviewers.start_soon(approve, pending[index::APPROVERS])
        return items, len(pending)

    async def agent_key(self, name: str, role: str, virtual_servers: list[str]) -> str:
        """A key for ``agent:<name>`` whose ``role`` may use all of ``virtual_servers``; its secret."""
        lines = [{"ptype": "p", "values": [role, self.tenant, f"mcp/{vs}/*", "*", "allow"]} for vs in virtual_servers]
        await self._expect(await self.api.post(f"/api/v1/tenants/{self.tenant}/policies", json=lines), 201)
        body = {"name": name, "roles": [role]}
        created = await self._expect(await self.api.post(f"/api/v1/tenants/{self.tenant}/agent-keys", json=body), 201)
        secret: str = created["secret"]
        return secret

    async def curate(self, slug: str, entries: list[dict[str, Any]]) -> None:
        """Create virtual server ``slug`` with ``entries`` (``upstream_id``, ``kind``, ``key``)."""
        path = f"/api/v1/tenants/{self.tenant}/virtual-servers"
        await self._expect(await self.api.post(path, json={"slug": slug, "name": slug}), 201)
        await self._expect(await self.api.put(f"{path}/{slug}/entries", json=entries), 200)
