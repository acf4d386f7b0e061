"""Streamable HTTP for the handshake era: protocol versions 2024-11-05 … 2025-11-25.

* POST ``initialize`` negotiates the version and creates a session (``Mcp-Session-Id``).
* Every other POST, GET and DELETE names its session: none is 400, unknown or expired is 404;
  an ``MCP-Protocol-Version`` header naming no handshake-era version is 400 (another supported
  one is served at the negotiated version: clients SHOULD send the negotiated one, and the
  spec rejects only invalid or unsupported ones, as the conformance suite checks).
* POSTed notifications and responses get 202; responses answer the server-to-client requests
  (sampling, elicitation, roots) a backend sent with ``RequestContext.request``.
* POSTed requests are answered as JSON or SSE (:mod:`composer.mcp._responses`). The client going
  away does not cancel a request (``notifications/cancelled`` does): its messages stay in the
  session's event store and a GET with ``Last-Event-ID`` replays and follows them.
* GET opens the standalone stream (list-changed and resource-updated notifications); one at a
  time per session (409 otherwise). A fresh GET first delivers what no GET has carried yet.
* DELETE ends the session. JSON-RPC batches are accepted from 2025-03-26 sessions only.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import partial
from typing import Any

import anyio

from composer.mcp._backend import McpBackend, RequestContext, ResourceSubscriber
from composer.mcp._context import CallContext, InFlight
from composer.mcp._jsonrpc import Exchange, answer, capabilities_of, dispatch, server_info_of
from composer.mcp._request import Endpoint, HttpRequest
from composer.mcp._responses import send_error, send_status, while_connected, write_answer
from composer.mcp._sessions import STANDALONE, Session, SessionStore
from composer.mcp._settings import McpSettings
from composer.mcp._sse import EventStream, end_body, parse_event_id, priming_event, pump, start_sse
from composer.mcp._wire import (
    BATCH_VERSION,
    INTERNAL_ERROR,
    INVALID_REQUEST,
    LEGACY_VERSIONS,
    PRIMING_SINCE,
    CancelledParams,
    ErrorBody,
    InitializeParams,
    Message,
    Notification,
    ProtocolError,
    Request,
    Response,
    SetLevelParams,
    SubscribeParams,
    decode_params,
    encode_result,
)

logger = logging.getLogger(__name__)

_NO_STREAM = "the client accepts only application/json, so this response cannot carry requests to it"


def _resumable(version: str) -> tuple[bool, bool]:
    """(event ids, priming event) for a negotiated version: ids since 2025-03-26, priming since 2025-11-25."""
    rank = LEGACY_VERSIONS.index(version)
    return rank <= LEGACY_VERSIONS.index(BATCH_VERSION), rank <= LEGACY_VERSIONS.index(PRIMING_SINCE)


class LegacyServer:
    """The handshake-era endpoint behaviour, over the app's session store."""

    def __init__(self, sessions: SessionStore, settings: McpSettings) -> None:
        self._sessions = sessions
        self._settings = settings

    # --- POST -------------------------------------------------------------------------------

    async def post(
        self, request: HttpRequest, endpoint: Endpoint, backend: McpBackend, messages: list[Message], batch: bool
    ) -> None:
        first = messages[0]
        if not batch and isinstance(first, Request) and first.method == "initialize":
            await self._initialize(request, endpoint, backend, first)
            return
        if any(isinstance(message, Request) and message.method == "initialize" for message in messages):
            await _bad_request(request, "initialize must be sent alone")
            return
        session = await self._session(request, endpoint, backend)
        if session is None:
            return
        if batch and session.protocol_version != BATCH_VERSION:
            await _bad_request(request, f"JSON-RPC batches are not supported at {session.protocol_version}")
            return
        with self._sessions.active(session):
            requests: list[Request] = []
            for message in messages:
                if isinstance(message, Response):
                    session.deliver(message)
                elif isinstance(message, Notification):
                    _notified(session, message)
                else:
                    requests.append(message)
            if not requests:
                await send_status(request.send, 202)
                return
            await self._answer(request, session, requests, batch)

    async def _answer(self, request: HttpRequest, session: Session, requests: list[Request], batch: bool) -> None:
        stream = session.new_stream()
        exchange = Exchange(stream, len(requests))
        event_ids, priming = _resumable(session.protocol_version)
        async with anyio.create_task_group() as tasks:
            for message in requests:
                tasks.start_soon(self._serve, session, message, exchange, request.accept.sse)
            # The client going away stops the writing, not the requests (they finish into the store).
            gone = await while_connected(
                request.receive,
                partial(
                    write_answer,
                    request.send,
                    stream,
                    accept=request.accept,
                    settings=self._settings,
                    batch=batch,
                    event_ids=event_ids,
                    priming=priming,
                ),
            )
        if not gone:
            session.forget(stream)

    async def _serve(self, session: Session, message: Request, exchange: Exchange, streaming: bool) -> None:
        try:
            in_flight = session.begin(message.id)
        except ProtocolError as exc:
            exchange.respond_error(message.id, exc.body())
            return
        stream = exchange.stream if streaming else None
        try:
            await answer(exchange, message.id, partial(_call, session, message, in_flight, stream), in_flight)
        finally:
            session.end(message.id)

    async def _initialize(
        self, request: HttpRequest, endpoint: Endpoint, backend: McpBackend, message: Request
    ) -> None:
        try:
            params = decode_params(message.params, InitializeParams)
        except ProtocolError as exc:
            await send_error(request.send, 400, exc.body(), message.id)
            return
        version = params.protocol_version if params.protocol_version in LEGACY_VERSIONS else LEGACY_VERSIONS[0]
        info = backend.server_info()
        result: dict[str, Any] = {
            "protocolVersion": version,
            "capabilities": capabilities_of(backend),
            "serverInfo": server_info_of(info),
        }
        if info.instructions is not None:
            result["instructions"] = info.instructions
        session = self._sessions.create(
            endpoint, backend, protocol_version=version, client_capabilities=params.capabilities
        )
        if session is None:
            error = ErrorBody(code=INTERNAL_ERROR, message="Service Unavailable: too many sessions")
            await send_error(request.send, 503, error, message.id)
            return
        stream = EventStream("initialize", 1)
        Exchange(stream, 1).respond(encode_result(message.id, result))
        headers = ((b"mcp-session-id", session.id.encode()),)
        await write_answer(request.send, stream, accept=request.accept, settings=self._settings, headers=headers)

    # --- GET and DELETE ---------------------------------------------------------------------

    async def get(self, request: HttpRequest, endpoint: Endpoint, backend: McpBackend) -> None:
        if not request.accept.sse:
            await send_error(request.send, 406, ErrorBody(code=INVALID_REQUEST, message="Not Acceptable"))
            return
        session = await self._session(request, endpoint, backend)
        if session is None:
            return
        with self._sessions.active(session):
            last_event_id = request.header("last-event-id")
            if last_event_id is None:
                await self._standalone(request, session, session.standalone_sent)
                return
            position = parse_event_id(last_event_id)
            stream = session.stream(position[0]) if position is not None else None
            if position is None or stream is None:
                await _bad_request(request, "Last-Event-ID names no stream of this session")
            elif stream.stream_id == STANDALONE:
                await self._standalone(request, session, position[1])
            else:
                await self._replay(request, session, stream, position[1])

    async def _standalone(self, request: HttpRequest, session: Session, after: int) -> None:
        if session.get_open:
            error = ErrorBody(code=INVALID_REQUEST, message="Conflict: this session's GET stream is already open")
            await send_error(request.send, 409, error)
            return
        session.get_open = True
        try:
            await self._replay(request, session, session.standalone, after)
        finally:
            session.get_open = False

    async def _replay(self, request: HttpRequest, session: Session, stream: EventStream, after: int) -> None:
        if stream.closed and not stream.after(after):
            # A finished stream with nothing left to replay: 204 tells an SSE client to stop reconnecting.
            await send_status(request.send, 204)
            return
        event_ids, priming = _resumable(session.protocol_version)

        def sent(position: int) -> None:
            if stream is session.standalone:
                session.standalone_sent = max(session.standalone_sent, position)

        async def write() -> None:
            await start_sse(request.send, ((b"mcp-session-id", session.id.encode()),))
            if priming:
                await request.send(
                    {"type": "http.response.body", "body": priming_event(stream, after), "more_body": True}
                )
            await pump(
                request.send,
                stream,
                after=after,
                keepalive=self._settings.sse_keepalive,
                event_ids=event_ids,
                on_sent=sent,
            )
            await end_body(request.send)

        if not await while_connected(request.receive, write):
            session.forget(stream)

    async def delete(self, request: HttpRequest, endpoint: Endpoint, backend: McpBackend) -> None:
        session = await self._session(request, endpoint, backend)
        if session is not None:
            self._sessions.remove(session)
            await send_status(request.send, 204)

    async def _session(self, request: HttpRequest, endpoint: Endpoint, backend: McpBackend) -> Session | None:
        """The request's session, or None after answering 400 (no id, wrong version) or 404 (unknown)."""
        session_id = request.session_id
        if session_id is None:
            await _bad_request(request, "Mcp-Session-Id header is required")
            return None
        session = self._sessions.get(session_id, endpoint, backend)
        if session is None:
            error = ErrorBody(code=INVALID_REQUEST, message="Not Found: unknown or expired session")
            await send_error(request.send, 404, error)
            return None
        version = request.protocol_version
        if version is not None and version not in LEGACY_VERSIONS:
            data = {"supported": list(LEGACY_VERSIONS), "requested": version}
            error = ErrorBody(code=INVALID_REQUEST, message="Bad Request: unsupported protocol version", data=data)
            await send_error(request.send, 400, error)
            return None
        return session


