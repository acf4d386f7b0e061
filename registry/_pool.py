"""Long-lived upstream sessions, pooled per (tenant, upstream, rendered credentials).

A call reuses the open session of its key; it never opens a session per call. Each
session lives in its own task (the SDK client is a context manager bound to one task),
is dropped after ``idle_seconds`` without use or when its connection fails, and is opened
again on the next call, so a restarted upstream is used again without restarting Atrium.
Keys include a digest of the rendered target, so tenants never share a session (or a
stdio process) and a changed credential gets a fresh one.
"""

from __future__ import annotations

import hashlib
import logging
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
import mcp_types as types
import msgspec
from mcp.shared.exceptions import MCPError

from registry._canonical import canonical_json
from registry._credentials import CredentialSource, target_for
from registry._errors import (
    AtriumError,
    UpstreamError,
    UpstreamReplyError,
    UpstreamTimeoutError,
    UpstreamUnreachableError,
)
from registry._upstream_target import RawResult, UpstreamSession, UpstreamTarget, connect

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from anyio.abc import TaskGroup
    from mcp.shared.dispatcher import ProgressFnT as Progress

    from registry._types import Upstream

logger = logging.getLogger(__name__)

PoolKey = tuple[str | None, int, str]


class _Slot:
    def __init__(self) -> None:
        self.ready = anyio.Event()
        self.close = anyio.Event()
        self.session: UpstreamSession | None = None
        self.error: AtriumError | None = None
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
    ) -> None:
        self._credentials = credentials
        self._connect_timeout, self._call_timeout, self._idle = connect_timeout, call_timeout, idle_seconds
        self._slots: dict[PoolKey, _Slot] = {}
        self._tasks: TaskGroup | None = None

    @asynccontextmanager
    async def running(self) -> AsyncIterator[UpstreamPool]:
        async with anyio.create_task_group() as tasks:
            self._tasks = tasks
            tasks.start_soon(self._reap_idle)
            try:
                yield self
            finally:
                for slot in self._slots.values():
                    slot.close.set()
                self._slots.clear()
                tasks.cancel_scope.cancel()
                self._tasks = None

    async def request(
        self,
        upstream: Upstream,
        tenant: str | None,
        request: types.ClientRequest | types.Request[Any, Any],
        *,
        progress: Progress | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - a per-call limit passed down, not a wrapper
    ) -> dict[str, Any]:
        """Send one request on the pooled session and return the raw result.

        Raises:
            UpstreamReplyError: the upstream answered with a JSON-RPC error (pass it on).
            UpstreamUnreachableError, UpstreamTimeoutError, UpstreamProtocolError: it failed.
        """
        target = await target_for(upstream, self._credentials, tenant)
        key: PoolKey = (tenant, upstream.id, hashlib.sha256(canonical_json(msgspec.to_builtins(target))).hexdigest())
        slot = await self._slot(key, target)
        assert slot.session is not None
        slot.in_flight += 1
        try:
            with anyio.fail_after(timeout or self._call_timeout):
                result = await slot.session.client.session.send_request(request, RawResult, progress_callback=progress)
        except TimeoutError as exc:
            raise UpstreamTimeoutError(f"upstream {upstream.slug} did not answer in time") from exc
        except MCPError as exc:
            if exc.code in (types.CONNECTION_CLOSED, types.REQUEST_TIMEOUT):
                self._drop(key, slot)
                raise UpstreamUnreachableError(f"upstream {upstream.slug} closed the connection") from exc
            raise UpstreamReplyError(exc.error.message, rpc_code=exc.code, data=exc.error.data) from exc
        finally:
            slot.in_flight -= 1
            slot.last_used = anyio.current_time()
        return result.model_extra or {}

    async def _slot(self, key: PoolKey, target: UpstreamTarget) -> _Slot:
        slot = self._slots.get(key)
        if slot is None or slot.error is not None or slot.close.is_set():
            if self._tasks is None:
                raise RuntimeError("UpstreamPool.request outside of running()")
            slot = self._slots[key] = _Slot()
            self._tasks.start_soon(self._hold, key, target, slot)
        with anyio.fail_after(self._connect_timeout + 1):
            await slot.ready.wait()
        if slot.error is not None:
            raise slot.error
        return slot

    async def _hold(self, key: PoolKey, target: UpstreamTarget, slot: _Slot) -> None:
        """Keep one session open until it is closed, idles out or fails."""
        try:
            async with connect(target, handshake_time_limit=self._connect_timeout) as session:
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
                if slot.in_flight == 0 and slot.last_used < cutoff:
                    self._drop(key, slot)

    def open_sessions(self) -> int:
        return sum(1 for slot in self._slots.values() if slot.session is not None and not slot.close.is_set())


__all__ = ["UpstreamPool"]
