"""API tokens: admin tokens and per-tenant agent keys, shown once, stored only as SHA-256 hashes.

A token is bound to a principal and its roles. Role strings:
``platform_admin``, ``tenant_admin:<tenant>``, ``security_reviewer:<tenant>`` and
``security_reviewer:*`` (a reviewer of every tenant and of global upstreams).

A token may instead be bound to a tenant: an *agent key*. Its principal is ``agent:<name>``,
its roles are the tenant's own role names (``analyst``: what the tenant's policies speak of,
never an admin role), and it authenticates only at that tenant's MCP endpoints
(:meth:`Tokens.verify` with that ``tenant``). The admin API refuses it, and an admin token
is refused at the MCP endpoints: each credential works where it was made for, nowhere else.

Rotation mints a successor with the same principal, tenant and roles, and cuts the old key's
expiry to now + a grace period, so agents can switch over without an outage.

No pepper or HMAC: secrets are 256 random bits, so a leaked hash cannot be brute-forced
anyway; a pepper only helps low-entropy secrets such as passwords.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, cast

import msgspec
from sqlalchemy import select
from sqlalchemy.orm import aliased

from registry._clock import now
from registry._errors import AuthenticationError, ConflictError, InvalidInputError, NotFoundError
from registry._models import ApiTokenRow, TenantRow

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement, Select
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

TOKEN_PREFIX = "atr_"  # noqa: S105 - a marker, not a secret
_ROLE = re.compile(r"^(platform_admin|(tenant_admin|security_reviewer):([a-z0-9][a-z0-9-]{0,62}|\*))$")
_PRINCIPAL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@:+-]{0,199}$")
_AGENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,99}$")
# A tenant role name, as policies/_names.py spells roles (registry may not import policies).
_TENANT_ROLE = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
AGENT_PREFIX = "agent:"


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
    # An agent key's tenant; None for an admin token.
    tenant: str | None = None
    # The successor minted by a rotation; this token then expires at the end of the grace period.
    replaced_by: int | None = None
    created_by: str | None = None


class MintedToken(msgspec.Struct, frozen=True, kw_only=True):
    token: ApiToken
    secret: str


def check_role(role: str) -> str:
    match = _ROLE.match(role)
    if match is None or (match.group(2) == "tenant_admin" and match.group(3) == "*"):
        raise InvalidInputError(f"invalid role {role!r}")
    return role


def agent_principal(name: str) -> str:
    """The namespaced principal of an agent (``agent:<name>``).

    Raises:
        InvalidInputError: a malformed name.
    """
    if not _AGENT_NAME.match(name):
        raise InvalidInputError(f"invalid agent name {name!r}")
    return AGENT_PREFIX + name


def check_tenant_role(role: str) -> str:
    """Raises: InvalidInputError: not a tenant role name (``analyst``; no admin role, no tenant)."""
    if not _TENANT_ROLE.match(role):
        raise InvalidInputError(f"invalid tenant role {role!r}")
    return role


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _from_row(row: ApiTokenRow, tenant: str | None) -> ApiToken:
    return ApiToken(
        id=row.id,
        prefix=row.prefix,
        principal=row.principal,
        roles=list(row.roles),
        description=row.description,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        tenant=tenant,
        replaced_by=row.replaced_by_id,
        created_by=row.created_by,
    )


def _with_tenant() -> Select[ApiTokenRow, str | None]:
    # An outer join: the slug is None for a token bound to no tenant.
    tenant = aliased(TenantRow)
    slug = cast("ColumnElement[str | None]", tenant.slug)
    return select(ApiTokenRow, slug).outerjoin(tenant, tenant.id == ApiTokenRow.tenant_id)


def _is_live(row: ApiTokenRow) -> bool:
    return row.revoked_at is None and (row.expires_at is None or row.expires_at > now())


class Tokens:
    """``verify_ttl``: how long a verified secret is trusted without a database read (every MCP
    request verifies its key). Revocation and rotation through this object drop the cache at
    once; one made by another process (the CLI, a second server) takes effect within the TTL.
    Expiry is checked on every use."""

    _MAX_VERIFIED = 10_000

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, verify_ttl: float = 2.0) -> None:
        self._sessions = sessions
        self._verify_ttl = verify_ttl
        # digest -> (verified at, token, its tenant, its expiry as a POSIX time or None): live keys only.
        self._verified: dict[str, tuple[float, ApiToken, str | None, float | None]] = {}

    async def mint(
        self,
        principal: str,
        roles: list[str],
        *,
        description: str = "",
        ttl: timedelta | None = None,
        tenant: str | None = None,
        created_by: str | None = None,
    ) -> MintedToken:
        """Create a token; the secret is in the result and nowhere else.

        With ``tenant``, an agent key of that tenant: ``principal`` must be ``agent:<name>`` and
        ``roles`` tenant role names. Without, an admin token with admin roles.

        Raises:
            InvalidInputError: a malformed principal or role.
            NotFoundError: no such tenant.
        """
        if not _PRINCIPAL.match(principal):
            raise InvalidInputError(f"invalid principal name {principal!r}")
        if tenant is None:
            checked = {check_role(role) for role in roles}
        else:
            if not principal.startswith(AGENT_PREFIX) or not _AGENT_NAME.match(principal.removeprefix(AGENT_PREFIX)):
                raise InvalidInputError(f"an agent key's principal is agent:<name>, not {principal!r}")
            checked = {check_tenant_role(role) for role in roles}
        if ttl is not None and ttl <= timedelta(0):
            raise InvalidInputError("a token's lifetime must be positive")
        async with self._sessions() as session:
            tenant_id = None if tenant is None else await _tenant_id(session, tenant)
            secret, row = _new_row(principal, sorted(checked), description, ttl, tenant_id, created_by)
            session.add(row)
            await session.commit()
            return MintedToken(token=_from_row(row, tenant), secret=secret)

    async def authenticate(self, secret: str) -> Principal:
        """The principal behind an admin token (the admin API; an agent key is refused).

        Raises:
            AuthenticationError: unknown, revoked, expired, rotated out, or an agent key
                (one code for all: no oracle).
        """
        token = await self.verify(secret)
        return Principal(name=token.principal, roles=tuple(token.roles))

    async def verify(self, secret: str, *, tenant: str | None = None) -> ApiToken:
        """The live token behind ``secret``: an agent key of ``tenant``, or with None an admin token.

        Raises:
            AuthenticationError: unknown, revoked, expired, rotated out after its grace period,
                or made for somewhere else (one code for all: no oracle).
        """
        if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
            raise AuthenticationError("invalid API token")
        digest = _digest(secret)
        cached = self._verified.get(digest)
        if cached is not None and time.monotonic() - cached[0] < self._verify_ttl:
            _checked, token, bound_to, expires = cached
            if (expires is not None and expires <= time.time()) or bound_to != tenant:
                raise AuthenticationError("invalid API token")
            return token
        checked = time.monotonic()
        async with self._sessions() as session:
            found = (await session.execute(_with_tenant().where(ApiTokenRow.token_hash == digest))).first()
        # The lookup is by hash, so timing reveals nothing of the secret; compare anyway.
        if found is None or not hmac.compare_digest(found[0].token_hash, digest):
            raise AuthenticationError("invalid API token")
        row, bound_to = found
        if not _is_live(row) or bound_to != tenant:
            raise AuthenticationError("invalid API token")
        token = _from_row(row, bound_to)
        if len(self._verified) >= self._MAX_VERIFIED:
            self._verified.clear()
        expires = None if row.expires_at is None else row.expires_at.timestamp()
        self._verified[digest] = (checked, token, bound_to, expires)
        return token

    async def get(self, token_id: int, *, tenant: str | None = None) -> ApiToken:
        """Raises: NotFoundError: no such token (or, with ``tenant``, none bound to that tenant)."""
        async with self._sessions() as session:
            row, slug = await _load(session, token_id, tenant)
            return _from_row(row, slug)

    async def revoke(self, token_id: int, *, tenant: str | None = None) -> ApiToken:
        """Revoke now (idempotent). Raises: NotFoundError: as :meth:`get`."""
        async with self._sessions() as session:
            row, slug = await _load(session, token_id, tenant)
            row.revoked_at = row.revoked_at or now()
            await session.commit()
            self._verified.clear()
            return _from_row(row, slug)

    async def rotate(
        self,
        token_id: int,
        *,
        tenant: str | None = None,
        grace: timedelta = timedelta(0),
        ttl: timedelta | None = None,
        created_by: str | None = None,
    ) -> MintedToken:
        """Mint a successor (same principal, tenant, roles) and let this token expire after ``grace``.

        ``ttl``: the successor's lifetime; None keeps the old token's lifetime (or none).

        Raises:
            NotFoundError: as :meth:`get`.
            ConflictError: the token is revoked, expired or already rotated.
            InvalidInputError: a negative grace or a non-positive ttl.
        """
        if grace < timedelta(0) or (ttl is not None and ttl <= timedelta(0)):
            raise InvalidInputError("grace must be >= 0 and ttl > 0")
        async with self._sessions() as session:
            old, slug = await _load(session, token_id, tenant)
            if not _is_live(old) or old.replaced_by_id is not None:
                raise ConflictError(f"token {token_id} is revoked, expired or already rotated")
            lifetime = ttl or (None if old.expires_at is None else old.expires_at - old.created_at)
            secret, row = _new_row(old.principal, list(old.roles), old.description, lifetime, old.tenant_id, created_by)
            session.add(row)
            await session.flush()
            old.replaced_by_id = row.id
            cutoff = now() + grace
            old.expires_at = cutoff if old.expires_at is None else min(old.expires_at, cutoff)
            await session.commit()
            self._verified.clear()
            return MintedToken(token=_from_row(row, slug), secret=secret)

    async def list(self, *, tenant: str | None = None) -> list[ApiToken]:
        """Every token, or with ``tenant`` only the keys bound to it (revoked and expired included)."""
        query = _with_tenant().order_by(ApiTokenRow.id)
        async with self._sessions() as session:
            if tenant is not None:
                query = query.where(ApiTokenRow.tenant_id == await _tenant_id(session, tenant))
            return [_from_row(row, slug) for row, slug in await session.execute(query)]


def _new_row(
    principal: str,
    roles: list[str],
    description: str,
    ttl: timedelta | None,
    tenant_id: int | None,
    created_by: str | None,
) -> tuple[str, ApiTokenRow]:
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    stamp = now()
    row = ApiTokenRow(
        token_hash=_digest(secret),
        prefix=secret[:12],
        principal=principal,
        roles=roles,
        description=description,
        created_at=stamp,
        expires_at=None if ttl is None else stamp + ttl,
        tenant_id=tenant_id,
        created_by=created_by,
    )
    return secret, row


async def _tenant_id(session: AsyncSession, tenant: str) -> int:
    tenant_id = await session.scalar(select(TenantRow.id).where(TenantRow.slug == tenant))
    if tenant_id is None:
        raise NotFoundError(f"no tenant {tenant!r}")
    return tenant_id


async def _load(session: AsyncSession, token_id: int, tenant: str | None) -> tuple[ApiTokenRow, str | None]:
    found = (await session.execute(_with_tenant().where(ApiTokenRow.id == token_id))).first()
    if found is None or (tenant is not None and found[1] != tenant):
        raise NotFoundError(f"no token {token_id}" + ("" if tenant is None else f" in tenant {tenant!r}"))
    return found[0], found[1]
