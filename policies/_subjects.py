"""Who asks: a credential's principal and role strings as a Casbin subject and request-time g links.

Stored g lines name subjects (``g, user:alice, analyst, acme``); a credential may also *assert*
roles. Those become g links for the one request being decided, never stored:

    role string on the credential     g link, for a request in domain D
    platform_admin                    (platform_admin, *)                   in every D
    <role>:*   (security_reviewer:*)  (<role>, *)                           in every D
    <role>:<T> (tenant_admin:acme)    (<role>, T)                           only when D is T
                                      (member, *)                           only when D is "*"

So a tenant admin of acme is ``tenant_admin`` in acme and nothing anywhere else, except
``member`` in requests about the platform itself (domain ``*``): the built-in line
``p, member, *, admin/catalog, read`` lets anyone who holds some role read the global catalog.
``member`` is never linked for a request about a tenant, so it cannot reach any tenant's data.

Any other plain role links nothing: an admin token carries only the forms above
(registry/_tokens.py checks them), so a role a credential merely names cannot become
platform-wide by accident. An agent's roles at a tenant's MCP endpoint are that tenant's role
names, passed as ``roles`` to :meth:`PolicyEngine.view` directly.

Reserved roles are the built-in admin roles: only platform admins may write a tenant line that
names them or an ``admin/`` object (:func:`is_privileged`), so a tenant admin cannot widen their
own powers (grant themselves ``security_reviewer`` to approve their own upstream, say).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from policies._model import ANY_DOMAIN

if TYPE_CHECKING:
    from collections.abc import Iterable

    from policies._lines import PolicyLine

PLATFORM_ADMIN = "platform_admin"
TENANT_ADMIN = "tenant_admin"
SECURITY_REVIEWER = "security_reviewer"
MEMBER = "member"
RESERVED_ROLES = frozenset({PLATFORM_ADMIN, TENANT_ADMIN, SECURITY_REVIEWER, MEMBER})
_KINDS = ("agent:", "svc:", "user:")


def subject_of(principal: str) -> str:
    """``alice`` → ``user:alice``; a name that already says its kind (``agent:bot``) is kept."""
    return principal if principal.startswith(_KINDS) else f"user:{principal}"


def role_links(role_strings: Iterable[str], domain: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(roles, global_roles)`` for :meth:`PolicyIndex.decide` of a request in ``domain``.

    ``roles`` are g links in ``domain``; ``global_roles`` are g links in ``*``. Both sorted and
    free of duplicates, so equal credentials share one cached view.
    """
    local: set[str] = set()
    everywhere: set[str] = set()
    for text in role_strings:
        role, colon, scope = text.partition(":")
        if not colon:
            if role == PLATFORM_ADMIN:
                everywhere.add(role)
        elif scope == ANY_DOMAIN:
            everywhere.add(role)
        elif domain == ANY_DOMAIN:
            local.add(MEMBER)
        elif scope == domain:
            local.add(role)
    return tuple(sorted(local)), tuple(sorted(everywhere))


def is_privileged(line: PolicyLine) -> bool:
    """Whether only a platform admin may write ``line`` into a tenant's domain."""
    if line.ptype == "g":
        return line.values[1] in RESERVED_ROLES or line.values[0] in RESERVED_ROLES
    subject, _domain, obj, _act, _eft = line.values
    return subject in RESERVED_ROLES or not obj.startswith("mcp/")
