"""The credential CLI end to end: a value piped on stdin reaches the upstream; keys rotate."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping

import anyio
import httpx
import pytest

from registry import Settings, Tokens, create_engine, create_session_factory, generate_key, upgrade_database
from tests.e2e._atrium import ATRIUM, atrium_env, running_atrium
from tests.upstreams._process import REPO_ROOT, serve_http

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

SECRET = "s3cret"


async def cli(env: Mapping[str, str], *args: str, stdin: str | None = None) -> str:
    """Run ``atrium`` (bounded); its stdout. Every CLI call here is checked for leaking the secret."""
    with anyio.fail_after(60):
        done = await anyio.run_process(
            [ATRIUM, *args], input=None if stdin is None else stdin.encode(), env=dict(env), cwd=REPO_ROOT
        )
    output = done.stdout.decode() + done.stderr.decode()
    assert SECRET not in output
    return done.stdout.decode()


async def admin_token(database_url: str) -> str:
    engine = create_engine(Settings(database_url=database_url))
    try:
        await upgrade_database(engine)
        return (await Tokens(create_session_factory(engine)).mint("ops", ["platform_admin"])).secret
    finally:
        await engine.dispose()


async def test_a_credential_set_from_stdin_is_used_by_syncs_and_survives_key_rotation(database_url: str) -> None:
    old_key, new_key = generate_key(), generate_key()
    env = atrium_env(database_url, ATRIUM_WATCH_LIST_CHANGED="false", ATRIUM_SECRET_KEYS=old_key)
    token = await admin_token(database_url)
    headers = {"Authorization": f"Bearer {token}"}
    async with serve_http(env={"DEMO_REQUIRE_HEADER": f"Authorization: Bearer {SECRET}"}) as url:
        async with running_atrium(env) as base, httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as api:
            await api.post("/api/v1/tenants", json={"slug": "acme", "name": "Acme"})
            upstream = {
                "slug": "demo",
                "name": "Demo",
                "tenant": "acme",
                "transport": "streamable_http",
                "url": url,
                "header_templates": {"Authorization": "Bearer ${API_TOKEN}"},
            }
            upstream_id = (await api.post("/api/v1/upstreams", json=upstream)).json()["id"]
            sync = f"/api/v1/upstreams/{upstream_id}/sync"
            assert (await api.post(sync)).json()["code"] == "invalid_input"
            cli_env = {**env, "ATRIUM_URL": base, "ATRIUM_TOKEN": token}
            await cli(cli_env, "credential", "set", "acme", str(upstream_id), "API_TOKEN", stdin=f"{SECRET}\n")
            assert "API_TOKEN" in await cli(cli_env, "credential", "list", "acme", str(upstream_id))
            assert (await api.post(sync)).status_code == 200
        # Two keys, the new one first: rotate, and then the old key can go.
        rotated = await cli({**env, "ATRIUM_SECRET_KEYS": f"{new_key},{old_key}"}, "secrets", "rotate")
        assert "re-encrypted 1 credentials" in rotated
        for keys, works in ((new_key, True), (old_key, False)):
            keyed = {**env, "ATRIUM_SECRET_KEYS": keys}
            async with running_atrium(keyed) as base, httpx.AsyncClient(base_url=base, headers=headers) as api:
                synced = await api.post(sync, timeout=60)
            assert (synced.status_code == 200) is works, synced.text
            assert SECRET not in synced.text
            if not works:
                assert "ATRIUM_SECRET_KEYS" in synced.json()["detail"]


async def test_a_platform_credential_set_from_stdin_syncs_a_global_upstream_and_is_rotated(database_url: str) -> None:
    old_key, new_key = generate_key(), generate_key()
    env = atrium_env(database_url, ATRIUM_WATCH_LIST_CHANGED="false", ATRIUM_SECRET_KEYS=old_key)
    token = await admin_token(database_url)
    headers = {"Authorization": f"Bearer {token}"}
    async with serve_http(env={"DEMO_REQUIRE_HEADER": f"Authorization: Bearer {SECRET}"}) as url:
        async with running_atrium(env) as base, httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as api:
            await api.post("/api/v1/tenants", json={"slug": "acme", "name": "Acme"})
            upstream = {
                "slug": "demo",
                "name": "Demo",
                "tenant": None,
                "transport": "streamable_http",
                "url": url,
                "header_templates": {"Authorization": "Bearer ${API_TOKEN}"},
            }
            upstream_id = str((await api.post("/api/v1/upstreams", json=upstream)).json()["id"])
            private = str(
                (await api.post("/api/v1/upstreams", json={**upstream, "slug": "mine", "tenant": "acme"})).json()["id"]
            )
            sync = f"/api/v1/upstreams/{upstream_id}/sync"
            assert (await api.post(sync)).json()["code"] == "invalid_input"
            cli_env = {**env, "ATRIUM_URL": base, "ATRIUM_TOKEN": token}
            await cli(cli_env, "credential", "set", "--platform", upstream_id, "API_TOKEN", stdin=f"{SECRET}\n")
            assert "API_TOKEN" in await cli(cli_env, "credential", "list", "--platform", upstream_id)
            assert "API_TOKEN" not in await cli(cli_env, "credential", "list", "acme", upstream_id)
            assert (await api.post(sync)).status_code == 200
            with pytest.raises(subprocess.CalledProcessError):  # a private upstream's are its tenant's
                await cli(cli_env, "credential", "set", "--platform", private, "API_TOKEN", stdin=f"{SECRET}\n")
            with pytest.raises(subprocess.CalledProcessError):  # --platform takes no TENANT
                await cli(cli_env, "credential", "list", "--platform", "acme", upstream_id)
        rotated = await cli({**env, "ATRIUM_SECRET_KEYS": f"{new_key},{old_key}"}, "secrets", "rotate")
        assert "re-encrypted 1 credentials" in rotated
        keyed = {**env, "ATRIUM_SECRET_KEYS": new_key}
        async with running_atrium(keyed) as base, httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as api:
            assert (await api.post(sync)).status_code == 200
            cli_env = {**keyed, "ATRIUM_URL": base, "ATRIUM_TOKEN": token}
            assert "deleted" in await cli(cli_env, "credential", "delete", "--platform", upstream_id, "API_TOKEN")
            assert (await api.post(sync)).json()["code"] == "invalid_input"
