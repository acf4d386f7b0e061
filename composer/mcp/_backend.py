"""The seam between MCP serving (protocol, sessions, transports) and what is served.

The protocol layer in ``composer.mcp`` speaks both MCP eras over Streamable HTTP and knows
nothing of tenants, upstreams or pins; a :class:`McpBackend` answers the requests. The
virtual-server backend (``composer._virtual``) is the real one; tests use small ones.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Literal, Protocol, runtime_checkable

import msgspec

ListKind = Literal["tools", "prompts", "resources", "resource_templates"]


class ServerInfo(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    version: str
    title: str | None = None
    instructions: str | None = None


class ListPage(msgspec.Struct, frozen=True, kw_only=True):
    """One page of a list result; ``items`` are wire objects (camelCase dicts)."""

    items: list[dict[str, Any]]
    next_cursor: str | None = None


class McpError(Exception):
    """A JSON-RPC error the backend wants the client to see as is."""

    def __init__(self, code: int, message: str, data: object = None) -> None:
        super().__init__(message)
        self.code, self.message, self.data = code, message, data


class NoBackChannelError(McpError):
    """``RequestContext.request`` cannot reach the client: the 2026-07-28 era has no server-to-client
    requests (return an ``input_required`` result instead), the client did not declare the
    capability, or its response stream cannot carry requests (it accepts only application/json)."""

    def __init__(self, message: str) -> None:
        super().__init__(-32600, message)


class RequestContext(Protocol):
    """What a backend may do while it answers one client request."""

    @property
    def protocol_version(self) -> str: ...

    @property
    def meta(self) -> Mapping[str, Any]:
        """The request's ``_meta`` (progress token, 2026-07-28 envelope fields, ...)."""
        ...

    async def progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        """Send notifications/progress if the client asked for it (a progressToken); else nothing."""
        ...

    async def log(self, level: str, data: object, logger: str | None = None) -> None:
        """Send notifications/message if the client's log level admits ``level``; else nothing."""
        ...

    async def request(self, method: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """A server-to-client request (sampling, elicitation, roots) answered by this client.

        Raises:
            McpError: the client answered with an error, or this era/connection has no back-channel.
        """
        ...

    def cancelled(self) -> bool:
        """True once the client cancelled the request (the backend should stop and forward it)."""
        ...


class McpBackend(Protocol):
    """What one MCP endpoint serves."""

    def server_info(self) -> ServerInfo: ...

    def capabilities(self) -> dict[str, Any]:
        """Server capabilities as sent in initialize / server/discover results."""
        ...

    async def list(self, kind: ListKind, cursor: str | None) -> ListPage:
        """Raises: McpError (INVALID_PARAMS for a bad cursor)."""
        ...

    async def handle(self, method: str, params: Mapping[str, Any], ctx: RequestContext) -> dict[str, Any]:
        """Answer any other request method (tools/call, prompts/get, resources/read, completion/complete,
        and resources/subscribe and resources/unsubscribe unless the backend is a
        :class:`ResourceSubscriber`, ...). Returns the JSON-RPC ``result`` object.

        Raises:
            McpError: the error the client should get (METHOD_NOT_FOUND for an unknown method).
        """
        ...


@runtime_checkable
class ToolSchemaSource(Protocol):
    """Optional for a backend: the input schema of a tool it serves.

    With it, 2026-07-28 ``tools/call`` requests are checked against the tool's ``x-mcp-header``
    annotations (``Mcp-Param-{Name}`` headers must mirror the arguments, else HeaderMismatch).
    Without it, those headers pass unchecked.
    """

    async def tool_input_schema(self, name: str) -> Mapping[str, Any] | None:
        """The ``inputSchema`` of tool ``name``, or None when there is no such tool."""
        ...


@runtime_checkable
class ResourceSubscriber(Protocol):
    """Optional for a backend: resource subscriptions that must be set up and torn down.

    A subscription belongs to a holder that outlives the request making it: a handshake-era
    session (``resources/subscribe`` … ``resources/unsubscribe``) or a 2026-07-28
    ``subscriptions/listen`` stream (the URIs of its ``resourceSubscriptions``). The protocol layer
    keeps each holder's URIs as a set and calls these hooks on the backend object serving that
    holder (the session's, or the listen request's): :meth:`subscribe` when the holder starts
    holding a URI, :meth:`unsubscribe` when it lets go of one, and :meth:`release` with what it
    still holds when it ends (DELETE, expiry, shutdown, the listen stream closing), so nothing
    outlives its client. Updates reach holders through the hub
    (:meth:`~composer.mcp.ListChangedHub.publish_resource_updated`).

    Without this protocol, ``resources/subscribe`` and ``resources/unsubscribe`` go to
    :meth:`McpBackend.handle` and listen streams only filter what the hub publishes.
    """

    async def subscribe(self, uri: str, ctx: RequestContext) -> None:
        """Start publishing updates of ``uri``; on failure nothing is held.

        Raises:
            McpError: the resource is not served (the era's "Resource not found", the same for a
                hidden one), or subscribing failed.
        """
        ...

    async def unsubscribe(self, uri: str, ctx: RequestContext) -> None:
        """The holder lets go of ``uri``, which it held.

        Raises:
            McpError: letting go failed upstream (the subscription is forgotten all the same).
        """
        ...

    async def release(self, uris: Collection[str]) -> None:
        """The holder of ``uris`` is gone without unsubscribing: let go of all of them. Never raises
        for one URI failing; runs in the background (the client is gone), so it has no context."""
        ...


@runtime_checkable
class OwnedBackend(Protocol):
    """Optional for a backend: who it serves, when the endpoint authenticates its callers.

    A handshake-era session remembers the owner of the backend that created it; a request that
    presents the session id with another owner is answered as for an unknown session (404).
    """

    def owner(self) -> str:
        """A stable identifier of the authenticated caller (same caller, same string)."""
        ...


def owner_of(backend: McpBackend) -> str | None:
    return backend.owner() if isinstance(backend, OwnedBackend) else None


class EndpointRefusedError(Exception):
    """The resolver's answer when a request may not reach the endpoint (401, 403, 503, ...).

    Sent as is: ``status``, a JSON-RPC error body with ``message`` and ``data``, and ``headers``
    (a ``WWW-Authenticate`` challenge, for instance).
    """

    def __init__(
        self, status: int, message: str, *, data: object = None, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.data = status, message, data
        self.headers = dict(headers or {})


class BackendResolver(Protocol):
    """Finds the backend behind an endpoint path, or says there is none."""

    async def resolve(
        self, path_params: Mapping[str, str], headers: Mapping[str, str], base_url: str
    ) -> McpBackend | None:
        """``base_url`` is ``scheme://host`` as the client addressed the server.

        Raises:
            EndpointRefusedError: the request may not reach the endpoint (answered as the error says).
        """
        ...
