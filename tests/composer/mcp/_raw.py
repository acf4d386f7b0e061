"""Raw HTTP helpers for the error-path tests: JSON-RPC bodies, a session, and an SSE reader."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

ACCEPT_BOTH = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
MODERN = "2026-07-28"
CLIENT_INFO = {"name": "raw", "version": "0"}


def rpc(method: str, params: dict[str, Any] | None = None, request_id: int | str | None = 1) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if request_id is not None:
        message["id"] = request_id
    if params is not None:
        message["params"] = params
    return message


def modern_params(**params: Any) -> dict[str, Any]:
    meta = {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientInfo": CLIENT_INFO,
        "io.modelcontextprotocol/clientCapabilities": {},
        **params.pop("_meta", {}),
    }
    return {**params, "_meta": meta}


def modern_headers(method: str, name: str | None = None) -> dict[str, str]:
    headers = {**ACCEPT_BOTH, "mcp-protocol-version": MODERN, "mcp-method": method}
    if name is not None:
        headers["mcp-name"] = name
    return headers


async def initialize(
    client: httpx.AsyncClient, url: str, version: str = "2025-11-25", capabilities: dict[str, Any] | None = None
) -> dict[str, str]:
    """Run the handshake; returns the headers every later request of the session carries."""
    params = {"protocolVersion": version, "capabilities": capabilities or {}, "clientInfo": CLIENT_INFO}
    response = await client.post(url, json=rpc("initialize", params), headers=ACCEPT_BOTH)
    assert response.status_code == 200, response.text
    assert response.json()["result"]["protocolVersion"] == version
    headers = {**ACCEPT_BOTH, "mcp-session-id": response.headers["mcp-session-id"], "mcp-protocol-version": version}
    initialized = await client.post(url, json=rpc("notifications/initialized", request_id=None), headers=headers)
    assert initialized.status_code == 202
    return headers


async def sse_events(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    """Each SSE event as ``{"id": ..., "data": <decoded JSON or None>}``; comments are skipped."""
    event: dict[str, Any] = {}
    async for line in response.aiter_lines():
        if not line:
            if event:
                data = event.get("data")
                yield {"id": event.get("id"), "data": json.loads(data) if data else None}
            event = {}
        elif line.startswith(":"):
            continue
        else:
            field, _, value = line.partition(":")
            event[field] = value.removeprefix(" ")
