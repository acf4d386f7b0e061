"""Sync: discover what an upstream offers and record it, or record why that failed.

A failed discovery leaves the catalog exactly as it was: nothing is written but the
error on the upstream and its sync run. A successful one is recorded in one transaction.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING
from weakref import WeakValueDictionary

import anyio
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from registry._catalog import GLOBAL_SCOPE, tenant_row, upstream_from_row, upstream_row
from registry._clock import now
from registry._credentials import CredentialSource, target_for
from registry._discovery import Discovery, discover
from registry._errors import AtriumError, InvalidInputError, StorageError, UpstreamError
from registry._models import SyncRunRow
from registry._types import ItemKind, SyncRun
from registry._versions import ListingCounts, record_listing

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

logger = logging.getLogger(__name__)

Progress = Callable[[str], None]


def sync_run_from_row(row: SyncRunRow) -> SyncRun:
    return SyncRun(
        id=row.id,
        upstream_id=row.upstream_id,
        trigger=row.trigger,
        principal=row.principal,
        started_at=row.started_at,
        finished_at=row.finished_at,
        duration_ms=row.duration_ms,
        status=row.status,
        counts=dict(row.counts),
        error_code=row.error_code,
        error=row.error,
    )


class SyncService:
    """Runs syncs, one at a time per upstream."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        credentials: CredentialSource,
        *,
        timeout: float = 30.0,
        on_change: Callable[[int], Awaitable[None]] | None = None,
    ) -> None:
        """``on_change(upstream_id)`` runs after a sync that changed what may be served."""
        self._sessions = sessions
        self._on_change = on_change
        self._credentials = credentials
        self._timeout = timeout
        self._locks: WeakValueDictionary[int, anyio.Lock] = WeakValueDictionary()

    async def sync(
        self, upstream_id: int, *, principal: str, trigger: str, progress: Progress | None = None
    ) -> SyncRun:
        """Discover and record one upstream; the returned run says whether it worked.

        Raises:
            NotFoundError: no such upstream.
            StorageError: the database failed.
        """
        lock = self._locks.get(upstream_id)
        if lock is None:
            lock = self._locks[upstream_id] = anyio.Lock()
        async with lock:
            try:
                return await self._sync(upstream_id, principal=principal, trigger=trigger, progress=progress)
            except SQLAlchemyError as exc:
                raise StorageError("the catalog database failed during sync") from exc

    async def recent_runs(self, upstream_id: int, *, limit: int = 10) -> list[SyncRun]:
        """The upstream's latest sync runs, newest first."""
        query = (
            select(SyncRunRow).where(SyncRunRow.upstream_id == upstream_id).order_by(SyncRunRow.id.desc()).limit(limit)
        )
        async with self._sessions() as session:
            return [sync_run_from_row(row) for row in await session.scalars(query)]

    async def _sync(self, upstream_id: int, *, principal: str, trigger: str, progress: Progress | None) -> SyncRun:
        say = progress or (lambda _message: None)
        started, clock = now(), time.perf_counter()
        async with self._sessions() as session:
            upstream = upstream_from_row(await upstream_row(session, upstream_id))
            started_row = SyncRunRow(
                upstream_id=upstream_id,
                trigger=trigger,
                principal=principal,
                started_at=started,
                status="running",
            )
            session.add(started_row)
            await session.commit()
            run_id = started_row.id
        say(f"connecting to {upstream.slug} over {upstream.transport}")
        try:
            target = await target_for(upstream, self._credentials, upstream.tenant)
            found = await discover(target, timeout=self._timeout)
            say(
                f"found {len(found.tools)} tools, {len(found.prompts)} prompts, "
                f"{len(found.resources)} resources, {len(found.resource_templates)} resource templates "
                f"(protocol {found.protocol_version})"
            )
            async with self._sessions() as session, session.begin():
                counts = await self._record(session, upstream_id, found, principal=principal)
                row = await upstream_row(session, upstream_id)
                row.last_sync_at, row.last_sync_status = now(), "ok"
                row.last_error_code = row.last_error = None
                row.protocol_version = found.protocol_version
                row.server_name, row.server_version = found.server_name, found.server_version
                row.instructions = found.instructions
                run = await _finish(session, run_id, clock, status="ok", counts=counts)
        except anyio.get_cancelled_exc_class():
            # Shutdown or a cancelled request: do not leave the run "running" forever.
            with anyio.CancelScope(shield=True):
                async with self._sessions() as session, session.begin():
                    await _finish(session, run_id, clock, status="interrupted")
            raise
        except (UpstreamError, InvalidInputError) as exc:
            logger.warning("sync of upstream %s failed: %s", upstream_id, exc.code)
            say(f"failed: {exc.code}: {exc.detail}")
            async with self._sessions() as session, session.begin():
                row = await upstream_row(session, upstream_id)
                row.last_sync_at, row.last_sync_status = now(), "error"
                row.last_error_code, row.last_error = exc.code, exc.detail
                run = await _finish(session, run_id, clock, status="error", error=exc)
        say(f"done: {run.status}")
        changed = ("new_versions", "changed", "removed", "auto_approved")
        if self._on_change is not None and any(run.counts.get(name, 0) for name in changed):
            await self._on_change(upstream_id)
        return run

    async def _record(
        self, session: AsyncSession, upstream_id: int, found: Discovery, *, principal: str
    ) -> ListingCounts:
        row = await upstream_row(session, upstream_id)
        tenant = None if row.scope == GLOBAL_SCOPE else await tenant_row(session, row.scope)
        total = ListingCounts()
        listings = {
            ItemKind.TOOL: found.tools,
            ItemKind.PROMPT: found.prompts,
            ItemKind.RESOURCE: found.resources,
            ItemKind.RESOURCE_TEMPLATE: found.resource_templates,
        }
        for kind, listing in listings.items():
            total.add(await record_listing(session, row, tenant, kind, listing, principal=principal))
        return total


async def _finish(
    session: AsyncSession,
    run_id: int,
    clock: float,
    *,
    status: str,
    counts: ListingCounts | None = None,
    error: AtriumError | None = None,
) -> SyncRun:
    run = await session.get(SyncRunRow, run_id)
    assert run is not None  # created by this sync, deleted only with its upstream
    run.finished_at, run.status = now(), status
    run.duration_ms = round((time.perf_counter() - clock) * 1000, 3)
    if counts is not None:
        run.counts = {name: getattr(counts, name) for name in counts.__struct_fields__}
    if error is not None:
        run.error_code, run.error = error.code, error.detail
    await session.flush()
    return sync_run_from_row(run)
