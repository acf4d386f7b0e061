"""One subscriptions/listen stream per pool key, replaced without a gap when its URIs change."""

from __future__ import annotations

from collections.abc import Callable

import anyio
import pytest

from registry._errors import UpstreamReplyError, UpstreamTimeoutError
from registry._resource_listen import ResourceListens
from registry._target_cache import PoolKey

pytestmark = pytest.mark.anyio

KEY: PoolKey = ("acme", 1, "digest")


class Upstream:
    """Stands in for a 2026-07-28 upstream: records which streams are open, in order."""

    def __init__(self, *, acknowledge: bool = True, refuse: bool = False) -> None:
        self.acknowledge, self.refuse = acknowledge, refuse
        self.opened: list[frozenset[str]] = []
        self.open: list[frozenset[str]] = []
        self.events: list[str] = []

    async def stream(self, uris: frozenset[str], acknowledged: Callable[[], None]) -> None:
        if self.refuse:
            raise UpstreamReplyError("Method not found", rpc_code=-32601)
        self.opened.append(uris)
        self.open.append(uris)
        self.events.append(f"open {sorted(uris)}")
        try:
            if self.acknowledge:
                acknowledged()
            await anyio.sleep_forever()
        finally:
            self.open.remove(uris)
            self.events.append(f"close {sorted(uris)}")


async def until(condition: Callable[[], bool]) -> None:
    with anyio.fail_after(5):
        while not condition():
            await anyio.sleep(0.005)


async def test_a_changed_set_opens_a_new_stream_before_closing_the_old_and_an_empty_one_closes_it() -> None:
    listens, upstream = ResourceListens(ack_timeout=5), Upstream()
    wanted: set[str] = set()
    async with anyio.create_task_group() as tasks:
        wanted.add("a")
        await listens.want(tasks, KEY, lambda: frozenset(wanted), upstream.stream)
        assert upstream.open == [frozenset({"a"})]
        wanted.add("b")
        await listens.want(tasks, KEY, lambda: frozenset(wanted), upstream.stream)
        await until(lambda: upstream.open == [frozenset({"a", "b"})])
        assert upstream.events[:3] == ["open ['a']", "open ['a', 'b']", "close ['a']"]  # no gap
        await listens.want(tasks, KEY, lambda: frozenset(wanted), upstream.stream)  # unchanged: no new stream
        assert len(upstream.opened) == 2
        wanted.clear()
        await listens.want(tasks, KEY, lambda: frozenset(wanted), upstream.stream, wait=False)
        await until(lambda: upstream.open == [])
        assert listens.listening(KEY) == frozenset()


async def test_a_refused_or_unacknowledged_stream_is_an_error_for_whoever_waits() -> None:
    listens = ResourceListens(ack_timeout=0.2)
    async with anyio.create_task_group() as tasks:
        with pytest.raises(UpstreamReplyError):
            await listens.want(tasks, KEY, lambda: frozenset({"a"}), Upstream(refuse=True).stream)
        await listens.want(tasks, KEY, frozenset, Upstream().stream, wait=False)
        silent = Upstream(acknowledge=False)
        with pytest.raises(UpstreamTimeoutError):
            await listens.want(tasks, ("acme", 2, "d"), lambda: frozenset({"a"}), silent.stream)
        await listens.want(tasks, ("acme", 2, "d"), frozenset, silent.stream, wait=False)
        await until(lambda: silent.open == [])
        tasks.cancel_scope.cancel()


async def test_a_stream_the_upstream_drops_is_opened_again() -> None:
    listens, upstream = ResourceListens(ack_timeout=5), Upstream()
    async with anyio.create_task_group() as tasks:
        drop = anyio.Event()
        first: list[bool] = []

        async def dropping(uris: frozenset[str], acknowledged: Callable[[], None]) -> None:
            if not first:
                first.append(True)
                acknowledged()
                await drop.wait()
                return  # the stream ends, as when the upstream restarts
            await upstream.stream(uris, acknowledged)

        await listens.want(tasks, KEY, lambda: frozenset({"b"}), dropping)
        assert upstream.opened == []
        drop.set()
        await until(lambda: upstream.open == [frozenset({"b"})])
        assert listens.listening(KEY) == frozenset({"b"})
        tasks.cancel_scope.cancel()
