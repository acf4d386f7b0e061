"""The MCP backend of one virtual server: the curated, approved view, routed to upstreams.

Every request checks its pin against the served view (from ``composer._served_cache``, dropped
at once by every change in this process), so a version that stopped being approved is refused
on the next call: fail closed. A name that is not served is answered exactly as a name that never
existed. What the upstream sends while it answers (progress, log messages, server-to-client
requests) goes to the client that asked, through :class:`ClientDownstream`.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any, Protocol

import anyio
import mcp_types as types
from mcp.shared.inbound import find_invalid_x_mcp_header, mcp_param_headers, x_mcp_header_map
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from composer._input_required import fulfil, needs_input, retried
from composer._served_cache import ServedViewCache
from composer._subscriptions import ResourceSubscriptions
from composer._suspended_calls import Binding, SuspendedCalls, suspends
from composer.mcp._backend import ListKind, ListPage, McpError, RequestContext, ServerInfo
from composer.mcp._wire import META_LOG_LEVEL, MODERN_VERSIONS
from registry import InvalidInputError, ItemKind, UpstreamError
from registry._downstream import Downstream, DownstreamError
from registry._errors import UpstreamReplyError
from registry._paging import decode_cursor, encode_cursor
from registry._pool import UpstreamPool
from registry._virtual import ServedEntry, VirtualServers

logger = logging.getLogger(__name__)

PAGE_SIZE = 1000
_ROLLBACK_SECONDS = 5.0
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
        suspended: SuspendedCalls | None = None,
    ) -> None:
        self._servers, self._pool = servers, pool
        # Calls of 2026-07-28 clients kept while a handshake-era upstream waits on them (the app's one registry).
        self._suspended = suspended
        self._visibility, self._owner = visibility, owner
        self._cache = cache or ServedViewCache(ttl=0.0)
        self._subscriptions = subscriptions
        # Resource subscriptions made through this backend: where, and how many (its holders hold each once).
        self._held: dict[str, tuple[ServedEntry, int]] = {}
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
        if method != "resources/read":  # resources/(un)subscribe come through the ResourceSubscriber hooks
            raise McpError(types.METHOD_NOT_FOUND, f"Method not found: {method}")
        entry = await self._resource(params.get("uri"), ctx.protocol_version)
        return await self._forward(entry, method, params, ctx)

    # --- resource subscriptions (composer.mcp.ResourceSubscriber) ------------------------------

    async def subscribe(self, uri: str, ctx: RequestContext) -> None:
        """Subscribe at the upstream serving ``uri`` (a 2026-07-28 one: its listen stream names it)."""
        subscriptions = self._subscriptions
        if subscriptions is None:
            raise McpError(types.METHOD_NOT_FOUND, "Method not found: resources/subscribe")
        entry = await self._resource(uri, ctx.protocol_version)
        upstream_id = entry.upstream.id
        # Recorded first: the upstream may send an update before it answers.
        subscriptions.subscribed(self._tenant, self._slug, upstream_id, uri)
        try:
            if _modern(entry):
                await self._pool.listen_resources(entry.upstream, self._tenant, self._wanted(upstream_id))
            else:
                await self._forward(entry, "resources/subscribe", {"uri": uri}, ctx)
        except BaseException as exc:
            subscriptions.unsubscribed(self._tenant, self._slug, upstream_id, uri)
            if _modern(entry):  # shrink the listen stream back, even when cancelled; its own error is moot
                with anyio.move_on_after(_ROLLBACK_SECONDS, shield=True), contextlib.suppress(McpError):
                    await self._listen_less(entry)
            if isinstance(exc, UpstreamError):
                raise _mcp_error(exc) from exc
            raise
        # Remembered where it was subscribed, should the curation change before it ends.
        self._held[uri] = (entry, self._held.get(uri, (entry, 0))[1] + 1)

    async def unsubscribe(self, uri: str, ctx: RequestContext) -> None:
        entry = self._let_go(uri) or await self._resource(uri, ctx.protocol_version)
        await self._close_upstream(entry, uri, self._count_down(entry, uri), ctx)

    async def release(self, uris: Collection[str]) -> None:
        """Count every URI down at once, then close upstream what nobody wants any more."""
        entries = [(uri, entry) for uri in uris if (entry := self._let_go(uri)) is not None]
        closing = [(uri, entry, self._count_down(entry, uri)) for uri, entry in entries]
        for uri, entry, last in closing:
            try:
                await self._close_upstream(entry, uri, last, None)
            except McpError as exc:
                logger.warning("releasing %s at upstream %s failed: %s", uri, entry.upstream.slug, exc.message)

    def _let_go(self, uri: str) -> ServedEntry | None:
        """Where ``uri`` was subscribed through this backend, one hold fewer; None when it was not."""
        entry, holds = self._held.pop(uri, (None, 0))
        if entry is not None and holds > 1:
            self._held[uri] = (entry, holds - 1)
        return entry

    def _count_down(self, entry: ServedEntry, uri: str) -> bool:
        """One subscription to ``uri`` fewer; True when it was the tenant's last."""
        subscriptions = self._subscriptions
        return subscriptions is None or subscriptions.unsubscribed(self._tenant, self._slug, entry.upstream.id, uri)

    async def _close_upstream(self, entry: ServedEntry, uri: str, last: bool, ctx: RequestContext | None) -> None:
        """Bring the upstream in line: a 2026-07-28 one's listen stream follows what is still wanted;
        an older one is sent resources/unsubscribe after the tenant's last subscription (before that,
        other clients of the tenant still want its updates from the shared upstream session)."""
        if self._subscriptions is None:
            return
        if _modern(entry):
            await self._listen_less(entry)
        elif last and ctx is not None:
            await self._forward(entry, "resources/unsubscribe", {"uri": uri}, ctx)
        elif last:  # released: no client to forward anything to
            await self._send(self._request_for(entry, "resources/unsubscribe"), {"uri": uri})

    async def _listen_less(self, entry: ServedEntry) -> None:
        """Shrink a 2026-07-28 upstream's listen stream to what is still wanted (closed when nothing)."""
        try:
            wanted = self._wanted(entry.upstream.id)
            await self._pool.listen_resources(entry.upstream, self._tenant, wanted, wait=False)
        except UpstreamError as exc:
            raise _mcp_error(exc) from exc

    def _wanted(self, upstream_id: int) -> Callable[[], frozenset[str]]:
        subscriptions = self._subscriptions
        assert subscriptions is not None
        return lambda: subscriptions.uris(self._tenant, upstream_id)

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

        async def send(params: Mapping[str, Any], via: Downstream = downstream) -> dict[str, Any]:
            try:
                return await self._pool.request(
                    entry.upstream, self._tenant, method, params, downstream=via, headers=headers
                )
            except UpstreamError as exc:
                raise _mcp_error(exc) from exc

        if self._suspended is not None and suspends(method, ctx.protocol_version, entry.upstream.protocol_version):
            # The upstream asks with standalone requests, which a 2026-07-28 client gets as input_required.
            binding = Binding.of(self._tenant, self._slug, self._owner, entry.upstream.id, method, params)
            return await self._suspended.forward(binding, params, ctx, downstream, send)
        result = await send(params)
        if needs_input(result) and ctx.protocol_version not in MODERN_VERSIONS:

            async def retry(answers: dict[str, Any], state: object) -> dict[str, Any]:
                return await send(retried(params, answers, state))

            return await fulfil(result, ctx.request, retry)
        return result

    @staticmethod
    async def _send(
        send: Callable[[Mapping[str, Any]], Awaitable[dict[str, Any]]], params: Mapping[str, Any]
    ) -> dict[str, Any]:
        try:
            return await send(params)
        except UpstreamError as exc:
            raise _mcp_error(exc) from exc

    def _request_for(self, entry: ServedEntry, method: str) -> Callable[[Mapping[str, Any]], Awaitable[dict[str, Any]]]:
        """Sends ``method`` to the entry's upstream on no client's behalf (nothing to forward to)."""

        async def send(params: Mapping[str, Any]) -> dict[str, Any]:
            return await self._pool.request(entry.upstream, self._tenant, method, params)

        return send


def _modern(entry: ServedEntry) -> bool:
    """Whether the entry's upstream speaks 2026-07-28 (no resources/subscribe: a listen stream instead)."""
    return entry.upstream.protocol_version in MODERN_PROTOCOL_VERSIONS


def _mcp_error(exc: UpstreamError) -> McpError:
    if isinstance(exc, UpstreamReplyError):
        return McpError(exc.rpc_code, exc.detail, exc.data)
    return McpError(types.INTERNAL_ERROR, f"upstream unavailable ({exc.code})")


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
