"""Run the real ``atrium`` command: a server process on a free loopback port, and CLI calls."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import httpx

from tests.upstreams._process import REPO_ROOT, free_port, stop

ATRIUM = str(Path(sys.executable).with_name("atrium"))


def atrium_env(database_url: str, **extra: str) -> dict[str, str]:
    return {**os.environ, "ATRIUM_DATABASE_URL": database_url, "ATRIUM_SCHEDULER_TICK": "0.2", **extra}


def atrium(env: Mapping[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run one ``atrium`` CLI command to completion (bounded)."""
    return subprocess.run(
        [ATRIUM, *args], env=dict(env), cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=check
    )


def mint_token(env: Mapping[str, str], principal: str, *roles: str) -> str:
    role_args = [part for role in roles for part in ("--role", role)]
    return atrium(env, "token", "create", "--principal", principal, *role_args).stdout.strip()


@asynccontextmanager
async def running_atrium(env: Mapping[str, str]) -> AsyncIterator[str]:
    """Start ``atrium serve``; yield its base URL once /health answers; stop it afterwards."""
    port = free_port()
    process = await anyio.open_process(
        [ATRIUM, "serve", "--port", str(port)], env=dict(env), cwd=REPO_ROOT, stdout=None, stderr=None
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with anyio.fail_after(30):
            async with httpx.AsyncClient() as client:
                while True:
                    if process.returncode is not None:
                        raise RuntimeError(f"atrium serve exited with {process.returncode}")
                    try:
                        if (await client.get(f"{base}/health")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    await anyio.sleep(0.1)
        yield base
    finally:
        with anyio.CancelScope(shield=True):
            await stop(process)
