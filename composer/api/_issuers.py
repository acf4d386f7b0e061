"""A tenant's OAuth issuers: whose bearer JWTs its MCP endpoints accept (create, list, get, delete)."""

from __future__ import annotations

from litestar import Controller, delete, get, post
from litestar.params import FromPath, JSONBody

from composer._auth import PrincipalDep
from composer._authz import Action, authorize
from composer._services import ServicesDep
from registry import Issuer, IssuerSpec, Page


class IssuerController(Controller):
    path = "/api/v1/tenants/{tenant:str}/issuers"
    tags = ["issuers"]

    @post("/")
    async def create_issuer(
        self, tenant: FromPath[str], data: JSONBody[IssuerSpec], services: ServicesDep, principal: PrincipalDep
    ) -> Issuer:
        """Trust an issuer; without ``jwks_uri`` its keys are found through its metadata when first needed."""
        authorize(services.policies, principal, Action.MANAGE_TENANT, tenant)
        return await services.issuers.create(tenant, data, principal=principal.name)

    @get("/")
    async def list_issuers(self, tenant: FromPath[str], services: ServicesDep, principal: PrincipalDep) -> Page[Issuer]:
        authorize(services.policies, principal, Action.MANAGE_TENANT, tenant)
        return Page(items=await services.issuers.list(tenant))

    @get("/{issuer_id:int}")
    async def get_issuer(
        self, tenant: FromPath[str], issuer_id: FromPath[int], services: ServicesDep, principal: PrincipalDep
    ) -> Issuer:
        authorize(services.policies, principal, Action.MANAGE_TENANT, tenant)
        return await services.issuers.get(tenant, issuer_id)

    @delete("/{issuer_id:int}")
    async def delete_issuer(
        self, tenant: FromPath[str], issuer_id: FromPath[int], services: ServicesDep, principal: PrincipalDep
    ) -> None:
        """Stop trusting the issuer: its tokens are refused from the next request on."""
        authorize(services.policies, principal, Action.MANAGE_TENANT, tenant)
        await services.issuers.delete(tenant, issuer_id)
