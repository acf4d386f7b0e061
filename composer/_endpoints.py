"""The virtual MCP endpoints: which backend serves ``/mcp/{tenant}/{virtual_server}``, and
telling their connected clients when what they may see changed."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from composer._endpoint_access import EndpointAccess
from composer._served_cache import ServedViewCache
from composer._subscriptions import ResourceSubscriptions
from composer._suspended_calls import SuspendedCalls
from composer._virtual_backend import VirtualServerBackend
from composer.mcp import ListChangedHub, McpBackend
from policies import ANY_DOMAIN
from registry import UpstreamPool, VirtualServers
from registry._models import TenantRow
from registry._virtual_models import VirtualEntryRow, VirtualServerRow


class VirtualServerResolver:
    """Finds the virtual server behind a path, for an admitted caller (see composer._endpoint_access).

    An unknown tenant, server, or a role the caller does not hold is simply none (404).
    """

    def __init__(
        self,
        servers: Callable[[], VirtualServers],
        pool: Callable[[], UpstreamPool],
        cache: ServedViewCache,
        access: EndpointAccess,
        subscriptions: ResourceSubscriptions | None = None,
        suspended: SuspendedCalls | None = None,
    ) -> None:
        # Callables: the services exist only once the app's lifespan has started.
        self._servers, self._pool, self._cache = servers, pool, cache
        self._access = access
        self._subscriptions = subscriptions
        self._suspended = suspended

    async def resolve(
        self, path_params: Mapping[str, str], headers: Mapping[str, str], base_url: str
    ) -> McpBackend | None:
        tenant, slug, role = path_params.get("tenant"), path_params.get("virtual_server"), path_params.get("role")
        if not tenant or not slug:
            return None
        # Authentication first: without valid credentials of this tenant, nothing is revealed.
        resource = self._access.resource(base_url, tenant, slug, role)
        admission = await self._access.admit(tenant, slug, role, headers.get("authorization"), resource)
        if admission is None:
            return None
        servers = self._servers()
        title = await self._cache.title(tenant, slug, lambda: servers.title_of(tenant, slug))
        if title is None:
            return None
        return VirtualServerBackend(
            servers,
            self._pool(),
            tenant,
            slug,
            title,
            self._cache,
            self._subscriptions,
            visibility=admission,
            owner=admission.owner(),
            suspended=self._suspended,
        )


class ChangeNotifier:
    """Publishes list_changed to the endpoints whose served view may have changed."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], hub: ListChangedHub, cache: ServedViewCache) -> None:
        self._sessions, self._hub, self._cache = sessions, hub, cache

    def virtual_server_changed(self, tenant: str, slug: str) -> None:
        self._cache.invalidate(tenant, slug)
        for kind in ("tools", "prompts", "resources"):
            self._hub.publish(tenant, slug, kind)

    def policies_changed(self, domain: str) -> None:
        """After a policy change in ``domain`` (a tenant, or ``*``: every tenant): what any of its
        callers may see can have changed, at every endpoint."""
        for kind in ("tools", "prompts", "resources"):
            self._hub.publish_everywhere(None if domain == ANY_DOMAIN else domain, kind)

    def tenant_deleted(self, tenant: str) -> None:
        """Its endpoints stop resolving and serving at once (their cached views are dropped)."""
        self._cache.invalidate(tenant)

    async def upstream_changed(self, upstream_id: int) -> None:
        """After a sync or a review decision: every virtual server curating that upstream."""
        query = (
            select(TenantRow.slug, VirtualServerRow.slug)
            .join(VirtualServerRow, VirtualServerRow.tenant_id == TenantRow.id)
            .join(VirtualEntryRow, VirtualEntryRow.virtual_server_id == VirtualServerRow.id)
            .where(VirtualEntryRow.upstream_id == upstream_id)
            .distinct()
        )
        async with self._sessions() as session:
            endpoints = (await session.execute(query)).all()
        for tenant, slug in endpoints:
            self.virtual_server_changed(tenant, slug)
