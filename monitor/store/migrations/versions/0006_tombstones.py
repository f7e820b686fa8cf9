"""tombstones: platform deletions kept for the text retention period

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 19:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "post_tombstones",
        sa.Column("post_id", sa.String(length=512), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("post_id", name=op.f("pk_post_tombstones")),
    )
    with op.batch_alter_table("post_tombstones", schema=None) as batch_op:
        batch_op.create_index("ix_post_tombstones_deleted_at", ["deleted_at"], unique=False)
    op.create_table(
        "author_tombstones",
        sa.Column("platform", sa.String(length=40), nullable=False),
        sa.Column("author_ref", sa.String(length=64), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("platform", "author_ref", name=op.f("pk_author_tombstones")),
    )
    with op.batch_alter_table("author_tombstones", schema=None) as batch_op:
        batch_op.create_index("ix_author_tombstones_deleted_at", ["deleted_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("author_tombstones", schema=None) as batch_op:
        batch_op.drop_index("ix_author_tombstones_deleted_at")
    op.drop_table("author_tombstones")
    with op.batch_alter_table("post_tombstones", schema=None) as batch_op:
        batch_op.drop_index("ix_post_tombstones_deleted_at")
    op.drop_table("post_tombstones")
