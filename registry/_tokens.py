"""Admin API tokens: minted by the CLI, shown once, stored only as SHA-256 hashes.

A token is bound to a principal and its roles. Role strings:
``platform_admin``, ``tenant_admin:<tenant>``, ``security_reviewer:<tenant>`` and
``security_reviewer:*`` (a reviewer of every tenant and of global upstreams).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import msgspec
from sqlalchemy import select

from registry._clock import now
from registry._errors import AuthenticationError, InvalidInputError, NotFoundError
from registry._models import ApiTokenRow

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

TOKEN_PREFIX = "atr_"  # noqa: S105 - a marker, not a secret
_ROLE = re.compile(r"^(platform_admin|(tenant_admin|security_reviewer):([a-z0-9][a-z0-9-]{0,62}|\*))$")
_PRINCIPAL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@:+-]{0,199}$")


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    """Who is calling, and the roles their credential grants."""

    name: str
    roles: tuple[str, ...]


class ApiToken(msgspec.Struct, frozen=True, kw_only=True):
    """A token's public record; the secret itself is never stored."""

    id: int
    prefix: str
    principal: str
    roles: list[str]
    description: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class MintedToken(msgspec.Struct, frozen=True, kw_only=True):
    token: ApiToken
    secret: str


def check_role(role: str) -> str:
    match = _ROLE.match(role)
    if match is None or (match.group(2) == "tenant_admin" and match.group(3) == "*"):
        raise InvalidInputError(f"invalid role {role!r}")
    return role


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _from_row(row: ApiTokenRow) -> ApiToken:
    return ApiToken(
        id=row.id,
        prefix=row.prefix,
        principal=row.principal,
        roles=list(row.roles),
        description=row.description,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
    )


class Tokens:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def mint(
        self, principal: str, roles: list[str], *, description: str = "", ttl: timedelta | None = None
    ) -> MintedToken:
        """Create a token; the secret is in the result and nowhere else.

        Raises:
            InvalidInputError: a malformed principal or role.
        """
        if not _PRINCIPAL.match(principal):
            raise InvalidInputError(f"invalid principal name {principal!r}")
        checked = sorted({check_role(role) for role in roles})
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        stamp = now()
        row = ApiTokenRow(
            token_hash=_digest(secret),
            prefix=secret[:12],
            principal=principal,
            roles=checked,
            description=description,
            created_at=stamp,
            expires_at=None if ttl is None else stamp + ttl,
        )
        async with self._sessions() as session:
            session.add(row)
            await session.commit()
            return MintedToken(token=_from_row(row), secret=secret)

    async def authenticate(self, secret: str) -> Principal:
        """The principal behind a presented token.

        Raises:
            AuthenticationError: unknown, revoked or expired (one code for all: no oracle).
        """
        if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
            raise AuthenticationError("invalid API token")
        digest = _digest(secret)
        async with self._sessions() as session:
            row = await session.scalar(select(ApiTokenRow).where(ApiTokenRow.token_hash == digest))
        # The lookup is by hash, so timing reveals nothing of the secret; compare anyway.
        if row is None or not hmac.compare_digest(row.token_hash, digest):
            raise AuthenticationError("invalid API token")
        if row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now()):
            raise AuthenticationError("invalid API token")
        return Principal(name=row.principal, roles=tuple(row.roles))

    async def revoke(self, token_id: int) -> ApiToken:
        async with self._sessions() as session:
            row = await session.get(ApiTokenRow, token_id)
            if row is None:
                raise NotFoundError(f"no token {token_id}")
            row.revoked_at = row.revoked_at or now()
            await session.commit()
            return _from_row(row)

    async def list(self) -> list[ApiToken]:
        async with self._sessions() as session:
            return [_from_row(row) for row in await session.scalars(select(ApiTokenRow).order_by(ApiTokenRow.id))]
