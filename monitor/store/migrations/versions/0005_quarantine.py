"""quarantine and health probes

Create Date: 2026-12-05 19:40:00
"""

from __future__ import annotations

import sqlalchemy as sa

from monitor.store.migration_ops import Table, create_tables, drop_tables, index

revision = "0005"
down_revision = "0004"


def _tables() -> list[Table]:
    return [
        Table(
            "quarantine",
            sa.Column("key", sa.String(length=512), nullable=False),
            sa.Column("post_id", sa.String(length=512), nullable=True),
            sa.Column("source", sa.String(length=200), nullable=False),
            sa.Column("stage", sa.String(length=60), nullable=False),
            sa.Column("error", sa.Text(), nullable=False),
            sa.Column("record", sa.JSON(), nullable=True),
            sa.Column("attempts", sa.Integer(), nullable=False),
            sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
            unique=["key"],
            indexes=[index("ix_quarantine_post_id", "post_id")],
        ),
        Table(
            "health_probes",
            sa.Column("name", sa.String(length=200), nullable=False),
            sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
            pk=["name"],
        ),
    ]


def upgrade() -> None:
    create_tables(_tables())


def downgrade() -> None:
    drop_tables(_tables())
