"""Virtual servers: a tenant admin's curated selections, each served at /mcp/{tenant}/{slug}."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, delete, get, post, put
from litestar.params import FromPath, JSONBody

from composer._auth import PrincipalDep
from composer._authz import Action, authorize
from composer._services import ServicesDep
from registry._virtual import EntrySpec, VirtualServer, VirtualServerSpec

EntryList = Annotated[list[EntrySpec], msgspec.Meta(max_length=5000)]


class VirtualServerController(Controller):
    path = "/api/v1/tenants/{tenant:str}/virtual-servers"
    tags = ["virtual servers"]

    @post("/")
    async def create_virtual_server(
        self, tenant: FromPath[str], data: JSONBody[VirtualServerSpec], services: ServicesDep, principal: PrincipalDep
    ) -> VirtualServer:
        authorize(services.policies, principal, Action.CURATE, tenant)
        return await services.virtual_servers.create(tenant, data, principal=principal.name)

    @get("/")
    async def list_virtual_servers(
        self, tenant: FromPath[str], services: ServicesDep, principal: PrincipalDep
    ) -> list[VirtualServer]:
        authorize(services.policies, principal, Action.READ_CATALOG, tenant)
        return await services.virtual_servers.list_servers(tenant)

    @get("/{slug:str}")
    async def get_virtual_server(
        self, tenant: FromPath[str], slug: FromPath[str], services: ServicesDep, principal: PrincipalDep
    ) -> VirtualServer:
        authorize(services.policies, principal, Action.READ_CATALOG, tenant)
        return await services.virtual_servers.get(tenant, slug)

    @put("/{slug:str}/entries")
    async def set_entries(
        self,
        tenant: FromPath[str],
        slug: FromPath[str],
        data: JSONBody[EntryList],
        services: ServicesDep,
        principal: PrincipalDep,
    ) -> VirtualServer:
        """Replace the curated entries; a name conflict is a 409 and changes nothing."""
        authorize(services.policies, principal, Action.CURATE, tenant)
        server = await services.virtual_servers.set_entries(tenant, slug, data, principal=principal.name)
        services.notifier.virtual_server_changed(tenant, slug)
        return server

    @delete("/{slug:str}")
    async def delete_virtual_server(
        self, tenant: FromPath[str], slug: FromPath[str], services: ServicesDep, principal: PrincipalDep
    ) -> None:
        authorize(services.policies, principal, Action.CURATE, tenant)
        await services.virtual_servers.delete(tenant, slug)
        services.notifier.virtual_server_changed(tenant, slug)  # its cached view goes at once
