"""Streamable HTTP for protocol version 2026-07-28: stateless requests, no sessions.

Every POST is one request carrying its own envelope in ``params._meta``. It is checked in the
spec's order: the required ``_meta`` fields (else INVALID_PARAMS, 400), the ``MCP-Protocol-Version``,
``Mcp-Method`` and ``Mcp-Name`` headers against the body (else HeaderMismatch -32020, 400), the
version itself (else UnsupportedProtocolVersion -32022 naming the supported versions, 400).
Unknown methods are 404 with METHOD_NOT_FOUND; errors answered as JSON carry the status of their
code, errors on an SSE stream are just messages.

Results get ``resultType: "complete"`` unless the backend set one (``input_required`` results
pass through untouched), the server's identity in ``_meta``, and caching hints on cacheable
methods. Log messages flow only when the request opted in with ``io.modelcontextprotocol/logLevel``.
The client closing the response stream cancels the request. ``subscriptions/listen`` answers
with a long-lived SSE stream of the change notifications the client opted in to; with a
:class:`~composer.mcp.ResourceSubscriber` backend, its ``resourceSubscriptions`` are subscribed
before the acknowledgement (a URI the endpoint does not serve to the caller fails the request
with the era's "Resource not found", as any request naming an unknown resource does) and
released when the stream ends.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, Final

import anyio
import msgspec

from composer.mcp._backend import McpBackend, McpError, ResourceSubscriber, ToolSchemaSource
from composer.mcp._context import CallContext, InFlight
from composer.mcp._hub import Change, ListChangedHub
from composer.mcp._jsonrpc import Exchange, answer, capabilities_of, dispatch, error_body, server_info_of
from composer.mcp._param_headers import decode_header_value, param_header_mismatch
from composer.mcp._releases import Releases
from composer.mcp._request import Endpoint, HttpRequest
from composer.mcp._responses import send_error, send_status, while_connected, write_answer
from composer.mcp._settings import McpSettings
from composer.mcp._sse import EventStream, end_body, pump, start_sse
from composer.mcp._wire import (
    HEADER_MISMATCH,
    INVALID_PARAMS,
    INVALID_REQUEST,
    LOG_RANK,
    META_CLIENT_CAPABILITIES,
    META_LOG_LEVEL,
    META_PROTOCOL_VERSION,
    META_SERVER_INFO,
    META_SUBSCRIPTION_ID,
    METHOD_NOT_FOUND,
    MISSING_REQUIRED_CLIENT_CAPABILITY,
    MODERN_VERSIONS,
    PARSE_ERROR,
    SUPPORTED_VERSIONS,
    UNSUPPORTED_PROTOCOL_VERSION,
    ErrorBody,
    ListenParams,
    Message,
    Notification,
    ProtocolError,
    Request,
    RequestId,
    SubscriptionFilter,
    decode_object,
    decode_params,
    encode_notification,
    encode_result,
)
from registry import AtriumError

_STATUS: Final[Mapping[int, int]] = {
    PARSE_ERROR: 400,
    INVALID_REQUEST: 400,
    INVALID_PARAMS: 400,
    HEADER_MISMATCH: 400,
    MISSING_REQUIRED_CLIENT_CAPABILITY: 400,
    UNSUPPORTED_PROTOCOL_VERSION: 400,
    METHOD_NOT_FOUND: 404,
}
_REMOVED: Final = frozenset({"initialize", "ping", "logging/setLevel", "resources/subscribe", "resources/unsubscribe"})
_CACHEABLE: Final = frozenset(
    {"tools/list", "prompts/list", "resources/list", "resources/templates/list", "resources/read"}
)
_NAMED_BY: Final[Mapping[str, str]] = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}
_ROUTING_HEADERS: Final = ("mcp-protocol-version", "mcp-method", "mcp-name")
logger = logging.getLogger(__name__)
_NO_BACK_CHANNEL = "protocol version 2026-07-28 has no server-to-client requests: return an input_required result"


def status_of(code: int | None) -> int:
    return 200 if code is None else _STATUS.get(code, 200)


class _Listener:
    """One ``subscriptions/listen`` stream, as a hub listener."""

    def __init__(self, stream: EventStream, subscription_id: RequestId, honored: SubscriptionFilter) -> None:
        self._stream = stream
        self._id = subscription_id
        self._honored = honored

    def changed(self, change: Change) -> None:
        honored = self._honored
        wanted = {
            "tools": honored.tools_list_changed,
            "prompts": honored.prompts_list_changed,
            "resources": honored.resources_list_changed,
            "resource": change.uri in honored.resource_subscriptions,
        }[change.kind]
        if wanted:
            params: dict[str, Any] = {"_meta": {META_SUBSCRIPTION_ID: self._id}}
            if change.uri is not None:
                params["uri"] = change.uri
            self._stream.append(encode_notification(change.method, params))

    def hub_closed(self) -> None:
        # A graceful end: the listen request's own response, then the stream closes.
        result = {"resultType": "complete", "_meta": {META_SUBSCRIPTION_ID: self._id}}
        self._stream.append(encode_result(self._id, result), response=True)
        self._stream.close()


class ModernServer:
    """The 2026-07-28 endpoint behaviour."""

    def __init__(self, hub: ListChangedHub, settings: McpSettings, releases: Releases | None = None) -> None:
        self._hub = hub
        self._settings = settings
        self._releases = releases or Releases()

    async def post(
        self, request: HttpRequest, endpoint: Endpoint, backend: McpBackend, messages: list[Message], batch: bool
    ) -> None:
        message = messages[0]
        if batch or not isinstance(message, Request | Notification):
            error = ErrorBody(code=INVALID_REQUEST, message="Invalid Request: send one request or notification")
            await send_error(request.send, 400, error)
            return
        if isinstance(message, Notification):
            # No client notifications are defined at this revision (closing a stream cancels); accept and drop.
            version = request.protocol_version or ""
            if version not in MODERN_VERSIONS:
                await send_error(request.send, 400, _unsupported(version))
            else:
                await send_status(request.send, 202)
            return
        try:
            params = self._validated(request, message)
            await _check_param_headers(request, backend, message.method, params)
        except ProtocolError as exc:
            await send_error(request.send, status_of(exc.code), exc.body(), message.id)
            return
        if message.method == "subscriptions/listen":
            await self._listen(request, endpoint, backend, message, params)
        elif message.method in _REMOVED:
            error = ErrorBody(code=METHOD_NOT_FOUND, message=f"Method not found: {message.method}")
            await send_error(request.send, 404, error, message.id)
        else:
            await self._answer(request, backend, message, params)

    def _validated(self, request: HttpRequest, message: Request) -> dict[str, Any]:
        """The request's params, once its envelope and headers pass the spec's checks.

        Raises:
            ProtocolError: INVALID_PARAMS, HEADER_MISMATCH or UNSUPPORTED_PROTOCOL_VERSION.
        """
        params = decode_object(message.params)
        meta = params.get("_meta")
        if not isinstance(meta, dict) or META_PROTOCOL_VERSION not in meta or META_CLIENT_CAPABILITIES not in meta:
            raise ProtocolError(
                INVALID_PARAMS,
                f"Invalid params: _meta must carry {META_PROTOCOL_VERSION} and {META_CLIENT_CAPABILITIES}",
            )
        version = meta[META_PROTOCOL_VERSION]
        for name in _ROUTING_HEADERS:
            if request.header_count(name) > 1:
                raise ProtocolError(HEADER_MISMATCH, f"Header mismatch: {name} appears more than once")
        if request.protocol_version is None or request.protocol_version != version:
            raise ProtocolError(HEADER_MISMATCH, "Header mismatch: MCP-Protocol-Version does not match _meta")
        if request.header("mcp-method") != message.method:
            raise ProtocolError(HEADER_MISMATCH, "Header mismatch: Mcp-Method does not match the method")
        name_key = _NAMED_BY.get(message.method)
        named = params.get(name_key) if name_key is not None else None
        if isinstance(named, str) and decode_header_value(request.header("mcp-name")) != named:
            raise ProtocolError(HEADER_MISMATCH, f"Header mismatch: Mcp-Name does not match params.{name_key}")
        if version not in MODERN_VERSIONS:
            error = _unsupported(str(version))
            raise ProtocolError(error.code, error.message, error.data)
        level = meta.get(META_LOG_LEVEL)
        if level is not None and level not in LOG_RANK:
            raise ProtocolError(INVALID_PARAMS, f"Invalid params: unknown log level {level!r}")
        return params

    async def _answer(
        self, request: HttpRequest, backend: McpBackend, message: Request, params: dict[str, Any]
    ) -> None:
        stream = EventStream("r", self._settings.stream_buffer)
        exchange = Exchange(stream, 1)
        in_flight = InFlight()
        call = partial(self._call, backend, message, params, in_flight, stream if request.accept.sse else None)
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(answer, exchange, message.id, call, in_flight)
            write = partial(
                write_answer, request.send, stream, accept=request.accept, settings=self._settings, status_of=status_of
            )
            if await while_connected(request.receive, write):
                in_flight.cancel()  # closing the response stream is this era's cancellation

    async def _call(
        self,
        backend: McpBackend,
        message: Request,
        params: dict[str, Any],
        in_flight: InFlight,
        stream: EventStream | None,
    ) -> Mapping[str, Any]:
        method = message.method
        if method == "server/discover":
            info = backend.server_info()
            discovered: dict[str, Any] = {
                "supportedVersions": list(SUPPORTED_VERSIONS),
                "capabilities": capabilities_of(backend),
                "ttlMs": self._settings.cache_ttl_ms,
                "cacheScope": self._settings.cache_scope,
            }
            if info.instructions is not None:
                discovered["instructions"] = info.instructions
            return self._complete(method, discovered, backend)
        meta: Mapping[str, Any] = params["_meta"]
        level = meta.get(META_LOG_LEVEL)

        def new_context(request_meta: Mapping[str, Any]) -> CallContext:
            return CallContext(
                protocol_version=MODERN_VERSIONS[0],
                meta=request_meta,
                stream=stream,
                in_flight=in_flight,
                log_threshold=lambda: level,
                back_channel=None,
                no_back_channel=_NO_BACK_CHANNEL,
            )

        return self._complete(method, await dispatch(backend, method, params, new_context), backend)

    def _complete(self, method: str, result: Mapping[str, Any], backend: McpBackend) -> Mapping[str, Any]:
        """Add what this revision requires of a complete result, without overriding the backend."""
        if result.get("resultType", "complete") != "complete":
            return result
        completed = {**result, "resultType": "complete"}
        meta = completed.get("_meta", {})
        if isinstance(meta, dict) and META_SERVER_INFO not in meta:
            completed["_meta"] = {**meta, META_SERVER_INFO: server_info_of(backend.server_info())}
        if method in _CACHEABLE:
            completed.setdefault("ttlMs", self._settings.cache_ttl_ms)
            completed.setdefault("cacheScope", self._settings.cache_scope)
        return completed

    async def _listen(
        self, request: HttpRequest, endpoint: Endpoint, backend: McpBackend, message: Request, params: dict[str, Any]
    ) -> None:
        if not request.accept.sse:
            error = ErrorBody(code=INVALID_REQUEST, message="Not Acceptable: subscriptions/listen answers with SSE")
            await send_error(request.send, 406, error, message.id)
            return
        try:
            wanted = decode_params(params, ListenParams).notifications
        except ProtocolError as exc:
            await send_error(request.send, 400, exc.body(), message.id)
            return
        honored = _honored(wanted, capabilities_of(backend))
        held: list[str] = []  # the URIs subscribed through the backend for this stream
        unsubscribe: Callable[[], None] | None = None
        try:
            if isinstance(backend, ResourceSubscriber) and honored.resource_subscriptions:
                refused = await _subscribe_all(backend, honored.resource_subscriptions, params["_meta"], held)
                if refused is not None:
                    await send_error(request.send, status_of(refused.code), refused, message.id)
                    return
            stream = EventStream("listen", self._settings.stream_buffer)
            notifications = msgspec.to_builtins(honored)
            acknowledged = {"_meta": {META_SUBSCRIPTION_ID: message.id}, "notifications": notifications}
            stream.append(encode_notification("notifications/subscriptions/acknowledged", acknowledged))
            unsubscribe = self._hub.subscribe(
                endpoint.tenant, endpoint.virtual_server, _Listener(stream, message.id, honored)
            )

            async def write() -> None:
                await start_sse(request.send)
                await pump(request.send, stream, after=0, keepalive=self._settings.sse_keepalive, event_ids=False)
                await end_body(request.send)

            await while_connected(request.receive, write)
        finally:
            if unsubscribe is not None:
                unsubscribe()
            self._releases.release(backend, held)


async def _subscribe_all(
    backend: ResourceSubscriber, uris: tuple[str, ...], meta: Mapping[str, Any], held: list[str]
) -> ErrorBody | None:
    """Subscribe a listen stream's URIs, appending each to ``held``; the error of the first that
    fails, if one does (the caller releases what was held)."""
    context = CallContext(
        protocol_version=MODERN_VERSIONS[0],
        meta=meta,
        stream=None,  # nothing but the acknowledgement may precede the stream's notifications
        in_flight=InFlight(),
        log_threshold=lambda: None,
        back_channel=None,
        no_back_channel=_NO_BACK_CHANNEL,
    )
    for uri in dict.fromkeys(uris):
        try:
            await backend.subscribe(uri, context)
        except (ProtocolError, McpError, AtriumError) as exc:
            return error_body(exc)  # anything else is a bug: the app's top answers 500
        held.append(uri)
    return None


async def _check_param_headers(
    request: HttpRequest, backend: McpBackend, method: str, params: Mapping[str, Any]
) -> None:
    """Mcp-Param-* headers against the tool's x-mcp-header annotations, when the backend has schemas.

    Raises:
        ProtocolError: HEADER_MISMATCH.
    """
    name, arguments = params.get("name"), params.get("arguments") or {}
    if method != "tools/call" or not isinstance(backend, ToolSchemaSource) or not isinstance(name, str):
        return
    if not isinstance(arguments, Mapping):
        return  # the backend rejects the arguments themselves
    try:
        schema = await backend.tool_input_schema(name)
    except Exception:  # fail open: the check must never break a working call
        logger.exception("Mcp-Param header check skipped: the tool schema lookup failed")
        return
    if schema is None:
        return
    counts = {key: request.header_count(key) for key in request.headers if key.startswith("mcp-param-")}
    reason = param_header_mismatch(schema, arguments, request.headers, counts)
    if reason is not None:
        raise ProtocolError(HEADER_MISMATCH, f"Header mismatch: {reason}")


def _honored(wanted: SubscriptionFilter, capabilities: Mapping[str, Any]) -> SubscriptionFilter:
    """The part of a listen filter this endpoint can honour, judged by its capabilities."""
    resources = capabilities.get("resources")
    subscribable = isinstance(resources, dict) and bool(resources.get("subscribe"))
    return SubscriptionFilter(
        tools_list_changed=wanted.tools_list_changed and "tools" in capabilities,
        prompts_list_changed=wanted.prompts_list_changed and "prompts" in capabilities,
        resources_list_changed=wanted.resources_list_changed and "resources" in capabilities,
        resource_subscriptions=wanted.resource_subscriptions if subscribable else (),
    )


def _unsupported(requested: str) -> ErrorBody:
    return ErrorBody(
        code=UNSUPPORTED_PROTOCOL_VERSION,
        message="Unsupported protocol version",
        data={"supported": list(SUPPORTED_VERSIONS), "requested": requested},
    )
