"""rumour splits: the rumour a split-off rumour came from, and when

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 23:55:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("rumours", schema=None) as batch_op:
        batch_op.add_column(sa.Column("split_from", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("split_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rumours", schema=None) as batch_op:
        batch_op.drop_column("split_at")
        batch_op.drop_column("split_from")
