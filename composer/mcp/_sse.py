"""Event streams: the ordered messages one response carries, kept so readers can follow and resume.

An :class:`EventStream` is written by whatever produces messages (a backend call, the change
hub) and read by HTTP responses. Writers never wait: appends are synchronous and the buffer is
bounded, so a slow or vanished reader costs at most ``capacity`` events. A reader follows the
stream by position (the ``seq`` of the last frame it sent); a reader that falls further behind
than the buffer silently skips what was dropped.

Event ids (protocol versions up to 2025-11-25 only) are ``<stream id>:<seq>``: unique within a
session, and enough to find the stream and the position a ``Last-Event-ID`` resumes from.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, NamedTuple

import anyio

Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

SSE_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache, no-transform"),
    (b"x-accel-buffering", b"no"),
)
KEEPALIVE = b": keepalive\n\n"


class Frame(NamedTuple):
    """One message on a stream. ``response`` marks a JSON-RPC response (result or error)."""

    seq: int
    data: bytes
    response: bool
    error_code: int | None


class EventStream:
    """A bounded, ordered buffer of one SSE stream's messages, closed after its last one."""

    def __init__(self, stream_id: str, capacity: int) -> None:
        self.stream_id = stream_id
        self._frames: deque[Frame] = deque(maxlen=max(capacity, 1))
        self._seq = 0
        self._closed = False
        self._waiters: set[anyio.Event] = set()

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def last_seq(self) -> int:
        return self._seq

    def append(self, data: bytes, *, response: bool = False, error_code: int | None = None) -> None:
        """Add a message; ignored once the stream is closed. Never blocks."""
        if self._closed:
            return
        self._seq += 1
        self._frames.append(Frame(self._seq, data, response, error_code))
        self._wake()

    def close(self) -> None:
        self._closed = True
        self._wake()

    def after(self, seq: int) -> list[Frame]:
        """Buffered frames past position ``seq``, oldest first."""
        if seq >= self._seq:
            return []
        return [frame for frame in self._frames if frame.seq > seq]

    async def wait(self, seq: int) -> None:
        """Return once there is a frame past ``seq``, or the stream is closed."""
        while not self._closed and self._seq <= seq:
            event = anyio.Event()
            self._waiters.add(event)
            try:
                await event.wait()
            finally:
                self._waiters.discard(event)

    def event_id(self, seq: int) -> str:
        return f"{self.stream_id}:{seq}"

    def _wake(self) -> None:
        # Event.set() needs no running task, so producers may append from plain callbacks.
        for event in self._waiters:
            event.set()
        self._waiters.clear()


def parse_event_id(value: str) -> tuple[str, int] | None:
    """``(stream id, seq)`` of a Last-Event-ID this server minted, else None."""
    stream_id, _, rest = value.partition(":")
    seq, _, _priming = rest.partition(":")
    if not stream_id or not seq.isdigit():
        return None
    return stream_id, int(seq)


def sse_event(data: bytes, event_id: str | None = None) -> bytes:
    head = b"event: message\n" if event_id is None else b"event: message\nid: " + event_id.encode() + b"\n"
    return head + b"data: " + data + b"\n\n"


def priming_event(stream: EventStream, seq: int) -> bytes:
    """An id with empty data: the client can resume from here before any message arrived.

    The ``:p`` suffix keeps it distinct from the id of the frame at ``seq`` itself.
    """
    return b"id: " + stream.event_id(seq).encode() + b":p\ndata: \n\n"


async def start_sse(send: Send, extra_headers: tuple[tuple[bytes, bytes], ...] = ()) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [*SSE_HEADERS, *extra_headers]})


async def end_body(send: Send) -> None:
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def pump(
    send: Send,
    stream: EventStream,
    *,
    after: int,
    keepalive: float,
    event_ids: bool,
    on_sent: Callable[[int], None] | None = None,
) -> None:
    """Write the stream's frames past ``after`` as SSE events until it is closed and drained.

    A comment line goes out after ``keepalive`` quiet seconds so proxies keep the connection.
    ``on_sent`` hears each position once its frames were handed to the server.
    """
    position = after
    while True:
        frames = stream.after(position)
        if frames:
            chunk = b"".join(
                sse_event(frame.data, stream.event_id(frame.seq) if event_ids else None) for frame in frames
            )
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            position = frames[-1].seq
            if on_sent is not None:
                on_sent(position)
        elif stream.closed:
            return
        else:
            with anyio.move_on_after(keepalive) as quiet:
                await stream.wait(position)
            if quiet.cancelled_caught:
                await send({"type": "http.response.body", "body": KEEPALIVE, "more_body": True})
