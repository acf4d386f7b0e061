"""The MCP backend of one virtual server: the curated, approved view, routed to upstreams.

Every request checks its pin against the served view (from ``composer._served_cache``, dropped
at once by every change in this process), so a version that stopped being approved is refused
on the next call: fail closed. A name that is not served is answered exactly as a name that never
existed. What the upstream sends while it answers (progress, log messages, server-to-client
requests) goes to the client that asked, through :class:`ClientDownstream`.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

import mcp_types as types
from mcp.shared.inbound import find_invalid_x_mcp_header, mcp_param_headers, x_mcp_header_map
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from composer._input_required import fulfil, needs_input, retried
from composer._served_cache import ServedViewCache
from composer._subscriptions import ResourceSubscriptions
from composer.mcp._backend import ListKind, ListPage, McpError, RequestContext, ServerInfo
from composer.mcp._wire import META_LOG_LEVEL, MODERN_VERSIONS
from registry import InvalidInputError, ItemKind, UpstreamError
from registry._downstream import DownstreamError
from registry._errors import UpstreamReplyError
from registry._paging import decode_cursor, encode_cursor
from registry._pool import UpstreamPool
from registry._virtual import ServedEntry, VirtualServers

PAGE_SIZE = 1000
# An unknown resource: -32002 up to 2025-11-25; 2026-07-28 standardizes on INVALID_PARAMS (SEP-2164).
# Both eras' specs put the URI in the error's data.
RESOURCE_NOT_FOUND = -32002
_KINDS: Mapping[ListKind, ItemKind] = {
    "tools": ItemKind.TOOL,
    "prompts": ItemKind.PROMPT,
    "resources": ItemKind.RESOURCE,
    "resource_templates": ItemKind.RESOURCE_TEMPLATE,
}
# Methods naming a tool or prompt: (its kind, what the client is told when it is not served).
_NAMED: Mapping[str, tuple[ItemKind, str]] = {
    "tools/call": (ItemKind.TOOL, "tool"),
    "prompts/get": (ItemKind.PROMPT, "prompt"),
}
_Served = list[ServedEntry]  # the class's `list` method shadows the builtin in its annotations
_BY_URI = frozenset({"resources/read", "resources/subscribe", "resources/unsubscribe"})


class ClientDownstream:
    """The composer's request context as the registry's ``Downstream``."""

    def __init__(self, ctx: RequestContext) -> None:
        self._ctx = ctx
        level = ctx.meta.get(META_LOG_LEVEL)
        # A 2026-07-28 client opts in per request; an older one set its level on its session, which
        # ctx.log applies: let the upstream send everything and filter here.
        modern = ctx.protocol_version in MODERN_VERSIONS
        self.log_level: str | None = (level if isinstance(level, str) else None) if modern else "debug"

    async def progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        await self._ctx.progress(progress, total, message)

    async def log(self, level: str, data: object, logger: str | None = None) -> None:
        await self._ctx.log(level, data, logger)

    async def request(self, method: str, params: Mapping[str, Any]) -> dict[str, Any]:
        try:
            return await self._ctx.request(method, params)
        except McpError as exc:
            raise DownstreamError(exc.code, exc.message, exc.data) from exc


class Visibility(Protocol):
    """What one caller may see of the served view: its policy (``composer._endpoint_access``)."""

    def visible(self, entry: ServedEntry) -> bool: ...

    def narrow(self, served: list[ServedEntry]) -> list[ServedEntry]:
        """The visible entries of ``served``, in order (a list is narrowed on every tools/list,
        so an implementation may cache the result)."""
        ...


class VirtualServerBackend:
    """Serves ``tenant``/``slug``; one instance per endpoint request (cheap to build).

    ``visibility`` narrows what is served (the caller's policy): an entry it rejects is treated
    exactly as one that is not served, in every list and every request naming it. ``owner`` is
    the authenticated caller, when the endpoint authenticates (sessions are bound to it).
    """

    def __init__(
        self,
        servers: VirtualServers,
        pool: UpstreamPool,
        tenant: str,
        slug: str,
        title: str,
        cache: ServedViewCache | None = None,
        subscriptions: ResourceSubscriptions | None = None,
        visibility: Visibility | None = None,
        owner: str | None = None,
    ) -> None:
        self._servers, self._pool = servers, pool
        self._visibility, self._owner = visibility, owner
        self._cache = cache or ServedViewCache(ttl=0.0)
        self._subscriptions = subscriptions
        self._tenant, self._slug, self._title = tenant, slug, title

    def owner(self) -> str | None:
        """Who the endpoint authenticated (``composer.mcp.OwnedBackend``); None when it does not."""
        return self._owner

    def server_info(self) -> ServerInfo:
        return ServerInfo(name=f"atrium/{self._tenant}/{self._slug}", version="0.1.0", title=self._title)

    def capabilities(self) -> dict[str, Any]:
        # Only what is forwarded. Resource updates reach subscribers from upstream connections
        # that carry unowned notifications (see composer._subscriptions).
        resources: dict[str, Any] = {"listChanged": True, "subscribe": self._subscriptions is not None}
        return {
            "tools": {"listChanged": True},
            "prompts": {"listChanged": True},
            "resources": resources,
            "completions": {},
            "logging": {},
        }

    async def list(self, kind: ListKind, cursor: str | None) -> ListPage:
        served = await self._served(_KINDS[kind])
        start = _decode_cursor(cursor)
        page = served[start : start + PAGE_SIZE]
        more = start + PAGE_SIZE < len(served)
        return ListPage(
            items=[entry.definition for entry in page],
            next_cursor=encode_cursor(start + PAGE_SIZE, kind="offset") if more else None,
        )

    async def tool_input_schema(self, name: str) -> Mapping[str, Any] | None:
        """The pinned inputSchema, so 2026-07-28 ``Mcp-Param-*`` headers are checked against it."""
        entry = await self._served_entry(ItemKind.TOOL, name)
        schema = None if entry is None else entry.definition.get("inputSchema")
        return schema if isinstance(schema, dict) else None

    async def handle(self, method: str, params: Mapping[str, Any], ctx: RequestContext) -> dict[str, Any]:
        named = _NAMED.get(method)
        if named is not None:
            entry = await self._entry(named[0], params.get("name"), named[1])
            return await self._forward(entry, method, {**params, "name": entry.key}, ctx)
        if method == "completion/complete":
            entry, ref = await self._completion_target(params.get("ref"), ctx.protocol_version)
            return await self._forward(entry, method, {**params, "ref": ref}, ctx)
        if method not in _BY_URI:
            raise McpError(types.METHOD_NOT_FOUND, f"Method not found: {method}")
        uri = params.get("uri")
        entry = await self._resource(uri, ctx.protocol_version)
        assert isinstance(uri, str)
        if method == "resources/read":
            return await self._forward(entry, method, params, ctx)
        return await self._subscription(entry, method, uri, params, ctx)

    async def _subscription(
        self, entry: ServedEntry, method: str, uri: str, params: Mapping[str, Any], ctx: RequestContext
    ) -> dict[str, Any]:
        subscriptions = self._subscriptions
        if subscriptions is None:
            raise McpError(types.METHOD_NOT_FOUND, f"Method not found: {method}")
        if entry.upstream.protocol_version in MODERN_PROTOCOL_VERSIONS:
            return await self._listened(subscriptions, entry, method, uri)
        if method == "resources/subscribe":
            # Recorded first: the upstream may send an update before it answers.
            subscriptions.subscribed(self._tenant, self._slug, entry.upstream.id, uri)
            try:
                return await self._forward(entry, method, params, ctx)
            except BaseException:
                subscriptions.unsubscribed(self._tenant, self._slug, entry.upstream.id, uri)
                raise
        if subscriptions.unsubscribed(self._tenant, self._slug, entry.upstream.id, uri):
            return await self._forward(entry, method, params, ctx)
        return {}  # other clients of this tenant still want its updates from the shared session

    async def _listened(
        self, subscriptions: ResourceSubscriptions, entry: ServedEntry, method: str, uri: str
    ) -> dict[str, Any]:
        """(Un)subscribe at a 2026-07-28 upstream: Atrium answers, and the pool's listen stream follows."""
        upstream_id = entry.upstream.id

        def wanted() -> frozenset[str]:
            return subscriptions.uris(self._tenant, upstream_id)

        if method == "resources/unsubscribe":
            subscriptions.unsubscribed(self._tenant, self._slug, upstream_id, uri)
            await self._pool.listen_resources(entry.upstream, self._tenant, wanted, wait=False)
            return {}
        subscriptions.subscribed(self._tenant, self._slug, upstream_id, uri)
        try:
            await self._pool.listen_resources(entry.upstream, self._tenant, wanted)
        except UpstreamError as exc:
            subscriptions.unsubscribed(self._tenant, self._slug, upstream_id, uri)
            await self._pool.listen_resources(entry.upstream, self._tenant, wanted, wait=False)
            if isinstance(exc, UpstreamReplyError):
                raise McpError(exc.rpc_code, exc.detail, exc.data) from exc
            raise McpError(types.INTERNAL_ERROR, f"upstream unavailable ({exc.code})") from exc
        return {}

    async def _completion_target(self, ref: object, version: str) -> tuple[ServedEntry, dict[str, Any]]:
        """The entry a completion ref names, and the ref as its upstream knows it.

        A prompt ref goes to that prompt's upstream under its original name; a resource ref to
        the upstream serving that template (or resource). Refs that are not served are refused
        exactly like unknown ones.
        """
        if not isinstance(ref, Mapping):
            raise McpError(types.INVALID_PARAMS, "completion ref must be an object")
        if ref.get("type") == "ref/prompt":
            entry = await self._entry(ItemKind.PROMPT, ref.get("name"), "prompt")
            return entry, {**ref, "name": entry.key}
        if ref.get("type") == "ref/resource":
            uri = ref.get("uri")
            if not isinstance(uri, str):
                raise McpError(types.INVALID_PARAMS, "resource ref uri must be a string")
            for kind in (ItemKind.RESOURCE_TEMPLATE, ItemKind.RESOURCE):
                served = await self._served_entry(kind, uri)
                if served is not None:
                    return served, dict(ref)
            raise _resource_not_found(uri, version)
        raise McpError(types.INVALID_PARAMS, "completion ref must be ref/prompt or ref/resource")

    async def _served(self, kind: ItemKind) -> _Served:
        served = await self._cache.get(
            self._tenant, self._slug, kind, lambda: self._servers.served(self._tenant, self._slug, kind)
        )
        return served if self._visibility is None else self._visibility.narrow(served)

    async def _served_entry(self, kind: ItemKind, name: str) -> ServedEntry | None:
        entry = await self._cache.entry(
            self._tenant, self._slug, kind, name, lambda: self._servers.served(self._tenant, self._slug, kind)
        )
        if entry is None or (self._visibility is not None and not self._visibility.visible(entry)):
            return None
        return entry

    async def _entry(self, kind: ItemKind, name: object, what: str) -> ServedEntry:
        if not isinstance(name, str):
            raise McpError(types.INVALID_PARAMS, f"{what} name must be a string")
        entry = await self._served_entry(kind, name)
        if entry is None:
            raise McpError(types.INVALID_PARAMS, f"Unknown {what}: {name}")
        return entry

    async def _resource(self, uri: object, version: str) -> ServedEntry:
        if not isinstance(uri, str):
            raise McpError(types.INVALID_PARAMS, "resource uri must be a string")
        exact = await self._served_entry(ItemKind.RESOURCE, uri)
        if exact is not None:
            return exact
        for template in await self._served(ItemKind.RESOURCE_TEMPLATE):
            if _template_matches(template.key, uri):
                return template
        raise _resource_not_found(uri, version)

    async def _forward(
        self, entry: ServedEntry, method: str, params: Mapping[str, Any], ctx: RequestContext
    ) -> dict[str, Any]:
        downstream = ClientDownstream(ctx)
        headers = _param_headers(entry, method, params)

        async def send(params: Mapping[str, Any]) -> dict[str, Any]:
            return await self._pool.request(
                entry.upstream, self._tenant, method, params, downstream=downstream, headers=headers
            )

        result = await self._send(send, params)
        if needs_input(result) and ctx.protocol_version not in MODERN_VERSIONS:

            async def retry(answers: dict[str, Any], state: object) -> dict[str, Any]:
                return await self._send(send, retried(params, answers, state))

            return await fulfil(result, ctx.request, retry)
        return result

    @staticmethod
    async def _send(
        send: Callable[[Mapping[str, Any]], Awaitable[dict[str, Any]]], params: Mapping[str, Any]
    ) -> dict[str, Any]:
        try:
            return await send(params)
        except UpstreamReplyError as exc:
            raise McpError(exc.rpc_code, exc.detail, exc.data) from exc
        except UpstreamError as exc:
            raise McpError(types.INTERNAL_ERROR, f"upstream unavailable ({exc.code})") from exc


def _resource_not_found(uri: str, version: str) -> McpError:
    """The same answer for a resource that is hidden from the caller and one that does not exist."""
    code = types.INVALID_PARAMS if version in MODERN_VERSIONS else RESOURCE_NOT_FOUND
    return McpError(code, "Resource not found", {"uri": uri})


def _param_headers(entry: ServedEntry, method: str, params: Mapping[str, Any]) -> dict[str, str] | None:
    """The ``Mcp-Param-*`` headers a 2026-07-28 upstream expects on this ``tools/call``.

    Built from the pinned inputSchema's ``x-mcp-header`` annotations and the call's arguments,
    as a 2026-07-28 client does (the upstream rejects a call without them); none for other eras,
    methods, or a schema whose annotations are invalid (clients do not call such a tool).
    """
    if method != "tools/call" or entry.upstream.protocol_version not in MODERN_PROTOCOL_VERSIONS:
        return None
    schema, arguments = entry.definition.get("inputSchema"), params.get("arguments")
    if (
        not isinstance(schema, dict)
        or not isinstance(arguments, Mapping)
        or find_invalid_x_mcp_header(schema) is not None
    ):
        return None
    return mcp_param_headers(x_mcp_header_map(schema), arguments) or None


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
