"""incidents: the stories people review, and the open alerts on record turned into them

Create Date: 2026-12-05 19:30:00
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from monitor.store.migration_ops import Reference, Table, create_tables, drop_tables, index

revision = "0002"
down_revision = "0001"


def _tables() -> list[Table]:
    return [
        Table(
            "incidents",
            sa.Column("family", sa.String(length=20), nullable=False),
            sa.Column("status", sa.String(length=20), nullable=False),
            sa.Column("headline", sa.Text(), nullable=False),
            sa.Column("kinds", sa.JSON(), nullable=False),
            sa.Column("wards", sa.JSON(), nullable=False),
            sa.Column("localities", sa.JSON(), nullable=False),
            sa.Column("level", sa.String(length=20), nullable=False),
            sa.Column("trend", sa.String(length=20), nullable=False),
            sa.Column("post_count", sa.Integer(), nullable=False),
            sa.Column("author_count", sa.Integer(), nullable=False),
            sa.Column("response_count", sa.Integer(), nullable=False),
            sa.Column("official_count", sa.Integer(), nullable=False),
            sa.Column("alert_count", sa.Integer(), nullable=False),
            sa.Column("gathering", sa.JSON(), nullable=True),
            sa.Column("cluster", sa.Integer(), nullable=True),
            sa.Column("gate", sa.Text(), nullable=True),
            sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
            sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
            sa.Column("merged_into", sa.Integer(), nullable=True),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
            indexes=[index("ix_incidents_status_last_seen", "status", "last_seen")],
        ),
        Table(
            "incident_alerts",
            sa.Column("alert_id", sa.Integer(), nullable=False),
            sa.Column("incident_id", sa.Integer(), nullable=False),
            sa.Column("pinned", sa.Boolean(), nullable=False),
            sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
            references=[
                Reference("alert_id", "alerts.id"),
                Reference("incident_id", "incidents.id"),
            ],
            pk=["alert_id"],
            indexes=[index("ix_incident_alerts_incident_id", "incident_id")],
        ),
        Table(
            "incident_events",
            sa.Column("incident_id", sa.Integer(), nullable=False),
            sa.Column("at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("kind", sa.String(length=20), nullable=False),
            sa.Column("reason", sa.Text(), nullable=False),
            sa.Column("actor", sa.String(length=100), nullable=False),
            sa.Column("detail", sa.JSON(), nullable=True),
            references=[Reference("incident_id", "incidents.id")],
            indexes=[index("ix_incident_events_incident_id", "incident_id")],
        ),
    ]


def upgrade() -> None:
    create_tables(_tables())

    # The open alerts on record become incidents, grouped by the same engine the pipeline
    # runs (default settings: the migration cannot read the settings file), so the queue
    # lists stories from the first start after the upgrade. Later batches regroup with the
    # configured settings.
    from monitor.incidents import store
    from monitor.incidents.config import IncidentsConfig

    store.refresh(op.get_bind(), IncidentsConfig(), datetime.now(UTC))


def downgrade() -> None:
    drop_tables(_tables())
