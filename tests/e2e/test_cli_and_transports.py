"""The command line against a running server, syncing upstreams over every transport."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import httpx
import pytest

from tests.e2e._atrium import atrium, atrium_env, mint_token, running_atrium
from tests.upstreams._process import serve_http

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

MCP_SERVER_TIME = shutil.which("mcp-server-time", path=str(Path(sys.executable).parent))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_cli_registers_syncs_and_approves_over_stdio_sse_and_http(database_url: str) -> None:
    env = atrium_env(database_url, ATRIUM_WATCH_LIST_CHANGED="false")
    token = mint_token(env, "ops", "platform_admin", "tenant_admin:acme", "security_reviewer:*")
    async with serve_http(transport="sse", env={"DEMO_ERA": "legacy"}) as sse_url, running_atrium(env) as base:
        cli_env = {**env, "ATRIUM_URL": base, "ATRIUM_TOKEN": token}
        atrium(cli_env, "tenant", "create", "acme", "--name", "Acme")
        added = {
            "demo-stdio": ["--stdio", f"{sys.executable} -m tests.upstreams.demo_server --transport stdio"],
            "legacy-sse": ["--sse", sse_url],
            "time": ["--stdio", f"{MCP_SERVER_TIME} --local-timezone UTC"],
        }
        ids: dict[str, int] = {}
        for slug, how in added.items():
            result = atrium(cli_env, "upstream", "add", slug, "--name", slug, "--tenant", "acme", *how)
            ids[slug] = json.loads(result.stdout)["id"]
        for slug, upstream_id in ids.items():
            synced = atrium(cli_env, "upstream", "sync", str(upstream_id), check=False)
            assert synced.returncode == 0, (slug, synced.stderr)
            assert synced.stdout.startswith("ok in")

        async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}) as api:
            statuses = {slug: (await api.get(f"/api/v1/upstreams/{i}")).json()["upstream"] for slug, i in ids.items()}
        assert statuses["legacy-sse"]["protocol_version"] < "2026"
        assert statuses["demo-stdio"]["protocol_version"] >= "2026"
        assert statuses["time"]["server_name"] == "mcp-time"

        pending = atrium(cli_env, "review", "pending", "--tenant", "acme").stdout.splitlines()
        time_tool = next(line for line in pending if "time/tool:get_current_time" in line)
        _, item_id, digest, *_ = time_tool.split()
        shown = atrium(cli_env, "review", "show", item_id, digest).stdout
        assert "get_current_time" in shown
        approved = atrium(cli_env, "review", "approve", item_id, digest, "--reason", "read-only clock")
        assert "approved" in approved.stdout
        again = atrium(cli_env, "review", "approve", item_id, digest, "--reason", "twice", check=False)
        assert again.returncode == 1
        assert "review_conflict" in again.stderr


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_broken_stdio_upstream_is_a_clear_recorded_error_and_the_server_keeps_going(
    database_url: str,
) -> None:
    env = atrium_env(database_url, ATRIUM_WATCH_LIST_CHANGED="false")
    token = mint_token(env, "ops", "platform_admin")
    async with running_atrium(env) as base:
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as api:
            await api.post("/api/v1/tenants", json={"slug": "acme", "name": "Acme"})
            body = {
                "slug": "garbage",
                "name": "Garbage",
                "tenant": "acme",
                "transport": "stdio",
                "command": [sys.executable, "-c", "print('this is not json-rpc'); import sys; sys.exit(3)"],
            }
            upstream_id = (await api.post("/api/v1/upstreams", json=body)).json()["id"]
            response = await api.post(f"/api/v1/upstreams/{upstream_id}/sync")
            assert response.status_code == 502
            assert response.json()["code"] in ("upstream_protocol_error", "upstream_unreachable")
            assert (await api.get("/health")).status_code == 200
