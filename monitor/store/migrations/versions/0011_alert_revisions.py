"""alert revisions: routing tells an alert's unrouted changes by a counter, not wall clocks

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 11:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revision", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("alert_routing", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revision", sa.Integer(), nullable=False, server_default="0"))
    # An alert changed since it was last routed (as the times told it until now) is still
    # to be routed: its routing row starts behind the alert's revision.
    op.execute(
        "UPDATE alert_routing SET revision = -1 WHERE routed_at < "
        "(SELECT updated_at FROM alerts WHERE alerts.id = alert_routing.alert_id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("alert_routing", schema=None) as batch_op:
        batch_op.drop_column("revision")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_column("revision")
