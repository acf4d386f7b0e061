"""Virtual servers: curation (which upstream items, under which names) and the served view.

The served view is recomputed from the database at call time: an entry is served only if
its upstream currently offers an *approved* version, and its description override (if any)
is approved too. Anything else is invisible, and a call to it never reaches the upstream.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import msgspec
from sqlalchemy import and_, delete, select
from sqlalchemy.exc import IntegrityError

from registry._catalog import GLOBAL_SCOPE, tenant_row, upstream_from_row
from registry._clock import now
from registry._errors import (
    AlreadyExistsError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    ReviewConflictError,
    SeparationOfDutiesError,
)
from registry._models import CatalogItemRow, DefinitionVersionRow, TenantRow, UpstreamRow
from registry._naming import exposed_name
from registry._specs import Name, Slug
from registry._types import Decision, ItemKind, Upstream, VersionStatus
from registry._virtual_models import VirtualEntryRow, VirtualServerRow

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

MAX_ENTRIES = 5000


class NameConflictError(ConflictError):
    """Two entries of one virtual server would be exposed under the same name."""

    code = "name_conflict"


class EntrySpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    upstream_id: int
    kind: ItemKind
    # The upstream's own name (tools, prompts), URI (resources) or uriTemplate.
    key: Annotated[str, msgspec.Meta(min_length=1, max_length=2048)]
    exposed_name: str | None = None
    description: Annotated[str, msgspec.Meta(min_length=1, max_length=20_000)] | None = None


class VirtualServerSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    slug: Slug
    name: Name
    description: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class VirtualEntry(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    upstream_id: int
    kind: ItemKind
    key: str
    exposed_name: str
    custom_name: str | None
    description_override: str | None
    override_status: str


class VirtualServer(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    tenant: str
    slug: str
    name: str
    description: str
    entries: list[VirtualEntry]


class ServedEntry(msgspec.Struct, frozen=True, kw_only=True):
    """An entry that may be served now: where to route it and the pinned definition to show."""

    exposed_name: str
    kind: ItemKind
    key: str
    upstream: Upstream
    hash: str
    definition: dict[str, Any]


def _entry(row: VirtualEntryRow) -> VirtualEntry:
    return VirtualEntry(
        id=row.id,
        upstream_id=row.upstream_id,
        kind=ItemKind(row.kind),
        key=row.key,
        exposed_name=row.exposed_name,
        custom_name=row.custom_name,
        description_override=row.description_override,
        override_status=row.override_status,
    )


def exposed_definition(kind: ItemKind, definition: dict[str, Any], name: str, override: str | None) -> dict[str, Any]:
    """The pinned definition as the virtual server shows it: its exposed name, its approved override."""
    shown = dict(definition)
    if kind in (ItemKind.TOOL, ItemKind.PROMPT):
        shown["name"] = name
    if override is not None:
        shown["description"] = override
    return shown


class VirtualServers:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def create(self, tenant: str, spec: VirtualServerSpec, *, principal: str) -> VirtualServer:
        async with self._sessions() as session:
            owner = await tenant_row(session, tenant)
            stamp = now()
            row = VirtualServerRow(
                tenant_id=owner.id,
                slug=spec.slug,
                name=spec.name,
                description=spec.description,
                created_by=principal,
                created_at=stamp,
                updated_at=stamp,
            )
            session.add(row)
            try:
                await session.commit()
            except IntegrityError as exc:
                raise AlreadyExistsError(f"virtual server {spec.slug!r} exists in {tenant!r}") from exc
            return VirtualServer(
                id=row.id, tenant=tenant, slug=row.slug, name=row.name, description=row.description, entries=[]
            )

    async def get(self, tenant: str, slug: str) -> VirtualServer:
        async with self._sessions() as session:
            row = await _server_row(session, tenant, slug)
            entries = await session.scalars(
                select(VirtualEntryRow).where(VirtualEntryRow.virtual_server_id == row.id).order_by(VirtualEntryRow.id)
            )
            return VirtualServer(
                id=row.id,
                tenant=tenant,
                slug=row.slug,
                name=row.name,
                description=row.description,
                entries=[_entry(entry) for entry in entries],
            )

    async def title_of(self, tenant: str, slug: str) -> str | None:
        """The name of the virtual server, or None if there is none: one cheap query per MCP request."""
        query = (
            select(VirtualServerRow.name)
            .join(TenantRow, TenantRow.id == VirtualServerRow.tenant_id)
            .where(TenantRow.slug == tenant, VirtualServerRow.slug == slug)
        )
        async with self._sessions() as session:
            return await session.scalar(query)

    async def list_servers(self, tenant: str) -> list[VirtualServer]:
        async with self._sessions() as session:
            owner = await tenant_row(session, tenant)
            slugs = list(
                await session.scalars(
                    select(VirtualServerRow.slug)
                    .where(VirtualServerRow.tenant_id == owner.id)
                    .order_by(VirtualServerRow.id)
                )
            )
        return [await self.get(tenant, slug) for slug in slugs]

    async def delete(self, tenant: str, slug: str) -> None:
        async with self._sessions() as session:
            await session.delete(await _server_row(session, tenant, slug))
            await session.commit()

    async def set_entries(self, tenant: str, slug: str, entries: list[EntrySpec], *, principal: str) -> VirtualServer:
        """Replace the curation as a whole.

        Raises:
            NameConflictError: two entries would share an exposed name (nothing is changed).
            InvalidInputError: an upstream that is neither the tenant's nor global, a bad name.
        """
        if len(entries) > MAX_ENTRIES:
            raise InvalidInputError(f"a virtual server holds at most {MAX_ENTRIES} entries")
        async with self._sessions() as session:
            server = await _server_row(session, tenant, slug)
            ids = {entry.upstream_id for entry in entries}
            upstreams = {
                row.id: row
                for row in await session.scalars(select(UpstreamRow).where(UpstreamRow.id.in_(ids)))
                if row.scope in (tenant, GLOBAL_SCOPE)
            }
            previous = {
                (row.upstream_id, row.kind, row.key): row
                for row in await session.scalars(
                    select(VirtualEntryRow).where(VirtualEntryRow.virtual_server_id == server.id)
                )
            }
            rows = [self._row(server, upstreams, previous, spec, principal) for spec in entries]
            _check_unique(rows)
            await session.execute(delete(VirtualEntryRow).where(VirtualEntryRow.virtual_server_id == server.id))
            session.add_all(rows)
            server.updated_at = now()
            await session.commit()
        return await self.get(tenant, slug)

    def _row(
        self,
        server: VirtualServerRow,
        upstreams: dict[int, UpstreamRow],
        previous: dict[tuple[int, str, str], VirtualEntryRow],
        spec: EntrySpec,
        principal: str,
    ) -> VirtualEntryRow:
        upstream = upstreams.get(spec.upstream_id)
        if upstream is None:
            raise InvalidInputError(f"no upstream {spec.upstream_id} available to this tenant")
        name = spec.key if spec.kind in (ItemKind.RESOURCE, ItemKind.RESOURCE_TEMPLATE) else None
        exposed = name or exposed_name(upstream.slug, spec.key, spec.exposed_name)
        old = previous.get((spec.upstream_id, spec.kind.value, spec.key))
        # An unchanged override keeps its review; a new or changed one waits for review again.
        keeps_review = old is not None and old.description_override == spec.description
        row = VirtualEntryRow(
            virtual_server_id=server.id,
            upstream_id=upstream.id,
            kind=spec.kind.value,
            key=spec.key,
            exposed_name=exposed,
            custom_name=spec.exposed_name,
            description_override=spec.description,
            override_status="none" if spec.description is None else "pending",
            created_by=principal,
            created_at=now(),
        )
        if keeps_review and old is not None:
            row.override_status = old.override_status
            row.override_decided_by, row.override_decided_at = old.override_decided_by, old.override_decided_at
            row.override_reason = old.override_reason
        return row

    async def decide_override(
        self, tenant: str, slug: str, entry_id: int, decision: Decision, *, principal: str, reason: str
    ) -> VirtualEntry:
        """Approve or reject an entry's description override (text the model will read).

        Raises:
            NotFoundError: no such entry in that virtual server.
            ReviewConflictError: the override is not pending (none, or already decided).
            SeparationOfDutiesError: the tenant separates duties and ``principal`` wrote it.
        """
        async with self._sessions() as session:
            server = await _server_row(session, tenant, slug)
            entry = await session.get(VirtualEntryRow, entry_id)
            if entry is None or entry.virtual_server_id != server.id:
                raise NotFoundError(f"no entry {entry_id} in virtual server {slug!r}")
            if entry.override_status != "pending":
                raise ReviewConflictError(f"the override of entry {entry_id} is {entry.override_status}, not pending")
            owner = await tenant_row(session, tenant)
            if owner.separation_of_duties and principal == entry.created_by:
                raise SeparationOfDutiesError("reviewers may not decide on overrides they wrote")
            entry.override_status = "approved" if decision is Decision.APPROVE else "rejected"
            entry.override_decided_by, entry.override_decided_at, entry.override_reason = principal, now(), reason
            await session.commit()
            return _entry(entry)

    async def served(self, tenant: str, slug: str, kind: ItemKind | None = None) -> list[ServedEntry]:
        """Every entry that may be served now, in curation order."""
        async with self._sessions() as session:
            server = await _server_row(session, tenant, slug)
            query = _served_query(server.id)
            if kind is not None:
                query = query.where(VirtualEntryRow.kind == kind.value)
            rows = (await session.execute(query)).all()
        return [_served(*row) for row in rows]

    async def served_entry(self, tenant: str, slug: str, kind: ItemKind, name: str) -> ServedEntry | None:
        """The entry exposed as ``name`` if it may be served at this moment (the call-time pin check)."""
        async with self._sessions() as session:
            server = await _server_row(session, tenant, slug)
            query = _served_query(server.id).where(
                VirtualEntryRow.kind == kind.value, VirtualEntryRow.exposed_name == name
            )
            row = (await session.execute(query)).first()
        return None if row is None else _served(*row)


def _served_query(server_id: int) -> Any:
    return (
        select(VirtualEntryRow, UpstreamRow, DefinitionVersionRow)
        .join(UpstreamRow, and_(UpstreamRow.id == VirtualEntryRow.upstream_id, UpstreamRow.enabled.is_(True)))
        .join(
            CatalogItemRow,
            and_(
                CatalogItemRow.upstream_id == VirtualEntryRow.upstream_id,
                CatalogItemRow.kind == VirtualEntryRow.kind,
                CatalogItemRow.key == VirtualEntryRow.key,
            ),
        )
        .join(DefinitionVersionRow, DefinitionVersionRow.id == CatalogItemRow.current_version_id)
        .where(
            VirtualEntryRow.virtual_server_id == server_id,
            DefinitionVersionRow.status == VersionStatus.APPROVED.value,
            VirtualEntryRow.override_status.in_(("none", "approved")),
        )
        .order_by(VirtualEntryRow.id)
    )


def _served(entry: VirtualEntryRow, upstream: UpstreamRow, version: DefinitionVersionRow) -> ServedEntry:
    kind = ItemKind(entry.kind)
    return ServedEntry(
        exposed_name=entry.exposed_name,
        kind=kind,
        key=entry.key,
        upstream=upstream_from_row(upstream),
        hash=version.hash,
        definition=exposed_definition(kind, version.definition, entry.exposed_name, entry.description_override),
    )


def _check_unique(rows: list[VirtualEntryRow]) -> None:
    seen: dict[tuple[str, str], VirtualEntryRow] = {}
    origins: set[tuple[int, str, str]] = set()
    for row in rows:
        key = (row.kind, row.exposed_name)
        if key in seen:
            raise NameConflictError(
                f"{row.kind} name {row.exposed_name!r} is used by both {seen[key].key!r} and {row.key!r}"
            )
        seen[key] = row
        origin = (row.upstream_id, row.kind, row.key)
        if origin in origins:
            raise NameConflictError(f"{row.kind} {row.key!r} of upstream {row.upstream_id} is listed twice")
        origins.add(origin)


async def _server_row(session: AsyncSession, tenant: str, slug: str) -> VirtualServerRow:
    owner = await tenant_row(session, tenant)
    row = await session.scalar(
        select(VirtualServerRow).where(VirtualServerRow.tenant_id == owner.id, VirtualServerRow.slug == slug)
    )
    if row is None:
        raise NotFoundError(f"no virtual server {slug!r} in {tenant!r}")
    return row
