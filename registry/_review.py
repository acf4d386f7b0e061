"""Security review: the pending queue, decisions on exact hashes, and the served pins."""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec
from sqlalchemy import Select, select

from registry._catalog import GLOBAL_SCOPE, tenant_row, upstream_row
from registry._clock import now
from registry._errors import NotFoundError, ReviewConflictError, SeparationOfDutiesError
from registry._models import CatalogItemRow, DefinitionVersionRow, ReviewDecisionRow, UpstreamRow
from registry._paging import after_cursor, split_page
from registry._types import (
    ApprovedDefinition,
    CatalogItem,
    Decision,
    DefinitionVersion,
    ItemKind,
    Page,
    ReviewDecision,
    VersionStatus,
)
from registry._versions import decide

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

RISK_ORDER = ("none", "low", "medium", "high", "critical")


class ReviewEntry(msgspec.Struct, frozen=True, kw_only=True):
    """A version waiting for review, with where it comes from."""

    item: CatalogItem
    version: DefinitionVersion


class QueueFilter(msgspec.Struct, frozen=True, kw_only=True):
    tenant: str | None = None
    upstream_id: int | None = None
    kind: ItemKind | None = None
    min_risk: str | None = None


def version_from_row(row: DefinitionVersionRow, *, current_id: int | None) -> DefinitionVersion:
    return DefinitionVersion(
        id=row.id,
        item_id=row.item_id,
        hash=row.hash,
        definition=dict(row.definition),
        status=VersionStatus(row.status),
        risk=row.risk,
        findings=list(row.findings),
        previous_version_id=row.previous_version_id,
        diff=row.diff,
        changed_fields=list(row.changed_fields),
        synced_by=row.synced_by,
        first_seen_at=row.first_seen_at,
        last_seen_at=row.last_seen_at,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        decision_reason=row.decision_reason,
        is_current=row.id == current_id,
    )


def item_from_rows(item: CatalogItemRow, upstream: UpstreamRow, current: DefinitionVersionRow | None) -> CatalogItem:
    return CatalogItem(
        id=item.id,
        upstream_id=upstream.id,
        tenant=None if upstream.scope == GLOBAL_SCOPE else upstream.scope,
        upstream_slug=upstream.slug,
        kind=ItemKind(item.kind),
        key=item.key,
        present=item.current_version_id is not None,
        current_hash=None if current is None else current.hash,
        current_status=None if current is None else VersionStatus(current.status),
        first_seen_at=item.first_seen_at,
        last_seen_at=item.last_seen_at,
    )


def _items_query() -> Select[CatalogItemRow, UpstreamRow, DefinitionVersionRow]:
    return (
        select(CatalogItemRow, UpstreamRow, DefinitionVersionRow)
        .join(UpstreamRow, UpstreamRow.id == CatalogItemRow.upstream_id)
        .outerjoin(DefinitionVersionRow, DefinitionVersionRow.id == CatalogItemRow.current_version_id)
    )


