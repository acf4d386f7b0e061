"""A tenant's agent keys, as its admins manage them: create, list, rotate with grace, revoke.

A thin layer over :class:`registry._tokens.Tokens` (which stores every API token) that always
names the tenant, so no call can reach another tenant's keys, and that takes the admin API's
input structs. Secrets appear only in the :class:`MintedToken` of :meth:`AgentKeys.create`
and :meth:`AgentKeys.rotate`; records carry the first characters (``prefix``) to recognise a key.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import msgspec

from registry._tokens import ApiToken, MintedToken, Tokens, agent_principal

AgentName = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,99}$")]
# A tenant role name, as the tenant's policies name roles (policies/_names.py).
RoleName = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_-]{0,63}$")]
Days = Annotated[int, msgspec.Meta(ge=1, le=3650)]
MAX_GRACE_SECONDS = 30 * 86400


class AgentKeySpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A new agent key: it speaks for ``agent:<name>`` with ``roles`` in the tenant."""

    name: AgentName
    roles: Annotated[list[RoleName], msgspec.Meta(max_length=50)] = msgspec.field(default_factory=list)
    description: Annotated[str, msgspec.Meta(max_length=500)] = ""
    # Keys expire by default; null for a key that never does (it can still be revoked).
    ttl_days: Days | None = 90


class KeyRotation(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How to rotate: the old key stays valid ``grace_seconds`` more, so agents can switch over."""

    grace_seconds: Annotated[int, msgspec.Meta(ge=0, le=MAX_GRACE_SECONDS)] = 3600
    # The successor's lifetime; null keeps the old key's.
    ttl_days: Days | None = None


class AgentKeys:
    """The agent keys of tenants; every method names the tenant it acts in."""

    def __init__(self, tokens: Tokens) -> None:
        # The authenticator's own Tokens: a revocation here must drop what it has verified.
        self._tokens = tokens

    async def create(self, tenant: str, spec: AgentKeySpec, *, principal: str) -> MintedToken:
        """Mint a key; its secret is in the result and nowhere else.

        Raises:
            NotFoundError: no such tenant.
            InvalidInputError: a malformed name or role.
        """
        return await self._tokens.mint(
            agent_principal(spec.name),
            list(spec.roles),
            description=spec.description,
            ttl=None if spec.ttl_days is None else timedelta(days=spec.ttl_days),
            tenant=tenant,
            created_by=principal,
        )

    async def list(self, tenant: str) -> list[ApiToken]:
        """Every key of the tenant, revoked and expired ones included. Raises: NotFoundError: no such tenant."""
        return await self._tokens.list(tenant=tenant)

    async def get(self, tenant: str, key_id: int) -> ApiToken:
        """Raises: NotFoundError: no such key in that tenant."""
        return await self._tokens.get(key_id, tenant=tenant)

    async def rotate(self, tenant: str, key_id: int, rotation: KeyRotation, *, principal: str) -> MintedToken:
        """Mint the successor of a live key; the old one expires after the grace period.

        Raises:
            NotFoundError: no such key in that tenant.
            ConflictError: the key is revoked, expired or already rotated.
        """
        return await self._tokens.rotate(
            key_id,
            tenant=tenant,
            grace=timedelta(seconds=rotation.grace_seconds),
            ttl=None if rotation.ttl_days is None else timedelta(days=rotation.ttl_days),
            created_by=principal,
        )

    async def revoke(self, tenant: str, key_id: int) -> ApiToken:
        """Revoke at once (idempotent). Raises: NotFoundError: no such key in that tenant."""
        return await self._tokens.revoke(key_id, tenant=tenant)
