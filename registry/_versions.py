"""Recording what an upstream offers as content-addressed definition versions.

A sync hands every listed tool, prompt, resource and resource template to
:func:`record_listing`. Each distinct definition of an item is stored once, keyed by
the SHA-256 of its canonical JSON; a new one starts *pending* (fail closed) unless the
tenant opted in to auto-approval and the scan finds it low-risk and read-only.

Status moves:
    new definition            -> pending (or approved by opt-in auto-approval)
    pending superseded        -> retired  (it can no longer be approved: not current)
    approved, newer approved  -> retired  (only one approved version per item)
    retired, current again    -> pending  (a definition seen again is reviewed again)
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

import anyio.to_thread
import msgspec
from sqlalchemy import select

from registry._canonical import definition_hash, prompt_definition, tool_definition
from registry._clock import now
from registry._diff import changed_fields, definition_diff
from registry._errors import UpstreamProtocolError
from registry._models import CatalogItemRow, DefinitionVersionRow, ReviewDecisionRow, TenantRow, UpstreamRow
from registry._scan import Finding, RiskLevel, ScanReport, is_auto_approvable, scan_definition
from registry._types import ItemKind, VersionStatus

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from datetime import datetime

    from sqlalchemy.ext.asyncio import AsyncSession

AUTO_APPROVER = "atrium:auto-approve"
SYSTEM = "atrium"

# The field that names an item within its kind, as MCP lists carry it.
KEY_FIELDS: Mapping[ItemKind, str] = {
    ItemKind.TOOL: "name",
    ItemKind.PROMPT: "name",
    ItemKind.RESOURCE: "uri",
    ItemKind.RESOURCE_TEMPLATE: "uriTemplate",
}


class ListingCounts(msgspec.Struct, kw_only=True):
    items: int = 0
    new_items: int = 0
    new_versions: int = 0
    changed: int = 0
    removed: int = 0
    auto_approved: int = 0

    def add(self, other: ListingCounts) -> None:
        for field in msgspec.structs.fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))


def hashed_part(kind: ItemKind, raw: Mapping[str, Any]) -> dict[str, Any]:
    """The part of an item's definition that its version hash covers (see registry._canonical)."""
    return tool_definition(raw) if kind is ItemKind.TOOL else prompt_definition(raw)


def _keyed(kind: ItemKind, listing: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    field = KEY_FIELDS[kind]
    keyed: dict[str, Mapping[str, Any]] = {}
    for raw in listing:
        key = raw.get(field)
        if not isinstance(key, str) or not key:
            raise UpstreamProtocolError(f"a listed {kind.value} has no {field!r}")
        if key in keyed:
            # Two definitions under one name: which one a client would get is undefined. Refuse.
            raise UpstreamProtocolError(f"the upstream lists {kind.value} {key!r} twice")
        keyed[key] = raw
    return keyed


async def record_listing(
    session: AsyncSession,
    upstream: UpstreamRow,
    tenant: TenantRow | None,
    kind: ItemKind,
    listing: Sequence[Mapping[str, Any]],
    *,
    principal: str,
) -> ListingCounts:
    """Record one complete listing of ``kind`` from ``upstream``; the caller commits.

    Raises:
        UpstreamProtocolError: an item has no key, or a key is listed twice.
    """
    keyed = _keyed(kind, listing)
    counts = ListingCounts(items=len(keyed))
    stamp = now()
    existing = {
        row.key: row
        for row in await session.scalars(
            select(CatalogItemRow).where(CatalogItemRow.upstream_id == upstream.id, CatalogItemRow.kind == kind.value)
        )
    }
    auto_approve = tenant is not None and tenant.auto_approve_low_risk
    for key, raw in keyed.items():
        item = existing.get(key)
        if item is None:
            item = CatalogItemRow(
                upstream_id=upstream.id, kind=kind.value, key=key, first_seen_at=stamp, last_seen_at=stamp
            )
            session.add(item)
            await session.flush()
            counts.new_items += 1
        item.last_seen_at = stamp
        definition = hashed_part(kind, raw)
        digest = definition_hash(definition)
        version = await session.scalar(
            select(DefinitionVersionRow).where(
                DefinitionVersionRow.item_id == item.id, DefinitionVersionRow.hash == digest
            )
        )
        previous = (
            None
            if item.current_version_id is None
            else await session.get(DefinitionVersionRow, item.current_version_id)
        )
        if version is None:
            version = await _new_version(session, item, raw, definition, digest, previous, principal, stamp)
            counts.new_versions += 1
            if auto_approve and is_auto_approvable(definition, _report_of(version)):
                decide(session, version, VersionStatus.APPROVED, AUTO_APPROVER, "low risk and read-only", stamp)
                counts.auto_approved += 1
        else:
            version.last_seen_at = stamp
            version.definition = dict(raw)
            if version.status == VersionStatus.RETIRED and version.id != item.current_version_id:
                decide(session, version, VersionStatus.PENDING, SYSTEM, "offered again after retirement", stamp)
        if previous is not None and previous.id != version.id:
            counts.changed += 1
            if previous.status == VersionStatus.PENDING:
                decide(session, previous, VersionStatus.RETIRED, SYSTEM, "superseded before review", stamp)
        item.current_version_id = version.id
    for key, item in existing.items():
        if key not in keyed and item.current_version_id is not None:
            item.current_version_id = None
            counts.removed += 1
    return counts


async def _new_version(
    session: AsyncSession,
    item: CatalogItemRow,
    raw: Mapping[str, Any],
    definition: dict[str, Any],
    digest: str,
    previous: DefinitionVersionRow | None,
    principal: str,
    stamp: datetime,
) -> DefinitionVersionRow:
    if previous is None:
        # The item may have been gone for a while: compare with the last version it had.
        previous = await session.scalar(
            select(DefinitionVersionRow)
            .where(DefinitionVersionRow.item_id == item.id)
            .order_by(DefinitionVersionRow.id.desc())
            .limit(1)
        )
    old = None if previous is None else hashed_part(ItemKind(item.kind), previous.definition)
    # A worst-case definition costs the scan ~0.5 s of CPU: keep it off the event loop.
    report = await anyio.to_thread.run_sync(partial(scan_definition, definition, previous=old))
    version = DefinitionVersionRow(
        item_id=item.id,
        hash=digest,
        definition=dict(raw),
        status=VersionStatus.PENDING.value,
        risk=report.risk.value,
        findings=msgspec.to_builtins(report.findings),
        previous_version_id=None if previous is None else previous.id,
        diff=definition_diff(old, definition, previous_label=_label(previous), current_label=digest[:12]),
        changed_fields=[] if old is None else changed_fields(old, definition),
        synced_by=principal,
        first_seen_at=stamp,
        last_seen_at=stamp,
    )
    session.add(version)
    await session.flush()
    return version


def _label(version: DefinitionVersionRow | None) -> str:
    return "(none)" if version is None else version.hash[:12]


def _report_of(version: DefinitionVersionRow) -> ScanReport:
    return ScanReport(
        findings=tuple(msgspec.convert(finding, Finding) for finding in version.findings),
        risk=RiskLevel(version.risk),
    )


def decide(
    session: AsyncSession,
    version: DefinitionVersionRow,
    status: VersionStatus,
    principal: str,
    reason: str,
    stamp: datetime,
) -> None:
    """Change a version's status and write the audit record in the same transaction."""
    version.status = status.value
    version.decided_by, version.decided_at, version.decision_reason = principal, stamp, reason
    session.add(
        ReviewDecisionRow(
            version_id=version.id, decision=status.value, principal=principal, reason=reason, decided_at=stamp
        )
    )
