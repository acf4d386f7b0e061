"""Sessions of the handshake era (protocol versions 2024-11-05 … 2025-11-25).

A session is created by ``initialize`` and named by a random ``Mcp-Session-Id``. It is bound to
the endpoint (tenant, virtual server, role) and the backend it was created for, and holds what
the protocol needs between requests: the negotiated version and client capabilities, the log
level, the requests in flight (to cancel them), the server-to-client requests awaiting answers,
the resource subscriptions, and the event streams kept for ``Last-Event-ID`` resumption.

A session ends on DELETE, on shutdown, or after ``session_idle_timeout`` seconds with no request
in flight and no stream open. Expiry is checked lazily on each request: no background task. The
resource subscriptions a session still holds when it ends are released
(:mod:`composer.mcp._releases`), so none outlives its client.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Final

import anyio
import msgspec

from composer.mcp._backend import McpBackend, McpError, NoBackChannelError, owner_of
from composer.mcp._context import InFlight
from composer.mcp._hub import Change, ListChangedHub
from composer.mcp._releases import Releases
from composer.mcp._request import Endpoint
from composer.mcp._settings import McpSettings
from composer.mcp._sse import EventStream
from composer.mcp._wire import (
    INTERNAL_ERROR,
    INVALID_REQUEST,
    ErrorReply,
    ProtocolError,
    RequestId,
    Response,
    decode_object,
    decode_params,
    encode_notification,
    encode_request,
)

STANDALONE: Final = "get"
"""Stream id of the session's standalone (GET) stream."""

_CAPABILITY_OF: Final[Mapping[str, str]] = {
    "sampling/createMessage": "sampling",
    "elicitation/create": "elicitation",
    "roots/list": "roots",
}


class _Reply:
    __slots__ = ("done", "error", "result")

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.result: dict[str, Any] = {}
        self.error: ErrorReply | None = None


class Session:
    """One client's session. Also the back-channel for its requests and a hub listener."""

    def __init__(
        self,
        session_id: str,
        endpoint: Endpoint,
        backend: McpBackend,
        *,
        protocol_version: str,
        client_capabilities: Mapping[str, Any],
        settings: McpSettings,
        now: float,
    ) -> None:
        self.id = session_id
        self.endpoint = endpoint
        self.backend = backend
        self.owner = owner_of(backend)
        self.protocol_version = protocol_version
        self.client_capabilities = client_capabilities
        self.log_level = settings.default_log_level
        self.initialized = False
        self.subscriptions: set[str] = set()
        self.in_flight: dict[RequestId, InFlight] = {}
        self.standalone = EventStream(STANDALONE, settings.stream_buffer)
        self.standalone_sent = 0
        self.get_open = False
        self.busy = 0
        self.last_active = now
        self.closed = False
        self.unsubscribe: Callable[[], None] = lambda: None
        # Lets go of resource subscriptions in the background (the session's backend's release).
        self.release: Callable[[Collection[str]], None] = lambda uris: None
        self._settings = settings
        self._streams: OrderedDict[str, EventStream] = OrderedDict()
        self._next_stream = 0
        self._replies: dict[int, _Reply] = {}
        self._next_request = 0

    # --- streams ----------------------------------------------------------------------------

    def new_stream(self) -> EventStream:
        """A stream for one POST's answer, kept (bounded) so the client can resume it."""
        self._next_stream += 1
        stream = EventStream(f"s{self._next_stream}", self._settings.stream_buffer)
        self._streams[stream.stream_id] = stream
        finished = [key for key, kept in self._streams.items() if kept.closed]
        for key in finished[: max(0, len(self._streams) - self._settings.retained_streams)]:
            del self._streams[key]
        return stream

    def forget(self, stream: EventStream) -> None:
        """A finished stream fully delivered to its client needs no keeping for resumption."""
        if stream.closed:
            self._streams.pop(stream.stream_id, None)

    def stream(self, stream_id: str) -> EventStream | None:
        return self.standalone if stream_id == STANDALONE else self._streams.get(stream_id)

    # --- requests in flight -----------------------------------------------------------------

    def begin(self, request_id: RequestId) -> InFlight:
        """Register a client request.

        Raises:
            ProtocolError: INVALID_REQUEST when a request with this id is already in flight.
        """
        if request_id in self.in_flight:
            raise ProtocolError(INVALID_REQUEST, "Invalid Request: a request with this id is in flight")
        in_flight = self.in_flight[request_id] = InFlight()
        return in_flight

    def end(self, request_id: RequestId) -> None:
        self.in_flight.pop(request_id, None)

    def cancel(self, request_id: RequestId) -> None:
        """notifications/cancelled: unknown or finished requests are ignored, as the spec allows."""
        in_flight = self.in_flight.get(request_id)
        if in_flight is not None:
            in_flight.cancel()

    # --- server-to-client requests (BackChannel) --------------------------------------------

    async def request(self, method: str, params: Mapping[str, Any], stream: EventStream) -> dict[str, Any]:
        """Send ``method`` to the client on ``stream`` and wait for its answer.

        Raises:
            NoBackChannelError: the client did not declare the capability the method needs.
            McpError: the client answered with an error, or not in time, or the session ended.
        """
        capability = _CAPABILITY_OF.get(method)
        if capability is not None and capability not in self.client_capabilities:
            raise NoBackChannelError(f"the client did not declare the {capability} capability")
        self._next_request += 1
        request_id = self._next_request
        reply = self._replies[request_id] = _Reply()
        try:
            stream.append(encode_request(request_id, method, params))
            with anyio.fail_after(self._settings.client_request_timeout):
                await reply.done.wait()
        except TimeoutError:
            raise McpError(INTERNAL_ERROR, f"the client did not answer {method} in time") from None
        finally:
            del self._replies[request_id]
            if not reply.done.is_set():  # abandoned: tell the client to stop working on it
                stream.append(
                    encode_notification("notifications/cancelled", {"requestId": request_id, "reason": "abandoned"})
                )
        if reply.error is not None:
            raise McpError(reply.error.code, reply.error.message, reply.error.data)
        return reply.result

    def deliver(self, response: Response) -> None:
        """Route a client's response to the request waiting for it; unknown ids are dropped."""
        reply = self._replies.get(response.id) if isinstance(response.id, int) else None
        if reply is None:
            return
        try:
            if isinstance(response.error, msgspec.Raw):
                reply.error = decode_params(response.error, ErrorReply)
            else:
                reply.result = decode_object(response.result)
        except ProtocolError:
            reply.error = ErrorReply(code=INTERNAL_ERROR, message="the client sent a malformed response")
        reply.done.set()

    # --- hub listener -----------------------------------------------------------------------

    def changed(self, change: Change) -> None:
        if change.kind == "resource":
            if change.uri not in self.subscriptions:
                return
            self.standalone.append(encode_notification(change.method, {"uri": change.uri}))
        else:
            self.standalone.append(encode_notification(change.method))

    def hub_closed(self) -> None:
        """Sessions end with the app (:meth:`SessionStore.close`), not with the hub."""

    # --- lifecycle --------------------------------------------------------------------------

    def terminate(self) -> None:
        """End the session: cancel its requests, fail its pending replies, close its streams."""
        if self.closed:
            return
        self.closed = True
        self.unsubscribe()
        self.release(frozenset(self.subscriptions))
        self.subscriptions.clear()
        for in_flight in list(self.in_flight.values()):
            in_flight.cancel()
        for reply in self._replies.values():
            reply.error = ErrorReply(code=INTERNAL_ERROR, message="the session ended")
            reply.done.set()
        self.standalone.close()
        for stream in self._streams.values():
            stream.close()

    def idle_since(self, now: float) -> float:
        return 0.0 if self.busy else now - self.last_active