class Review:
    """Read the catalog's versions and decide on them."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def list_items(
        self,
        *,
        tenant: str | None = None,
        upstream_id: int | None = None,
        kind: ItemKind | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> Page[CatalogItem]:
        """Catalog items, optionally of one tenant (with the global upstreams' items) or upstream."""
        query = _items_query()
        if tenant is not None:
            query = query.where(UpstreamRow.scope.in_([tenant, GLOBAL_SCOPE]))
        if upstream_id is not None:
            query = query.where(CatalogItemRow.upstream_id == upstream_id)
        if kind is not None:
            query = query.where(CatalogItemRow.kind == kind.value)
        async with self._sessions() as session:
            if tenant is not None:
                await tenant_row(session, tenant)
            rows = (await session.execute(after_cursor(query, CatalogItemRow.id, cursor, limit))).all()
        page, next_cursor = split_page(rows, limit, lambda row: row[0].id)
        return Page(items=[item_from_rows(*row) for row in page], next_cursor=next_cursor)

    async def get_item(self, item_id: int) -> CatalogItem:
        async with self._sessions() as session:
            row = (await session.execute(_items_query().where(CatalogItemRow.id == item_id))).first()
        if row is None:
            raise NotFoundError(f"no catalog item {item_id}")
        return item_from_rows(*row)

    async def list_versions(
        self, item_id: int, *, cursor: str | None = None, limit: int = 50
    ) -> Page[DefinitionVersion]:
        async with self._sessions() as session:
            item = await session.get(CatalogItemRow, item_id)
            if item is None:
                raise NotFoundError(f"no catalog item {item_id}")
            query = select(DefinitionVersionRow).where(DefinitionVersionRow.item_id == item_id)
            rows = (await session.scalars(after_cursor(query, DefinitionVersionRow.id, cursor, limit))).all()
        page, next_cursor = split_page(rows, limit, lambda row: row.id)
        return Page(
            items=[version_from_row(row, current_id=item.current_version_id) for row in page],
            next_cursor=next_cursor,
        )

    async def get_version(self, item_id: int, digest: str) -> DefinitionVersion:
        async with self._sessions() as session:
            item, version = await _item_and_version(session, item_id, digest)
            return version_from_row(version, current_id=item.current_version_id)

    async def pending(self, where: QueueFilter, *, cursor: str | None = None, limit: int = 50) -> Page[ReviewEntry]:
        """The review queue: pending versions, oldest first."""
        query = (
            select(DefinitionVersionRow, CatalogItemRow, UpstreamRow)
            .join(CatalogItemRow, CatalogItemRow.id == DefinitionVersionRow.item_id)
            .join(UpstreamRow, UpstreamRow.id == CatalogItemRow.upstream_id)
            .where(DefinitionVersionRow.status == VersionStatus.PENDING.value)
        )
        if where.tenant is not None:
            query = query.where(UpstreamRow.scope == where.tenant)
        if where.upstream_id is not None:
            query = query.where(UpstreamRow.id == where.upstream_id)
        if where.kind is not None:
            query = query.where(CatalogItemRow.kind == where.kind.value)
        if where.min_risk is not None:
            query = query.where(DefinitionVersionRow.risk.in_(RISK_ORDER[RISK_ORDER.index(where.min_risk) :]))
        async with self._sessions() as session:
            rows = (await session.execute(after_cursor(query, DefinitionVersionRow.id, cursor, limit))).all()
        page, next_cursor = split_page(rows, limit, lambda row: row[0].id)
        entries = [
            ReviewEntry(
                item=item_from_rows(item, upstream, version),
                version=version_from_row(version, current_id=item.current_version_id),
            )
            for version, item, upstream in page
        ]
        return Page(items=entries, next_cursor=next_cursor)

    async def decide(
        self, item_id: int, digest: str, decision: Decision, *, principal: str, reason: str
    ) -> DefinitionVersion:
        """Approve or reject exactly the version ``digest`` of an item.

        Raises:
            NotFoundError: no such item or version.
            ReviewConflictError: the version was already decided, or (to approve) is not current.
            SeparationOfDutiesError: the tenant separates duties and ``principal`` registered
                the upstream or synced this version.
        """
        async with self._sessions() as session:
            item, version = await _item_and_version(session, item_id, digest)
            if version.status != VersionStatus.PENDING.value:
                raise ReviewConflictError(f"version {digest[:12]} is already {version.status}")
            if decision is Decision.APPROVE and item.current_version_id != version.id:
                raise ReviewConflictError(f"version {digest[:12]} is no longer what the upstream offers")
            upstream = await upstream_row(session, item.upstream_id)
            if upstream.tenant_id is not None:
                tenant = await tenant_row(session, upstream.scope)
                if tenant.separation_of_duties and principal in (upstream.created_by, version.synced_by):
                    raise SeparationOfDutiesError("reviewers may not decide on versions they registered or synced")
            stamp = now()
            if decision is Decision.APPROVE:
                approved = await session.scalars(
                    select(DefinitionVersionRow).where(
                        DefinitionVersionRow.item_id == item.id,
                        DefinitionVersionRow.status == VersionStatus.APPROVED.value,
                    )
                )
                for older in approved:
                    decide(
                        session,
                        older,
                        VersionStatus.RETIRED,
                        principal,
                        f"superseded by {digest[:12]}",
                        stamp,
                    )
                decide(session, version, VersionStatus.APPROVED, principal, reason, stamp)
            else:
                decide(session, version, VersionStatus.REJECTED, principal, reason, stamp)
            await session.commit()
            return version_from_row(version, current_id=item.current_version_id)

    async def decisions(self, item_id: int, digest: str) -> list[ReviewDecision]:
        """The audit trail of one version, oldest first."""
        async with self._sessions() as session:
            _, version = await _item_and_version(session, item_id, digest)
            rows = await session.scalars(
                select(ReviewDecisionRow)
                .where(ReviewDecisionRow.version_id == version.id)
                .order_by(ReviewDecisionRow.id)
            )
            return [
                ReviewDecision(
                    id=row.id,
                    version_id=row.version_id,
                    decision=row.decision,
                    principal=row.principal,
                    reason=row.reason,
                    decided_at=row.decided_at,
                )
                for row in rows
            ]

    async def current_approved(self, upstream_id: int, kind: ItemKind, key: str) -> ApprovedDefinition | None:
        """The approved version the upstream currently offers for an item, or None: do not serve it."""
        query = (
            select(DefinitionVersionRow)
            .join(CatalogItemRow, CatalogItemRow.current_version_id == DefinitionVersionRow.id)
            .where(
                CatalogItemRow.upstream_id == upstream_id,
                CatalogItemRow.kind == kind.value,
                CatalogItemRow.key == key,
                DefinitionVersionRow.status == VersionStatus.APPROVED.value,
            )
        )
        async with self._sessions() as session:
            row = await session.scalar(query)
        if row is None:
            return None
        return ApprovedDefinition(
            upstream_id=upstream_id, kind=kind, key=key, hash=row.hash, definition=dict(row.definition)
        )

    async def approved_for_upstream(self, upstream_id: int) -> list[ApprovedDefinition]:
        """Every item of an upstream that may be served now, with its pinned definition."""
        query = (
            select(CatalogItemRow, DefinitionVersionRow)
            .join(DefinitionVersionRow, CatalogItemRow.current_version_id == DefinitionVersionRow.id)
            .where(
                CatalogItemRow.upstream_id == upstream_id,
                DefinitionVersionRow.status == VersionStatus.APPROVED.value,
            )
            .order_by(CatalogItemRow.id)
        )
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        return [
            ApprovedDefinition(
                upstream_id=upstream_id,
                kind=ItemKind(item.kind),
                key=item.key,
                hash=version.hash,
                definition=dict(version.definition),
            )
            for item, version in rows
        ]


async def _item_and_version(
    session: AsyncSession, item_id: int, digest: str
) -> tuple[CatalogItemRow, DefinitionVersionRow]:
    item = await session.get(CatalogItemRow, item_id)
    if item is None:
        raise NotFoundError(f"no catalog item {item_id}")
    version = await session.scalar(
        select(DefinitionVersionRow).where(DefinitionVersionRow.item_id == item_id, DefinitionVersionRow.hash == digest)
    )
    if version is None:
        raise NotFoundError(f"item {item_id} has no version {digest[:64]!r}")
    return item, version
