"""What a backend may do while it answers one request: the protocol layer's ``RequestContext``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

import anyio

from composer.mcp._backend import NoBackChannelError
from composer.mcp._sse import EventStream
from composer.mcp._wire import LOG_RANK, encode_notification


class InFlight:
    """A client request being answered: its cancel scope, and whether the client cancelled it."""

    __slots__ = ("cancelled", "scope")

    def __init__(self) -> None:
        self.scope = anyio.CancelScope()
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True
        self.scope.cancel()


class BackChannel(Protocol):
    """Sends a server-to-client request on a stream and waits for the client's answer."""

    async def request(self, method: str, params: Mapping[str, Any], stream: EventStream) -> dict[str, Any]: ...


class CallContext:
    """A :class:`~composer.mcp.RequestContext` bound to one request and the stream answering it.

    ``stream`` is None when the response cannot carry anything but the result (the client accepts
    only application/json); progress and log messages are then dropped. ``log_threshold`` returns
    the lowest level the client wants, or None for no log messages at all.
    """

    def __init__(
        self,
        *,
        protocol_version: str,
        meta: Mapping[str, Any],
        stream: EventStream | None,
        in_flight: InFlight,
        log_threshold: Callable[[], str | None],
        back_channel: BackChannel | None,
        no_back_channel: str,
    ) -> None:
        self._protocol_version = protocol_version
        self._meta = meta
        self._stream = stream
        self._in_flight = in_flight
        self._log_threshold = log_threshold
        self._back_channel = back_channel
        self._no_back_channel = no_back_channel

    @property
    def protocol_version(self) -> str:
        return self._protocol_version

    @property
    def meta(self) -> Mapping[str, Any]:
        return self._meta

    async def progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        token = self._meta.get("progressToken")
        if self._stream is None or isinstance(token, bool) or not isinstance(token, int | str):
            return
        params: dict[str, Any] = {"progressToken": token, "progress": progress}
        if total is not None:
            params["total"] = total
        if message is not None:
            params["message"] = message
        self._stream.append(encode_notification("notifications/progress", params))
        await anyio.lowlevel.checkpoint()

    async def log(self, level: str, data: object, logger: str | None = None) -> None:
        threshold = self._log_threshold()
        if self._stream is None or threshold is None or level not in LOG_RANK:
            return
        if LOG_RANK[level] < LOG_RANK.get(threshold, 0):
            return
        params: dict[str, Any] = {"level": level, "data": data}
        if logger is not None:
            params["logger"] = logger
        self._stream.append(encode_notification("notifications/message", params))
        await anyio.lowlevel.checkpoint()

    async def request(self, method: str, params: Mapping[str, Any]) -> dict[str, Any]:
        if self._back_channel is None or self._stream is None:
            raise NoBackChannelError(self._no_back_channel)
        return await self._back_channel.request(method, params, self._stream)

    def cancelled(self) -> bool:
        return self._in_flight.cancelled
