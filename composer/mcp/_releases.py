"""Letting go of the resource subscriptions of clients that are gone, in the background.

A handshake-era session ends synchronously (DELETE, expiry found by a sweep, shutdown) and a
``subscriptions/listen`` stream ends as its client goes away or the request is cancelled; neither
is a place to wait for upstreams. Both hand what their client still held to :meth:`Releases.release`,
which runs the backend's :meth:`~composer.mcp.ResourceSubscriber.release` in a task group that
lives as long as the app (:meth:`composer.mcp.McpAsgiApp.running`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import anyio

from composer.mcp._backend import McpBackend, ResourceSubscriber

if TYPE_CHECKING:
    from anyio.abc import TaskGroup

logger = logging.getLogger(__name__)


class Releases:
    """Runs subscription releases; use inside ``async with releases.running():``."""

    def __init__(self) -> None:
        self._tasks: TaskGroup | None = None

    @asynccontextmanager
    async def running(self, grace: float = 5.0) -> AsyncIterator[Releases]:
        """Accept releases until exit; then give those still running ``grace`` seconds to finish."""
        async with anyio.create_task_group() as tasks:
            self._tasks = tasks
            try:
                yield self
            finally:
                self._tasks = None
                tasks.cancel_scope.deadline = anyio.current_time() + grace

    def release(self, backend: McpBackend, uris: Collection[str]) -> None:
        """Let go of ``uris`` at ``backend`` soon; never blocks (call it from the event loop's thread)."""
        if not uris or not isinstance(backend, ResourceSubscriber):
            return
        if self._tasks is None:
            logger.warning("%d resource subscription(s) not released: the MCP app is not running()", len(uris))
            return
        self._tasks.start_soon(self._release, backend, frozenset(uris))

    @staticmethod
    async def _release(backend: ResourceSubscriber, uris: frozenset[str]) -> None:
        try:
            await backend.release(uris)
        except Exception:  # task top: one failed release must not take the others down
            logger.exception("releasing resource subscriptions failed")
