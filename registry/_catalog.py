"""Tenants and upstream servers: the catalog's repository."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from registry._clock import now
from registry._errors import AlreadyExistsError, NotFoundError
from registry._models import TenantRow, UpstreamRow
from registry._paging import after_cursor, split_page
from registry._specs import TenantPatch, TenantSpec, UpstreamPatch, UpstreamSpec, check_upstream_shape
from registry._types import Page, Tenant, Upstream

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

GLOBAL_SCOPE = "global"


def tenant_from_row(row: TenantRow) -> Tenant:
    return Tenant(
        id=row.id,
        slug=row.slug,
        name=row.name,
        separation_of_duties=row.separation_of_duties,
        auto_approve_low_risk=row.auto_approve_low_risk,
        created_at=row.created_at,
    )


def upstream_from_row(row: UpstreamRow) -> Upstream:
    return Upstream(
        id=row.id,
        tenant=None if row.scope == GLOBAL_SCOPE else row.scope,
        slug=row.slug,
        name=row.name,
        transport=row.transport,
        url=row.url,
        header_templates=dict(row.header_templates),
        command=list(row.command),
        env_templates=dict(row.env_templates),
        cwd=row.cwd,
        sync_interval_seconds=row.sync_interval_seconds,
        enabled=row.enabled,
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
        last_sync_at=row.last_sync_at,
        last_sync_status=row.last_sync_status,
        last_error_code=row.last_error_code,
        last_error=row.last_error,
        protocol_version=row.protocol_version,
        server_name=row.server_name,
        server_version=row.server_version,
    )


async def tenant_row(session: AsyncSession, slug: str) -> TenantRow:
    row = await session.scalar(select(TenantRow).where(TenantRow.slug == slug))
    if row is None:
        raise NotFoundError(f"no tenant {slug!r}")
    return row


async def upstream_row(session: AsyncSession, upstream_id: int) -> UpstreamRow:
    row = await session.get(UpstreamRow, upstream_id)
    if row is None:
        raise NotFoundError(f"no upstream {upstream_id}")
    return row


class Catalog:
    """Create, read, change and delete tenants and upstreams."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def create_tenant(self, spec: TenantSpec) -> Tenant:
        """Raises: AlreadyExistsError: the slug is taken."""
        row = TenantRow(
            slug=spec.slug,
            name=spec.name,
            separation_of_duties=spec.separation_of_duties,
            auto_approve_low_risk=spec.auto_approve_low_risk,
            created_at=now(),
        )
        async with self._sessions() as session:
            session.add(row)
            try:
                await session.commit()
            except IntegrityError as exc:
                raise AlreadyExistsError(f"tenant {spec.slug!r} exists") from exc
            return tenant_from_row(row)

    async def get_tenant(self, slug: str) -> Tenant:
        async with self._sessions() as session:
            return tenant_from_row(await tenant_row(session, slug))

    async def list_tenants(self, *, cursor: str | None = None, limit: int = 50) -> Page[Tenant]:
        async with self._sessions() as session:
            rows = (await session.scalars(after_cursor(select(TenantRow), TenantRow.id, cursor, limit))).all()
        page, next_cursor = split_page(rows, limit, lambda row: row.id)
        return Page(items=[tenant_from_row(row) for row in page], next_cursor=next_cursor)

    async def update_tenant(self, slug: str, patch: TenantPatch) -> Tenant:
        async with self._sessions() as session:
            row = await tenant_row(session, slug)
            if patch.name is not None:
                row.name = patch.name
            if patch.separation_of_duties is not None:
                row.separation_of_duties = patch.separation_of_duties
            if patch.auto_approve_low_risk is not None:
                row.auto_approve_low_risk = patch.auto_approve_low_risk
            await session.commit()
            return tenant_from_row(row)

    async def delete_tenant(self, slug: str) -> None:
        """Delete a tenant with its private upstreams, their catalog and history."""
        async with self._sessions() as session:
            await session.delete(await tenant_row(session, slug))
            await session.commit()

    async def create_upstream(self, spec: UpstreamSpec, *, principal: str) -> Upstream:
        """Raises: NotFoundError (unknown tenant), AlreadyExistsError (slug taken in its scope)."""
        async with self._sessions() as session:
            tenant_id = None if spec.tenant is None else (await tenant_row(session, spec.tenant)).id
            stamp = now()
            row = UpstreamRow(
                tenant_id=tenant_id,
                scope=spec.tenant or GLOBAL_SCOPE,
                slug=spec.slug,
                name=spec.name,
                transport=spec.transport,
                url=spec.url,
                header_templates=dict(spec.header_templates),
                command=list(spec.command),
                env_templates=dict(spec.env_templates),
                cwd=spec.cwd,
                sync_interval_seconds=spec.sync_interval_seconds,
                enabled=spec.enabled,
                created_by=principal,
                created_at=stamp,
                updated_at=stamp,
                last_sync_status="never",
            )
            session.add(row)
            try:
                await session.commit()
            except IntegrityError as exc:
                raise AlreadyExistsError(f"upstream {spec.slug!r} exists in {row.scope!r}") from exc
            return upstream_from_row(row)

    async def get_upstream(self, upstream_id: int) -> Upstream:
        async with self._sessions() as session:
            return upstream_from_row(await upstream_row(session, upstream_id))

    async def list_upstreams(
        self,
        *,
        tenant: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
        include_global: bool = True,
    ) -> Page[Upstream]:
        """Upstreams of ``tenant`` (and global ones unless excluded), or all when tenant is None."""
        query = select(UpstreamRow)
        if tenant is not None:
            scopes = [tenant, GLOBAL_SCOPE] if include_global else [tenant]
            query = query.where(UpstreamRow.scope.in_(scopes))
        async with self._sessions() as session:
            if tenant is not None:
                await tenant_row(session, tenant)
            rows = (await session.scalars(after_cursor(query, UpstreamRow.id, cursor, limit))).all()
        page, next_cursor = split_page(rows, limit, lambda row: row.id)
        return Page(items=[upstream_from_row(row) for row in page], next_cursor=next_cursor)

    async def all_enabled_upstreams(self) -> list[Upstream]:
        async with self._sessions() as session:
            rows = await session.scalars(select(UpstreamRow).where(UpstreamRow.enabled.is_(True)))
            return [upstream_from_row(row) for row in rows]

    async def update_upstream(self, upstream_id: int, patch: UpstreamPatch) -> Upstream:
        """Raises: NotFoundError, InvalidInputError (the changed upstream would not be valid)."""
        async with self._sessions() as session:
            row = await upstream_row(session, upstream_id)
            url = patch.url if patch.url is not None else row.url
            headers = patch.header_templates if patch.header_templates is not None else row.header_templates
            command = patch.command if patch.command is not None else row.command
            env = patch.env_templates if patch.env_templates is not None else row.env_templates
            cwd = patch.cwd if patch.cwd is not None else row.cwd
            check_upstream_shape(row.transport, url, headers, command, env, cwd)
            row.url, row.header_templates, row.command = url, dict(headers), list(command)
            row.env_templates, row.cwd = dict(env), cwd
            if patch.name is not None:
                row.name = patch.name
            if patch.clear_sync_interval:
                row.sync_interval_seconds = None
            elif patch.sync_interval_seconds is not None:
                row.sync_interval_seconds = patch.sync_interval_seconds
            if patch.enabled is not None:
                row.enabled = patch.enabled
            row.updated_at = now()
            await session.commit()
            return upstream_from_row(row)

    async def delete_upstream(self, upstream_id: int) -> None:
        async with self._sessions() as session:
            await session.delete(await upstream_row(session, upstream_id))
            await session.commit()
