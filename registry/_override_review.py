"""The review queue of description overrides: text a tenant admin wrote for the model to read.

An override is reviewed like an upstream version: it waits in a queue, is risk-scanned the same
way (with the upstream's own pinned definition as the previous text, so a description that grew
into instructions is flagged), and is served only once a reviewer approved it.
"""

from __future__ import annotations

from datetime import datetime  # msgspec resolves the field types at runtime
from typing import TYPE_CHECKING, Any

import msgspec
from sqlalchemy import and_, select

from registry._models import CatalogItemRow, DefinitionVersionRow, TenantRow, UpstreamRow
from registry._paging import after_cursor, split_page
from registry._review import RISK_ORDER
from registry._scan import ScanReport, scan_definition
from registry._types import ItemKind, Page
from registry._virtual import exposed_definition
from registry._virtual_models import VirtualEntryRow, VirtualServerRow

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker


class PendingOverride(msgspec.Struct, frozen=True, kw_only=True):
    """One override waiting for a decision, with what a reviewer needs to judge it."""

    tenant: str
    virtual_server: str
    entry_id: int
    upstream_id: int
    kind: ItemKind
    key: str
    exposed_name: str
    override: str
    # The upstream's current description, None when the upstream offers no version (yet).
    upstream_description: str | None
    scan: ScanReport
    created_by: str
    created_at: datetime


class OverrideQueue:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def pending(
        self, *, tenant: str | None = None, min_risk: str | None = None, cursor: str | None = None, limit: int = 50
    ) -> Page[PendingOverride]:
        """Pending overrides, oldest first; ``min_risk`` keeps those scanned at or above it.

        The scan runs at listing time (it is cheap and its rules improve between releases),
        so a risk filter is applied to each page after the query; a filtered page may hold
        fewer than ``limit`` entries while ``next_cursor`` still says more follow.
        """
        query = (
            select(VirtualEntryRow, VirtualServerRow, TenantRow, DefinitionVersionRow)
            .join(VirtualServerRow, VirtualServerRow.id == VirtualEntryRow.virtual_server_id)
            .join(TenantRow, TenantRow.id == VirtualServerRow.tenant_id)
            .outerjoin(
                CatalogItemRow,
                and_(
                    CatalogItemRow.upstream_id == VirtualEntryRow.upstream_id,
                    CatalogItemRow.kind == VirtualEntryRow.kind,
                    CatalogItemRow.key == VirtualEntryRow.key,
                ),
            )
            .outerjoin(DefinitionVersionRow, DefinitionVersionRow.id == CatalogItemRow.current_version_id)
            .join(UpstreamRow, UpstreamRow.id == VirtualEntryRow.upstream_id)
            .where(VirtualEntryRow.override_status == "pending")
        )
        if tenant is not None:
            query = query.where(TenantRow.slug == tenant)
        async with self._sessions() as session:
            rows = (await session.execute(after_cursor(query, VirtualEntryRow.id, cursor, limit))).all()
        page, next_cursor = split_page(rows, limit, lambda row: row[0].id)
        entries = [_pending(*row) for row in page]
        if min_risk is not None:
            floor = RISK_ORDER.index(min_risk)
            entries = [entry for entry in entries if RISK_ORDER.index(entry.scan.risk.value) >= floor]
        return Page(items=entries, next_cursor=next_cursor)


def scan_override(kind: ItemKind, upstream_definition: dict[str, Any] | None, name: str, override: str) -> ScanReport:
    """The risk scan of the definition the model would read with this override."""
    base = upstream_definition or {"name": name}
    shown = exposed_definition(kind, base, name, override)
    return scan_definition(shown, previous=upstream_definition)


def _pending(
    entry: VirtualEntryRow, server: VirtualServerRow, tenant: TenantRow, version: DefinitionVersionRow | None
) -> PendingOverride:
    kind = ItemKind(entry.kind)
    definition = None if version is None else version.definition
    override = entry.description_override or ""
    described = None if definition is None else definition.get("description")
    return PendingOverride(
        tenant=tenant.slug,
        virtual_server=server.slug,
        entry_id=entry.id,
        upstream_id=entry.upstream_id,
        kind=kind,
        key=entry.key,
        exposed_name=entry.exposed_name,
        override=override,
        upstream_description=described if isinstance(described, str) else None,
        scan=scan_override(kind, definition, entry.exposed_name, override),
        created_by=entry.created_by,
        created_at=entry.created_at,
    )
