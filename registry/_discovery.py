"""Discovery: what an upstream MCP server offers, read with the official SDK client.

:func:`discover` connects in whichever era the upstream speaks (the SDK probes
``server/discover`` and falls back to ``initialize``), reads every page of the list methods
the server declared, and returns a :class:`Discovery`. :func:`watch_list_changed` keeps a
connection open and reports ``list_changed`` notifications (handshake era) or
``subscriptions/listen`` events (2026-07-28 era).

Tool, prompt and resource objects are kept exactly as the upstream sent them, unknown
fields included: they are content-hashed for review, and a field the SDK's models do not
know must still change the hash. The SDK's typed ``list_tools`` drops such fields, so the
list requests go through ``ClientSession.send_request`` with a plain ``dict`` result type
(the SDK still validates each page against the negotiated version's schema first).
``capabilities`` is the one exception: the SDK only exposes its parsed model, so unknown
capability keys outside ``experimental``/``extensions`` do not survive.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any, Final

import anyio
import mcp_types as types
import msgspec
from mcp.client.subscriptions import PromptsListChanged, ResourcesListChanged, ToolsListChanged
from mcp.shared.exceptions import MCPError
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from registry._errors import InvalidInputError, UpstreamProtocolError, UpstreamUnreachableError
from registry._upstream_target import RawResult, Transport, UpstreamTarget, connect, describe

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from mcp import Client

    from registry._upstream_target import UpstreamSession

__all__ = ["Discovery", "Transport", "UpstreamTarget", "discover", "watch_list_changed"]

_STANDALONE_STREAM_WAIT: Final = 5.0
_NOTIFICATION_KINDS: Final[dict[type[Any], str]] = {
    types.ToolListChangedNotification: "tools",
    types.PromptListChangedNotification: "prompts",
    types.ResourceListChangedNotification: "resources",
}
_EVENT_KINDS: Final[dict[type[object], str]] = {
    ToolsListChanged: "tools",
    PromptsListChanged: "prompts",
    ResourcesListChanged: "resources",
}

_Json = dict[str, object]


class Discovery(msgspec.Struct, frozen=True, kw_only=True):
    """Everything one upstream offered at one moment, as raw JSON objects (camelCase keys)."""

    protocol_version: str
    server_name: str
    server_version: str
    instructions: str | None
    capabilities: dict[str, object]
    tools: tuple[_Json, ...]
    prompts: tuple[_Json, ...]
    resources: tuple[_Json, ...]
    resource_templates: tuple[_Json, ...]
    stderr_tail: str = ""
    """The last few KiB of a stdio server's stderr (secrets scrubbed)."""


async def discover(
    target: UpstreamTarget,
    *,
    timeout: float = 30.0,  # noqa: ASYNC109 - bounds connect, every page and teardown, not one await
    max_pages: int = 100,
) -> Discovery:
    """Connect to ``target`` and read its identity and every page of its lists.

    Only the list methods of declared capabilities are called.

    Args:
        target: Where the upstream is.
        timeout: Seconds for everything, handshake included. A stdio server that ignores
            its closed stdin may hold this up to a few seconds more while the SDK stops it.
        max_pages: Most pages read from any one list method.

    Raises:
        InvalidInputError: ``target`` is incomplete, or ``timeout``/``max_pages`` not positive.
        UpstreamUnreachableError: Refused, DNS failure, the process failed to start or died.
        UpstreamTimeoutError: ``timeout`` passed, or the upstream reported a timeout.
        UpstreamProtocolError: Not valid MCP, an error response, more than ``max_pages``
            pages, or a cursor that repeats.
    """
    if timeout <= 0 or max_pages < 1:
        raise InvalidInputError("timeout and max_pages must be positive")
    async with connect(target, time_limit=timeout) as upstream:
        client = upstream.client
        caps = client.server_capabilities
        lists = _Lists(target, client, max_pages)
        tools = await lists.read(types.ListToolsRequest, "tools") if caps.tools is not None else ()
        prompts = await lists.read(types.ListPromptsRequest, "prompts") if caps.prompts is not None else ()
        resources: tuple[_Json, ...] = ()
        templates: tuple[_Json, ...] = ()
        if caps.resources is not None:
            resources = await lists.read(types.ListResourcesRequest, "resources")
            templates = await lists.read(types.ListResourceTemplatesRequest, "resourceTemplates", optional=True)
        info = client.server_info
        found = Discovery(
            protocol_version=client.protocol_version,
            server_name=info.name if info is not None else "",
            server_version=info.version if info is not None else "",
            instructions=client.instructions,
            capabilities=caps.model_dump(by_alias=True, exclude_unset=True, mode="json"),
            tools=tools,
            prompts=prompts,
            resources=resources,
            resource_templates=templates,
        )
    # The stdio child has been stopped by now, so its stderr is complete.
    return msgspec.structs.replace(found, stderr_tail=upstream.stderr.text())


