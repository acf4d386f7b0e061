"""ORM models of virtual servers: a tenant's curated selections of upstream items."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from registry._db import Base
from registry._models import TimestampType


class VirtualServerRow(Base):
    __tablename__ = "virtual_servers"
    __table_args__ = (UniqueConstraint("tenant_id", "slug"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    slug: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(TimestampType())
    updated_at: Mapped[datetime] = mapped_column(TimestampType())


class VirtualEntryRow(Base):
    """One upstream item a virtual server exposes, under a name unique within the server."""

    __tablename__ = "virtual_entries"
    __table_args__ = (
        UniqueConstraint("virtual_server_id", "kind", "exposed_name"),
        UniqueConstraint("virtual_server_id", "upstream_id", "kind", "key"),
        CheckConstraint("kind IN ('tool', 'prompt', 'resource', 'resource_template')", name="kind"),
        CheckConstraint("override_status IN ('none', 'pending', 'approved', 'rejected')", name="override_status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    virtual_server_id: Mapped[int] = mapped_column(ForeignKey("virtual_servers.id", ondelete="CASCADE"), index=True)
    upstream_id: Mapped[int] = mapped_column(ForeignKey("upstreams.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(Text)
    exposed_name: Mapped[str] = mapped_column(String(200))
    custom_name: Mapped[str | None] = mapped_column(String(200))
    # A description override is text the model reads: it is reviewed like an upstream version.
    description_override: Mapped[str | None] = mapped_column(Text)
    override_status: Mapped[str] = mapped_column(String(16), default="none")
    override_decided_by: Mapped[str | None] = mapped_column(String(200))
    override_decided_at: Mapped[datetime | None] = mapped_column(TimestampType())
    override_reason: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(TimestampType())
