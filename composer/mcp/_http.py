"""The MCP endpoint as a raw ASGI app, and the litestar route that mounts it.

Every request passes, in order: the Origin check (403), the endpoint path (404), the HTTP method
(405), for POST the Content-Type (415), Accept (406), body size (413) and JSON-RPC framing (400),
then the backend resolver (404 when it finds none; an ``AtriumError`` it raises keeps its status).
Then the era is chosen per request:

* 2026-07-28 (:mod:`composer.mcp._modern`) when ``MCP-Protocol-Version`` names it, or when a
  session-less request that is not ``initialize`` declares a protocol version of its own
  (header or ``_meta``): the modern checks then answer it, with UnsupportedProtocolVersion
  for versions this server does not speak;
* the handshake era (:mod:`composer.mcp._legacy`) otherwise. GET and DELETE carrying a modern
  version header get 405: that revision has neither.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, MutableMapping
from contextlib import asynccontextmanager
from typing import Any, cast

from litestar import asgi
from litestar.handlers import ASGIRouteHandler
from litestar.types import Receive as LitestarReceive
from litestar.types import Scope as LitestarScope
from litestar.types import Send as LitestarSend

from composer.mcp._backend import BackendResolver, EndpointRefusedError, McpBackend
from composer.mcp._hub import ListChangedHub
from composer.mcp._legacy import LegacyServer
from composer.mcp._modern import ModernServer
from composer.mcp._releases import Releases
from composer.mcp._request import ClientGoneError, Endpoint, HttpRequest, origin_allowed
from composer.mcp._responses import Receive, send_error
from composer.mcp._sessions import SessionStore
from composer.mcp._settings import McpSettings
from composer.mcp._sse import Send
from composer.mcp._wire import (
    INTERNAL_ERROR,
    INVALID_REQUEST,
    LEGACY_VERSIONS,
    META_PROTOCOL_VERSION,
    MODERN_VERSIONS,
    ErrorBody,
    Message,
    Notification,
    Params,
    ProtocolError,
    Request,
    decode_body,
    decode_params,
)
from registry import AtriumError

logger = logging.getLogger(__name__)

ASGIApp = Callable[[Mapping[str, Any], Receive, Send], Awaitable[None]]


class McpAsgiApp:
    """Streamable HTTP MCP endpoints at ``/{tenant}/{virtual_server}[/{role}]`` (relative to the mount).

    ``hub`` publishes list changes to connected clients; ``sessions`` are the live handshake-era
    sessions. Serve inside ``async with app.running():`` (the host app's lifespan; run on its own,
    the app enters it in its own lifespan): the resource subscriptions of clients that are gone
    are released there. :meth:`close` ends every stream and session (call it at shutdown, inside).
    """

    def __init__(self, resolver: BackendResolver, settings: McpSettings, hub: ListChangedHub) -> None:
        self.settings = settings
        self.hub = hub
        self._releases = Releases()
        self.sessions = SessionStore(settings, hub, releases=self._releases)
        self._resolver = resolver
        self._legacy = LegacyServer(self.sessions, settings)
        self._modern = ModernServer(hub, settings, self._releases)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[McpAsgiApp]:
        """While entered, subscriptions of ended sessions and listen streams are released upstream."""
        async with self._releases.running():
            yield self

    async def __call__(self, scope: Mapping[str, Any], receive: Receive, send: Send) -> None:
        if scope.get("type") == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope.get("type") != "http":
            return
        started = False

        async def tracking(message: MutableMapping[str, Any]) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await self._handle(HttpRequest(scope, receive, tracking))
        except ClientGoneError:
            return
        except Exception:  # the task top: a bug answers 500, never a traceback
            logger.exception("the MCP endpoint failed")
            if not started:
                await send_error(send, 500, ErrorBody(code=INTERNAL_ERROR, message="Internal error"))

    def close(self) -> None:
        """Shutdown: listen streams end with their final result, sessions end, GET streams close."""
        self.hub.close()
        self.sessions.close()

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        # Only when run on its own (a mounted app gets no lifespan scope).
        async with self.running():
            while True:
                message = await receive()
                if message.get("type") == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message.get("type") == "lifespan.shutdown":
                    self.close()
                    break
        await send({"type": "lifespan.shutdown.complete"})

    async def _handle(self, request: HttpRequest) -> None:
        send = request.send
        if not origin_allowed(request.header("origin"), self.settings.allowed_origin_hosts):
            await send_error(send, 403, ErrorBody(code=INVALID_REQUEST, message="Forbidden: origin not allowed"))
            return
        endpoint = Endpoint.from_path(request.path)
        if endpoint is None:
            await send_error(send, 404, ErrorBody(code=INVALID_REQUEST, message="Not Found: no MCP endpoint here"))
            return
        if request.method not in ("POST", "GET", "DELETE"):
            error = ErrorBody(code=INVALID_REQUEST, message="Method Not Allowed")
            await send_error(send, 405, error, headers=((b"allow", b"GET, POST, DELETE"),))
            return
        if request.method == "POST":
            await self._post(request, endpoint)
            return
        if request.protocol_version in MODERN_VERSIONS:
            error = ErrorBody(code=INVALID_REQUEST, message="Method Not Allowed: 2026-07-28 endpoints take POST only")
            await send_error(send, 405, error, headers=((b"allow", b"POST"),))
            return
        backend = await self._backend(request, endpoint)
        if backend is None:
            return
        if request.method == "GET":
            await self._legacy.get(request, endpoint, backend)
        else:
            await self._legacy.delete(request, endpoint, backend)

    async def _post(self, request: HttpRequest, endpoint: Endpoint) -> None:
        send = request.send
        if not request.is_json():
            error = ErrorBody(code=INVALID_REQUEST, message="Unsupported Media Type: send application/json")
            await send_error(send, 415, error)
            return
        if not (request.accept.json or request.accept.sse):
            error = ErrorBody(code=INVALID_REQUEST, message="Not Acceptable: accept JSON or an event stream")
            await send_error(send, 406, error)
            return
        body = await request.read_body(self.settings.max_body_bytes)
        if body is None:
            error = ErrorBody(code=INVALID_REQUEST, message="Content Too Large")
            await send_error(send, 413, error, headers=((b"connection", b"close"),))
            return
        try:
            messages, batch = decode_body(body)
        except ProtocolError as exc:
            await send_error(send, 400, exc.body(), exc.request_id)
            return
        backend = await self._backend(request, endpoint)
        if backend is None:
            return
        if _is_modern(request, messages, batch):
            await self._modern.post(request, endpoint, backend, messages, batch)
        else:
            await self._legacy.post(request, endpoint, backend, messages, batch)

    async def _backend(self, request: HttpRequest, endpoint: Endpoint) -> McpBackend | None:
        """The endpoint's backend, or None after answering 404 (or the resolver's own error)."""
        try:
            backend = await self._resolver.resolve(endpoint.path_params(), request.headers, request.base_url)
        except EndpointRefusedError as refusal:
            headers = tuple((name.lower().encode(), value.encode()) for name, value in refusal.headers.items())
            error = ErrorBody(code=INVALID_REQUEST, message=refusal.message, data=refusal.data)
            await send_error(request.send, refusal.status, error, headers=headers)
            return None
        except AtriumError as exc:
            error = ErrorBody(code=exc.jsonrpc_code, message=exc.detail, data={"code": exc.code})
            await send_error(request.send, exc.status, error)
            return None
        if backend is None:
            error = ErrorBody(code=INVALID_REQUEST, message="Not Found: no such MCP server")
            await send_error(request.send, 404, error)
        return backend


def _is_modern(request: HttpRequest, messages: list[Message], batch: bool) -> bool:
    """Whether a POST belongs to the 2026-07-28 era (see the module docstring)."""
    version = request.protocol_version
    if version in MODERN_VERSIONS:
        return True
    if version in LEGACY_VERSIONS or request.session_id is not None or batch:
        return False
    first = messages[0]
    if not isinstance(first, Request | Notification) or first.method == "initialize":
        return False
    if version is not None:
        return True
    try:
        meta = decode_params(first.params, Params).meta
    except ProtocolError:
        return False
    return meta is not None and META_PROTOCOL_VERSION in meta


def create_mcp_asgi(
    resolver: BackendResolver, settings: McpSettings, *, hub: ListChangedHub | None = None
) -> McpAsgiApp:
    """The MCP endpoints as an ASGI app; mount it with :func:`mcp_route` (paths are mount-relative)."""
    return McpAsgiApp(resolver, settings, hub if hub is not None else ListChangedHub())


def mcp_route(app: McpAsgiApp, path: str = "/mcp") -> ASGIRouteHandler:
    """The litestar route handler serving ``app`` under ``path`` (``/mcp/{tenant}/{virtual_server}``)."""

    @asgi(path, is_mount=True, copy_scope=True)
    async def mcp_endpoint(scope: LitestarScope, receive: LitestarReceive, send: LitestarSend) -> None:
        # Litestar's ASGI types are TypedDict unions; the app reads and writes plain mappings.
        await app(cast("Mapping[str, Any]", scope), cast("Receive", receive), cast("Send", send))

    return mcp_endpoint
