"""The JSON-RPC dispatcher: methods to the backend, and the one place errors become JSON-RPC errors.

Error translation (the MCP half of the house rule "two translation points"):

* :class:`~composer.mcp._wire.ProtocolError` (raised by this package) and
  :class:`~composer.mcp.McpError` (raised by backends) go out as they are;
* :class:`~registry.AtriumError` goes out with its ``jsonrpc_code``, its detail as the message and
  its stable string code as ``data.code``;
* anything else is logged with its traceback and goes out as INTERNAL_ERROR with nothing leaked.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

from msgspec import Raw, UnsetType

from composer.mcp._backend import ListKind, ListPage, McpBackend, McpError, RequestContext, ServerInfo
from composer.mcp._context import InFlight
from composer.mcp._sse import EventStream
from composer.mcp._wire import (
    INTERNAL_ERROR,
    ErrorBody,
    PaginatedParams,
    ProtocolError,
    RequestId,
    decode_object,
    decode_params,
    encode_error,
    encode_result,
    meta_of,
)
from registry import AtriumError

logger = logging.getLogger(__name__)

LIST_METHODS: Final[Mapping[str, tuple[ListKind, str]]] = {
    "tools/list": ("tools", "tools"),
    "prompts/list": ("prompts", "prompts"),
    "resources/list": ("resources", "resources"),
    "resources/templates/list": ("resource_templates", "resourceTemplates"),
}
"""Method -> (the backend's list kind, the result's item key)."""


def error_body(exc: Exception) -> ErrorBody:
    """The JSON-RPC error for an exception (see the module docstring). Callers log unexpected ones."""
    if isinstance(exc, ProtocolError):
        return exc.body()
    if isinstance(exc, McpError):
        return ErrorBody(code=exc.code, message=exc.message, data=exc.data)
    if isinstance(exc, AtriumError):
        return ErrorBody(code=exc.jsonrpc_code, message=exc.detail, data={"code": exc.code})
    return ErrorBody(code=INTERNAL_ERROR, message="Internal error")


def server_info_of(info: ServerInfo) -> dict[str, Any]:
    """The ``Implementation`` object naming the server (``instructions`` travel separately)."""
    implementation: dict[str, Any] = {"name": info.name, "version": info.version}
    if info.title is not None:
        implementation["title"] = info.title
    return implementation


def capabilities_of(backend: McpBackend) -> dict[str, Any]:
    """The backend's capabilities, plus ``logging``: this layer serves the log level itself."""
    capabilities = dict(backend.capabilities())
    capabilities.setdefault("logging", {})
    return capabilities


def list_result(item_key: str, page: ListPage) -> dict[str, Any]:
    result: dict[str, Any] = {item_key: page.items}
    if page.next_cursor is not None:
        result["nextCursor"] = page.next_cursor
    return result


async def dispatch(
    backend: McpBackend,
    method: str,
    params: Raw | UnsetType | Mapping[str, Any],
    new_context: Callable[[Mapping[str, Any]], RequestContext],
) -> dict[str, Any]:
    """Answer a method the backend serves: the four lists page through ``backend.list``, every other
    method goes to ``backend.handle`` with a context built from the request's ``_meta``.

    Raises:
        ProtocolError: INVALID_PARAMS for params of the wrong shape.
        McpError: whatever the backend raises (METHOD_NOT_FOUND for methods it does not know).
    """
    listed = LIST_METHODS.get(method)
    if listed is not None:
        kind, item_key = listed
        paginated = decode_params(params, PaginatedParams)
        return list_result(item_key, await backend.list(kind, paginated.cursor))
    decoded = dict(params) if isinstance(params, Mapping) else decode_object(params)
    return await backend.handle(method, decoded, new_context(meta_of(decoded)))


class Exchange:
    """The requests of one POST and the stream their messages go to.

    Each request ends by :meth:`respond` or, when the client cancelled it, :meth:`decline`
    (a cancelled request gets no response); the stream closes when the last one has ended.
    """

    def __init__(self, stream: EventStream, requests: int) -> None:
        self.stream = stream
        self._outstanding = requests
        if requests == 0:
            stream.close()

    def respond(self, data: bytes, error_code: int | None = None) -> None:
        self.stream.append(data, response=True, error_code=error_code)
        self._ended()

    def decline(self) -> None:
        self._ended()

    def _ended(self) -> None:
        self._outstanding -= 1
        if self._outstanding <= 0:
            self.stream.close()

    def respond_error(self, request_id: RequestId | None, error: ErrorBody) -> None:
        self.respond(encode_error(request_id, error), error.code)


async def answer(
    exchange: Exchange,
    request_id: RequestId,
    call: Callable[[], Awaitable[Mapping[str, Any]]],
    in_flight: InFlight,
) -> None:
    """Run ``call`` under the request's cancel scope and put its response on the exchange's stream."""
    result: Mapping[str, Any] | None = None
    try:
        with in_flight.scope:
            result = await call()
    except (ProtocolError, McpError, AtriumError) as exc:
        exchange.respond_error(request_id, error_body(exc))
        return
    except Exception:  # the JSON-RPC translation point: nothing unexpected reaches the client
        logger.exception("an MCP request failed unexpectedly")
        exchange.respond_error(request_id, ErrorBody(code=INTERNAL_ERROR, message="Internal error"))
        return
    if result is None or in_flight.cancelled:
        exchange.decline()
        return
    exchange.respond(encode_result(request_id, result))