class _Lists:
    """Pages through list methods with raw results (see the module docstring)."""

    def __init__(self, target: UpstreamTarget, client: Client, max_pages: int) -> None:
        self._target, self._client, self._max_pages = target, client, max_pages

    async def read(
        self, request_type: type[types.PaginatedRequest[Any]], key: str, *, optional: bool = False
    ) -> tuple[_Json, ...]:
        method = request_type.model_fields["method"].default
        items: list[_Json] = []
        cursor: str | None = None
        seen: set[str] = set()
        for _ in range(self._max_pages):
            params = types.PaginatedRequestParams(cursor=cursor)
            try:
                result = await self._client.session.send_request(request_type(method=method, params=params), RawResult)
            except MCPError as exc:
                if optional and exc.code == types.METHOD_NOT_FOUND:
                    return ()  # some servers serve resources/list but not resources/templates/list
                raise
            page = result.model_extra or {}
            batch = page.get(key)
            if not isinstance(batch, list) or not all(isinstance(item, dict) for item in batch):
                raise self._error(f"{method} returned no {key!r} list")
            items.extend(batch)
            cursor = page.get("nextCursor")
            if not cursor:  # absent, null, or "" (which some servers send to mean "no more")
                return tuple(items)
            if not isinstance(cursor, str) or cursor in seen:
                raise self._error(f"{method} repeated a cursor or sent an invalid one")
            seen.add(cursor)
        raise self._error(f"{method} had more than {self._max_pages} pages")

    def _error(self, what: str) -> UpstreamProtocolError:
        return UpstreamProtocolError(f"{describe(self._target)}: {what}")


async def watch_list_changed(
    target: UpstreamTarget,
    on_change: Callable[[str], Awaitable[None]],
    *,
    ready: anyio.Event | None = None,
    connect_timeout: float = 30.0,
    ping_interval: float = 15.0,
) -> None:
    """Keep a connection to ``target`` open and await ``on_change(kind)`` on list changes.

    ``kind`` is ``"tools"``, ``"prompts"`` or ``"resources"``; changes that arrive while
    ``on_change`` runs are coalesced per kind. Handshake-era upstreams are watched through
    their notifications (and pinged every ``ping_interval`` seconds, so a dead connection
    is noticed); 2026-07-28 upstreams through ``subscriptions/listen`` for the kinds whose
    capability declares ``listChanged``. ``ready`` is set once changes will be seen. Runs
    until cancelled.

    Raises:
        InvalidInputError: ``target`` is incomplete, or a time not positive.
        UpstreamUnreachableError: The connection failed or was lost.
        UpstreamTimeoutError: The handshake or the subscription took longer than
            ``connect_timeout``, or a ping went unanswered.
        UpstreamProtocolError: The upstream sent something that is not valid MCP.
        Exception: Whatever ``on_change`` raised, unchanged.
    """
    if connect_timeout <= 0 or ping_interval <= 0:
        raise InvalidInputError("connect_timeout and ping_interval must be positive")
    pending = _PendingKinds()

    async def note(notification: types.ServerNotification) -> None:
        if (kind := _NOTIFICATION_KINDS.get(type(notification))) is not None:
            pending.add(kind)

    async with connect(target, handshake_time_limit=connect_timeout, on_notification=note) as upstream:
        if upstream.client.protocol_version in MODERN_PROTOCOL_VERSIONS:
            failure = await _listen(target, upstream.client, on_change, ready, connect_timeout)
        else:
            failure = await _follow_notifications(upstream, pending, on_change, ready, ping_interval)
    raise failure  # the connection is closed cleanly first; the caller's error is its own


