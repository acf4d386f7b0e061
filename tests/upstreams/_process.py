"""Run test upstreams as real processes, and stand in for broken ones.

    async with serve_http(transport="sse", env={"DEMO_ERA": "legacy"}) as url:
        ...  # url is http://127.0.0.1:<port>/sse, accepting connections

Every wait is bounded, and every process is stopped on the way out (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import anyio.abc

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_SERVER = "tests.upstreams.demo_server"
PAGED_SERVER = "tests.upstreams.paged_server"
_PATHS = {"streamable-http": "/mcp", "sse": "/sse"}


def python_module(module: str = DEMO_SERVER, *args: str) -> tuple[str, ...]:
    """argv that runs ``module`` with this interpreter (run it with ``cwd=REPO_ROOT``)."""
    return (sys.executable, "-m", module, *args)


def free_port() -> int:
    """A loopback port nothing listens on (until someone binds it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def serve_http(
    module: str = DEMO_SERVER,
    *,
    transport: str = "streamable-http",
    env: Mapping[str, str] | None = None,
    args: Sequence[str] = (),
    startup_timeout: float = 20.0,
    stop_grace: float = 5.0,
    port: int | None = None,
) -> AsyncIterator[str]:
    """Run ``python -m module --transport T --port N`` and yield its endpoint URL.

    ``transport`` is ``"streamable-http"`` (URL ends in ``/mcp``) or ``"sse"`` (``/sse``).
    The URL is yielded once the port accepts connections. On exit the server gets SIGTERM,
    and SIGKILL after ``stop_grace`` seconds (uvicorn waits for open streams to end).
    """
    port = port or free_port()
    argv = [*python_module(module), "--transport", transport, "--port", str(port), *args]
    process = await anyio.open_process(argv, env={**os.environ, **(env or {})}, cwd=REPO_ROOT, stdout=None, stderr=None)
    try:
        with anyio.fail_after(startup_timeout):
            await _accepting(process, port)
        yield f"http://127.0.0.1:{port}{_PATHS[transport]}"
    finally:
        with anyio.CancelScope(shield=True):
            await stop(process, stop_grace)


async def _accepting(process: anyio.abc.Process, port: int) -> None:
    while True:
        if process.returncode is not None:
            raise RuntimeError(f"the server exited with {process.returncode} before accepting connections")
        try:
            stream = await anyio.connect_tcp("127.0.0.1", port)
        except OSError:
            await anyio.sleep(0.05)
        else:
            await stream.aclose()
            return


async def stop(process: anyio.abc.Process, grace: float = 5.0) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds; waits (bounded) for the exit."""
    if process.returncode is None:
        process.terminate()
        with anyio.move_on_after(grace):
            await process.wait()
    if process.returncode is None:
        process.kill()
        with anyio.move_on_after(grace):
            await process.wait()
    await process.aclose()


@asynccontextmanager
async def silent_tcp_server() -> AsyncIterator[int]:
    """A loopback port that accepts connections and never sends a byte; yields the port."""
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    held: list[anyio.abc.SocketStream] = []

    async def hold(stream: anyio.abc.SocketStream) -> None:
        held.append(stream)

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(listener.serve, hold)
            yield int(listener.extra(anyio.abc.SocketAttribute.local_port))
            tg.cancel_scope.cancel()
    finally:
        with anyio.CancelScope(shield=True):
            for stream in held:
                await stream.aclose()
            await listener.aclose()
