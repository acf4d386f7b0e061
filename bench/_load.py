"""The load generator: raw JSON-RPC POSTs over one keep-alive ``httpx.AsyncClient`` per target.

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

import anyio
import httpx
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


def new_http_client(connections: int) -> httpx.AsyncClient:
    """One keep-alive client with room for ``connections`` parallel requests.

    Idle connections are dropped after 2 s, before uvicorn's 5 s keep-alive timeout closes them
    from the server side: with equal timeouts (httpx's default is 5 s too) a request sent on a
    connection the server is just closing fails with ``ReadError``. Both paths get the same client.
    """
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections, keepalive_expiry=2.0)
    return httpx.AsyncClient(limits=limits, timeout=REQUEST_TIMEOUT)


class RawMcpClient:
    """One MCP session over Streamable HTTP, driven with hand-built JSON-RPC messages."""

    def __init__(self, http: httpx.AsyncClient, url: str, label: str) -> None:
        self.http, self.url, self.label = http, url, label
        self._ids = itertools.count(1)
        self._headers = {"content-type": "application/json", "accept": ACCEPT}

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
        except httpx.HTTPError as exc:
            raise CallError(f"{method}: {exc!r}") from exc
        return _result(response, request_id, method)

    async def close(self) -> None:
        """End the session (DELETE); the answer does not matter."""
        if "mcp-session-id" in self._headers:
            with contextlib.suppress(httpx.HTTPError):
                await self.http.delete(self.url, headers=self._headers, timeout=5)

    async def _post(self, body: bytes) -> httpx.Response:
        return await self.http.post(self.url, content=body, headers=self._headers)


def _request(request_id: int, method: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}


def _result(response: httpx.Response, request_id: int, method: str) -> dict[str, Any]:
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
