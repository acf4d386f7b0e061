"""platform credentials: a credential without a tenant, for discovering a global upstream

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa
from alembic import op

if TYPE_CHECKING:
    from collections.abc import Sequence

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# NULLs are distinct in the (tenant_id, upstream_id, name) unique constraint, so the platform's
# rows get their own partial unique index (both SQLite and PostgreSQL support the WHERE).
_PLATFORM_ROW = sa.text("tenant_id IS NULL")


def upgrade() -> None:
    # Batch mode: SQLite can only change a column's nullability by copying the table.
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.alter_column("tenant_id", existing_type=sa.Integer(), nullable=True)
        batch_op.create_index(
            "uq_credentials_platform_upstream_id_name",
            ["upstream_id", "name"],
            unique=True,
            sqlite_where=_PLATFORM_ROW,
            postgresql_where=_PLATFORM_ROW,
        )


def downgrade() -> None:
    # The platform's credentials have no place in the older schema: they go.
    op.execute(sa.text("DELETE FROM credentials WHERE tenant_id IS NULL"))
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.drop_index("uq_credentials_platform_upstream_id_name")
        batch_op.alter_column("tenant_id", existing_type=sa.Integer(), nullable=False)
