"""The agent-key and issuer CLI end to end, against a real ``atrium serve``."""

from __future__ import annotations

import json
from collections.abc import Mapping

import anyio
import httpx
import pytest

from registry import (
    AgentAuthenticator,
    InvalidTokenError,
    Issuers,
    JwksCache,
    JwtVerifier,
    Settings,
    Tokens,
    create_engine,
    create_session_factory,
    upgrade_database,
)
from tests.e2e._atrium import ATRIUM, atrium_env, running_atrium
from tests.upstreams._process import REPO_ROOT

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

RESOURCE = "http://127.0.0.1:8000/mcp/acme/support"


async def cli(env: Mapping[str, str], *args: str) -> tuple[str, str]:
    """Run ``atrium`` (bounded); its stdout and stderr."""
    with anyio.fail_after(60):
        done = await anyio.run_process([ATRIUM, *args], env=dict(env), cwd=REPO_ROOT)
    return done.stdout.decode(), done.stderr.decode()


async def test_agent_keys_and_issuers_are_managed_from_the_command_line(database_url: str) -> None:
    engine = create_engine(Settings(database_url=database_url))
    await upgrade_database(engine)
    sessions = create_session_factory(engine)
    tokens = Tokens(sessions, verify_ttl=0.0)  # the CLI changes keys in another process: no cache here
    root = (await tokens.mint("ops", ["platform_admin"])).secret
    env = atrium_env(database_url, ATRIUM_WATCH_LIST_CHANGED="false")
    try:
        async with running_atrium(env) as base, httpx.AsyncClient() as http:
            cli_env = {**env, "ATRIUM_URL": base, "ATRIUM_TOKEN": root}
            await cli(cli_env, "tenant", "create", "acme", "--name", "Acme")
            agents = AgentAuthenticator(tokens, Issuers(sessions), JwtVerifier(JwksCache(http)))

            secret, shown = await cli(cli_env, "agent-key", "create", "acme", "support-bot", "--role", "analyst")
            secret = secret.strip()
            assert secret.startswith("atr_")
            assert "agent:support-bot" in shown
            assert (await agents.authenticate("acme", f"Bearer {secret}", RESOURCE)).roles == ("analyst",)
            listed, _ = await cli(cli_env, "agent-key", "list", "acme")
            assert "agent:support-bot" in listed
            assert secret not in listed
            key_id = listed.split()[0]

            successor, _ = await cli(cli_env, "agent-key", "rotate", "acme", key_id, "--grace-seconds", "0")
            successor = successor.strip()
            assert successor.startswith("atr_")
            assert successor != secret
            with pytest.raises(InvalidTokenError):
                await agents.authenticate("acme", f"Bearer {secret}", RESOURCE)
            new_id = (await agents.authenticate("acme", f"Bearer {successor}", RESOURCE)).credential_id
            assert new_id is not None
            await cli(cli_env, "agent-key", "revoke", "acme", new_id)
            with pytest.raises(InvalidTokenError):
                await agents.authenticate("acme", f"Bearer {successor}", RESOURCE)

            added, _ = await cli(
                cli_env,
                "issuer",
                "add",
                "acme",
                "https://id.example.com/realms/acme",
                "--roles-claim",
                "realm_access.roles",
                "--algorithm",
                "ES256",
                "--required-scope",
                "mcp",
            )
            issuer = json.loads(added)
            assert (issuer["algorithms"], issuer["required_scopes"]) == (["ES256"], ["mcp"])
            assert "https://id.example.com/realms/acme" in (await cli(cli_env, "issuer", "list", "acme"))[0]
            shown_issuer = json.loads((await cli(cli_env, "issuer", "show", "acme", str(issuer["id"])))[0])
            assert shown_issuer == issuer
            await cli(cli_env, "issuer", "delete", "acme", str(issuer["id"]))
            assert (await cli(cli_env, "issuer", "list", "acme"))[0] == ""
    finally:
        await engine.dispose()