async def _bad_request(request: HttpRequest, detail: str) -> None:
    await send_error(request.send, 400, ErrorBody(code=INVALID_REQUEST, message=f"Bad Request: {detail}"))


def _notified(session: Session, message: Notification) -> None:
    if message.method == "notifications/initialized":
        session.initialized = True
    elif message.method == "notifications/cancelled":
        try:
            cancelled = decode_params(message.params, CancelledParams)
        except ProtocolError:
            return  # a malformed cancellation cancels nothing
        session.cancel(cancelled.request_id)
    # Other client notifications (roots/list_changed, progress) need nothing from this layer.


async def _call(
    session: Session, message: Request, in_flight: InFlight, stream: EventStream | None
) -> Mapping[str, Any]:
    method = message.method
    if method == "ping":
        return {}
    if method == "logging/setLevel":
        session.log_level = decode_params(message.params, SetLevelParams).level
        return {}

    def new_context(meta: Mapping[str, Any]) -> CallContext:
        return CallContext(
            protocol_version=session.protocol_version,
            meta=meta,
            stream=stream,
            in_flight=in_flight,
            log_threshold=lambda: session.log_level,
            back_channel=session,
            no_back_channel=_NO_STREAM,
        )

    subscription = method in ("resources/subscribe", "resources/unsubscribe")
    if subscription and isinstance(session.backend, ResourceSubscriber):
        params = decode_params(message.params, SubscribeParams)
        ctx = new_context(params.meta or {})
        await _subscription(session, session.backend, method, params.uri, ctx)
        return {}
    result = await dispatch(session.backend, method, message.params, new_context)
    if subscription:
        uri = decode_params(message.params, SubscribeParams).uri
        if method == "resources/subscribe":
            session.subscriptions.add(uri)
        else:
            session.subscriptions.discard(uri)
    return result


async def _subscription(
    session: Session, backend: ResourceSubscriber, method: str, uri: str, ctx: RequestContext
) -> None:
    """resources/(un)subscribe through the backend's hooks; the session holds each URI once."""
    if method == "resources/unsubscribe":
        if uri in session.subscriptions:
            session.subscriptions.discard(uri)
            await backend.unsubscribe(uri, ctx)
        return
    if uri in session.subscriptions:
        return
    await backend.subscribe(uri, ctx)
    if session.closed:  # it ended meanwhile: nobody is left to hold the subscription
        session.release((uri,))
    elif uri in session.subscriptions:  # a concurrent subscribe to the URI got there first: hold it once
        await backend.unsubscribe(uri, ctx)
    else:
        session.subscriptions.add(uri)
