"""mailbox readers and delivery priority

Each local mailbox message records the roles that may read it (the alerts it carries decide),
and each delivery whether it carries a threat or a call to gather (claimed first).

Create Date: 2026-12-05 19:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing rows keep NULL: admins only (their alerts' kinds were not recorded).
    with op.batch_alter_table("mailbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("readers", sa.String(length=100), nullable=True))
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("priority", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("priority")
    with op.batch_alter_table("mailbox", schema=None) as batch_op:
        batch_op.drop_column("readers")
