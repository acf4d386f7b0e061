"""The load generator: raw JSON-RPC POSTs over one keep-alive ``aiohttp.ClientSession`` per target.

aiohttp, not httpx: the generator shares the CPUs with what it measures, and httpx's pool alone
tops out near 300 calls/s at concurrency 32 on this machine, which would cap both paths.

The same :class:`RawMcpClient` talks to an upstream directly and to Atrium's virtual endpoint,
so only the path differs. It does the handshake-era exchange any MCP client does (``initialize``,
then ``notifications/initialized``), then sends every request with the ``Mcp-Session-Id`` and
``MCP-Protocol-Version`` it got, accepting JSON or an event stream as the spec requires.
Failures are never retried or hidden: each is counted in :class:`Errors` with the request and
what came back.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import anyio
import msgspec

PROTOCOL_VERSION = "2025-11-25"
ACCEPT = "application/json, text/event-stream"
REQUEST_TIMEOUT = 30.0

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


class CallError(Exception):
    """A request that did not get a JSON-RPC result: HTTP status, transport error or error response."""


@dataclass
class Errors:
    """Failures by ``(target, description)``, with a count each; the first few in full."""

    counts: Counter[tuple[str, str]] = field(default_factory=Counter)

    def add(self, target: str, error: BaseException) -> None:
        self.counts[target, f"{type(error).__name__}: {error}"[:400]] += 1

    def total(self, target: str) -> int:
        return sum(count for (name, _), count in self.counts.items() if name == target)


def new_http_client(connections: int) -> aiohttp.ClientSession:
    """One keep-alive client with room for ``connections`` parallel requests.

    Idle connections are dropped after 2 s, before uvicorn's 5 s keep-alive timeout closes them
    from the server side: a request sent on a connection the server is just closing would fail.
    Both paths get the same client.
    """
    connector = aiohttp.TCPConnector(limit=connections, keepalive_timeout=2.0)
    return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT))


class _Response:
    """What the generator keeps of an HTTP response (read in full)."""

    def __init__(self, status: int, headers: Any, content: bytes) -> None:
        self.status_code, self.headers, self.content = status, headers, content

    @property
    def text(self) -> str:
        return self.content.decode(errors="replace")


class RawMcpClient:
    """One MCP session over Streamable HTTP, driven with hand-built JSON-RPC messages."""

    def __init__(self, http: aiohttp.ClientSession, url: str, label: str, bearer: str | None = None) -> None:
        self.http, self.url, self.label = http, url, label
        self._ids = itertools.count(1)
        self._headers = {"content-type": "application/json", "accept": ACCEPT}
        if bearer is not None:
            self._headers["authorization"] = f"Bearer {bearer}"

    async def open(self) -> None:
        """``initialize`` and ``notifications/initialized``; later requests carry the session."""
        params = {
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "atrium-bench", "version": "0.1.0"},
        }
        response = await self._post(_encode(_request(0, "initialize", params)))
        result = _result(response, 0, "initialize")
        session = response.headers.get("mcp-session-id")
        if session is not None:
            self._headers["mcp-session-id"] = session
        self._headers["mcp-protocol-version"] = str(result.get("protocolVersion", PROTOCOL_VERSION))
        notified = await self._post(_encode({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        if notified.status_code != 202:
            raise CallError(f"notifications/initialized: HTTP {notified.status_code} {notified.text[:300]}")

    async def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """One request; its result, or :class:`CallError` (HTTP and transport errors too)."""
        request_id = next(self._ids)
        try:
            response = await self._post(_encode(_request(request_id, method, params)))
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise CallError(f"{method}: {exc!r}") from exc
        return _result(response, request_id, method)

    async def close(self) -> None:
        """End the session (DELETE); the answer does not matter."""
        if "mcp-session-id" in self._headers:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with self.http.delete(self.url, headers=self._headers) as response:
                    await response.read()

    async def _post(self, body: bytes) -> _Response:
        async with self.http.post(self.url, data=body, headers=self._headers) as response:
            return _Response(response.status, response.headers, await response.read())


def _request(request_id: int, method: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}


def _result(response: _Response, request_id: int, method: str) -> dict[str, Any]:
    if response.status_code != 200:
        raise CallError(f"{method}: HTTP {response.status_code} {response.text[:300]}")
    content_type = response.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        messages = [_decode(response.content)]
    elif content_type.startswith("text/event-stream"):
        messages = [_decode(line[5:]) for line in response.content.splitlines() if line.startswith(b"data:")]
    else:
        raise CallError(f"{method}: unexpected content-type {content_type!r}")
    for message in messages:
        if isinstance(message, dict) and message.get("id") == request_id:
            if "error" in message:
                raise CallError(f"{method}: JSON-RPC error {message['error']}")
            result: dict[str, Any] = message["result"]
            return result
    raise CallError(f"{method}: no response with id {request_id} in {response.content[:300]!r}")


Call = Callable[[], Awaitable[dict[str, Any]]]


def percentile(samples: list[float], fraction: float) -> float:
    """Nearest-rank percentile (``fraction`` in 0..1); NaN without samples."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


async def timed_calls(call: Call, count: int, label: str, errors: Errors) -> list[float]:
    """``count`` calls one after another; the latency of each successful one, in milliseconds."""
    samples: list[float] = []
    for _ in range(count):
        started = time.perf_counter()
        try:
            await call()
        except CallError as exc:
            errors.add(label, exc)
            continue
        samples.append((time.perf_counter() - started) * 1000)
    return samples


@dataclass
class Throughput:
    calls: int = 0
    failed: int = 0
    seconds: float = 0.0

    @property
    def per_second(self) -> float:
        return self.calls / self.seconds if self.seconds else math.nan


async def run_concurrently(call: Call, count: int, concurrency: int, label: str, errors: Errors) -> Throughput:
    """``count`` calls by ``concurrency`` workers; successful calls per wall-clock second."""
    remaining = count
    outcome = Throughput()

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            try:
                await call()
            except CallError as exc:
                errors.add(label, exc)
                outcome.failed += 1
            else:
                outcome.calls += 1

    started = time.perf_counter()
    async with anyio.create_task_group() as workers:
        for _ in range(concurrency):
            workers.start_soon(worker)
    outcome.seconds = time.perf_counter() - started
    return outcome
