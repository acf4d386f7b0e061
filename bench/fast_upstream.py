"""A minimal, fast MCP upstream for benchmarks: a raw ASGI app under uvicorn.

It answers Streamable HTTP POSTs with ``application/json`` only, and does as little as it can,
so that in ``bench/proxy.py`` the cost measured is Atrium's, not the upstream's::

    .venv/bin/python bench/fast_upstream.py --port 9100 --tools 3   # served at http://127.0.0.1:9100/mcp

Methods: ``initialize`` (echoes a supported protocol version, hands out an ``Mcp-Session-Id``
that is never checked), ``ping``, ``tools/list`` (``echo`` and ``--tools`` - 1 more, all in one
page) and ``tools/call`` (every tool returns its arguments as JSON text). Notifications and
responses get 202; ``server/discover`` and any other method get JSON-RPC -32601, so the official
SDK client falls back to the ``initialize`` handshake. GET (no server-to-client stream) is 405.
"""

from __future__ import annotations

import argparse
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import msgspec
import uvicorn

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

SUPPORTED_VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05")
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
PARSE_ERROR = -32700
_JSON = [(b"content-type", b"application/json")]
_SCHEMA = {"type": "object", "properties": {"text": {"type": "string", "description": "Any text."}}}

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


def make_tools(count: int) -> list[dict[str, Any]]:
    """``echo`` and ``count - 1`` look-alikes (``tool_001`` …); all return their arguments."""
    tools: list[dict[str, Any]] = [
        {
            "name": "echo",
            "description": "Return the arguments unchanged, as text.",
            "inputSchema": _SCHEMA,
            "annotations": {"readOnlyHint": True},
        }
    ]
    tools += [
        {
            "name": f"tool_{index:03d}",
            "description": f"Benchmark tool number {index}: returns its arguments unchanged, as text.",
            "inputSchema": _SCHEMA,
            "annotations": {"readOnlyHint": True},
        }
        for index in range(1, count)
    ]
    return tools


class FastUpstream:
    """The ASGI app; ``tool_count`` tools, listed in one page."""

    def __init__(self, tool_count: int) -> None:
        tools = make_tools(tool_count)
        self._names = frozenset(tool["name"] for tool in tools)
        self._tools_result = {"tools": tools}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["method"] == "DELETE":
            await _respond(send, 204, b"", [])
            return
        if scope["method"] != "POST":
            await _respond(send, 405, b"", [(b"allow", b"POST, DELETE")])
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        try:
            request = _decode(body)
        except msgspec.DecodeError:
            await _respond(send, 400, _error(None, PARSE_ERROR, "Parse error"), _JSON)
            return
        if not isinstance(request, dict) or "id" not in request or "method" not in request:
            await _respond(send, 202, b"", [])  # a notification, or a response to us
            return
        await self._answer(send, request)

    async def _answer(self, send: Send, request: dict[str, Any]) -> None:
        request_id, method = request["id"], request["method"]
        params = request.get("params") or {}
        headers = _JSON
        if method == "tools/call":
            if params.get("name") not in self._names:
                await _respond(send, 200, _error(request_id, INVALID_PARAMS, "Unknown tool"), headers)
                return
            text = _encode(params.get("arguments") or {}).decode()
            result: dict[str, Any] = {"content": [{"type": "text", "text": text}], "isError": False}
        elif method == "tools/list":
            result = self._tools_result
        elif method == "ping":
            result = {}
        elif method == "initialize":
            asked = params.get("protocolVersion")
            result = {
                "protocolVersion": asked if asked in SUPPORTED_VERSIONS else SUPPORTED_VERSIONS[0],
                "capabilities": {"tools": {"listChanged": False}},
                "serverInfo": {"name": "bench-fast-upstream", "version": "0.1.0"},
            }
            headers = [*_JSON, (b"mcp-session-id", uuid.uuid4().hex.encode())]
        else:  # server/discover included: the SDK client then falls back to the handshake
            await _respond(send, 200, _error(request_id, METHOD_NOT_FOUND, f"Method not found: {method}"), headers)
            return
        await _respond(send, 200, _encode({"jsonrpc": "2.0", "id": request_id, "result": result}), headers)


def _error(request_id: object, code: int, message: str) -> bytes:
    return _encode({"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}})


async def _respond(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    all_headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": all_headers})
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, required=True, help="listen on 127.0.0.1:PORT (path /mcp)")
    parser.add_argument("--tools", type=int, default=3, help="how many tools to offer, echo included (default 3)")
    args = parser.parse_args()
    uvicorn.run(
        FastUpstream(max(args.tools, 1)),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        lifespan="off",
    )


if __name__ == "__main__":
    main()
