"""Per-tenant credentials for upstreams: the encrypted store, and the CredentialSource it feeds.

Each tenant keeps its own credentials for each upstream it uses, its private ones and the
global ones alike, keyed by the ``${NAME}`` placeholder they fill. A global upstream used on
behalf of tenant T is rendered with T's credentials, never another tenant's.

The platform (``tenant`` None) may keep credentials for a *global* upstream too: they render
its templates when it is used for no tenant, i.e. to discover it (syncs, list_changed
watchers). A tenant's call never falls back to them: a tenant without its own credential
fails as if there were none.

Values are encrypted with :class:`~registry._secrets.SecretBox`; only
:meth:`CredentialStore.secrets_for` decrypts, for :class:`DatabaseCredentials`, and nothing
here logs or shows a value.
"""

from __future__ import annotations

import logging
import string
from typing import TYPE_CHECKING

import msgspec
from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.exc import IntegrityError

from registry._catalog import GLOBAL_SCOPE, tenant_row, upstream_row
from registry._clock import now
from registry._credential_specs import (
    CredentialInfo,
    CredentialKind,
    CredentialSpec,
    SecretCredential,
    check_name,
)
from registry._errors import ConflictError, InvalidInputError, NotFoundError, SecretKeyError
from registry._models import CredentialRow, TenantRow
from registry._oauth import ClientCredentials, TokenCache

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Mapping

    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from registry._secrets import SecretBox
    from registry._types import Upstream

logger = logging.getLogger(__name__)


class StoredCredential(msgspec.Struct, frozen=True, kw_only=True):
    """A decrypted credential, only ever handed to :class:`DatabaseCredentials`."""

    name: str
    kind: CredentialKind
    secret: str
    details: dict[str, str]
    # Changes whenever the credential is set again (a cached OAuth token is then fetched anew).
    version: str

    def __repr__(self) -> str:
        return f"StoredCredential(name={self.name!r}, kind={self.kind.value!r}, secret=<redacted>)"


class SecretValues(dict[str, str]):
    """Rendered-template input: a plain mapping whose repr names the credentials, never their values."""

    def __repr__(self) -> str:
        return f"SecretValues({sorted(self)!r})"


