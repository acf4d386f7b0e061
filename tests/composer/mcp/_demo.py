"""A small in-test backend, and the MCP endpoints served by a real uvicorn on a free loopback port.

async with serve(DemoBackend()) as served:
    ...  # served.url is http://127.0.0.1:<port>/mcp/acme/demo, mounted in a litestar app
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import uvicorn
from litestar import Litestar

from composer.mcp import (
    EndpointRefusedError,
    ListChangedHub,
    ListPage,
    McpAsgiApp,
    McpError,
    McpSettings,
    RequestContext,
    ServerInfo,
    create_mcp_asgi,
    mcp_route,
)
from composer.mcp._wire import INVALID_PARAMS, METHOD_NOT_FOUND
from registry import PermissionDeniedError
from tests.upstreams._process import free_port

PAGE = 3


def make_tool(name: str, **overrides: Any) -> dict[str, Any]:
    return {"name": name, "description": f"The {name} tool.", "inputSchema": {"type": "object"}, **overrides}


TOOLS = [
    make_tool("echo", inputSchema={"type": "object", "properties": {"text": {"type": "string"}}}),
    make_tool("report"),
    make_tool("sample"),
    make_tool("elicit"),
    make_tool("slow"),
    make_tool("boom"),
    make_tool("ask"),
    make_tool("gated"),
    make_tool(
        "region",
        inputSchema={
            "type": "object",
            "properties": {
                "region": {"type": "string", "x-mcp-header": "Region"},
                "shards": {"type": "integer", "x-mcp-header": "Shards"},
            },
        },
    ),
]
PROMPTS = [{"name": f"prompt_{index}", "description": "A prompt."} for index in range(4)]
RESOURCES = [{"uri": f"memo://{index}", "name": f"memo {index}", "mimeType": "text/plain"} for index in range(5)]
TEMPLATES = [{"uriTemplate": "memo://{id}", "name": "memo"}]


def text(value: str) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": value}], "isError": False}


class DemoBackend:
    """Static lists paged by three, and tools exercising every RequestContext facility."""

    def __init__(self) -> None:
        self.slow_started = anyio.Event()
        self.slow_ended = anyio.Event()
        self.slow_saw_cancel: bool | None = None
        self.gate = anyio.Event()
        self.calls: list[tuple[str, Mapping[str, Any]]] = []

    def server_info(self) -> ServerInfo:
        return ServerInfo(name="demo", version="1.0.0", title="Demo", instructions="Use the demo tools.")

    def capabilities(self) -> dict[str, Any]:
        return {
            "tools": {"listChanged": True},
            "prompts": {"listChanged": True},
            "resources": {"listChanged": True, "subscribe": True},
        }

    async def list(self, kind: str, cursor: str | None) -> ListPage:
        items = {"tools": TOOLS, "prompts": PROMPTS, "resources": RESOURCES, "resource_templates": TEMPLATES}[kind]
        if cursor is not None and not cursor.isdigit():
            raise McpError(INVALID_PARAMS, "bad cursor")
        start = int(cursor or 0)
        end = start + PAGE
        return ListPage(items=items[start:end], next_cursor=str(end) if end < len(items) else None)

    async def tool_input_schema(self, name: str) -> Mapping[str, Any] | None:
        return next((tool["inputSchema"] for tool in TOOLS if tool["name"] == name), None)

    async def handle(self, method: str, params: Mapping[str, Any], ctx: RequestContext) -> dict[str, Any]:
        self.calls.append((method, params))
        if method == "tools/call":
            return await self._call(params["name"], params.get("arguments") or {}, params, ctx)
        if method == "prompts/get":
            return {"messages": [{"role": "user", "content": {"type": "text", "text": params["name"]}}]}
        if method == "resources/read":
            return {"contents": [{"uri": params["uri"], "mimeType": "text/plain", "text": "memo"}]}
        if method in ("resources/subscribe", "resources/unsubscribe"):
            return {}
        raise McpError(METHOD_NOT_FOUND, f"Method not found: {method}")

    async def _call(
        self, name: str, arguments: Mapping[str, Any], params: Mapping[str, Any], ctx: RequestContext
    ) -> dict[str, Any]:
        if name == "region":
            return text(f"{arguments.get('region')}/{arguments.get('shards')}")
        if name == "echo":
            return text(str(arguments.get("text", "")))
        if name == "report":
            await ctx.progress(1, 2, "half way")
            await ctx.log("debug", "noise")
            await ctx.log("warning", {"step": 1}, "demo")
            await ctx.progress(2, 2)
            return text(f"reported at {ctx.protocol_version}")
        if name == "sample":
            reply = await ctx.request(
                "sampling/createMessage",
                {"messages": [{"role": "user", "content": {"type": "text", "text": "hi"}}], "maxTokens": 5},
            )
            content = reply["content"]
            return text(content[0]["text"] if isinstance(content, list) else content["text"])
        if name == "elicit":
            schema = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
            reply = await ctx.request("elicitation/create", {"message": "Your name?", "requestedSchema": schema})
            return text(f"{reply['action']}:{reply.get('content', {}).get('name')}")
        if name == "slow":
            self.slow_started.set()
            try:
                await anyio.sleep(60)
            finally:
                self.slow_saw_cancel = ctx.cancelled()
                self.slow_ended.set()
            return text("too late")
        if name == "gated":
            await ctx.progress(1, 2, "before the gate")
            await self.gate.wait()
            await ctx.progress(2, 2, "after the gate")
            return text("through")
        if name == "boom":
            raise RuntimeError("secret-token-123 leaked")
        if name == "ask":
            responses = params.get("inputResponses")
            if responses:
                return text(f"hello {responses['who']['content']['name']}")
            schema = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
            return {
                "resultType": "input_required",
                "inputRequests": {
                    "who": {"method": "elicitation/create", "params": {"message": "Who?", "requestedSchema": schema}}
                },
            }
        raise McpError(INVALID_PARAMS, f"unknown tool {name}")


class DemoResolver:
    """``/acme/demo`` (any role) is the backend; ``/acme/locked`` wants a token; the rest is nothing."""

    def __init__(self, backend: DemoBackend) -> None:
        self.backend = backend

    async def resolve(
        self, path_params: Mapping[str, str], headers: Mapping[str, str], base_url: str
    ) -> DemoBackend | None:
        if path_params["tenant"] != "acme":
            return None
        if path_params["virtual_server"] == "locked" and headers.get("authorization") != "Bearer ok":
            metadata = f"{base_url}/.well-known/oauth-protected-resource/mcp/acme/locked"
            raise EndpointRefusedError(
                401,
                "a bearer token is required",
                headers={"WWW-Authenticate": f'Bearer resource_metadata="{metadata}"'},
            )
        if path_params["virtual_server"] == "forbidden":
            raise PermissionDeniedError("no entry")
        if path_params["virtual_server"] in ("demo", "locked"):
            return self.backend
        return None


@dataclass
class Served:
    base: str
    app: McpAsgiApp
    hub: ListChangedHub
    backend: DemoBackend

    @property
    def url(self) -> str:
        return f"{self.base}/mcp/acme/demo"


@asynccontextmanager
async def serve(backend: DemoBackend | None = None, settings: McpSettings | None = None) -> AsyncIterator[Served]:
    """The endpoints mounted at /mcp in a litestar app, run by uvicorn in a task."""
    backend = backend or DemoBackend()
    hub = ListChangedHub()
    mcp = create_mcp_asgi(DemoResolver(backend), settings or McpSettings(json_window=0.5), hub=hub)
    port = free_port()
    config = uvicorn.Config(
        Litestar(route_handlers=[mcp_route(mcp)], lifespan=[lambda _app: mcp.running()], logging_config=None),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        ws="none",
        lifespan="on",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(server.serve)
        with anyio.fail_after(10):
            while not server.started:
                await anyio.sleep(0.01)
        try:
            yield Served(f"http://127.0.0.1:{port}", mcp, hub, backend)
        finally:
            mcp.close()
            server.should_exit = True
