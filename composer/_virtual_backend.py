"""The MCP backend of one virtual server: the curated, approved view, routed to upstreams.

Every request re-reads the served view, so a version that stopped being approved (or an
upstream that changed under us and was re-synced) is refused at once: fail closed. A name
that is not served is answered exactly as a name that never existed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import mcp_types as types

from composer._served_cache import ServedViewCache
from composer.mcp._backend import ListKind, ListPage, McpError, RequestContext, ServerInfo
from registry import InvalidInputError, ItemKind, UpstreamError
from registry._errors import UpstreamReplyError
from registry._paging import decode_cursor, encode_cursor
from registry._pool import UpstreamPool
from registry._virtual import ServedEntry, VirtualServers

PAGE_SIZE = 1000
# The MCP spec's error for an unknown resource (JSON-RPC server-defined range).
RESOURCE_NOT_FOUND = -32002
_KINDS: Mapping[ListKind, ItemKind] = {
    "tools": ItemKind.TOOL,
    "prompts": ItemKind.PROMPT,
    "resources": ItemKind.RESOURCE,
    "resource_templates": ItemKind.RESOURCE_TEMPLATE,
}


class VirtualServerBackend:
    """Serves ``tenant``/``slug``; one instance per endpoint request (cheap to build)."""

    def __init__(
        self,
        servers: VirtualServers,
        pool: UpstreamPool,
        tenant: str,
        slug: str,
        title: str,
        cache: ServedViewCache | None = None,
    ) -> None:
        self._servers, self._pool = servers, pool
        # Lists may come from the cache; calls never do (see composer._served_cache).
        self._cache = cache or ServedViewCache(ttl=0.0)
        self._tenant, self._slug, self._title = tenant, slug, title

    def server_info(self) -> ServerInfo:
        return ServerInfo(name=f"atrium/{self._tenant}/{self._slug}", version="0.1.0", title=self._title)

    def capabilities(self) -> dict[str, Any]:
        return {
            "tools": {"listChanged": True},
            "prompts": {"listChanged": True},
            "resources": {"listChanged": True},
            "completions": {},
            "logging": {},
        }

    async def list(self, kind: ListKind, cursor: str | None) -> ListPage:
        kind_ = _KINDS[kind]
        served = await self._cache.get(
            self._tenant, self._slug, kind_, lambda: self._servers.served(self._tenant, self._slug, kind_)
        )
        start = _decode_cursor(cursor)
        page = served[start : start + PAGE_SIZE]
        more = start + PAGE_SIZE < len(served)
        return ListPage(
            items=[entry.definition for entry in page],
            next_cursor=encode_cursor(start + PAGE_SIZE, kind="offset") if more else None,
        )

    async def tool_input_schema(self, name: str) -> Mapping[str, Any] | None:
        """The pinned inputSchema, so 2026-07-28 ``Mcp-Param-*`` headers are checked against it."""
        entry = await self._servers.served_entry(self._tenant, self._slug, ItemKind.TOOL, name)
        schema = None if entry is None else entry.definition.get("inputSchema")
        return schema if isinstance(schema, dict) else None

    async def handle(self, method: str, params: Mapping[str, Any], ctx: RequestContext) -> dict[str, Any]:
        if method == "tools/call":
            entry = await self._entry(ItemKind.TOOL, params.get("name"), "tool")
            request: Any = types.CallToolRequest(
                params=types.CallToolRequestParams(name=entry.key, arguments=params.get("arguments"))
            )
        elif method == "prompts/get":
            entry = await self._entry(ItemKind.PROMPT, params.get("name"), "prompt")
            request = types.GetPromptRequest(
                params=types.GetPromptRequestParams(name=entry.key, arguments=params.get("arguments"))
            )
        elif method == "resources/read":
            entry = await self._resource(params.get("uri"))
            request = types.ReadResourceRequest(params=types.ReadResourceRequestParams(uri=str(params["uri"])))
        else:
            raise McpError(types.METHOD_NOT_FOUND, f"Method not found: {method}")
        return await self._forward(entry, request, ctx)

    async def _entry(self, kind: ItemKind, name: object, what: str) -> ServedEntry:
        if not isinstance(name, str):
            raise McpError(types.INVALID_PARAMS, f"{what} name must be a string")
        entry = await self._servers.served_entry(self._tenant, self._slug, kind, name)
        if entry is None:
            raise McpError(types.INVALID_PARAMS, f"Unknown {what}: {name}")
        return entry

    async def _resource(self, uri: object) -> ServedEntry:
        if not isinstance(uri, str):
            raise McpError(types.INVALID_PARAMS, "resource uri must be a string")
        exact = await self._servers.served_entry(self._tenant, self._slug, ItemKind.RESOURCE, uri)
        if exact is not None:
            return exact
        for template in await self._servers.served(self._tenant, self._slug, ItemKind.RESOURCE_TEMPLATE):
            if _template_matches(template.key, uri):
                return template
        raise McpError(RESOURCE_NOT_FOUND, f"Resource not found: {uri}")

    async def _forward(self, entry: ServedEntry, request: Any, ctx: RequestContext) -> dict[str, Any]:
        async def forward_progress(progress: float, total: float | None, message: str | None) -> None:
            await ctx.progress(progress, total, message)

        try:
            return await self._pool.request(entry.upstream, self._tenant, request, progress=forward_progress)
        except UpstreamReplyError as exc:
            raise McpError(exc.rpc_code, exc.detail, exc.data) from exc
        except UpstreamError as exc:
            raise McpError(types.INTERNAL_ERROR, f"upstream unavailable ({exc.code})") from exc


def _template_matches(template: str, uri: str) -> bool:
    """RFC 6570 level-1 matching: each {var} stands for one or more characters but '/'."""
    pattern = "".join(
        "[^/]+" if part.startswith("{") else re.escape(part) for part in re.split(r"(\{[^}]*\})", template) if part
    )
    return re.fullmatch(pattern, uri) is not None


def _decode_cursor(cursor: str | None) -> int:
    if cursor is None:
        return 0
    try:
        return decode_cursor(cursor, kind="offset")
    except InvalidInputError as exc:
        raise McpError(types.INVALID_PARAMS, "invalid cursor") from exc