async def _listen(
    target: UpstreamTarget,
    client: Client,
    on_change: Callable[[str], Awaitable[None]],
    ready: anyio.Event | None,
    ack_timeout: float,
) -> Exception:
    caps = client.server_capabilities
    wanted = {
        "tools": bool(caps.tools and caps.tools.list_changed),
        "prompts": bool(caps.prompts and caps.prompts.list_changed),
        "resources": bool(caps.resources and caps.resources.list_changed),
    }
    if not any(wanted.values()):  # nothing can ever change visibly; hold the connection quietly
        _set(ready)
        await anyio.sleep_forever()
    listen = client.listen(
        tools_list_changed=wanted["tools"],
        prompts_list_changed=wanted["prompts"],
        resources_list_changed=wanted["resources"],
    )
    async with AsyncExitStack() as stack:
        with anyio.fail_after(ack_timeout):  # entering waits for the server's acknowledgement
            subscription = await stack.enter_async_context(listen)
        _set(ready)
        async for event in subscription:
            if (kind := _EVENT_KINDS.get(type(event))) is not None:
                try:
                    await on_change(kind)
                except Exception as exc:  # noqa: BLE001 - the caller's; re-raised after the connection closes
                    return exc
    raise UpstreamUnreachableError(f"{describe(target)} closed its subscriptions/listen stream")


async def _follow_notifications(
    upstream: UpstreamSession,
    pending: _PendingKinds,
    on_change: Callable[[str], Awaitable[None]],
    ready: anyio.Event | None,
    ping_interval: float,
) -> Exception:
    if upstream.http.session_id:
        # Streamable HTTP delivers these notifications on a GET stream the SDK opens after
        # the handshake; "ready" before it is up would let a change slip by unseen.
        with anyio.move_on_after(_STANDALONE_STREAM_WAIT):
            await upstream.http.standalone_stream.wait()
    _set(ready)
    async with anyio.create_task_group() as tg:
        tg.start_soon(_keep_alive, upstream.client, ping_interval)
        while True:
            kind = await pending.next()
            try:
                await on_change(kind)
            except Exception as exc:  # noqa: BLE001 - the caller's; re-raised after the connection closes
                tg.cancel_scope.cancel()
                return exc
    raise AssertionError("unreachable")  # pragma: no cover - the loop only returns


async def _keep_alive(client: Client, interval: float) -> None:
    """Ping a handshake-era session: an idle dead connection would otherwise go unnoticed."""
    while True:
        await anyio.sleep(interval)
        try:
            await client.session.send_request(
                types.PingRequest(), types.EmptyResult, request_read_timeout_seconds=interval
            )
        except MCPError as exc:
            if exc.code in (types.CONNECTION_CLOSED, types.REQUEST_TIMEOUT):
                raise
            # Any other error response still proves the upstream is there.


class _PendingKinds:
    """Changed kinds not yet reported, deduplicated: a burst of notifications is one change."""

    def __init__(self) -> None:
        self._kinds: dict[str, None] = {}
        self._wake = anyio.Event()

    def add(self, kind: str) -> None:
        self._kinds[kind] = None
        self._wake.set()

    async def next(self) -> str:
        while not self._kinds:
            await self._wake.wait()
            self._wake = anyio.Event()
        kind = next(iter(self._kinds))
        del self._kinds[kind]
        return kind


def _set(event: anyio.Event | None) -> None:
    if event is not None:
        event.set()
