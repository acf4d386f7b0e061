"""ORM models. They never leave the persistence modules: repositories return Structs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from registry._db import Base

if TYPE_CHECKING:
    from sqlalchemy.engine import Dialect

# Native JSON on both dialects; JSONB would bring nothing we query on.
Json = JSON()


class TimestampType(TypeDecorator[datetime]):
    """UTC-aware timestamps on both dialects: SQLite hands back naive values, so mark them UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class TenantRow(Base):
    __tablename__ = "tenants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    separation_of_duties: Mapped[bool] = mapped_column(Boolean, default=False)
    auto_approve_low_risk: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(TimestampType())


class UpstreamRow(Base):
    __tablename__ = "upstreams"
    # A global upstream has no tenant; its slug is unique among global upstreams
    # ("scope" is "global" or the tenant slug, because NULLs never collide in a UNIQUE).
    __table_args__ = (
        UniqueConstraint("scope", "slug"),
        CheckConstraint("transport IN ('streamable_http', 'sse', 'stdio')", name="transport"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    scope: Mapped[str] = mapped_column(String(64))
    slug: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    transport: Mapped[str] = mapped_column(String(32))
    url: Mapped[str | None] = mapped_column(Text)
    header_templates: Mapped[dict[str, str]] = mapped_column(Json, default=dict)
    command: Mapped[list[str]] = mapped_column(Json, default=list)
    env_templates: Mapped[dict[str, str]] = mapped_column(Json, default=dict)
    cwd: Mapped[str | None] = mapped_column(Text)
    sync_interval_seconds: Mapped[int | None] = mapped_column(Integer)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(TimestampType())
    updated_at: Mapped[datetime] = mapped_column(TimestampType())
    # What the last discovery said about the server itself.
    last_sync_at: Mapped[datetime | None] = mapped_column(TimestampType())
    last_sync_status: Mapped[str] = mapped_column(String(16), default="never")
    last_error_code: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    protocol_version: Mapped[str | None] = mapped_column(String(32))
    server_name: Mapped[str | None] = mapped_column(String(200))
    server_version: Mapped[str | None] = mapped_column(String(100))
    instructions: Mapped[str | None] = mapped_column(Text)


class CatalogItemRow(Base):
    """One tool, prompt, resource or resource template an upstream offers, by its upstream key."""

    __tablename__ = "catalog_items"
    __table_args__ = (
        UniqueConstraint("upstream_id", "kind", "key"),
        CheckConstraint("kind IN ('tool', 'prompt', 'resource', 'resource_template')", name="kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    upstream_id: Mapped[int] = mapped_column(ForeignKey("upstreams.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    # The tool or prompt name, a resource URI or a resource template's uriTemplate.
    key: Mapped[str] = mapped_column(Text)
    # The version the upstream offered at the last successful sync; None once it is gone.
    current_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("definition_versions.id", use_alter=True, ondelete="SET NULL")
    )
    first_seen_at: Mapped[datetime] = mapped_column(TimestampType())
    last_seen_at: Mapped[datetime] = mapped_column(TimestampType())


class DefinitionVersionRow(Base):
    """One distinct definition of a catalog item, keyed by the SHA-256 of its canonical JSON."""

    __tablename__ = "definition_versions"
    __table_args__ = (
        UniqueConstraint("item_id", "hash"),
        CheckConstraint("status IN ('pending', 'approved', 'rejected', 'retired')", name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("catalog_items.id", ondelete="CASCADE"), index=True)
    hash: Mapped[str] = mapped_column(String(64), index=True)
    # The whole object as the upstream sent it (hashed fields and the rest, e.g. _meta).
    definition: Mapped[dict[str, Any]] = mapped_column(Json)
    status: Mapped[str] = mapped_column(String(16), index=True)
    risk: Mapped[str] = mapped_column(String(16), index=True)
    findings: Mapped[list[dict[str, Any]]] = mapped_column(Json, default=list)
    previous_version_id: Mapped[int | None] = mapped_column(ForeignKey("definition_versions.id", ondelete="SET NULL"))
    diff: Mapped[str] = mapped_column(Text, default="")
    changed_fields: Mapped[list[str]] = mapped_column(Json, default=list)
    synced_by: Mapped[str] = mapped_column(String(200))
    first_seen_at: Mapped[datetime] = mapped_column(TimestampType())
    last_seen_at: Mapped[datetime] = mapped_column(TimestampType())
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(TimestampType())
    decision_reason: Mapped[str | None] = mapped_column(Text)


class ReviewDecisionRow(Base):
    """The audit trail: every status change of a version, by whom, when and why."""

    __tablename__ = "review_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("definition_versions.id", ondelete="CASCADE"), index=True)
    decision: Mapped[str] = mapped_column(String(16))
    principal: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    decided_at: Mapped[datetime] = mapped_column(TimestampType())


class SyncRunRow(Base):
    __tablename__ = "sync_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    upstream_id: Mapped[int] = mapped_column(ForeignKey("upstreams.id", ondelete="CASCADE"), index=True)
    trigger: Mapped[str] = mapped_column(String(32))
    principal: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(TimestampType())
    finished_at: Mapped[datetime | None] = mapped_column(TimestampType())
    duration_ms: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16))
    counts: Mapped[dict[str, int]] = mapped_column(Json, default=dict)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)


class ApiTokenRow(Base):
    """An admin API token or a tenant's agent key, stored only as the SHA-256 of its secret."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    principal: Mapped[str] = mapped_column(String(200), index=True)
    roles: Mapped[list[str]] = mapped_column(Json, default=list)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(TimestampType())
    expires_at: Mapped[datetime | None] = mapped_column(TimestampType())
    revoked_at: Mapped[datetime | None] = mapped_column(TimestampType())
    # A tenant-bound key (an agent key) authenticates only for that tenant (registry/_tokens.py).
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    # Rotation: the successor minted for the same principal; this key expires after the grace period.
    replaced_by_id: Mapped[int | None] = mapped_column(ForeignKey("api_tokens.id", ondelete="SET NULL"))
    created_by: Mapped[str | None] = mapped_column(String(200))


_PLATFORM_ROW = text("tenant_id IS NULL")


class CredentialRow(Base):
    """One tenant's secret for one upstream, filling the ``${name}`` placeholders of its templates.

    ``tenant_id`` None is the platform's credential for a global upstream, used only to discover
    it (a sync has no tenant); tenants' calls never use it. ``ciphertext`` is a Fernet token
    (registry/_secrets.py); ``details`` holds only what is not secret (an OAuth token URL, client
    id, scope, audience) and may be shown.

    Uniqueness: NULLs are distinct in a unique constraint (SQLite and PostgreSQL alike), so the
    constraint holds tenants' rows and a partial unique index holds the platform's.
    """

    __tablename__ = "credentials"
    __table_args__ = (
        UniqueConstraint("tenant_id", "upstream_id", "name"),
        Index(
            "uq_credentials_platform_upstream_id_name",
            "upstream_id",
            "name",
            unique=True,
            sqlite_where=_PLATFORM_ROW,
            postgresql_where=_PLATFORM_ROW,
        ),
        CheckConstraint("kind IN ('secret', 'oauth_client_credentials')", name="kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    upstream_id: Mapped[int] = mapped_column(ForeignKey("upstreams.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    details: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(TimestampType())
    updated_at: Mapped[datetime] = mapped_column(TimestampType())


class OAuthIssuerRow(Base):
    """An OAuth 2.1 issuer whose bearer JWTs a tenant's MCP endpoints accept (registry/_issuers.py)."""

    __tablename__ = "oauth_issuers"
    __table_args__ = (UniqueConstraint("tenant_id", "issuer"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    issuer: Mapped[str] = mapped_column(String(500))
    jwks_uri: Mapped[str | None] = mapped_column(Text)
    algorithms: Mapped[list[str]] = mapped_column(Json, default=list)
    roles_claim: Mapped[str] = mapped_column(String(200))
    principal_claim: Mapped[str] = mapped_column(String(200))
    principal_kind: Mapped[str] = mapped_column(String(16))
    required_scopes: Mapped[list[str]] = mapped_column(Json, default=list)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(TimestampType())


class PolicyLineRow(Base):
    """One Casbin policy line (policies/_store.py): ``ptype`` and its values v0..v4, as Casbin's CSV.

    ``domain`` repeats the line's domain (p: v1, g: v2) so a tenant's lines are one indexed
    lookup; ``tenant_id`` is that tenant (None for "*"), so deleting a tenant deletes its lines.
    """

    __tablename__ = "policy_lines"
    __table_args__ = (CheckConstraint("ptype IN ('p', 'g')", name="ptype"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    domain: Mapped[str] = mapped_column(String(64), index=True)
    ptype: Mapped[str] = mapped_column(String(1))
    v0: Mapped[str] = mapped_column(String(250))
    v1: Mapped[str] = mapped_column(String(250))
    v2: Mapped[str] = mapped_column(String(1000))
    v3: Mapped[str] = mapped_column(String(16), default="")
    v4: Mapped[str] = mapped_column(String(16), default="")
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(TimestampType())


class PolicyRevisionRow(Base):
    """The one row counting policy changes: every process polls it to see another's change."""

    __tablename__ = "policy_revision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(Integer)
