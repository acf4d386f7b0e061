"""policies: Casbin lines and the revision counter; seeds the built-in admin roles

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from alembic import op

if TYPE_CHECKING:
    from collections.abc import Sequence

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The admin rules of composer/_authz.py before this revision, as p lines in domain "*" (they apply
# in every tenant; the roles are linked per request from the token's role strings, see
# policies/_subjects.py). Frozen here: later changes to the built-in lines are new migrations.
BUILTIN: list[tuple[str, str, str, str, str]] = [
    ("platform_admin", "*", "admin/*", "manage", "allow"),
    ("platform_admin", "*", "admin/*", "read", "allow"),
    ("platform_admin", "*", "admin/*", "curate", "allow"),
    ("tenant_admin", "*", "admin/catalog", "read", "allow"),
    ("tenant_admin", "*", "admin/credentials", "manage", "allow"),
    ("tenant_admin", "*", "admin/policies", "manage", "allow"),
    ("tenant_admin", "*", "admin/policies", "read", "allow"),
    ("tenant_admin", "*", "admin/tenants", "manage", "allow"),
    ("tenant_admin", "*", "admin/tokens", "manage", "allow"),
    ("tenant_admin", "*", "admin/upstreams", "manage", "allow"),
    ("tenant_admin", "*", "admin/virtual-servers", "curate", "allow"),
    ("security_reviewer", "*", "admin/catalog", "read", "allow"),
    ("security_reviewer", "*", "admin/policies", "read", "allow"),
    ("security_reviewer", "*", "admin/reviews", "review", "allow"),
    ("member", "*", "admin/catalog", "read", "allow"),
]


def upgrade() -> None:
    lines = op.create_table(
        "policy_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=True),
        sa.Column("domain", sa.String(length=64), nullable=False),
        sa.Column("ptype", sa.String(length=1), nullable=False),
        sa.Column("v0", sa.String(length=250), nullable=False),
        sa.Column("v1", sa.String(length=250), nullable=False),
        sa.Column("v2", sa.String(length=1000), nullable=False),
        sa.Column("v3", sa.String(length=16), nullable=False),
        sa.Column("v4", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("ptype IN ('p', 'g')", name=op.f("ck_policy_lines_ptype")),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_policy_lines_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_lines")),
    )
    with op.batch_alter_table("policy_lines", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_policy_lines_domain"), ["domain"], unique=False)

    revisions = op.create_table(
        "policy_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_revision")),
    )
    op.bulk_insert(revisions, [{"id": 1, "revision": 1}])
    created_at = datetime(2026, 11, 28, tzinfo=UTC)
    op.bulk_insert(
        lines,
        [
            {
                "tenant_id": None,
                "domain": "*",
                "ptype": "p",
                **dict(zip(("v0", "v1", "v2", "v3", "v4"), values, strict=True)),
                "created_by": "migration:0004",
                "created_at": created_at,
            }
            for values in BUILTIN
        ],
    )


def downgrade() -> None:
    op.drop_table("policy_revision")
    with op.batch_alter_table("policy_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_policy_lines_domain"))

    op.drop_table("policy_lines")
