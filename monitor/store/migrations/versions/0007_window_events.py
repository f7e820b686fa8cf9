"""window events: windowed-rule counts kept in the store

Create Date: 2026-12-05 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa

from monitor.store.migration_ops import Table, create_tables, drop_tables, index

revision = "0007"
down_revision = "0006"


def _tables() -> list[Table]:
    return [
        Table(
            "window_events",
            sa.Column("rule_id", sa.String(length=200), nullable=False),
            sa.Column("key", sa.String(length=300), nullable=False),
            sa.Column("post_id", sa.String(length=512), nullable=False),
            sa.Column("at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("author_ref", sa.String(length=64), nullable=False),
            pk=["rule_id", "key", "post_id"],
            indexes=[index("ix_window_events_rule_key_at", "rule_id", "key", "at")],
        ),
        Table(
            "window_rules",
            sa.Column("rule_id", sa.String(length=200), nullable=False),
            sa.Column("signature", sa.String(length=64), nullable=False),
            sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
            pk=["rule_id"],
        ),
    ]


def upgrade() -> None:
    create_tables(_tables())


def downgrade() -> None:
    drop_tables(_tables())
