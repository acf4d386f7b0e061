"""The per-call client of a Streamable HTTP upstream: aiohttp and msgspec, both protocol eras.

Forwarded calls are the hot path, and the official SDK client costs milliseconds per call
(pydantic models, anyio memory streams, httpx). Measured with bench/proxy.py on a bare
forwarding proxy: httpx's own pool added 1.2 ms p50 and reached 306 calls/s at concurrency
32, httpx over the httpx-aiohttp transport 0.87 ms / 1,267, aiohttp's client 0.5 ms / 2,493;
so forwarded calls use aiohttp, decoding with msgspec. Discovery, JWKS and admin-side calls
keep httpx (and the SDK), whose APIs serve them better.

Each POST is read on its own, so everything on its SSE response stream belongs to that
request: progress, log messages and (handshake era) server-to-client requests go to that
request's :class:`~registry._downstream.Downstream`, and its answer is POSTed back. Eras:

* handshake (up to 2025-11-25): ``initialize`` once per upstream session, then every POST
  carries ``Mcp-Session-Id`` and ``MCP-Protocol-Version``; a 404 means the session expired,
  so it is initialized again and the request sent once more. Cancelling sends
  ``notifications/cancelled``.
* 2026-07-28: no session; every request carries the ``_meta`` envelope and the ``Mcp-Method``
  / ``Mcp-Name`` headers. Closing the response stream is the cancellation.

What the upstream sends outside any request arrives, in the handshake era, on the session's
standalone GET stream (the spec's "listening for messages from the server"):
:meth:`HttpUpstream.hold_session_stream` keeps it open for the pool, in a task of its own, so the
per-call path never waits on it. Its notifications go to ``on_notification``; a server-to-client
request on it belongs to no client request, so it is refused (never guessed at a client).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING, Any, Final

import aiohttp
import anyio
import msgspec
from mcp.shared.inbound import encode_header_value
from mcp_types.version import LATEST_HANDSHAKE_VERSION, MODERN_PROTOCOL_VERSIONS

from registry._downstream import Downstream, DownstreamError, NoDownstream
from registry._errors import UpstreamError, UpstreamProtocolError, UpstreamReplyError, UpstreamUnreachableError

if TYPE_CHECKING:
    from registry._upstream_target import UpstreamTarget

logger = logging.getLogger(__name__)

_ACCEPT: Final = "application/json, text/event-stream"
_NAMED_BY: Final = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}
_CANCEL_NOTICE_SECONDS: Final = 2.0
# Waits before the GET stream is opened again: doubling from the first to the last, back to the
# first once a stream delivered an event; an SSE ``retry:`` field from the upstream overrides it.
_STREAM_RETRY_FIRST: Final = 0.5
_STREAM_RETRY_LAST: Final = 30.0
_SUBSCRIBING: Final = frozenset({"resources/subscribe", "resources/unsubscribe"})
# Declared to every upstream: whether this client can answer is known per call, not per session.
CLIENT_CAPABILITIES: Final[dict[str, Any]] = {"sampling": {}, "elicitation": {}, "roots": {"listChanged": False}}
CLIENT_INFO: Final[dict[str, Any]] = {"name": "atrium", "version": "0.1.0"}

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(dict[str, Any]).decode

Notify = Callable[[str, Mapping[str, Any]], None]


class HttpUpstream:
    """One Streamable HTTP upstream as seen by one pool key (tenant and rendered headers).

    ``protocol_version`` is what the last sync negotiated; a 2026-07-28 upstream is called
    without a session, any other one after an ``initialize`` handshake.
    ``on_notification`` hears the notifications no request owns (resources/updated, ...).
    """

    def __init__(
        self,
        target: UpstreamTarget,
        http: aiohttp.ClientSession,
        protocol_version: str | None,
        on_notification: Notify | None = None,
    ) -> None:
        self._url = target.url or ""
        self._http = http
        self._modern = protocol_version in MODERN_PROTOCOL_VERSIONS
        self._version: str = protocol_version if self._modern and protocol_version else LATEST_HANDSHAKE_VERSION
        self._headers = {**target.headers, "Accept": _ACCEPT, "Content-Type": "application/json"}
        self._session_id: str | None = None
        self._initialized = False
        self._init_lock = anyio.Lock()
        self._ids = itertools.count(1)
        self._on_notification = on_notification
        self._subscribed: set[str] = set()  # handshake era: URIs resources/subscribe'd on the session
        self._closed = False
        self._stream_scope: anyio.CancelScope | None = None

    async def request(
        self,
        method: str,
        params: Mapping[str, Any],
        downstream: Downstream,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Send one request; return its raw result.

        ``headers`` are the request's 2026-07-28 ``Mcp-Param-*`` headers: sent to a 2026-07-28
        upstream only (the handshake era has none).

        Raises:
            UpstreamReplyError: the upstream answered with a JSON-RPC error.
            UpstreamUnreachableError, UpstreamProtocolError: the exchange failed.
        """
        if self._modern:
            return await self._send(method, params, downstream, headers)
        await self._handshake()
        session = self._session_id
        try:
            result = await self._send(method, params, downstream)
        except _SessionExpiredError:
            await self._handshake(expired=session)
            result = await self._send(method, params, downstream)
        if method in _SUBSCRIBING and isinstance(uri := params.get("uri"), str):
            if method == "resources/subscribe":
                self._subscribed.add(uri)
            else:
                self._subscribed.discard(uri)
        return result

    @property
    def holds_subscriptions(self) -> bool:
        """Whether the handshake session holds ``resources/subscribe`` subscriptions (keep it open)."""
        return bool(self._subscribed)

    async def _handshake(self, expired: str | None = None) -> None:
        async with self._init_lock:
            if self._initialized and (expired is None or self._session_id != expired):
                return  # done already, or another request has renewed the expired session
            self._initialized, self._session_id = False, None
            params = {"protocolVersion": LATEST_HANDSHAKE_VERSION, "capabilities": CLIENT_CAPABILITIES}
            body = _request_body(0, "initialize", {**params, "clientInfo": CLIENT_INFO})
            headers = {**self._headers, "MCP-Protocol-Version": LATEST_HANDSHAKE_VERSION}
            async with self._post(body, headers) as response:
                result = await self._reply(response, 0, None)
                self._session_id = response.headers.get("Mcp-Session-Id")
            self._version = str(result.get("protocolVersion") or LATEST_HANDSHAKE_VERSION)
            await self._notify("notifications/initialized", {})
            self._initialized = True
            if expired is not None:
                await self._resubscribe()

    async def _resubscribe(self) -> None:
        """Subscriptions die with their session: hold them again on the new one."""
        for uri in sorted(self._subscribed):
            try:
                await self._send("resources/subscribe", {"uri": uri}, NoDownstream())
            except (UpstreamError, _SessionExpiredError, aiohttp.ClientError):
                logger.warning("could not renew a resource subscription on a new upstream session", exc_info=True)
                self._subscribed.discard(uri)

    async def _send(
        self,
        method: str,
        params: Mapping[str, Any],
        downstream: Downstream,
        extra_headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        request_id = next(self._ids)
        headers = self._request_headers(method, params)
        if extra_headers:
            headers.update(extra_headers)
        body = _request_body(request_id, method, self._params(params, request_id, downstream))
        try:
            async with self._post(body, headers) as response:
                try:
                    return await self._reply(response, request_id, downstream)
                except anyio.get_cancelled_exc_class():
                    response.close()  # 2026-07-28: closing the stream is the cancellation
                    raise
        except anyio.get_cancelled_exc_class():
            if not self._modern:
                with anyio.move_on_after(_CANCEL_NOTICE_SECONDS, shield=True):
                    await self._notify("notifications/cancelled", {"requestId": request_id, "reason": "cancelled"})
            raise

    def _request_headers(self, method: str, params: Mapping[str, Any]) -> dict[str, str]:
        headers = self._session_headers()
        if self._modern:
            headers["Mcp-Method"] = method
            named = params.get(_NAMED_BY.get(method, ""))
            if isinstance(named, str):
                headers["Mcp-Name"] = encode_header_value(named)
        return headers

    def _session_headers(self) -> dict[str, str]:
        headers = {**self._headers, "MCP-Protocol-Version": self._version}
        if self._session_id is not None:
            headers["Mcp-Session-Id"] = self._session_id
        return headers

    def _params(self, params: Mapping[str, Any], request_id: int, downstream: Downstream) -> dict[str, Any]:
        meta = dict(params.get("_meta") or {})
        meta["progressToken"] = request_id  # ours: upstream progress is matched to this request
        if self._modern:
            self._envelope(meta)
            if downstream.log_level is not None:
                meta["io.modelcontextprotocol/logLevel"] = downstream.log_level
        return {**params, "_meta": meta}

    def _envelope(self, meta: dict[str, Any]) -> None:
        meta["io.modelcontextprotocol/protocolVersion"] = self._version
        meta["io.modelcontextprotocol/clientInfo"] = CLIENT_INFO
        # A 2026-07-28 client's own declaration: the upstream must not ask it for more (SEP-2322).
        meta.setdefault("io.modelcontextprotocol/clientCapabilities", CLIENT_CAPABILITIES)

    async def listen(self, uris: Collection[str], acknowledged: Callable[[], None]) -> None:
        """Hold a 2026-07-28 ``subscriptions/listen`` stream for resource updates of ``uris``.

        Calls ``acknowledged()`` when the upstream acknowledges the filter; its
        ``notifications/resources/updated`` go to ``on_notification``. Returns when the upstream
        ends the stream gracefully; cancel it to close the stream.

        Raises:
            UpstreamReplyError: the upstream refused the request.
            UpstreamUnreachableError, UpstreamProtocolError: the stream failed or was cut.
        """
        if not self._modern:
            raise UpstreamProtocolError("subscriptions/listen needs a 2026-07-28 upstream")
        request_id = next(self._ids)
        meta: dict[str, Any] = {}
        self._envelope(meta)
        params = {"notifications": {"resourceSubscriptions": sorted(uris)}, "_meta": meta}
        headers = self._request_headers("subscriptions/listen", params)
        try:
            async with self._post(_request_body(request_id, "subscriptions/listen", params), headers) as response:
                if response.content_type != "text/event-stream" or response.status >= 400:
                    await self._reply(response, request_id, None)  # raises the upstream's error
                    return
                async for message in _events(response):
                    method = message.get("method")
                    if method == "notifications/subscriptions/acknowledged":
                        acknowledged()
                    elif method is not None and "id" not in message and self._on_notification is not None:
                        self._on_notification(method, message.get("params") or {})
                    elif method is None and message.get("id") == request_id:
                        _result_of(message, response.status)  # the graceful end
                        return
        except aiohttp.ClientError as exc:
            raise UpstreamUnreachableError(f"subscriptions/listen failed: {type(exc).__name__}") from exc
        raise UpstreamUnreachableError("upstream cut its subscriptions/listen stream")

    async def hold_session_stream(self) -> None:
        """Hold the handshake session's standalone GET stream until :meth:`close`.

        Its notifications go to ``on_notification``; its server-to-client requests get a JSON-RPC
        error. A cut or refused stream is opened again after a wait (with ``Last-Event-ID`` when
        the upstream numbered its events). Returns at once for a 2026-07-28 upstream, without
        ``on_notification`` or without a session, and when the upstream answers 405 (it offers no
        such stream). Run it as a task of its own: it raises nothing but cancellation.
        """
        if self._modern or self._on_notification is None or self._closed:
            return
        with anyio.CancelScope() as self._stream_scope:
            stream = _StreamState()
            while True:
                try:
                    await self._handshake()
                    if self._session_id is None:
                        return  # a stateless upstream: no session to listen on
                    if not await self._listen_once(stream):
                        return
                except (UpstreamError, _SessionExpiredError, aiohttp.ClientError, TimeoutError) as exc:
                    logger.debug("upstream GET stream failed: %s", type(exc).__name__)
                except Exception:  # task top: the stream stays best-effort, the pool unharmed
                    logger.exception("upstream GET stream failed")
                await anyio.sleep(stream.next_wait())

    def close(self) -> None:
        """Close the GET stream, now or as soon as :meth:`hold_session_stream` starts."""
        self._closed = True
        if self._stream_scope is not None:
            self._stream_scope.cancel()

    async def _listen_once(self, stream: _StreamState) -> bool:
        """Read one GET stream to its end; False when the upstream offers none (405)."""
        session = self._session_id
        if stream.session != session:
            stream.session, stream.last_event_id = session, None  # event ids are the session's
        headers = self._session_headers()
        headers["Accept"] = "text/event-stream"
        del headers["Content-Type"]
        if stream.last_event_id is not None:
            headers["Last-Event-ID"] = stream.last_event_id
        async with self._http.get(self._url, headers=headers) as response:
            if response.status == 405:
                logger.debug("upstream %s offers no GET stream", self._url)
                return False
            if response.status == 404:
                # The session expired, or the upstream serves no GET here: a ping tells which, and
                # renews an expired session (subscriptions too); the next attempt follows it.
                await self.request("ping", {}, NoDownstream())
            if response.status >= 400 or response.content_type != "text/event-stream":
                raise UpstreamProtocolError(f"upstream answered its GET stream with HTTP {response.status}")
            async for event_id, retry, data in _sse(response):
                stream.heard(event_id, retry)
                if data:
                    await self._unsolicited(_decode_message(data))
        return True

    async def _unsolicited(self, message: dict[str, Any]) -> None:
        if "method" not in message:
            logger.debug("ignored a response on the upstream's GET stream")
        elif "id" in message:
            await self._answer(message, NoDownstream())  # no client caused it: refuse, never guess one
        else:
            await self._notified(message, 0, None)

    def _post(self, body: bytes, headers: Mapping[str, str]) -> Any:
        return self._http.post(self._url, data=body, headers=headers)

    async def _notify(self, method: str, params: Mapping[str, Any]) -> None:
        headers = self._session_headers()
        try:
            async with self._post(_encode({"jsonrpc": "2.0", "method": method, "params": params}), headers) as reply:
                await reply.read()
        except aiohttp.ClientError as exc:
            raise UpstreamUnreachableError(f"upstream {method} failed: {type(exc).__name__}") from exc

    async def _reply(
        self, response: aiohttp.ClientResponse, request_id: int, downstream: Downstream | None
    ) -> dict[str, Any]:
        """The result of ``request_id``, from a JSON body or the request's SSE stream."""
        if response.status == 404 and self._session_id is not None:
            raise _SessionExpiredError
        kind = response.content_type
        if kind == "application/json":
            return _result_of(_decode_message(await response.read()), response.status)
        if kind != "text/event-stream" or response.status >= 400:
            raise UpstreamProtocolError(f"upstream answered HTTP {response.status} ({kind or 'no content type'})")
        answer: dict[str, Any] | None = None
        try:
            async with anyio.create_task_group() as answering:
                async for message in _events(response):
                    if "method" not in message:
                        if message.get("id") == request_id:
                            answer = message
                            answering.cancel_scope.cancel()  # the upstream no longer awaits answers
                            break
                    elif "id" in message:
                        answering.start_soon(self._answer, message, downstream)
                    else:
                        await self._notified(message, request_id, downstream)
        except BaseExceptionGroup as group:
            # One failure (a garbled event, a client that went away): raise it as it is.
            if len(group.exceptions) == 1:
                raise group.exceptions[0] from None
            raise
        if answer is None:
            raise UpstreamUnreachableError("upstream closed the response stream before answering")
        return _result_of(answer, response.status)

    async def _notified(self, message: dict[str, Any], request_id: int, downstream: Downstream | None) -> None:
        method, params = message["method"], message.get("params") or {}
        if downstream is not None and method == "notifications/progress":
            if params.get("progressToken") == request_id:
                await downstream.progress(params.get("progress", 0), params.get("total"), params.get("message"))
        elif downstream is not None and method == "notifications/message":
            await downstream.log(str(params.get("level", "info")), params.get("data"), params.get("logger"))
        elif self._on_notification is not None:
            self._on_notification(method, params)

    async def _answer(self, message: dict[str, Any], downstream: Downstream | None) -> None:
        """Ask the client that caused a server-to-client request, and POST its answer upstream."""
        reply: dict[str, Any] = {"jsonrpc": "2.0", "id": message["id"]}
        try:
            if downstream is None:
                raise DownstreamError(-32601, "no client to ask")
            reply["result"] = await downstream.request(message["method"], message.get("params") or {})
        except DownstreamError as exc:
            error: dict[str, Any] = {"code": exc.code, "message": exc.message}
            if exc.data is not None:
                error["data"] = exc.data
            reply["error"] = error
        headers = self._session_headers()
        try:
            async with self._post(_encode(reply), headers) as posted:
                await posted.read()
        except aiohttp.ClientError:
            logger.debug("could not deliver a client's answer upstream", exc_info=True)


class _SessionExpiredError(Exception):
    """HTTP 404 on a request with a session id: initialize again (the spec's session expiry)."""


class _StreamState:
    """What a GET stream carries over to the next one: the last event id, and the wait."""

    def __init__(self) -> None:
        self.session: str | None = None
        self.last_event_id: str | None = None
        self._retry: float | None = None  # the upstream's own ``retry:``, in seconds
        self._wait = _STREAM_RETRY_FIRST

    def heard(self, event_id: str | None, retry: float | None) -> None:
        if event_id is not None:
            self.last_event_id = event_id or None  # an empty id resets it (the SSE spec)
        if retry is not None:
            self._retry = retry
        self._wait = _STREAM_RETRY_FIRST  # the stream worked: a later cut is news, not a pattern

    def next_wait(self) -> float:
        if self._retry is not None:
            return self._retry
        wait, self._wait = self._wait, min(self._wait * 2, _STREAM_RETRY_LAST)
        return wait


async def _events(response: aiohttp.ClientResponse) -> Any:
    """The JSON-RPC messages of an SSE stream (``data:`` lines; comments and ids ignored)."""
    data: list[bytes] = []
    async for raw in response.content:
        line = raw.rstrip(b"\r\n")
        if not line:
            if data:
                yield _decode_message(b"\n".join(data))
                data = []
        elif line.startswith(b"data:"):
            data.append(line[6:] if line[5:6] == b" " else line[5:])


async def _sse(response: aiohttp.ClientResponse) -> Any:
    """The events of an SSE stream as (id or None, retry seconds or None, data), per the SSE spec."""
    data: list[bytes] = []
    event_id: str | None = None
    retry: float | None = None
    async for raw in response.content:
        line = raw.rstrip(b"\r\n")
        if not line:
            if data or event_id is not None or retry is not None:
                yield event_id, retry, b"\n".join(data)
            data, event_id, retry = [], None, None
            continue
        name, _, value = line.partition(b":")
        value = value[1:] if value[:1] == b" " else value
        if name == b"data":
            data.append(value)
        elif name == b"id" and b"\0" not in value:
            event_id = value.decode("utf-8", "replace")
        elif name == b"retry" and value.isdigit():
            retry = min(max(int(value) / 1000, 0.1), _STREAM_RETRY_LAST)


def _decode_message(body: bytes) -> dict[str, Any]:
    try:
        return _decode(body)
    except msgspec.DecodeError as exc:
        raise UpstreamProtocolError("upstream sent a message that is not a JSON object") from exc


def _result_of(message: Mapping[str, Any], status: int) -> dict[str, Any]:
    error = message.get("error")
    if isinstance(error, dict):
        raise UpstreamReplyError(
            str(error.get("message", "")), rpc_code=int(error.get("code", -32603)), data=error.get("data")
        )
    result = message.get("result")
    if not isinstance(result, dict) or status >= 400:
        raise UpstreamProtocolError(f"upstream answered HTTP {status} without a JSON-RPC result")
    return result


def _request_body(request_id: int, method: str, params: Mapping[str, Any]) -> bytes:
    return _encode({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
