"""rumour triage (assignee, verdict) and counter-message versions per language

Create Date: 2026-12-05 23:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from monitor.store.migration_ops import Reference, Table, create_tables, drop_tables, index

revision = "0008"
down_revision = "0007"


def _tables() -> list[Table]:
    return [
        Table(
            "counter_versions",
            sa.Column("plan_id", sa.Integer(), nullable=False),
            sa.Column("language", sa.String(length=20), nullable=False),
            sa.Column("text", sa.Text(), nullable=False),
            sa.Column("updated_by", sa.String(length=100), nullable=False),
            sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
            references=[Reference("plan_id", "counter_plans.id")],
            indexes=[
                index("uq_counter_versions_plan_language", "plan_id", "language", unique=True)
            ],
        ),
    ]


def upgrade() -> None:
    with op.batch_alter_table("rumours", schema=None) as batch_op:
        batch_op.add_column(sa.Column("assignee", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("verdict", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("verdict_note", sa.Text(), nullable=True))
    create_tables(_tables())


def downgrade() -> None:
    drop_tables(_tables())
    with op.batch_alter_table("rumours", schema=None) as batch_op:
        batch_op.drop_column("verdict_note")
        batch_op.drop_column("verdict")
        batch_op.drop_column("assignee")
