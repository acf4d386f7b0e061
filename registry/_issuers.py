"""A tenant's trusted OAuth 2.1 issuers: whose bearer JWTs its MCP endpoints accept.

Only asymmetric signature algorithms are accepted: ``none`` and the HMAC family would let
anyone holding the (public) JWKS mint tokens. Issuers must use HTTPS, except on loopback.
"""

from __future__ import annotations

import re
import time
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import urlsplit

import msgspec
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from registry._clock import now
from registry._errors import AlreadyExistsError, InvalidInputError, NotFoundError
from registry._models import OAuthIssuerRow, TenantRow

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
DEFAULT_ALGORITHMS = ("RS256", "ES256", "EdDSA")
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
_CLAIM_PATH = re.compile(r"^[A-Za-z0-9_:/.-]{1,200}$")
_SCOPE = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]{1,200}$")  # RFC 6749 section 3.3 scope-token

Url = Annotated[str, msgspec.Meta(min_length=8, max_length=500)]


class IssuerSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What an admin configures for one issuer of a tenant."""

    issuer: Url
    # None: discovered from the issuer's RFC 8414 / OpenID Connect metadata when first needed.
    jwks_uri: Url | None = None
    algorithms: list[str] = msgspec.field(default_factory=lambda: list(DEFAULT_ALGORITHMS))
    # Dotted path into the claims, e.g. "realm_access.roles"; a list or a space-separated string.
    roles_claim: str = "roles"
    principal_claim: str = "sub"
    # Principals are named "<kind>:<claim value>"; "agent" suits client-credentials tokens.
    principal_kind: Literal["user", "agent"] = "user"
    required_scopes: list[str] = msgspec.field(default_factory=list)

    def __post_init__(self) -> None:
        check_issuer_url(self.issuer, "issuer")
        if self.jwks_uri is not None:
            check_issuer_url(self.jwks_uri, "jwks_uri")
        bad = [alg for alg in self.algorithms if alg not in ASYMMETRIC_ALGORITHMS]
        if bad or not self.algorithms:
            raise InvalidInputError(f"algorithms must be among {sorted(ASYMMETRIC_ALGORITHMS)}, not {bad}")
        for claim in (self.roles_claim, self.principal_claim):
            if not _CLAIM_PATH.match(claim) or "" in claim.split("."):
                raise InvalidInputError(f"invalid claim path {claim!r}")
        if not all(_SCOPE.match(scope) for scope in self.required_scopes):
            raise InvalidInputError("required_scopes must be RFC 6749 scope tokens")


class Issuer(msgspec.Struct, frozen=True, kw_only=True):
    """A configured issuer, as the verifier and the admin API see it."""

    id: int
    tenant: str
    issuer: str
    jwks_uri: str | None
    algorithms: tuple[str, ...]
    roles_claim: str
    principal_claim: str
    principal_kind: str
    required_scopes: tuple[str, ...]
    created_by: str
    created_at: datetime


def check_issuer_url(url: str, what: str) -> str:
    """Raises: InvalidInputError: not an absolute https URL (http only on loopback), or with a query/fragment."""
    parts = urlsplit(url)
    loopback = parts.scheme == "http" and (parts.hostname or "") in _LOOPBACK
    if not (parts.scheme == "https" or loopback) or not parts.hostname or parts.query or parts.fragment:
        raise InvalidInputError(f"{what} must be an https URL without query or fragment (http only on loopback)")
    return url


def _from_row(row: OAuthIssuerRow, tenant: str) -> Issuer:
    return Issuer(
        id=row.id,
        tenant=tenant,
        issuer=row.issuer,
        jwks_uri=row.jwks_uri,
        algorithms=tuple(row.algorithms),
        roles_claim=row.roles_claim,
        principal_claim=row.principal_claim,
        principal_kind=row.principal_kind,
        required_scopes=tuple(row.required_scopes),
        created_by=row.created_by,
        created_at=row.created_at,
    )


class Issuers:
    """The store of tenants' issuers.

    :meth:`trusted` is what authentication reads on every request with a JWT, so it is cached
    for ``ttl`` seconds; a change through this object drops the cache at once, one made by
    another process is seen within the TTL.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, ttl: float = 2.0) -> None:
        self._sessions = sessions
        self._ttl = ttl
        self._trusted: dict[str, tuple[float, list[Issuer]]] = {}

    async def trusted(self, tenant: str) -> list[Issuer]:
        """:meth:`list`, from a short-lived cache. Raises: NotFoundError: no such tenant."""
        cached = self._trusted.get(tenant)
        if cached is not None and time.monotonic() - cached[0] < self._ttl:
            return cached[1]
        started = time.monotonic()
        issuers = await self.list(tenant)
        if len(self._trusted) >= 10_000:
            self._trusted.clear()
        self._trusted[tenant] = (started, issuers)
        return issuers

    async def create(self, tenant: str, spec: IssuerSpec, *, principal: str) -> Issuer:
        """Raises: NotFoundError: no such tenant. AlreadyExistsError: the tenant trusts this issuer already."""
        values: dict[str, Any] = msgspec.structs.asdict(spec)
        async with self._sessions() as session:
            row = OAuthIssuerRow(
                tenant_id=await _tenant_id(session, tenant), created_by=principal, created_at=now(), **values
            )
            session.add(row)
            try:
                await session.commit()
            except IntegrityError as exc:
                raise AlreadyExistsError(f"tenant {tenant!r} already trusts issuer {spec.issuer!r}") from exc
            self._trusted.pop(tenant, None)
            return _from_row(row, tenant)

    async def list(self, tenant: str) -> list[Issuer]:
        """Raises: NotFoundError: no such tenant."""
        async with self._sessions() as session:
            tenant_id = await _tenant_id(session, tenant)
            rows = await session.scalars(
                select(OAuthIssuerRow).where(OAuthIssuerRow.tenant_id == tenant_id).order_by(OAuthIssuerRow.id)
            )
            return [_from_row(row, tenant) for row in rows]

    async def get(self, tenant: str, issuer_id: int) -> Issuer:
        """Raises: NotFoundError: no such issuer in that tenant."""
        async with self._sessions() as session:
            return _from_row(await _load(session, tenant, issuer_id), tenant)

    async def delete(self, tenant: str, issuer_id: int) -> None:
        """Raises: NotFoundError: no such issuer in that tenant."""
        async with self._sessions() as session:
            await session.delete(await _load(session, tenant, issuer_id))
            await session.commit()
        self._trusted.pop(tenant, None)


async def _load(session: AsyncSession, tenant: str, issuer_id: int) -> OAuthIssuerRow:
    row = await session.get(OAuthIssuerRow, issuer_id)
    if row is None or row.tenant_id != await _tenant_id(session, tenant):
        raise NotFoundError(f"no issuer {issuer_id} in tenant {tenant!r}")
    return row


async def _tenant_id(session: AsyncSession, tenant: str) -> int:
    tenant_id = await session.scalar(select(TenantRow.id).where(TenantRow.slug == tenant))
    if tenant_id is None:
        raise NotFoundError(f"no tenant {tenant!r}")
    return tenant_id