def info_from_row(row: CredentialRow, tenant: str | None) -> CredentialInfo:
    return CredentialInfo(
        tenant=tenant,
        upstream_id=row.upstream_id,
        name=row.name,
        kind=CredentialKind(row.kind),
        metadata=dict(row.details),
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def _scoped(session: AsyncSession, tenant: str | None, upstream_id: int) -> int | None:
    """The tenant's id, if ``upstream_id`` is its own upstream or a global one; None for the platform.

    Raises:
        NotFoundError: no such tenant, or no such upstream that the tenant uses.
        InvalidInputError: the platform (``tenant`` None) and an upstream private to a tenant.
    """
    upstream = await upstream_row(session, upstream_id)
    if tenant is None:
        if upstream.scope != GLOBAL_SCOPE:
            raise InvalidInputError(
                f"upstream {upstream_id} belongs to tenant {upstream.scope!r}: its credentials are that tenant's"
            )
        return None
    tenant_record = await tenant_row(session, tenant)
    if upstream.scope not in (tenant, GLOBAL_SCOPE):
        raise NotFoundError(f"no upstream {upstream_id} in tenant {tenant!r}")
    return tenant_record.id


def _owned_by(tenant_id: int | None) -> ColumnElement[bool]:
    return CredentialRow.tenant_id.is_(None) if tenant_id is None else CredentialRow.tenant_id == tenant_id


def _one(tenant_id: int | None, upstream_id: int, name: str) -> Select[CredentialRow]:
    return select(CredentialRow).where(
        _owned_by(tenant_id), CredentialRow.upstream_id == upstream_id, CredentialRow.name == name
    )


def _whose(tenant: str | None) -> str:
    return "the platform" if tenant is None else f"tenant {tenant}"


class CredentialStore:
    """Set, list, delete and rotate credentials for upstreams: tenants', and the platform's (``tenant`` None)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], box: SecretBox) -> None:
        self._sessions = sessions
        self._box = box
        self._listeners: list[Callable[[str | None, int], None]] = []

    def on_change(self, listener: Callable[[str | None, int], None]) -> None:
        """Call ``listener(tenant, upstream_id)`` after each change (caches of rendered targets drop theirs).

        ``tenant`` is None for a platform credential.
        """
        self._listeners.append(listener)

    def _changed(self, tenant: str | None, upstream_id: int) -> None:
        for listener in self._listeners:
            listener(tenant, upstream_id)

    async def set_credential(
        self, tenant: str | None, upstream_id: int, name: str, spec: CredentialSpec, *, principal: str
    ) -> CredentialInfo:
        """Create or replace the credential ``name`` of ``tenant`` (None: the platform) for the upstream.

        Raises:
            InvalidInputError: ``name`` is not a placeholder name, or the platform and a private upstream.
            NotFoundError: no such tenant, or the upstream is neither the tenant's nor global.
            SecretKeyError: no key to encrypt with (PostgreSQL without ``ATRIUM_SECRET_KEYS``).
        """
        check_name(name)
        if isinstance(spec, SecretCredential):
            kind, secret, details = CredentialKind.SECRET, spec.value, {}
        else:
            kind, secret, details = CredentialKind.OAUTH_CLIENT_CREDENTIALS, spec.client_secret, spec.public()
        ciphertext = self._box.encrypt(secret)
        for _attempt in range(2):
            async with self._sessions() as session:
                tenant_id = await _scoped(session, tenant, upstream_id)
                row = await session.scalar(_one(tenant_id, upstream_id, name))
                stamp = now()
                if row is None:
                    row = CredentialRow(
                        tenant_id=tenant_id,
                        upstream_id=upstream_id,
                        name=name,
                        created_by=principal,
                        created_at=stamp,
                    )
                    session.add(row)
                row.kind, row.ciphertext, row.details, row.updated_at = kind.value, ciphertext, details, stamp
                try:
                    await session.commit()
                except IntegrityError:
                    continue  # a concurrent put created it first: replace that one
                logger.info(
                    "credential %s of %s for upstream %s set by %s", name, _whose(tenant), upstream_id, principal
                )
                self._changed(tenant, upstream_id)
                return info_from_row(row, tenant)
        raise ConflictError(f"credential {name!r} changed concurrently; try again")

    async def list_credentials(self, tenant: str | None, upstream_id: int) -> list[CredentialInfo]:
        """The tenant's (None: the platform's) credentials for the upstream, by name; never their values.

        Raises:
            NotFoundError: as :meth:`set_credential`.
        """
        async with self._sessions() as session:
            tenant_id = await _scoped(session, tenant, upstream_id)
            rows = await session.scalars(
                select(CredentialRow)
                .where(_owned_by(tenant_id), CredentialRow.upstream_id == upstream_id)
                .order_by(CredentialRow.name)
            )
            return [info_from_row(row, tenant) for row in rows]

    async def delete_credential(self, tenant: str | None, upstream_id: int, name: str) -> None:
        """Raises: NotFoundError, InvalidInputError: as :meth:`set_credential`, or no such credential."""
        check_name(name)
        async with self._sessions() as session:
            tenant_id = await _scoped(session, tenant, upstream_id)
            row = await session.scalar(_one(tenant_id, upstream_id, name))
            if row is None:
                raise NotFoundError(f"no credential {name!r} of {_whose(tenant)} for upstream {upstream_id}")
            await session.delete(row)
            await session.commit()
        self._changed(tenant, upstream_id)
        logger.info("credential %s of %s for upstream %s deleted", name, _whose(tenant), upstream_id)

    async def secrets_for(self, tenant: str | None, upstream_id: int, names: Collection[str]) -> list[StoredCredential]:
        """Decrypted credentials ``names`` of ``tenant`` (None: the platform) for the upstream, those set.

        Raises:
            SecretKeyError: no configured key decrypts one of them.
        """
        query = select(CredentialRow).where(CredentialRow.upstream_id == upstream_id, CredentialRow.name.in_(names))
        if tenant is None:
            query = query.where(CredentialRow.tenant_id.is_(None))
        else:
            query = query.join(TenantRow, TenantRow.id == CredentialRow.tenant_id).where(TenantRow.slug == tenant)
        async with self._sessions() as session:
            rows = list(await session.scalars(query))
        found: list[StoredCredential] = []
        for row in rows:
            try:
                secret = self._box.decrypt(row.ciphertext)
            except SecretKeyError as exc:
                raise SecretKeyError(f"credential {row.name!r} of {_whose(tenant)}: {exc.detail}") from None
            found.append(
                StoredCredential(
                    name=row.name,
                    kind=CredentialKind(row.kind),
                    secret=secret,
                    details=dict(row.details),
                    version=row.updated_at.isoformat(),
                )
            )
        return found

    async def rotate(self) -> int:
        """Re-encrypt every stored credential under the primary key; all or nothing.

        Returns:
            How many credentials were re-encrypted.

        Raises:
            SecretKeyError: no configured key decrypts one of them (then none is changed).
        """
        async with self._sessions() as session:
            rows = list(await session.scalars(select(CredentialRow).order_by(CredentialRow.id)))
            for row in rows:
                try:
                    row.ciphertext = self._box.rotate(row.ciphertext)
                except SecretKeyError as exc:
                    raise SecretKeyError(
                        f"credential {row.name!r} of upstream {row.upstream_id}: {exc.detail}"
                    ) from None
            await session.commit()
        logger.info("re-encrypted %d credentials under the primary key", len(rows))
        return len(rows)


def placeholders(upstream: Upstream) -> set[str]:
    """The ``${NAME}`` names the upstream's header and env templates use."""
    templates = [*upstream.header_templates.values(), *upstream.env_templates.values()]
    return {name for template in templates for name in string.Template(template).get_identifiers()}


