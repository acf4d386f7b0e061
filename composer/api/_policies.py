"""Policy lines: a tenant's (its domain) and the platform's (domain ``*``), as JSON or Casbin CSV.

A change is stored and applied before the response, so the next request is decided by it.
Tenant admins edit their tenant's lines, except the privileged ones (naming a built-in role or
an ``admin/`` object), which only platform admins write; only platform admins edit ``*``.
Security reviewers read both.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, Request, Response, delete, get, post, put
from litestar.datastructures import State
from litestar.params import FromPath, JSONBody

from composer._auth import PrincipalDep
from composer._authz import Action, allowed, authorize
from composer._services import Services, ServicesDep
from policies import ANY_DOMAIN, PolicyLine, StoredPolicyLine
from registry import InvalidInputError, Principal

LineList = Annotated[list[PolicyLine], msgspec.Meta(min_length=1, max_length=10_000)]
CSV = "text/csv; charset=utf-8"


async def _body_text(request: Request[object, object, State]) -> str:
    try:
        return (await request.body()).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInputError("the CSV must be UTF-8") from exc


def _scope(services: Services, principal: Principal, action: Action, tenant: str | None) -> str:
    authorize(services.policies, principal, action, tenant)
    return ANY_DOMAIN if tenant is None else tenant


def _privileged(services: Services, principal: Principal) -> bool:
    return allowed(services.policies, principal, Action.MANAGE_PLATFORM, None)


class TenantPolicyController(Controller):
    path = "/api/v1/tenants/{tenant:str}/policies"
    tags = ["policies"]

    @get("/")
    async def list_lines(
        self, tenant: FromPath[str], services: ServicesDep, principal: PrincipalDep
    ) -> list[StoredPolicyLine]:
        domain = _scope(services, principal, Action.READ_POLICIES, tenant)
        await services.catalog.get_tenant(tenant)
        return await services.policies.lines(domain)

    @post("/")
    async def add_lines(
        self, tenant: FromPath[str], data: JSONBody[LineList], services: ServicesDep, principal: PrincipalDep
    ) -> list[StoredPolicyLine]:
        """Add lines of this tenant's domain; all or nothing."""
        domain = _scope(services, principal, Action.MANAGE_POLICIES, tenant)
        return await services.policies.add(
            domain, data, principal=principal.name, privileged=_privileged(services, principal)
        )

    @delete("/{line_id:int}")
    async def delete_line(
        self, tenant: FromPath[str], line_id: FromPath[int], services: ServicesDep, principal: PrincipalDep
    ) -> None:
        domain = _scope(services, principal, Action.MANAGE_POLICIES, tenant)
        await services.policies.remove(domain, line_id, privileged=_privileged(services, principal))

    @get("/csv", media_type=CSV)
    async def export_csv(self, tenant: FromPath[str], services: ServicesDep, principal: PrincipalDep) -> Response[str]:
        """The tenant's lines as Casbin CSV, in a stable order (for review in version control)."""
        domain = _scope(services, principal, Action.READ_POLICIES, tenant)
        await services.catalog.get_tenant(tenant)
        return Response(await services.policies.export_csv(domain), media_type=CSV)

    @put("/csv")
    async def import_csv(
        self,
        tenant: FromPath[str],
        request: Request[object, object, State],
        services: ServicesDep,
        principal: PrincipalDep,
    ) -> list[StoredPolicyLine]:
        """Replace the tenant's lines with a Casbin CSV, atomically; a bad line is a 422 naming it."""
        domain = _scope(services, principal, Action.MANAGE_POLICIES, tenant)
        return await services.policies.import_csv(
            domain, await _body_text(request), principal=principal.name, privileged=_privileged(services, principal)
        )


class PlatformPolicyController(Controller):
    path = "/api/v1/policies"
    tags = ["policies"]

    @get("/")
    async def list_lines(self, services: ServicesDep, principal: PrincipalDep) -> list[StoredPolicyLine]:
        return await services.policies.lines(_scope(services, principal, Action.READ_POLICIES, None))

    @post("/")
    async def add_lines(
        self, data: JSONBody[LineList], services: ServicesDep, principal: PrincipalDep
    ) -> list[StoredPolicyLine]:
        domain = _scope(services, principal, Action.MANAGE_POLICIES, None)
        return await services.policies.add(domain, data, principal=principal.name, privileged=True)

    @delete("/{line_id:int}")
    async def delete_line(self, line_id: FromPath[int], services: ServicesDep, principal: PrincipalDep) -> None:
        domain = _scope(services, principal, Action.MANAGE_POLICIES, None)
        await services.policies.remove(domain, line_id, privileged=True)

    @get("/csv", media_type=CSV)
    async def export_csv(self, services: ServicesDep, principal: PrincipalDep) -> Response[str]:
        domain = _scope(services, principal, Action.READ_POLICIES, None)
        return Response(await services.policies.export_csv(domain), media_type=CSV)

    @put("/csv")
    async def import_csv(
        self, request: Request[object, object, State], services: ServicesDep, principal: PrincipalDep
    ) -> list[StoredPolicyLine]:
        domain = _scope(services, principal, Action.MANAGE_POLICIES, None)
        return await services.policies.import_csv(
            domain, await _body_text(request), principal=principal.name, privileged=True
        )
