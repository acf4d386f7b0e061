"""Background syncs: on each upstream's interval, and when a connected upstream says its lists changed."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

import anyio

from registry._clock import now
from registry._credentials import CredentialSource, target_for
from registry._discovery import watch_list_changed
from registry._errors import AtriumError

if TYPE_CHECKING:
    from anyio.abc import TaskGroup

    from registry._catalog import Catalog
    from registry._sync import SyncService
    from registry._types import Upstream

logger = logging.getLogger(__name__)

SCHEDULER = "atrium:scheduler"
WATCHER = "atrium:list-changed"
_MAX_BACKOFF = 300.0


class SyncScheduler:
    """Runs until cancelled: interval syncs, plus one list_changed watcher per enabled upstream."""

    def __init__(
        self,
        catalog: Catalog,
        syncs: SyncService,
        credentials: CredentialSource,
        *,
        tick: float = 5.0,
        watch: bool = True,
    ) -> None:
        self._catalog = catalog
        self._syncs = syncs
        self._credentials = credentials
        self._tick = tick
        self._watch = watch
        # upstream id -> (configuration it was started for, cancel scope of its watcher)
        self._watchers: dict[int, tuple[Upstream, anyio.CancelScope]] = {}
        self._running: set[int] = set()

    async def run(self) -> None:
        async with anyio.create_task_group() as tasks:
            while True:
                try:
                    upstreams = await self._catalog.all_enabled_upstreams()
                except Exception:  # task top: a database hiccup must not end background syncing
                    logger.exception("scheduler could not read the upstreams")
                    upstreams = []
                for upstream in upstreams:
                    if self._due(upstream) and upstream.id not in self._running:
                        self._running.add(upstream.id)
                        tasks.start_soon(self._interval_sync, upstream.id)
                if self._watch:
                    self._reconcile_watchers(tasks, upstreams)
                await anyio.sleep(self._tick)

    def _due(self, upstream: Upstream) -> bool:
        if upstream.sync_interval_seconds is None:
            return False
        last = upstream.last_sync_at
        return last is None or now() - last >= timedelta(seconds=upstream.sync_interval_seconds)

    async def _interval_sync(self, upstream_id: int) -> None:
        try:
            await self._syncs.sync(upstream_id, principal=SCHEDULER, trigger="interval")
        except AtriumError as exc:
            logger.warning("interval sync of upstream %s failed: %s", upstream_id, exc.code)
        except Exception:  # task top
            logger.exception("interval sync of upstream %s failed", upstream_id)
        finally:
            self._running.discard(upstream_id)

    def _reconcile_watchers(self, tasks: TaskGroup, upstreams: list[Upstream]) -> None:
        wanted = {upstream.id: upstream for upstream in upstreams}
        for upstream_id, (config, scope) in list(self._watchers.items()):
            current = wanted.get(upstream_id)
            if current is None or _connection_changed(config, current):
                scope.cancel()
                del self._watchers[upstream_id]
        for upstream_id, upstream in wanted.items():
            if upstream_id not in self._watchers:
                scope = anyio.CancelScope()
                self._watchers[upstream_id] = (upstream, scope)
                tasks.start_soon(self._watch_upstream, upstream, scope)

    async def _watch_upstream(self, upstream: Upstream, scope: anyio.CancelScope) -> None:
        """Keep a session open and sync on list_changed; reconnect with backoff."""

        async def on_change(kind: str) -> None:
            logger.info("upstream %s says its %s changed; syncing", upstream.slug, kind)
            try:
                await self._syncs.sync(upstream.id, principal=WATCHER, trigger="list_changed")
            except AtriumError as exc:
                logger.warning("list_changed sync of upstream %s failed: %s", upstream.id, exc.code)

        backoff = 1.0
        with scope:
            while True:
                try:
                    target = await target_for(upstream, self._credentials, upstream.tenant)
                    await watch_list_changed(target, on_change)
                    backoff = 1.0
                except AtriumError as exc:
                    logger.info("watcher of upstream %s stopped: %s", upstream.slug, exc.code)
                except Exception:  # task top
                    logger.exception("watcher of upstream %s failed", upstream.slug)
                await anyio.sleep(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF)


def _connection_changed(old: Upstream, new: Upstream) -> bool:
    return (old.transport, old.url, old.header_templates, old.command, old.env_templates, old.cwd) != (
        new.transport,
        new.url,
        new.header_templates,
        new.command,
        new.env_templates,
        new.cwd,
    )
