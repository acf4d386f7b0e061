"""agent identity: tenant-bound API keys with rotation, and tenants' OAuth issuers

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa
from alembic import op

if TYPE_CHECKING:
    from collections.abc import Sequence

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Batch mode: SQLite can only add foreign keys by copying the table, which batch does.
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tenant_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("replaced_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("created_by", sa.String(length=200), nullable=True))
        batch_op.create_index(batch_op.f("ix_api_tokens_tenant_id"), ["tenant_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_api_tokens_tenant_id_tenants"), "tenants", ["tenant_id"], ["id"], ondelete="CASCADE"
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_api_tokens_replaced_by_id_api_tokens"),
            "api_tokens",
            ["replaced_by_id"],
            ["id"],
            ondelete="SET NULL",
        )

    op.create_table(
        "oauth_issuers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("issuer", sa.String(length=500), nullable=False),
        sa.Column("jwks_uri", sa.Text(), nullable=True),
        sa.Column("algorithms", sa.JSON(), nullable=False),
        sa.Column("roles_claim", sa.String(length=200), nullable=False),
        sa.Column("principal_claim", sa.String(length=200), nullable=False),
        sa.Column("principal_kind", sa.String(length=16), nullable=False),
        sa.Column("required_scopes", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_oauth_issuers_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_issuers")),
        sa.UniqueConstraint("tenant_id", "issuer", name=op.f("uq_oauth_issuers_tenant_id_issuer")),
    )
    with op.batch_alter_table("oauth_issuers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_oauth_issuers_tenant_id"), ["tenant_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("oauth_issuers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oauth_issuers_tenant_id"))
    op.drop_table("oauth_issuers")

    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_api_tokens_replaced_by_id_api_tokens"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_api_tokens_tenant_id_tenants"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_api_tokens_tenant_id"))
        batch_op.drop_column("created_by")
        batch_op.drop_column("replaced_by_id")
        batch_op.drop_column("tenant_id")
