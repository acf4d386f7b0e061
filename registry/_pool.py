"""Long-lived upstream connections, pooled per (tenant, upstream, rendered credentials).

A call reuses the connection of its key; it never opens one per call. Keys include a digest
of the rendered target, so tenants never share a connection (or a stdio process) and a
changed credential gets a fresh one. Rendered targets are cached (``registry._target_cache``),
so a call reads no credential from the database.

Two kinds of connection, chosen by transport:

* Streamable HTTP: :class:`~registry._http_upstream.HttpUpstream` on one shared aiohttp
  session (the measured fastest client; see that module). Each POST's response stream
  belongs to one request, so progress, logs and server-to-client requests reach exactly the
  client that caused them.
* stdio and legacy HTTP+SSE: the official SDK's client session, held open in its own task
  (the SDK client is a context manager bound to one task). These transports share one stream
  among all requests, and the upstream does not say which request a log message or a
  server-to-client request belongs to. They are delivered only while exactly one request is
  in flight on the session; otherwise a server-to-client request is refused with a JSON-RPC
  error and a log message goes to our own log at debug level. Fail closed: never deliver to
  the wrong client. Progress is matched by token and always delivered.

A connection is dropped after ``idle_seconds`` without use or when it fails, and opened again
on the next call, so a restarted upstream is used again without restarting Atrium.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import aiohttp
import anyio
import mcp_types as types
import pydantic
from mcp.client.subscriptions import ListenNotSupportedError, SubscriptionLost
from mcp.shared.exceptions import MCPError

from registry._downstream import Downstream, NoDownstream
from registry._errors import (
    AtriumError,
    InvalidInputError,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamReplyError,
    UpstreamTimeoutError,
    UpstreamUnreachableError,
)
from registry._http_upstream import HttpUpstream
from registry._resource_listen import ResourceListens
from registry._sdk_callbacks import SharedSessionCallbacks
from registry._target_cache import DEFAULT_TTL, PoolKey, TargetCache
from registry._upstream_target import RawResult, Transport, UpstreamSession, UpstreamTarget, connect

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from anyio.abc import TaskGroup

    from registry._credentials import CredentialSource
    from registry._types import Upstream

logger = logging.getLogger(__name__)

# (tenant, upstream id, method, params) of a notification no request owns, e.g. resources/updated.
NotificationSink = Callable[[str | None, int, str, Mapping[str, Any]], None]
_REQUESTS: pydantic.TypeAdapter[types.ClientRequest] = pydantic.TypeAdapter(types.ClientRequest)


class _Slot:
    """One SDK session (stdio or legacy SSE) and the requests in flight on it."""

    def __init__(self) -> None:
        self.ready = anyio.Event()
        self.close = anyio.Event()
        self.session: UpstreamSession | None = None
        self.error: AtriumError | None = None
        self.last_used = anyio.current_time()
        self.callbacks = SharedSessionCallbacks()
        self.listening = 0  # subscriptions/listen streams held on the session keep it from idling out


class _HttpSlot:
    def __init__(self, upstream: HttpUpstream) -> None:
        self.upstream = upstream
        self.last_used = anyio.current_time()
        self.in_flight = 0


class UpstreamPool:
    """Use inside ``async with pool.running():`` (the app's lifespan)."""

    def __init__(
        self,
        credentials: CredentialSource,
        *,
        connect_timeout: float = 30.0,
        call_timeout: float = 30.0,
        idle_seconds: float = 300.0,
        target_ttl: float = DEFAULT_TTL,
        on_notification: NotificationSink | None = None,
    ) -> None:
        self._targets = TargetCache(credentials, target_ttl)
        self._connect_timeout, self._call_timeout, self._idle = connect_timeout, call_timeout, idle_seconds
        self._on_notification = on_notification
        self._slots: dict[PoolKey, _Slot] = {}
        self._http_slots: dict[PoolKey, _HttpSlot] = {}
        self._http: aiohttp.ClientSession | None = None
        self._tasks: TaskGroup | None = None
        self._listens = ResourceListens(connect_timeout)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[UpstreamPool]:
        # No cookie jar: one aiohttp session serves every tenant, and cookies must never cross them.
        connector = aiohttp.TCPConnector(limit=512, keepalive_timeout=30)
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self._connect_timeout)
        async with (
            aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar(), timeout=timeout) as http,
            anyio.create_task_group() as tasks,
        ):
            self._http, self._tasks = http, tasks
            tasks.start_soon(self._reap_idle)
            try:
                yield self
            finally:
                for slot in self._slots.values():
                    slot.close.set()
                self._slots.clear()
                self._http_slots.clear()
                tasks.cancel_scope.cancel()
                self._http, self._tasks = None, None

    def credentials_changed(self, tenant: str | None = None, upstream_id: int | None = None) -> None:
        """Forget rendered targets (None matches all): the next call renders them again."""
        self._targets.invalidate(tenant, upstream_id)

    async def request(
        self,
        upstream: Upstream,
        tenant: str | None,
        method: str,
        params: Mapping[str, Any],
        *,
        downstream: Downstream | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - a per-call limit passed down, not a wrapper
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Send one request on the pooled connection and return the raw result.

        ``headers`` (2026-07-28 ``Mcp-Param-*``) go on the request to a 2026-07-28 Streamable
        HTTP upstream; other transports and eras have no such headers.

        Raises:
            UpstreamReplyError: the upstream answered with a JSON-RPC error (pass it on).
            UpstreamUnreachableError, UpstreamTimeoutError, UpstreamProtocolError: it failed.
            InvalidInputError: ``params`` do not fit ``method`` (stdio and SSE upstreams).
        """
        target, key = await self._targets.get(upstream, tenant)
        client = downstream or NoDownstream()
        try:
            with anyio.fail_after(timeout or self._call_timeout):
                if target.transport is Transport.STREAMABLE_HTTP:
                    return await self._http_request(upstream, tenant, target, key, method, params, client, headers)
                return await self._sdk_request(upstream, tenant, target, key, method, params, client)
        except TimeoutError as exc:
            raise UpstreamTimeoutError(f"upstream {upstream.slug} did not answer in time") from exc

    async def _http_request(
        self,
        upstream: Upstream,
        tenant: str | None,
        target: UpstreamTarget,
        key: PoolKey,
        method: str,
        params: Mapping[str, Any],
        downstream: Downstream,
        headers: Mapping[str, str] | None,
    ) -> dict[str, Any]:
        slot = self._http_slot(upstream, tenant, target, key)
        slot.in_flight += 1
        try:
            return await slot.upstream.request(method, params, downstream, headers)
        except UpstreamUnreachableError:
            self._forget_http(key, slot)
            raise
        except aiohttp.ClientConnectionError as exc:
            self._forget_http(key, slot)
            raise UpstreamUnreachableError(f"upstream {upstream.slug} is unreachable: {type(exc).__name__}") from exc
        except aiohttp.ClientError as exc:
            raise UpstreamProtocolError(f"upstream {upstream.slug}: {type(exc).__name__}") from exc
        finally:
            slot.in_flight -= 1
            slot.last_used = anyio.current_time()

    def _http_slot(self, upstream: Upstream, tenant: str | None, target: UpstreamTarget, key: PoolKey) -> _HttpSlot:
        slot = self._http_slots.get(key)
        if slot is None:
            if self._http is None:
                raise RuntimeError("UpstreamPool.request outside of running()")
            notify = self._sink(tenant, upstream.id)
            slot = self._http_slots[key] = _HttpSlot(
                HttpUpstream(target, self._http, upstream.protocol_version, notify)
            )
            if notify is not None and self._tasks is not None:
                # What the upstream sends outside requests (handshake era), until the slot goes.
                self._tasks.start_soon(slot.upstream.hold_session_stream)
        return slot

    def _forget_http(self, key: PoolKey, slot: _HttpSlot) -> None:
        slot.upstream.close()
        if self._http_slots.get(key) is slot:
            del self._http_slots[key]

    async def listen_resources(
        self, upstream: Upstream, tenant: str | None, wanted: Callable[[], frozenset[str]], *, wait: bool = True
    ) -> None:
        """Hear ``notifications/resources/updated`` of the URIs ``wanted()`` names, from a 2026-07-28 upstream.

        One ``subscriptions/listen`` stream per pool key carries them (``registry._resource_listen``)
        to ``on_notification``; an empty set closes it. ``wanted`` is read after the key is known,
        so concurrent callers leave the latest set. With ``wait``, returns once the upstream has
        acknowledged the set (callers that only shrank it need not wait).

        Raises:
            UpstreamError: the upstream refused, failed or did not acknowledge the stream.
        """
        target, key = await self._targets.get(upstream, tenant)
        if self._tasks is None:
            raise RuntimeError("UpstreamPool.listen_resources outside of running()")
        notify = self._sink(tenant, upstream.id)

        async def open_stream(uris: frozenset[str], acknowledged: Callable[[], None]) -> None:
            if target.transport is Transport.STREAMABLE_HTTP:
                await self._http_slot(upstream, tenant, target, key).upstream.listen(uris, acknowledged)
            else:
                await self._sdk_listen(key, target, notify, uris, acknowledged)

        await self._listens.want(self._tasks, key, wanted, open_stream, wait=wait)

    async def _sdk_listen(
        self,
        key: PoolKey,
        target: UpstreamTarget,
        notify: Callable[[str, Mapping[str, Any]], None] | None,
        uris: frozenset[str],
        acknowledged: Callable[[], None],
    ) -> None:
        slot = await self._slot(key, target, notify)
        assert slot.session is not None
        slot.listening += 1
        try:
            async with slot.session.client.listen(resource_subscriptions=sorted(uris)) as subscription:
                acknowledged()
                # The SDK also hands each event to the session's on_notification, which notifies.
                async for _event in subscription:
                    pass
        except MCPError as exc:
            raise UpstreamReplyError(exc.error.message, rpc_code=exc.code, data=exc.error.data) from exc
        except (SubscriptionLost, ListenNotSupportedError) as exc:
            raise UpstreamUnreachableError(f"subscriptions/listen failed: {type(exc).__name__}") from exc
        finally:
            slot.listening -= 1
            slot.last_used = anyio.current_time()

    async def _sdk_request(
        self,
        upstream: Upstream,
        tenant: str | None,
        target: UpstreamTarget,
        key: PoolKey,
        method: str,
        params: Mapping[str, Any],
        downstream: Downstream,
    ) -> dict[str, Any]:
        try:
            # The SDK stamps its own _meta (progress token, 2026-07-28 envelope).
            request = _REQUESTS.validate_python({"method": method, "params": _without_meta(params)})
        except pydantic.ValidationError as exc:
            raise InvalidInputError(f"invalid params for {method}") from exc
        slot = await self._slot(key, target, self._sink(tenant, upstream.id))
        assert slot.session is not None
        with slot.callbacks.serving(downstream):
            try:
                result = await slot.session.client.session.send_request(
                    request, RawResult, progress_callback=downstream.progress
                )
            except MCPError as exc:
                if exc.code in (types.CONNECTION_CLOSED, types.REQUEST_TIMEOUT):
                    self._drop(key, slot)
                    raise UpstreamUnreachableError(f"upstream {upstream.slug} closed the connection") from exc
                raise UpstreamReplyError(exc.error.message, rpc_code=exc.code, data=exc.error.data) from exc
            finally:
                slot.last_used = anyio.current_time()
        return result.model_extra or {}

    def _sink(self, tenant: str | None, upstream_id: int) -> Callable[[str, Mapping[str, Any]], None] | None:
        sink = self._on_notification
        if sink is None:
            return None
        return lambda method, params: sink(tenant, upstream_id, method, params)

    async def _slot(
        self, key: PoolKey, target: UpstreamTarget, notify: Callable[[str, Mapping[str, Any]], None] | None
    ) -> _Slot:
        slot = self._slots.get(key)
        if slot is None or slot.error is not None or slot.close.is_set():
            if self._tasks is None:
                raise RuntimeError("UpstreamPool.request outside of running()")
            slot = self._slots[key] = _Slot()
            self._tasks.start_soon(self._hold, key, target, slot, notify)
        with anyio.fail_after(self._connect_timeout + 1):
            await slot.ready.wait()
        if slot.error is not None:
            raise slot.error
        return slot

    async def _hold(
        self,
        key: PoolKey,
        target: UpstreamTarget,
        slot: _Slot,
        notify: Callable[[str, Mapping[str, Any]], None] | None,
    ) -> None:
        """Keep one session open until it is closed, idles out or fails."""

        async def on_notification(notification: types.ServerNotification) -> None:
            if notify is not None:
                wire = notification.model_dump(by_alias=True, mode="json", exclude_none=True)
                notify(wire["method"], wire.get("params") or {})

        try:
            async with connect(
                target,
                handshake_time_limit=self._connect_timeout,
                on_notification=on_notification,
                callbacks=slot.callbacks.client_callbacks(),
            ) as session:
                slot.session = session
                slot.ready.set()
                await slot.close.wait()
        except UpstreamError as exc:
            slot.error = exc
        except Exception as exc:  # task top: whatever broke, callers get a clear upstream error
            logger.exception("pooled upstream session failed")
            slot.error = UpstreamUnreachableError(f"upstream connection failed: {type(exc).__name__}")
        finally:
            if slot.error is None and not slot.ready.is_set():
                slot.error = UpstreamUnreachableError("upstream connection ended before it was ready")
            slot.ready.set()
            self._drop(key, slot)

    def _drop(self, key: PoolKey, slot: _Slot) -> None:
        slot.close.set()
        if self._slots.get(key) is slot:
            del self._slots[key]

    async def _reap_idle(self) -> None:
        while True:
            await anyio.sleep(min(30.0, max(self._idle / 4, 0.05)))
            cutoff = anyio.current_time() - self._idle
            for key, slot in list(self._slots.items()):
                if slot.callbacks.in_flight == 0 and slot.listening == 0 and slot.last_used < cutoff:
                    self._drop(key, slot)
            for key, http_slot in list(self._http_slots.items()):
                idle = http_slot.in_flight == 0 and not http_slot.upstream.holds_subscriptions
                if idle and http_slot.last_used < cutoff:
                    self._forget_http(key, http_slot)

    def open_sessions(self) -> int:
        sdk = sum(1 for slot in self._slots.values() if slot.session is not None and not slot.close.is_set())
        return sdk + len(self._http_slots)


def _without_meta(params: Mapping[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in params.items() if name != "_meta"}


__all__ = ["NotificationSink", "UpstreamPool"]
