"""The one place that decides what an admin API caller may do.

The policy issue moves these rules into the Casbin model in ``policies/``; until then
they are this small table, and every route calls :func:`authorize` (and nothing else).

    action            tenant T                                         global (T is None)
    manage_platform   platform_admin                                   platform_admin
    manage_tenant     platform_admin, tenant_admin:T                   platform_admin
    read_catalog      platform_admin, tenant_admin:T,                  any role (global upstreams
                      security_reviewer:T, security_reviewer:*         are offered to every tenant)
    review            security_reviewer:T, security_reviewer:*         security_reviewer:*
"""

from __future__ import annotations

import enum

from registry import PermissionDeniedError, Principal

PLATFORM_ADMIN = "platform_admin"
GLOBAL_REVIEWER = "security_reviewer:*"


class Action(enum.StrEnum):
    MANAGE_PLATFORM = "manage_platform"
    MANAGE_TENANT = "manage_tenant"
    READ_CATALOG = "read_catalog"
    REVIEW = "review"


def allowed(principal: Principal, action: Action, tenant: str | None) -> bool:
    roles = set(principal.roles)
    if action is Action.MANAGE_PLATFORM:
        return PLATFORM_ADMIN in roles
    if action is Action.MANAGE_TENANT:
        return PLATFORM_ADMIN in roles or (tenant is not None and f"tenant_admin:{tenant}" in roles)
    if action is Action.READ_CATALOG:
        if tenant is None:
            return bool(roles)
        return bool(roles & {PLATFORM_ADMIN, GLOBAL_REVIEWER, f"tenant_admin:{tenant}", f"security_reviewer:{tenant}"})
    return GLOBAL_REVIEWER in roles or (tenant is not None and f"security_reviewer:{tenant}" in roles)


def authorize(principal: Principal, action: Action, tenant: str | None) -> None:
    """Raises: PermissionDeniedError: the principal's roles do not allow ``action`` on ``tenant``."""
    if not allowed(principal, action, tenant):
        where = "the platform" if tenant is None else f"tenant {tenant!r}"
        raise PermissionDeniedError(f"{principal.name} may not {action.value} in {where}")


def sees_every_tenant(principal: Principal) -> bool:
    """May list across all tenants without naming one."""
    return bool(set(principal.roles) & {PLATFORM_ADMIN, GLOBAL_REVIEWER})
