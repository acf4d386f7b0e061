"""Credentials for upstreams: set, list, delete. Values are write-only.

:class:`CredentialController`: a tenant's, for its own upstreams and the global ones it uses;
a global upstream used by the tenant is rendered with this tenant's credentials only.
:class:`PlatformCredentialController`: the platform's, for a global upstream only, used to
discover it (syncs) and never for a tenant's calls; platform admins only.

No response ever carries a value, a client secret or a token: only names, kinds and
non-secret metadata.
"""

from __future__ import annotations

from litestar import Controller, delete, get, put
from litestar.params import FromPath, JSONBody

from composer._auth import PrincipalDep
from composer._authz import Action, authorize
from composer._services import ServicesDep
from registry import CredentialInfo, CredentialSpec, Page


class CredentialController(Controller):
    path = "/api/v1/tenants/{tenant:str}/upstreams/{upstream_id:int}/credentials"
    tags = ["credentials"]

    @get("/")
    async def list_credentials(
        self, tenant: FromPath[str], upstream_id: FromPath[int], services: ServicesDep, principal: PrincipalDep
    ) -> Page[CredentialInfo]:
        """The tenant's credentials for the upstream: names, kinds, metadata; never values."""
        authorize(services.policies, principal, Action.MANAGE_CREDENTIALS, tenant)
        return Page(items=await services.credentials.list_credentials(tenant, upstream_id))

    @put("/{name:str}")
    async def set_credential(
        self,
        tenant: FromPath[str],
        upstream_id: FromPath[int],
        name: FromPath[str],
        data: JSONBody[CredentialSpec],
        services: ServicesDep,
        principal: PrincipalDep,
    ) -> CredentialInfo:
        """Create or replace the credential that fills ``${name}`` in the upstream's templates."""
        authorize(services.policies, principal, Action.MANAGE_CREDENTIALS, tenant)
        return await services.credentials.set_credential(tenant, upstream_id, name, data, principal=principal.name)

    @delete("/{name:str}")
    async def delete_credential(
        self,
        tenant: FromPath[str],
        upstream_id: FromPath[int],
        name: FromPath[str],
        services: ServicesDep,
        principal: PrincipalDep,
    ) -> None:
        authorize(services.policies, principal, Action.MANAGE_CREDENTIALS, tenant)
        await services.credentials.delete_credential(tenant, upstream_id, name)


class PlatformCredentialController(Controller):
    path = "/api/v1/upstreams/{upstream_id:int}/credentials"
    tags = ["credentials"]

    @get("/")
    async def list_platform_credentials(
        self, upstream_id: FromPath[int], services: ServicesDep, principal: PrincipalDep
    ) -> Page[CredentialInfo]:
        """The platform's credentials for a global upstream: names, kinds, metadata; never values."""
        authorize(services.policies, principal, Action.MANAGE_CREDENTIALS, None)
        return Page(items=await services.credentials.list_credentials(None, upstream_id))

    @put("/{name:str}")
    async def set_platform_credential(
        self,
        upstream_id: FromPath[int],
        name: FromPath[str],
        data: JSONBody[CredentialSpec],
        services: ServicesDep,
        principal: PrincipalDep,
    ) -> CredentialInfo:
        """Create or replace the credential that fills ``${name}`` when a global upstream is synced."""
        authorize(services.policies, principal, Action.MANAGE_CREDENTIALS, None)
        return await services.credentials.set_credential(None, upstream_id, name, data, principal=principal.name)

    @delete("/{name:str}")
    async def delete_platform_credential(
        self, upstream_id: FromPath[int], name: FromPath[str], services: ServicesDep, principal: PrincipalDep
    ) -> None:
        authorize(services.policies, principal, Action.MANAGE_CREDENTIALS, None)
        await services.credentials.delete_credential(None, upstream_id, name)
