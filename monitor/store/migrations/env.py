"""Alembic environment: runs on the connection the caller passes (see monitor.store.db)."""

from __future__ import annotations

from typing import Any, Literal

from alembic import context

from monitor.store.tables import UtcDateTime, metadata


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    # Migrations store plain timestamps; the UTC handling is the table layer's business.
    if type_ == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `monitor db upgrade` (monitor.store.db.upgrade)")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    render_item=render_item,
)
with context.begin_transaction():
    context.run_migrations()
