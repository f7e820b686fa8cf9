"""window events: windowed-rule counts kept in the store

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "window_events",
        sa.Column("rule_id", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("post_id", sa.String(length=512), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("author_ref", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("rule_id", "key", "post_id", name=op.f("pk_window_events")),
    )
    with op.batch_alter_table("window_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_window_events_rule_key_at", ["rule_id", "key", "at"], unique=False
        )
    op.create_table(
        "window_rules",
        sa.Column("rule_id", sa.String(length=200), nullable=False),
        sa.Column("signature", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("rule_id", name=op.f("pk_window_rules")),
    )


def downgrade() -> None:
    op.drop_table("window_rules")
    with op.batch_alter_table("window_events", schema=None) as batch_op:
        batch_op.drop_index("ix_window_events_rule_key_at")
    op.drop_table("window_events")
