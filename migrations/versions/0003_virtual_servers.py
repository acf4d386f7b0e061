"""virtual servers

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa
from alembic import op

if TYPE_CHECKING:
    from collections.abc import Sequence

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "virtual_servers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_virtual_servers_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_virtual_servers")),
        sa.UniqueConstraint("tenant_id", "slug", name=op.f("uq_virtual_servers_tenant_id_slug")),
    )
    with op.batch_alter_table("virtual_servers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_virtual_servers_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "virtual_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("virtual_server_id", sa.Integer(), nullable=False),
        sa.Column("upstream_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("exposed_name", sa.String(length=200), nullable=False),
        sa.Column("custom_name", sa.String(length=200), nullable=True),
        sa.Column("description_override", sa.Text(), nullable=True),
        sa.Column("override_status", sa.String(length=16), nullable=False),
        sa.Column("override_decided_by", sa.String(length=200), nullable=True),
        sa.Column("override_decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("override_reason", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('tool', 'prompt', 'resource', 'resource_template')", name=op.f("ck_virtual_entries_kind")
        ),
        sa.CheckConstraint(
            "override_status IN ('none', 'pending', 'approved', 'rejected')",
            name=op.f("ck_virtual_entries_override_status"),
        ),
        sa.ForeignKeyConstraint(
            ["upstream_id"], ["upstreams.id"], name=op.f("fk_virtual_entries_upstream_id_upstreams"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["virtual_server_id"],
            ["virtual_servers.id"],
            name=op.f("fk_virtual_entries_virtual_server_id_virtual_servers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_virtual_entries")),
        sa.UniqueConstraint(
            "virtual_server_id",
            "kind",
            "exposed_name",
            name=op.f("uq_virtual_entries_virtual_server_id_kind_exposed_name"),
        ),
        sa.UniqueConstraint(
            "virtual_server_id",
            "upstream_id",
            "kind",
            "key",
            name=op.f("uq_virtual_entries_virtual_server_id_upstream_id_kind_key"),
        ),
    )
    with op.batch_alter_table("virtual_entries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_virtual_entries_upstream_id"), ["upstream_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_virtual_entries_virtual_server_id"), ["virtual_server_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("virtual_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_virtual_entries_virtual_server_id"))
        batch_op.drop_index(batch_op.f("ix_virtual_entries_upstream_id"))

    op.drop_table("virtual_entries")
    with op.batch_alter_table("virtual_servers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_virtual_servers_tenant_id"))

    op.drop_table("virtual_servers")