class DatabaseCredentials:
    """The :class:`CredentialSource` of a running Atrium: each tenant's stored credentials, and the
    platform's for discovering global upstreams."""

    def __init__(self, store: CredentialStore, tokens: TokenCache | None = None) -> None:
        self._store = store
        self._tokens = tokens or TokenCache()

    async def values_for(self, upstream: Upstream, tenant: str | None) -> Mapping[str, str]:
        """The values of the placeholders ``upstream`` uses, from ``tenant``'s credentials.

        A global upstream used for no tenant (discovery) gets the platform's credentials; a
        tenant's use never does, even where the tenant has none. A missing value is reported
        by rendering.

        Raises:
            SecretKeyError: a stored credential cannot be decrypted.
            UpstreamError: an OAuth token endpoint failed (its subclasses say how).
        """
        values = SecretValues()
        if upstream.tenant not in (None, tenant):
            return values  # another tenant's upstream, or a private one used for no tenant
        names = placeholders(upstream)
        if not names:
            return values
        for stored in await self._store.secrets_for(tenant, upstream.id, names):
            if stored.kind is CredentialKind.SECRET:
                values[stored.name] = stored.secret
                continue
            try:
                client = msgspec.convert({**stored.details, "client_secret": stored.secret}, ClientCredentials)
            except msgspec.ValidationError:
                raise InvalidInputError(
                    f"credential {stored.name!r} of {_whose(tenant)} is incomplete; set it again"
                ) from None
            values[stored.name] = await self._tokens.token(
                (tenant, upstream.id, stored.name),
                stored.version,
                client,
                label=f"credential {stored.name!r} of {_whose(tenant)}",
            )
        return values
