"""Who may list across which tenants: the shared check of the list routes' filters."""

from __future__ import annotations

from composer._authz import Action, allowed, authorize, sees_every_tenant
from composer._services import Services
from registry import NotFoundError, PermissionDeniedError, Principal


async def authorize_list_scope(
    services: Services, principal: Principal, action: Action, *, tenant: str | None, upstream_id: int | None
) -> None:
    """Allow a list filtered by ``tenant`` and/or ``upstream_id`` (neither: every tenant's).

    Raises:
        NotFoundError: an upstream the principal may not even read.
        PermissionDeniedError: the principal may not ``action`` in that scope.
    """
    if upstream_id is not None:
        upstream = await services.catalog.get_upstream(upstream_id)
        if not allowed(services.policies, principal, Action.READ_CATALOG, upstream.tenant):
            raise NotFoundError(f"no upstream {upstream_id}")
        authorize(services.policies, principal, action, upstream.tenant)
    if tenant is not None:
        authorize(services.policies, principal, action, tenant)
    elif upstream_id is None and not sees_every_tenant(services.policies, principal):
        raise PermissionDeniedError("name a tenant or an upstream: you may not list every tenant's")
