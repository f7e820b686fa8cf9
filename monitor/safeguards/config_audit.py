"""Record changes to the files that decide what is monitored and who is told: rule packs,
place gazetteers, the public-account allowlist and the alert routing file.

These are edited as files (under version control, reviewed like code) and hot-reloaded, so the
service cannot know who edited them; it records in the audit log when each change took effect
and the file's SHA-256, which ties the event to the commit and its author. Checked at start-up
and every minute by the running service (`monitor.safeguards.service`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.config import Settings, alerts_routing_file
from monitor.safeguards import audit
from monitor.store.tables import audit_events

ACTION = "config_changed"
ACTOR = "system:config-watch"
MISSING = "missing"


def watched_files(settings: Settings, home: Path) -> dict[str, Path]:
    """Label (path relative to home where possible) -> file, for every watched file."""
    files = sorted((home / "rules").rglob("*.yaml")) if (home / "rules").is_dir() else []
    files.append(alerts_routing_file(settings, home))
    if settings.privacy_public_accounts:
        files.append(Path(settings.privacy_public_accounts).expanduser())
    out = {}
    for path in files:
        try:
            label = path.resolve().relative_to(home.resolve()).as_posix()
        except ValueError:
            label = str(path)
        out[label] = path
    return out


def fingerprint(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return MISSING


async def last_recorded(conn: AsyncConnection) -> dict[str, str]:
    """The latest recorded fingerprint of each file."""
    rows = await conn.execute(
        select(audit_events.c.detail)
        .where(audit_events.c.action == ACTION)
        .order_by(audit_events.c.id)
    )
    out: dict[str, str] = {}
    for (detail,) in rows.all():
        if isinstance(detail, dict) and "file" in detail:
            out[str(detail["file"])] = str(detail.get("sha256"))
    return out


async def record_changes(
    conn: AsyncConnection, files: Mapping[str, Path], now: datetime, actor: str = ACTOR
) -> list[str]:
    """Write one audit event per file added, changed or removed since last recorded."""
    known = await last_recorded(conn)
    changed = []
    for label, path in sorted(files.items()):
        digest = fingerprint(path)
        previous = known.get(label)
        if previous == digest or (previous is None and digest == MISSING):
            continue
        kind = "routing" if label.startswith("alerts/") else "rules"
        await audit.record(
            conn,
            actor,
            ACTION,
            None,
            {"file": label, "kind": kind, "sha256": digest, "previous": previous},
            now,
        )
        changed.append(label)
    for label in sorted(set(known) - set(files)):
        if known[label] != MISSING:  # a file no longer watched, e.g. a pack folder removed
            await audit.record(
                conn, actor, ACTION, None,
                {"file": label, "kind": "rules", "sha256": MISSING, "previous": known[label]},
                now,
            )  # fmt: skip
            changed.append(label)
    return changed
