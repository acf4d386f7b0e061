"""The policies CLI end to end, against a real ``atrium serve``: a change decides the next request."""

from __future__ import annotations

from collections.abc import Mapping

import anyio
import httpx
import pytest

from registry import Settings, Tokens, create_engine, create_session_factory, upgrade_database
from tests.e2e._atrium import ATRIUM, atrium_env, running_atrium
from tests.upstreams._process import REPO_ROOT

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


async def cli(env: Mapping[str, str], *args: str, stdin: bytes | None = None) -> tuple[int, str, str]:
    """Run ``atrium`` (bounded); its exit code, stdout and stderr."""
    with anyio.fail_after(60):
        done = await anyio.run_process([ATRIUM, *args], input=stdin, env=dict(env), cwd=REPO_ROOT, check=False)
    return done.returncode, done.stdout.decode(), done.stderr.decode()


async def test_policies_are_exported_imported_added_and_removed_from_the_command_line(database_url: str) -> None:
    engine = create_engine(Settings(database_url=database_url))
    await upgrade_database(engine)
    tokens = Tokens(create_session_factory(engine))
    root = (await tokens.mint("ops", ["platform_admin"])).secret
    rita = (await tokens.mint("rita", ["security_reviewer:other"])).secret
    env = atrium_env(database_url, ATRIUM_WATCH_LIST_CHANGED="false")
    try:
        async with running_atrium(env) as base, httpx.AsyncClient(base_url=base) as http:
            cli_env = {**env, "ATRIUM_URL": base, "ATRIUM_TOKEN": root}
            assert (await cli(cli_env, "tenant", "create", "acme", "--name", "Acme"))[0] == 0

            async def rita_reads_acme() -> int:
                response = await http.get(
                    "/api/v1/catalog/items?tenant=acme", headers={"Authorization": f"Bearer {rita}"}
                )
                return response.status_code

            assert await rita_reads_acme() == 403
            code, out, err = await cli(
                cli_env, "policies", "add", "--tenant", "acme", "g, user:rita, security_reviewer, acme"
            )
            assert code == 0, err
            line_id = out.split()[0]
            assert await rita_reads_acme() == 200
            code, out, _ = await cli(cli_env, "policies", "export", "--tenant", "acme")
            assert out == "g, user:rita, security_reviewer, acme\n"
            assert (await cli(cli_env, "policies", "remove", "--tenant", "acme", line_id))[0] == 0
            assert await rita_reads_acme() == 403

            csv = b"p, analyst, acme, mcp/support/*, call, allow\ng, user:rita, security_reviewer, acme\n"
            code, out, err = await cli(cli_env, "policies", "import", "--tenant", "acme", "-", stdin=csv)
            assert (code, out.strip()) == (0, "imported 2 lines"), err
            assert await rita_reads_acme() == 200
            code, _, err = await cli(cli_env, "policies", "import", "--tenant", "acme", "-", stdin=b"p, analyst\n")
            assert code == 1
            assert "422" in err
            assert "line 1" in err
            assert (await cli(cli_env, "policies", "export", "--tenant", "acme"))[1].encode() == csv
            platform = (await cli(cli_env, "policies", "export", "--platform"))[1]
            assert "p, platform_admin, *, admin/*, manage, allow" in platform
            assert (await cli(cli_env, "policies", "export"))[0] == 1  # neither --tenant nor --platform
    finally:
        await engine.dispose()
