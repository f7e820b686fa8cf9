"""Post labels say whether the rule's words matched the post.

A rule of scores alone (the shipped windowed rules) says no more about a post than the
classifier did; signals must not treat such a post as rule-corroborated (RuleHit.words), and a
restart rebuilds hits from these rows. Rows stored before keep True: what they meant until now.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("post_labels", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("words", sa.Boolean(), nullable=False, server_default=sa.text("true"))
        )


def downgrade() -> None:
    with op.batch_alter_table("post_labels", schema=None) as batch_op:
        batch_op.drop_column("words")
