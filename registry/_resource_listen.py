"""Resource subscriptions at a 2026-07-28 upstream: one ``subscriptions/listen`` stream per pool key.

A 2026-07-28 upstream has no ``resources/subscribe``: a client names the URIs it wants
``notifications/resources/updated`` for in the filter of a ``subscriptions/listen`` request,
and the response stream carries them until the client closes it. A filter cannot change, so
when the set of URIs changes a new stream is opened with the new set, and the one it replaces
is closed only once the upstream has acknowledged the new one (an update in between may be
heard twice, never not at all). An empty set closes the stream. A stream that fails or ends
is opened again, with backoff, while the set is not empty.

    ResourceListens.want(tasks, key, wanted, open_stream)
        └── _run (one task per key): holds the current stream, replaces it on change
              └── _hold (one task per stream): open_stream(uris, acknowledged)
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import anyio

from registry._errors import AtriumError, UpstreamTimeoutError, UpstreamUnreachableError

if TYPE_CHECKING:
    from anyio.abc import TaskGroup

    from registry._target_cache import PoolKey

logger = logging.getLogger(__name__)

# Holds one stream for these URIs until it ends; calls the second argument once acknowledged.
OpenStream = Callable[[frozenset[str], Callable[[], None]], Awaitable[None]]
_MAX_BACKOFF = 30.0


class _Stream:
    def __init__(self, uris: frozenset[str]) -> None:
        self.uris = uris
        self.scope = anyio.CancelScope()
        self.acked = False
        self.ended = False
        self.error: AtriumError | None = None


class _Watch:
    """What one pool key should listen to, and what it listens to now."""

    def __init__(self, open_stream: OpenStream) -> None:
        self.open_stream = open_stream
        self.uris: frozenset[str] = frozenset()
        self.acked: frozenset[str] = frozenset()  # the URIs of the acknowledged stream held now
        self.error: AtriumError | None = None  # why the last attempt failed
        self.wake = anyio.Event()  # the wanted set changed, or a stream was acknowledged or ended
        self.settled = anyio.Event()  # an attempt was acknowledged or failed

    def poke(self) -> None:
        self.wake.set()

    async def woken(self) -> None:
        await self.wake.wait()
        self.wake = anyio.Event()

    def settle(self, acked: frozenset[str], error: AtriumError | None) -> None:
        self.acked, self.error = acked, error
        self.settled.set()
        self.settled = anyio.Event()


class ResourceListens:
    """The listen streams of an :class:`~registry._pool.UpstreamPool`, one per pool key."""

    def __init__(self, ack_timeout: float) -> None:
        self._ack_timeout = ack_timeout
        self._watches: dict[PoolKey, _Watch] = {}

    async def want(
        self,
        tasks: TaskGroup,
        key: PoolKey,
        wanted: Callable[[], frozenset[str]],
        open_stream: OpenStream,
        *,
        wait: bool = True,
    ) -> None:
        """Listen to ``wanted()`` at ``key``; with ``wait``, return once the upstream acknowledged all of it.

        ``wanted`` is read at once (no await before), so concurrent callers leave the latest set.

        Raises:
            UpstreamError: the upstream refused or failed the stream, or did not acknowledge it in time.
        """
        uris = wanted()
        watch = self._watches.get(key)
        if watch is None:
            if not uris:
                return
            watch = self._watches[key] = _Watch(open_stream)
            tasks.start_soon(self._run, tasks, key, watch)
        watch.open_stream = open_stream
        if uris != watch.uris:
            watch.uris = uris
            watch.poke()
        if not wait:
            return
        try:
            with anyio.fail_after(self._ack_timeout):
                while not uris <= watch.acked:
                    settled = watch.settled
                    await settled.wait()
                    if watch.error is not None and not uris <= watch.acked:
                        raise watch.error
        except TimeoutError as exc:
            raise UpstreamTimeoutError("the upstream did not acknowledge subscriptions/listen in time") from exc

    def listening(self, key: PoolKey) -> frozenset[str]:
        """The URIs of the acknowledged stream held for ``key`` now."""
        watch = self._watches.get(key)
        return frozenset() if watch is None else watch.acked

    async def _run(self, tasks: TaskGroup, key: PoolKey, watch: _Watch) -> None:
        held: _Stream | None = None
        failures = 0
        try:
            while watch.uris:
                if held is not None and held.uris == watch.uris and not held.ended:
                    await watch.woken()
                    continue
                stream = _Stream(watch.uris)
                tasks.start_soon(self._hold, watch, stream)
                with anyio.move_on_after(self._ack_timeout):
                    while not (stream.acked or stream.ended):
                        await watch.woken()
                if stream.acked and not stream.ended:
                    if held is not None:
                        held.scope.cancel()
                    held, failures = stream, 0
                    watch.settle(stream.uris, None)
                    continue
                stream.scope.cancel()
                if held is not None and held.ended:
                    held = None
                error = stream.error or UpstreamTimeoutError("no acknowledgement of subscriptions/listen")
                watch.settle(frozenset() if held is None else held.uris, error)
                failures += 1
                wanted = watch.uris
                with anyio.move_on_after(min(_MAX_BACKOFF, 0.25 * 2**failures)):
                    while watch.uris == wanted:  # back off, unless what is wanted changes
                        await watch.woken()
        finally:
            if held is not None:
                held.scope.cancel()
            if self._watches.get(key) is watch:
                del self._watches[key]
            watch.settle(frozenset(), None)

    async def _hold(self, watch: _Watch, stream: _Stream) -> None:
        def acknowledged() -> None:
            stream.acked = True
            watch.poke()

        with stream.scope:
            try:
                await watch.open_stream(stream.uris, acknowledged)
                stream.error = UpstreamUnreachableError("the upstream ended its subscriptions/listen stream")
            except AtriumError as exc:
                stream.error = exc
            except Exception as exc:  # task top: whatever broke, the watch opens the stream again
                logger.exception("subscriptions/listen stream failed")
                stream.error = UpstreamUnreachableError(f"subscriptions/listen failed: {type(exc).__name__}")
        stream.ended = True
        watch.poke()
