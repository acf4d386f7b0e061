"""The one place that decides what an admin API caller may do: the Casbin model in ``policies/``.

Every route calls :func:`authorize` (or :func:`allowed`, to answer "not found" rather than
"forbidden" for what the caller may not even read). Each :class:`Action` is an object
``admin/<area>`` and an action; the request's domain is the tenant, or ``*`` for the platform
itself. The caller is ``subject_of(principal.name)`` (``user:alice``, ``agent:bot``) with the g
links its token's role strings give (policies/_subjects.py) plus any stored g lines.

The built-in lines (migration 0004, domain ``*``, so they apply in every tenant) keep the rules
this module used to hard-code:

    action            tenant T                                         platform (T is None)
    manage_platform   platform_admin                                   platform_admin
    manage_* of T     platform_admin, tenant_admin:T                   platform_admin
    read_catalog      platform_admin, tenant_admin:T,                  any role (``member``: global
                      security_reviewer:T, security_reviewer:*         upstreams are offered to all)
    review            security_reviewer:T, security_reviewer:*         security_reviewer:*
    read_policies     platform_admin, tenant_admin:T, security_reviewer:T or :*

A platform admin is not a reviewer (no ``review`` line): separation of duties holds unless the
same person also holds a reviewer role.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

from policies import ANY_DOMAIN, admin_object, role_links, subject_of
from registry import PermissionDeniedError, Principal

if TYPE_CHECKING:
    from policies import PolicyEngine


class Action(enum.Enum):
    """An admin API permission: ``(area, action)`` on the object ``admin/<area>``."""

    MANAGE_PLATFORM = ("platform", "manage")
    MANAGE_TENANT = ("tenants", "manage")
    MANAGE_UPSTREAMS = ("upstreams", "manage")
    MANAGE_CREDENTIALS = ("credentials", "manage")
    MANAGE_POLICIES = ("policies", "manage")
    CURATE = ("virtual-servers", "curate")
    READ_CATALOG = ("catalog", "read")
    READ_POLICIES = ("policies", "read")
    REVIEW = ("reviews", "review")

    @property
    def object(self) -> str:
        return admin_object(self.value[0])

    @property
    def act(self) -> str:
        return self.value[1]


def allowed(policies: PolicyEngine, principal: Principal, action: Action, tenant: str | None) -> bool:
    domain = ANY_DOMAIN if tenant is None else tenant
    roles, global_roles = role_links(principal.roles, domain)
    return policies.decide(subject_of(principal.name), domain, action.object, action.act, roles, global_roles)


def authorize(policies: PolicyEngine, principal: Principal, action: Action, tenant: str | None) -> None:
    """Raises: PermissionDeniedError: the policies do not allow ``action`` in ``tenant``."""
    if not allowed(policies, principal, action, tenant):
        where = "the platform" if tenant is None else f"tenant {tenant!r}"
        raise PermissionDeniedError(f"{principal.name} may not {action.act} {action.object} in {where}")


def sees_every_tenant(policies: PolicyEngine, principal: Principal) -> bool:
    """May list across all tenants without naming one: reads the catalog platform-wide by a
    platform-wide role (``member``, which every role holder has there, does not count)."""
    _roles, global_roles = role_links(principal.roles, ANY_DOMAIN)
    return policies.decide(subject_of(principal.name), ANY_DOMAIN, admin_object("catalog"), "read", (), global_roles)
