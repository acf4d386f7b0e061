"""Tenants: platform admins create and delete them; tenant admins read and change their own."""

from __future__ import annotations

from litestar import Controller, delete, get, patch, post
from litestar.params import FromPath, JSONBody

from composer._auth import PrincipalDep
from composer._authz import Action, authorize
from composer._services import ServicesDep
from composer.api._params import Cursor, Limit
from registry import Page, Tenant, TenantPatch, TenantSpec


class TenantController(Controller):
    path = "/api/v1/tenants"
    tags = ["tenants"]

    @post("/")
    async def create_tenant(self, data: JSONBody[TenantSpec], services: ServicesDep, principal: PrincipalDep) -> Tenant:
        authorize(services.policies, principal, Action.MANAGE_PLATFORM, None)
        return await services.catalog.create_tenant(data)

    @get("/")
    async def list_tenants(
        self, services: ServicesDep, principal: PrincipalDep, cursor: Cursor = None, limit: Limit = 50
    ) -> Page[Tenant]:
        authorize(services.policies, principal, Action.MANAGE_PLATFORM, None)
        return await services.catalog.list_tenants(cursor=cursor, limit=limit)

    @get("/{tenant:str}")
    async def get_tenant(self, tenant: FromPath[str], services: ServicesDep, principal: PrincipalDep) -> Tenant:
        authorize(services.policies, principal, Action.MANAGE_TENANT, tenant)
        return await services.catalog.get_tenant(tenant)

    @patch("/{tenant:str}")
    async def update_tenant(
        self,
        tenant: FromPath[str],
        data: JSONBody[TenantPatch],
        services: ServicesDep,
        principal: PrincipalDep,
    ) -> Tenant:
        authorize(services.policies, principal, Action.MANAGE_TENANT, tenant)
        return await services.catalog.update_tenant(tenant, data)

    @delete("/{tenant:str}")
    async def delete_tenant(self, tenant: FromPath[str], services: ServicesDep, principal: PrincipalDep) -> None:
        authorize(services.policies, principal, Action.MANAGE_PLATFORM, None)
        await services.catalog.delete_tenant(tenant)
        await services.policies.forget(tenant)  # its lines went with it; other processes must hear
        services.notifier.tenant_deleted(tenant)
