"""What people do to alerts: take (the lock), release, action, dismiss with a reason (one alert
or a selection with one reason), and escalate to a receiver of the routing file.

Each change is one conditional UPDATE, so two people pressing "Take" at once cannot both get
the alert: the second finds the owner set and is told who holds it. Only the holder may action
or dismiss. Every change is kept in `alert_actions` and in the audit log.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.alerts import outbox
from monitor.alerts.config import AlertConfig
from monitor.safeguards import audit
from monitor.store.alerts import OPEN_STATUSES
from monitor.store.tables import alert_actions, alerts, notifications

# Dismiss reasons are review labels: evaluation counts them per rule and classifier head.
DISMISS_REASONS = (
    ("not_relevant", "Not relevant to community tension"),
    ("counter_speech", "Counter-speech: it rebuts or reports, it does not spread"),
    ("misclassified", "The classifier or rule was wrong about this text"),
    ("duplicate", "Duplicate of another alert"),
    ("already_handled", "Already known and being handled elsewhere"),
    ("other", "Other (say why)"),
)
REASON_CODES = {code for code, _ in DISMISS_REASONS}
NOTE_CHARS = 1000


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    code: str  # a fixed word pages map to a message: no free text travels in a URL
    message: str


async def _log(
    conn: AsyncConnection,
    alert_id: int,
    actor: str,
    action: str,
    now: datetime,
    reason: str | None = None,
    note: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> int:
    """Keep the change in the alert's history and the audit log; the history row's id."""
    done = await conn.execute(
        alert_actions.insert().values(
            alert_id=alert_id, at=now, actor=actor, action=action, reason=reason, note=note
        )
    )
    event: dict[str, Any] = {"alert_id": alert_id, **(detail or {})}
    if reason:
        event["reason"] = reason
    await audit.record(conn, actor, f"alert_{action}", None, event, now)
    key = done.inserted_primary_key
    assert key is not None
    return int(key[0])


async def _why_not(conn: AsyncConnection, alert_id: int, actor: str) -> Outcome:
    row = (
        await conn.execute(select(alerts.c.status, alerts.c.owner).where(alerts.c.id == alert_id))
    ).first()
    if row is None:
        return Outcome(False, "missing", "There is no such alert.")
    if row.status not in OPEN_STATUSES:
        return Outcome(False, "closed", f"This alert is already {row.status}.")
    if row.owner is None:
        return Outcome(False, "not_held", "Take the alert first: nobody holds it.")
    if row.owner == actor:
        return Outcome(False, "yours", "You already hold this alert.")
    return Outcome(False, "locked", f"{row.owner} is working on this alert.")


async def take(
    conn: AsyncConnection, alert_id: int, actor: str, now: datetime, *, force: bool = False
) -> Outcome:
    """Take the lock. `force` (admins) takes it from someone else, who is named in the note."""
    previous = (
        await conn.execute(select(alerts.c.owner).where(alerts.c.id == alert_id))
    ).scalar_one_or_none()
    cond = [alerts.c.id == alert_id, alerts.c.status.in_(OPEN_STATUSES)]
    if force:
        cond.append(alerts.c.owner.is_distinct_from(actor))
    else:
        cond.append(alerts.c.owner.is_(None))
    done = await conn.execute(
        update(alerts).where(*cond).values(owner=actor, status="acknowledged", updated_at=now)
    )
    if not done.rowcount:
        return await _why_not(conn, alert_id, actor)
    note = f"taken over from {previous}" if force and previous else None
    await _log(conn, alert_id, actor, "take", now, note=note)
    return Outcome(True, "taken", "You hold this alert now; others see it as locked by you.")


async def release(conn: AsyncConnection, alert_id: int, actor: str, now: datetime) -> Outcome:
    done = await conn.execute(
        update(alerts)
        .where(
            alerts.c.id == alert_id,
            alerts.c.owner == actor,
            alerts.c.status.in_(OPEN_STATUSES),
        )
        .values(owner=None, status="new", updated_at=now)
    )
    if not done.rowcount:
        return await _why_not(conn, alert_id, actor)
    await _log(conn, alert_id, actor, "release", now)
    return Outcome(True, "released", "Released: the alert is back in the queue for anyone.")


async def _close(
    conn: AsyncConnection,
    alert_id: int,
    actor: str,
    now: datetime,
    status: str,
    reason: str | None,
    note: str | None,
) -> bool:
    values: dict[str, object] = {"status": status, "updated_at": now}
    if status == "dismissed":
        values["dismiss_reason"] = reason + (f": {note}" if note else "") if reason else note
    done = await conn.execute(
        update(alerts)
        .where(
            alerts.c.id == alert_id,
            alerts.c.owner == actor,
            alerts.c.status.in_(OPEN_STATUSES),
        )
        .values(**values)
    )
    if not done.rowcount:
        return False
    await _log(conn, alert_id, actor, status.removesuffix("ed"), now, reason=reason, note=note)
    return True


def _clean(note: str | None) -> str | None:
    text = " ".join((note or "").split())[:NOTE_CHARS]
    return text or None


async def dismiss(
    conn: AsyncConnection, alert_id: int, actor: str, reason: str, note: str | None, now: datetime
) -> Outcome:
    note = _clean(note)
    if reason not in REASON_CODES:
        return Outcome(False, "reason", "Choose a reason for dismissing.")
    if reason == "other" and not note:
        return Outcome(False, "reason", "Say why the alert is dismissed.")
    if not await _close(conn, alert_id, actor, now, "dismissed", reason, note):
        return await _why_not(conn, alert_id, actor)
    return Outcome(
        True, "dismissed", "Dismissed. The reason is kept to improve the rules and classifier."
    )


async def action(
    conn: AsyncConnection, alert_id: int, actor: str, note: str | None, now: datetime
) -> Outcome:
    note = _clean(note)
    if not note:
        return Outcome(
            False, "note", "Say what was done (for example: passed to the police liaison)."
        )
    if not await _close(conn, alert_id, actor, now, "actioned", None, note):
        return await _why_not(conn, alert_id, actor)
    return Outcome(True, "actioned", "Marked as actioned.")


async def dismiss_many(
    conn: AsyncConnection,
    alert_ids: Sequence[int],
    actor: str,
    reason: str,
    note: str | None,
    now: datetime,
) -> dict[int, Outcome]:
    """Dismiss a selection with one reason. An alert nobody holds is taken first (both steps
    are kept in its history); one someone else holds, or already closed, is left as it is and
    its outcome says why."""
    note = _clean(note)
    if reason not in REASON_CODES or (reason == "other" and not note):
        refused = Outcome(False, "reason", "Choose a reason for dismissing (for Other, say why).")
        return {alert_id: refused for alert_id in alert_ids}
    out: dict[int, Outcome] = {}
    for alert_id in dict.fromkeys(alert_ids):
        owner = (
            await conn.execute(select(alerts.c.owner).where(alerts.c.id == alert_id))
        ).scalar_one_or_none()
        if owner is None:
            taken = await take(conn, alert_id, actor, now)
            if not taken.ok:
                out[alert_id] = taken
                continue
        out[alert_id] = await dismiss(conn, alert_id, actor, reason, note, now)
    return out


def escalation_targets(config: AlertConfig, environ: Mapping[str, str]) -> list[dict[str, str]]:
    """The receivers an analyst may escalate to (those with at least one channel switched on),
    the police liaison first."""
    out = [
        {"name": r.name, "audience": r.audience or r.name}
        for r in config.receivers.values()
        if config.active_integrations(r.name, environ)
    ]
    return sorted(out, key=lambda r: ("liaison" not in r["name"], r["name"]))


async def escalate(
    conn: AsyncConnection,
    config: AlertConfig,
    environ: Mapping[str, str],
    alert_id: int,
    actor: str,
    receiver: str,
    note: str | None,
    now: datetime,
) -> Outcome:
    """Send an open alert on to `receiver` now, through the outbox like every notification (it
    reaches each of the receiver's recipients once, with that receiver's excerpt policy). The
    analyst takes the alert if nobody holds it; the alert stays open with them. The history
    says who escalated to whom and when; `escalations` says who was told and when it went."""
    note = _clean(note)
    if receiver not in config.receivers or not config.active_integrations(receiver, environ):
        return Outcome(False, "receiver", "Choose who to escalate to.")
    row = (
        await conn.execute(
            select(alerts.c.key, alerts.c.labels, alerts.c.owner).where(alerts.c.id == alert_id)
        )
    ).first()
    if row is None:
        return Outcome(False, "missing", "There is no such alert.")
    if row.owner is None:
        taken = await take(conn, alert_id, actor, now)
        if not taken.ok:
            return taken
    elif row.owner != actor:
        return await _why_not(conn, alert_id, actor)
    done = await conn.execute(
        update(alerts)
        .where(alerts.c.id == alert_id, alerts.c.owner == actor, alerts.c.status.in_(OPEN_STATUSES))
        .values(updated_at=now)
    )
    if not done.rowcount:
        return await _why_not(conn, alert_id, actor)
    text = f"to {receiver}" + (f": {note}" if note else "")
    action_id = await _log(
        conn, alert_id, actor, "escalate", now, note=text, detail={"receiver": receiver}
    )
    story = await outbox.incident_labels(conn, [alert_id])
    labels = {str(k): str(v) for k, v in (row.labels or {}).items()} | story.get(alert_id, {})
    sent = await outbox.enqueue_alert(
        conn,
        config,
        config.route,
        receiver,
        alert_id=alert_id,
        alert_key=row.key,
        labels=labels,
        kind=outbox.ESCALATED,
        seq=0,
        now=now,
        environ=environ,
        step=f"person:{action_id}",
    )
    return Outcome(
        True, "escalated", f"Escalated to {receiver}: {sent.rows} recipient(s) will be told now."
    )


async def escalations(conn: AsyncConnection, alert_id: int) -> list[dict[str, Any]]:
    """Who was told of this alert because a person escalated it: receiver, recipient, when it
    was asked for, and when it went (or why not yet)."""
    stmt = (
        select(
            notifications.c.receiver,
            notifications.c.channel,
            notifications.c.recipient,
            notifications.c.status,
            notifications.c.created_at,
            notifications.c.sent_at,
            notifications.c.step,
        )
        .where(notifications.c.alert_id == alert_id, notifications.c.kind == outbox.ESCALATED)
        .order_by(notifications.c.id)
    )
    return [dict(r._mapping) for r in (await conn.execute(stmt)).all()]
