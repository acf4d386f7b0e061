"""Upstream MCP servers: register, change, delete, sync, and see their status."""

from __future__ import annotations

import msgspec
from litestar import Controller, delete, get, patch, post
from litestar.params import FromPath, JSONBody

from composer._auth import PrincipalDep
from composer._authz import Action, allowed, authorize, sees_every_tenant
from composer._services import Services, ServicesDep
from composer.api._params import Cursor, Limit, TenantFilter
from registry import (
    AtriumError,
    InvalidInputError,
    NotFoundError,
    Page,
    PermissionDeniedError,
    Principal,
    SecretKeyError,
    SyncRun,
    Upstream,
    UpstreamError,
    UpstreamPatch,
    UpstreamProtocolError,
    UpstreamSpec,
    UpstreamTimeoutError,
    UpstreamUnreachableError,
)


class UpstreamStatus(msgspec.Struct, frozen=True, kw_only=True):
    upstream: Upstream
    recent_syncs: list[SyncRun]


# A failed sync is answered with the error it recorded, by its code.
_SYNC_ERRORS: dict[str, type[AtriumError]] = {
    cls.code: cls
    for cls in (
        UpstreamUnreachableError,
        UpstreamTimeoutError,
        UpstreamProtocolError,
        InvalidInputError,
        SecretKeyError,
    )
}


async def visible_upstream(services: Services, principal: Principal, upstream_id: int, action: Action) -> Upstream:
    """The upstream, if ``principal`` may ``action`` it. One it may not even read is "not found"."""
    upstream = await services.catalog.get_upstream(upstream_id)
    if not allowed(services.policies, principal, Action.READ_CATALOG, upstream.tenant):
        raise NotFoundError(f"no upstream {upstream_id}")
    authorize(services.policies, principal, action, upstream.tenant)
    return upstream


class UpstreamController(Controller):
    path = "/api/v1/upstreams"
    tags = ["upstreams"]

    @post("/")
    async def create_upstream(
        self, data: JSONBody[UpstreamSpec], services: ServicesDep, principal: PrincipalDep
    ) -> Upstream:
        authorize(services.policies, principal, Action.MANAGE_UPSTREAMS, data.tenant)
        return await services.catalog.create_upstream(data, principal=principal.name)

    @get("/")
    async def list_upstreams(
        self,
        services: ServicesDep,
        principal: PrincipalDep,
        tenant: TenantFilter = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> Page[Upstream]:
        if tenant is None and not sees_every_tenant(services.policies, principal):
            raise PermissionDeniedError("name a tenant: you may not list every tenant's upstreams")
        if tenant is not None:
            authorize(services.policies, principal, Action.READ_CATALOG, tenant)
        return await services.catalog.list_upstreams(tenant=tenant, cursor=cursor, limit=limit)

    @get("/{upstream_id:int}")
    async def get_upstream(
        self, upstream_id: FromPath[int], services: ServicesDep, principal: PrincipalDep
    ) -> UpstreamStatus:
        upstream = await visible_upstream(services, principal, upstream_id, Action.READ_CATALOG)
        runs = await services.syncs.recent_runs(upstream_id, limit=10)
        return UpstreamStatus(upstream=upstream, recent_syncs=runs)

    @patch("/{upstream_id:int}")
    async def update_upstream(
        self,
        upstream_id: FromPath[int],
        data: JSONBody[UpstreamPatch],
        services: ServicesDep,
        principal: PrincipalDep,
    ) -> Upstream:
        await visible_upstream(services, principal, upstream_id, Action.MANAGE_UPSTREAMS)
        updated = await services.catalog.update_upstream(upstream_id, data)
        await services.notifier.upstream_changed(upstream_id)  # e.g. disabled: its entries go away
        return updated

    @delete("/{upstream_id:int}")
    async def delete_upstream(self, upstream_id: FromPath[int], services: ServicesDep, principal: PrincipalDep) -> None:
        await visible_upstream(services, principal, upstream_id, Action.MANAGE_UPSTREAMS)
        await services.notifier.upstream_changed(upstream_id)  # before the cascade removes the entries
        await services.catalog.delete_upstream(upstream_id)

    @post("/{upstream_id:int}/sync", status_code=200)
    async def sync_upstream(
        self, upstream_id: FromPath[int], services: ServicesDep, principal: PrincipalDep
    ) -> SyncRun:
        """Discover now. A failing upstream answers 502/504 with the recorded error; nothing changes."""
        await visible_upstream(services, principal, upstream_id, Action.MANAGE_UPSTREAMS)
        run = await services.syncs.sync(upstream_id, principal=principal.name, trigger="api")
        if run.status != "ok":
            error = _SYNC_ERRORS.get(run.error_code or "", UpstreamError)
            raise error(f"sync run {run.id} failed: {run.error}")
        return run
