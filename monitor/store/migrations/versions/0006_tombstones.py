"""tombstones: platform deletions kept for the text retention period

Create Date: 2026-12-05 19:50:00
"""

from __future__ import annotations

import sqlalchemy as sa

from monitor.store.migration_ops import Table, create_tables, drop_tables, index

revision = "0006"
down_revision = "0005"


def _tables() -> list[Table]:
    return [
        Table(
            "post_tombstones",
            sa.Column("post_id", sa.String(length=512), nullable=False),
            sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=False),
            pk=["post_id"],
            indexes=[index("ix_post_tombstones_deleted_at", "deleted_at")],
        ),
        Table(
            "author_tombstones",
            sa.Column("platform", sa.String(length=40), nullable=False),
            sa.Column("author_ref", sa.String(length=64), nullable=False),
            sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=False),
            pk=["platform", "author_ref"],
            indexes=[index("ix_author_tombstones_deleted_at", "deleted_at")],
        ),
    ]


def upgrade() -> None:
    create_tables(_tables())


def downgrade() -> None:
    drop_tables(_tables())
