"""Index the audit log by action and time.

Every /metrics scrape reads when the newest retention purge ran (its receipt, action "purge"),
so that a purge that stopped running shows; without an index that read scans the whole log,
which only grows.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_audit_events_action_at", "audit_events", ["action", "at"])


def downgrade() -> None:
    op.drop_index("ix_audit_events_action_at", table_name="audit_events")
