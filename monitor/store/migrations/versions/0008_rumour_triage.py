"""rumour triage (assignee, verdict) and counter-message versions per language

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 23:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("rumours", schema=None) as batch_op:
        batch_op.add_column(sa.Column("assignee", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("verdict", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("verdict_note", sa.Text(), nullable=True))
    op.create_table(
        "counter_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=20), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["counter_plans.id"],
            name=op.f("fk_counter_versions_plan_id_counter_plans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_counter_versions")),
    )
    with op.batch_alter_table("counter_versions", schema=None) as batch_op:
        batch_op.create_index(
            "uq_counter_versions_plan_language", ["plan_id", "language"], unique=True
        )


def downgrade() -> None:
    with op.batch_alter_table("counter_versions", schema=None) as batch_op:
        batch_op.drop_index("uq_counter_versions_plan_language")
    op.drop_table("counter_versions")
    with op.batch_alter_table("rumours", schema=None) as batch_op:
        batch_op.drop_column("verdict_note")
        batch_op.drop_column("verdict")
        batch_op.drop_column("assignee")