class SessionStore:
    """The live sessions, by id."""

    def __init__(
        self,
        settings: McpSettings,
        hub: ListChangedHub,
        clock: Callable[[], float] = time.monotonic,
        releases: Releases | None = None,
    ) -> None:
        self._settings = settings
        self._hub = hub
        self._releases = releases or Releases()
        self._clock = clock
        self._sessions: dict[str, Session] = {}
        self._next_sweep = 0.0

    def __len__(self) -> int:
        return len(self._sessions)

    def create(
        self,
        endpoint: Endpoint,
        backend: McpBackend,
        *,
        protocol_version: str,
        client_capabilities: Mapping[str, Any],
    ) -> Session | None:
        """A new session, or None when ``max_sessions`` are live."""
        self.sweep(force=len(self._sessions) >= self._settings.max_sessions)
        if len(self._sessions) >= self._settings.max_sessions:
            return None
        session_id = secrets.token_urlsafe(32)  # visible ASCII, 256 random bits
        session = Session(
            session_id,
            endpoint,
            backend,
            protocol_version=protocol_version,
            client_capabilities=client_capabilities,
            settings=self._settings,
            now=self._clock(),
        )
        session.unsubscribe = self._hub.subscribe(endpoint.tenant, endpoint.virtual_server, session)
        session.release = lambda uris: self._releases.release(backend, uris)
        self._sessions[session_id] = session
        return session

    def get(self, session_id: str, endpoint: Endpoint, backend: McpBackend) -> Session | None:
        """The live session with this id, created at this endpoint for the owner of ``backend``;
        None when unknown, expired or another caller's (a session id never authenticates)."""
        self.sweep()
        session = self._sessions.get(session_id)
        if session is None or session.endpoint != endpoint or session.owner != owner_of(backend):
            return None
        if session.idle_since(self._clock()) > self._settings.session_idle_timeout:
            self.remove(session)
            return None
        return session

    def remove(self, session: Session) -> None:
        self._sessions.pop(session.id, None)
        session.terminate()

    @contextmanager
    def active(self, session: Session) -> Iterator[Session]:
        """Mark the session busy (not idle) while a request or stream of it is being served."""
        session.busy += 1
        try:
            yield session
        finally:
            session.busy -= 1
            session.last_active = self._clock()

    def sweep(self, *, force: bool = False) -> None:
        """Remove idle sessions; runs at most every quarter idle-timeout unless forced."""
        now = self._clock()
        if not force and now < self._next_sweep:
            return
        self._next_sweep = now + min(self._settings.session_idle_timeout / 4, 60.0)
        for session in list(self._sessions.values()):
            if session.idle_since(now) > self._settings.session_idle_timeout:
                self.remove(session)

    def close(self) -> None:
        """Shutdown: end every session."""
        for session in list(self._sessions.values()):
            self.remove(session)
