"""A tenant's agent keys: create (the secret is shown once), list, get, rotate with grace, revoke.

No response but the one answering create and rotate carries a secret; lists and records show
the key's first characters (``prefix``) to recognise it by, and never its hash.
"""

from __future__ import annotations

from litestar import Controller, delete, get, post
from litestar.params import FromPath, JSONBody

from composer._auth import PrincipalDep
from composer._authz import Action, authorize
from composer._services import ServicesDep
from registry import AgentKeySpec, ApiToken, KeyRotation, MintedToken, Page


class AgentKeyController(Controller):
    path = "/api/v1/tenants/{tenant:str}/agent-keys"
    tags = ["agent keys"]

    @post("/")
    async def create_agent_key(
        self, tenant: FromPath[str], data: JSONBody[AgentKeySpec], services: ServicesDep, principal: PrincipalDep
    ) -> MintedToken:
        """A key for ``agent:<name>`` at the tenant's MCP endpoints; ``secret`` is shown this once."""
        authorize(services.policies, principal, Action.MANAGE_TENANT, tenant)
        return await services.agent_keys.create(tenant, data, principal=principal.name)

    @get("/")
    async def list_agent_keys(
        self, tenant: FromPath[str], services: ServicesDep, principal: PrincipalDep
    ) -> Page[ApiToken]:
        """Every key of the tenant, revoked, expired and rotated ones included; never a secret."""
        authorize(services.policies, principal, Action.MANAGE_TENANT, tenant)
        return Page(items=await services.agent_keys.list(tenant))

    @get("/{key_id:int}")
    async def get_agent_key(
        self, tenant: FromPath[str], key_id: FromPath[int], services: ServicesDep, principal: PrincipalDep
    ) -> ApiToken:
        authorize(services.policies, principal, Action.MANAGE_TENANT, tenant)
        return await services.agent_keys.get(tenant, key_id)

    @post("/{key_id:int}/rotate")
    async def rotate_agent_key(
        self,
        tenant: FromPath[str],
        key_id: FromPath[int],
        services: ServicesDep,
        principal: PrincipalDep,
        data: JSONBody[KeyRotation | None] = None,
    ) -> MintedToken:
        """A successor key (its secret shown this once); the old key works ``grace_seconds`` more."""
        authorize(services.policies, principal, Action.MANAGE_TENANT, tenant)
        return await services.agent_keys.rotate(tenant, key_id, data or KeyRotation(), principal=principal.name)

    @delete("/{key_id:int}")
    async def revoke_agent_key(
        self, tenant: FromPath[str], key_id: FromPath[int], services: ServicesDep, principal: PrincipalDep
    ) -> None:
        """Revoke at once; the record stays (listed with ``revoked_at``)."""
        authorize(services.policies, principal, Action.MANAGE_TENANT, tenant)
        await services.agent_keys.revoke(tenant, key_id)
