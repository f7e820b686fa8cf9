"""The transactional outbox (store I/O): who gets told about which alert, written in the same
transaction as the alert itself, and the steps that turn outbox rows into deliveries.

1. `route_changed_alerts` runs as a pipeline stage inside the processing transaction: every open
   alert that is new or whose labels changed is routed, and one row per recipient is written.
   If the transaction rolls back, neither the alert nor its notifications exist; if it commits,
   both do — a crash can lose neither.
2. `enqueue_reminders` (a periodic tick) adds reminders for unacknowledged alerts after the
   route's `repeat_interval`, and escalation steps during working hours.
3. `form_deliveries` takes due rows, drops those silenced, inhibited or no longer wanted (kept,
   marked with why), and groups the rest into one delivery per recipient and group, whose
   idempotency key is fixed there and then.
4. `claim` / `finish_delivery` lease a delivery to one dispatcher at a time (compare and swap on
   `attempts`); a dispatcher that dies mid-send leaves a lease that expires, and the delivery is
   sent again with the same key. Leases are short and renewed (`renew`) while the send runs,
   so a dead dispatcher's deliveries are free again within one lease (seconds, not minutes);
   deliveries carrying a threat or a call to gather are claimed first (`priority`).

Idempotency key of a row: sha256(receiver, recipient, alert key, notification seq, step). The
seq continues across alerts with the same key, so an alert closed and opened again is told
again; the unique index on the key makes every enqueue idempotent.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, not_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.alerts import grouping, windows
from monitor.alerts.config import AlertConfig
from monitor.alerts.inhibit import OpenAlert, inhibited_by
from monitor.alerts.routing import Route
from monitor.alerts.silences import Silence, silenced_by
from monitor.incidents.model import HELD
from monitor.store.db import dialect_insert
from monitor.store.tables import (
    alert_routing,
    alerts,
    deliveries,
    incident_alerts,
    incidents,
    notifications,
)
from monitor.types import as_utc

log = logging.getLogger(__name__)

OPEN_STATUSES = ("new", "acknowledged")
# Alert kinds whose delivery goes before every other (police liaison needs them at once).
URGENT_KINDS = frozenset({"threat", "call_to_gather"})
UNACKNOWLEDGED = "new"
# Outbox kind of a notification a person asked for (an analyst's Escalate): it goes at once and
# is neither silenced, inhibited nor cancelled by the alert being taken, since someone decided
# to tell that receiver (monitor/web/queries/review.escalate).
ESCALATED = "escalated"
FORM_BATCH = 500


def upsert(conn: AsyncConnection, table: Any) -> Any:
    """INSERT with ON CONFLICT for the connection's dialect (SQLite or PostgreSQL)."""
    return dialect_insert(conn, table)


class Conflict(RuntimeError):
    """Another dispatcher took these rows first; this transaction is rolled back."""


def idempotency_key(
    receiver: str, recipient: str, subject_key: str, seq: int, step: str = ""
) -> str:
    text = "\x1f".join((receiver, recipient, subject_key, str(seq), step))
    return hashlib.sha256(text.encode()).hexdigest()


def fingerprint(labels: Mapping[str, str]) -> str:
    return hashlib.sha256(json.dumps(dict(labels), sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class Enqueued:
    rows: int
    held: int


# --- 1. routing new and changed alerts (inside the pipeline's transaction) -----------------


async def route_changed_alerts(
    conn: AsyncConnection,
    config: AlertConfig,
    now: datetime,
    environ: Mapping[str, str],
    *,
    require_incident: bool = False,
) -> Enqueued:
    """Route every open alert opened or changed since it was last routed.

    Routing sees the alert's labels plus its incident's (`incident`, `incident_kind`), so
    routes, grouping, silences and inhibition can work on the story. An alert whose incident
    is held below the precision gate is not routed yet: it is, once the incident opens. With
    `require_incident` (scaled out, where workers open alerts before the scheduler leader
    groups them), an alert not yet in any incident waits for it too."""
    stmt = (
        select(
            alerts.c.id,
            alerts.c.key,
            alerts.c.labels,
            alerts.c.revision,
            alert_routing.c.fingerprint,
            alert_routing.c.seq,
            incidents.c.id.label("incident_id"),
            incidents.c.family.label("incident_kind"),
            incidents.c.status.label("incident_status"),
        )
        .select_from(
            alerts.outerjoin(alert_routing, alert_routing.c.alert_id == alerts.c.id)
            .outerjoin(incident_alerts, incident_alerts.c.alert_id == alerts.c.id)
            .outerjoin(incidents, incidents.c.id == incident_alerts.c.incident_id)
        )
        .where(
            alerts.c.status.in_(OPEN_STATUSES),
            or_(
                alert_routing.c.alert_id.is_(None),
                # Changed since last routed, by the alert's own counter: times written by
                # different clocks, or twice under one reading, cannot tell (tables.alerts).
                alert_routing.c.revision < alerts.c.revision,
            ),
        )
        .order_by(alerts.c.id)
    )
    total = Enqueued(0, 0)
    timing: dict[tuple[str, str, str], tuple[datetime, datetime | None]] = {}
    changed = (await conn.execute(stmt)).all()
    new_keys = sorted({r.key for r in changed if r.seq is None})
    last_seq: dict[str, int] = {}
    for i in range(0, len(new_keys), 500):
        for key, seq in (
            await conn.execute(
                select(notifications.c.alert_key, func.max(notifications.c.seq))
                .where(notifications.c.alert_key.in_(new_keys[i : i + 500]))
                .group_by(notifications.c.alert_key)
            )
        ).all():
            last_seq[key] = int(seq or 0)
    for row in changed:
        if row.incident_status == HELD or (require_incident and row.incident_id is None):
            continue  # below the precision gate, or not grouped yet: nobody is told yet
        labels = {str(k): str(v) for k, v in (row.labels or {}).items()}
        if row.incident_id is not None:
            labels["incident"] = str(row.incident_id)
            labels["incident_kind"] = str(row.incident_kind)
        fp = fingerprint(labels)
        if row.fingerprint == fp:
            await conn.execute(
                update(alert_routing)
                .where(alert_routing.c.alert_id == row.id)
                .values(routed_at=now, revision=row.revision)
            )
            continue
        if row.seq is None:
            seq = last_seq.get(row.key, 0) + 1
            last_seq[row.key] = seq  # two open alerts with one key (should not happen) differ
            reason = "alert"
        else:
            seq = int(row.seq) + 1
            reason = "updated"
        for route in config.match(labels):
            done = await enqueue_alert(
                conn,
                config,
                route,
                route.options.receiver,
                alert_id=row.id,
                alert_key=row.key,
                labels=labels,
                kind=reason,
                seq=seq,
                now=now,
                environ=environ,
                timing=timing,
            )
            total = Enqueued(total.rows + done.rows, total.held + done.held)
        values = {"fingerprint": fp, "seq": seq, "routed_at": now, "revision": row.revision}
        if row.seq is None:
            await conn.execute(
                upsert(conn, alert_routing)
                .values(alert_id=row.id, **values)
                .on_conflict_do_update(index_elements=["alert_id"], set_=values)
            )
        else:
            await conn.execute(
                update(alert_routing).where(alert_routing.c.alert_id == row.id).values(**values)
            )
    return total


async def enqueue_alert(
    conn: AsyncConnection,
    config: AlertConfig,
    route: Route,
    receiver: str,
    *,
    alert_id: int,
    alert_key: str,
    labels: Mapping[str, str],
    kind: str,
    seq: int,
    now: datetime,
    environ: Mapping[str, str],
    step: str = "",
    timing: dict[tuple[str, str, str], tuple[datetime, datetime | None]] | None = None,
) -> Enqueued:
    """Write one row per recipient of `receiver` (ignoring any already written).

    `timing` carries, within one call of the caller, when each group's message goes, so that
    alerts of a group opened together join it without asking the store again."""
    opts = route.options
    group = f"{kind}|{grouping.group_key(route.path, opts, labels)}"
    if kind in ("escalation", ESCALATED):
        group = f"{kind}|{step}|{alert_key}"
    rows = held = 0
    for integ in config.active_integrations(receiver, environ):
        for recipient in integ.recipients(receiver, environ):
            held_until: datetime | None = None
            known = timing.get((receiver, recipient, group)) if timing is not None else None
            if kind in ("escalation", ESCALATED):
                not_before = now  # inside the policy's working hours, or a person's call: go now
            elif known is not None:
                not_before, held_until = known
            else:
                not_before = await _flush_time(conn, receiver, recipient, group, opts, now)
                if opts.active_time_intervals:
                    window = config.window(opts.active_time_intervals)
                    opens = windows.next_active(window, not_before)
                    if opens > not_before:
                        held_until = not_before = opens
                if timing is not None:
                    timing[(receiver, recipient, group)] = (not_before, held_until)
            key = idempotency_key(receiver, recipient, alert_key, seq, step)
            result = await conn.execute(
                upsert(conn, notifications)
                .values(
                    kind=kind,
                    alert_id=alert_id,
                    alert_key=alert_key,
                    seq=seq,
                    step=step,
                    route=route.label(),
                    receiver=receiver,
                    channel=integ.channel,
                    integration=integ.label,
                    recipient=recipient,
                    group_key=group,
                    idempotency_key=key,
                    status="pending",
                    not_before=not_before,
                    held_until=held_until,
                    labels=dict(labels),
                    created_at=now,
                )
                .on_conflict_do_nothing(index_elements=["idempotency_key"])
            )
            if result.rowcount:
                rows += 1
                held += held_until is not None
    return Enqueued(rows, held)


async def _flush_time(
    conn: AsyncConnection,
    receiver: str,
    recipient: str,
    group: str,
    opts: Any,
    now: datetime,
) -> datetime:
    same = and_(
        notifications.c.receiver == receiver,
        notifications.c.recipient == recipient,
        notifications.c.group_key == group,
    )
    waiting = (
        await conn.execute(
            select(func.min(notifications.c.not_before)).where(
                same, notifications.c.status == "pending", notifications.c.not_before >= now
            )
        )
    ).scalar_one()
    last_sent = (
        await conn.execute(
            select(func.max(notifications.c.sent_at)).where(same, notifications.c.status == "sent")
        )
    ).scalar_one()
    return grouping.flush_time(now, opts, as_utc(last_sent), as_utc(waiting))


async def incident_labels(
    conn: AsyncConnection, alert_ids: Sequence[int]
) -> dict[int, dict[str, str]]:
    """The incident labels of these alerts (`incident`, `incident_kind`), for silences,
    inhibition and reminders to match on the story as routing does."""
    out: dict[int, dict[str, str]] = {}
    for i in range(0, len(alert_ids), FORM_BATCH):
        for r in (
            await conn.execute(
                select(incident_alerts.c.alert_id, incidents.c.id, incidents.c.family)
                .select_from(
                    incident_alerts.join(incidents, incidents.c.id == incident_alerts.c.incident_id)
                )
                .where(incident_alerts.c.alert_id.in_(alert_ids[i : i + FORM_BATCH]))
            )
        ).all():
            out[int(r.alert_id)] = {"incident": str(r.id), "incident_kind": str(r.family)}
    return out


# --- 2. reminders and escalations (periodic) ------------------------------------------------


async def enqueue_reminders(
    conn: AsyncConnection, config: AlertConfig, now: datetime, environ: Mapping[str, str]
) -> Enqueued:
    """Remind receivers of alerts nobody has acknowledged; escalate during working hours."""
    stmt = (
        select(alerts.c.id, alerts.c.key, alerts.c.labels, alerts.c.created_at, alert_routing.c.seq)
        .select_from(alerts.join(alert_routing, alert_routing.c.alert_id == alerts.c.id))
        .where(alerts.c.status == UNACKNOWLEDGED)
    )
    unacknowledged = (await conn.execute(stmt)).all()
    if not unacknowledged:
        return Enqueued(0, 0)
    history = await _notification_history(conn, [r.id for r in unacknowledged])
    story = await incident_labels(conn, [r.id for r in unacknowledged])
    total = Enqueued(0, 0)
    timing: dict[tuple[str, str, str], tuple[datetime, datetime | None]] = {}
    for row in unacknowledged:
        labels = {str(k): str(v) for k, v in (row.labels or {}).items()} | story.get(row.id, {})
        seq = int(row.seq)
        for route in config.match(labels):
            opts = route.options
            receiver = opts.receiver
            last, waiting = history.last.get((row.id, receiver), (None, 0))
            every = opts.repeat_interval
            if every > timedelta(0) and last is not None and not waiting and now - last >= every:
                seq += 1
                done = await enqueue_alert(
                    conn,
                    config,
                    route,
                    receiver,
                    alert_id=row.id,
                    alert_key=row.key,
                    labels=labels,
                    kind="reminder",
                    seq=seq,
                    now=now,
                    environ=environ,
                    timing=timing,
                )
                history.last[(row.id, receiver)] = (now, 1)
                total = Enqueued(total.rows + done.rows, total.held + done.held)
            policy = config.escalations.get(opts.escalation or "")
            if policy is None or not windows.is_active(config.window(policy.during), now):
                continue
            for i, step in enumerate(policy.steps):
                if now - row.created_at < step.after:
                    break
                tag = f"{policy.name}:{i}"
                if (row.id, tag) in history.escalated:
                    continue
                done = await enqueue_alert(
                    conn,
                    config,
                    route,
                    step.receiver,
                    alert_id=row.id,
                    alert_key=row.key,
                    labels=labels,
                    kind="escalation",
                    seq=seq,
                    now=now,
                    environ=environ,
                    step=tag,
                )
                history.escalated.add((row.id, tag))
                total = Enqueued(total.rows + done.rows, total.held + done.held)
        if seq != row.seq:
            await conn.execute(
                update(alert_routing).where(alert_routing.c.alert_id == row.id).values(seq=seq)
            )
    return total


@dataclass
class _History:
    last: dict[tuple[int, str], tuple[datetime | None, int]]  # (alert, receiver) -> (last, waiting)
    escalated: set[tuple[int, str]]  # (alert, escalation step)


async def _notification_history(conn: AsyncConnection, alert_ids: Sequence[int]) -> _History:
    """What each alert has had so far, in two queries rather than a few per alert."""
    history = _History({}, set())
    for chunk in _chunks(alert_ids, 500):
        for alert_id, receiver, last, waiting in (
            await conn.execute(
                select(
                    notifications.c.alert_id,
                    notifications.c.receiver,
                    func.max(notifications.c.created_at),
                    func.count().filter(notifications.c.status.in_(("pending", "queued"))),
                )
                .where(
                    notifications.c.alert_id.in_(chunk),
                    notifications.c.kind.in_(("alert", "updated", "reminder")),
                )
                .group_by(notifications.c.alert_id, notifications.c.receiver)
            )
        ).all():
            history.last[(alert_id, receiver)] = (as_utc(last), int(waiting or 0))
        for alert_id, step in (
            await conn.execute(
                select(notifications.c.alert_id, notifications.c.step)
                .where(notifications.c.alert_id.in_(chunk), notifications.c.kind == "escalation")
                .distinct()
            )
        ).all():
            history.escalated.add((alert_id, step))
    return history


def _chunks(items: Sequence[int], size: int) -> list[Sequence[int]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


# --- 3. forming deliveries --------------------------------------------------------------------


async def form_deliveries(
    conn: AsyncConnection,
    config: AlertConfig,
    silences: Sequence[Silence],
    now: datetime,
) -> int:
    """Turn due rows into deliveries; returns how many deliveries were formed."""
    rows: Sequence[Any] = (
        (
            await conn.execute(
                select(notifications)
                .where(
                    notifications.c.status == "pending",
                    notifications.c.not_before <= now,
                    notifications.c.delivery_id.is_(None),
                )
                .order_by(notifications.c.id)
                .limit(FORM_BATCH)
            )
        )
        .mappings()
        .all()
    )
    if not rows:
        return 0
    alert_ids = {r["alert_id"] for r in rows if r["alert_id"] is not None}
    current: dict[int, tuple[str, dict[str, str]]] = {}
    if alert_ids:
        for a in (
            await conn.execute(
                select(alerts.c.id, alerts.c.status, alerts.c.labels).where(
                    alerts.c.id.in_(alert_ids)
                )
            )
        ).all():
            current[a.id] = (a.status, {str(k): str(v) for k, v in (a.labels or {}).items()})
    story = await incident_labels(conn, sorted(alert_ids))
    for alert_id, extra in story.items():
        if alert_id in current:
            current[alert_id][1].update(extra)
    open_alerts: list[OpenAlert] = []
    if config.inhibit_rules and alert_ids:
        found = (
            await conn.execute(
                select(alerts.c.id, alerts.c.labels).where(alerts.c.status.in_(OPEN_STATUSES))
            )
        ).all()
        story = await incident_labels(conn, [a.id for a in found])
        open_alerts = [
            OpenAlert(
                a.id,
                {str(k): str(v) for k, v in (a.labels or {}).items()} | story.get(a.id, {}),
            )
            for a in found
        ]
    ready: dict[tuple[str, str, str, str], list[Mapping[str, Any]]] = defaultdict(list)
    for r in rows:
        verdict = _verdict(r, current, silences, open_alerts, config, now)
        if verdict is not None:
            status, reason = verdict
            await _set_row(conn, r["id"], status=status, reason=reason)
            continue
        ready[(r["receiver"], r["integration"], r["recipient"], r["group_key"])].append(r)
    formed = 0
    for (receiver, integration, recipient, _group), members in ready.items():
        keys = sorted(m["idempotency_key"] for m in members)
        key = keys[0] if len(keys) == 1 else hashlib.sha256("\n".join(keys).encode()).hexdigest()
        urgent = any(
            current.get(m["alert_id"], ("", {}))[1].get("kind") in URGENT_KINDS
            for m in members
            if m["alert_id"] is not None
        )
        delivery_id = (
            await conn.execute(
                upsert(conn, deliveries)
                .values(
                    receiver=receiver,
                    channel=members[0]["channel"],
                    integration=integration,
                    recipient=recipient,
                    idempotency_key=key,
                    status="pending",
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                    priority=1 if urgent else 0,
                )
                .on_conflict_do_nothing(index_elements=["idempotency_key"])
                .returning(deliveries.c.id)
            )
        ).scalar_one_or_none()
        if delivery_id is None:
            raise Conflict(f"delivery {key[:12]} already formed")
        ids = [m["id"] for m in members]
        taken = await conn.execute(
            update(notifications)
            .where(
                notifications.c.id.in_(ids),
                notifications.c.status == "pending",
                notifications.c.delivery_id.is_(None),
            )
            .values(status="queued", delivery_id=delivery_id)
        )
        if taken.rowcount != len(ids):
            raise Conflict("outbox rows were taken by another dispatcher")
        formed += 1
    return formed


def _verdict(
    row: Mapping[str, Any],
    current: Mapping[int, tuple[str, dict[str, str]]],
    silences: Sequence[Silence],
    open_alerts: Sequence[OpenAlert],
    config: AlertConfig,
    now: datetime,
) -> tuple[str, str] | None:
    """Why a due row is not to be sent (status, reason), or None to send it."""
    if row["alert_id"] is None:
        return None  # digests are neither silenced nor inhibited
    found = current.get(row["alert_id"])
    if found is None:
        return "cancelled", "the alert no longer exists"
    status, labels = found
    if row["kind"] == ESCALATED:
        return None  # a person chose to tell this receiver: no rule overrides that
    if status not in OPEN_STATUSES:
        return "cancelled", f"the alert was {status} before this was sent"
    if row["kind"] in ("reminder", "escalation") and status != UNACKNOWLEDGED:
        return "cancelled", "acknowledged"
    silence = silenced_by(labels, silences, now)
    if silence is not None:
        return "silenced", f"silence {silence.id}: {silence.reason}"
    hit = inhibited_by(row["alert_id"], labels, open_alerts, config.inhibit_rules)
    if hit is not None:
        rule, source = hit
        return "inhibited", f"alert {source.id} (inhibit rule at line {rule.line})"
    return None


async def _set_row(conn: AsyncConnection, row_id: int, **values: Any) -> None:
    await conn.execute(update(notifications).where(notifications.c.id == row_id).values(**values))


# --- 4. leasing, finishing ------------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    id: int
    receiver: str
    channel: str
    integration: str
    recipient: str
    idempotency_key: str
    attempts: int  # including this one

    @property
    def breaker_key(self) -> str:
        return f"{self.receiver}/{self.integration}"


async def claimable(
    conn: AsyncConnection,
    now: datetime,
    limit: int,
    exclude: Collection[tuple[str, str]] = (),
) -> list[Claimed]:
    """Deliveries due now, and those whose sender died mid-send (lease expired), leaving out
    the (receiver, integration) pairs in `exclude` (paused by their breaker) so that a queue
    for a dead receiver never holds up the others."""
    skip = [
        not_(and_(deliveries.c.receiver == r, deliveries.c.integration == i)) for r, i in exclude
    ]
    rows = (
        (
            await conn.execute(
                select(deliveries)
                .where(
                    or_(
                        and_(deliveries.c.status == "pending", deliveries.c.next_attempt_at <= now),
                        and_(deliveries.c.status == "sending", deliveries.c.lease_until < now),
                    ),
                    *skip,
                )
                .order_by(
                    deliveries.c.priority.desc(), deliveries.c.next_attempt_at, deliveries.c.id
                )
                .limit(limit)
            )
        )
        .mappings()
        .all()
    )
    return [
        Claimed(
            r["id"],
            r["receiver"],
            r["channel"],
            r["integration"],
            r["recipient"],
            r["idempotency_key"],
            r["attempts"],
        )
        for r in rows
    ]


async def claim(
    conn: AsyncConnection, d: Claimed, now: datetime, lease: timedelta
) -> Claimed | None:
    """Lease one delivery; None when another dispatcher got it first."""
    result = await conn.execute(
        update(deliveries)
        .where(
            deliveries.c.id == d.id,
            deliveries.c.attempts == d.attempts,
            or_(
                deliveries.c.status == "pending",
                and_(deliveries.c.status == "sending", deliveries.c.lease_until < now),
            ),
        )
        .values(status="sending", attempts=d.attempts + 1, lease_until=now + lease)
    )
    if result.rowcount != 1:
        return None
    return Claimed(
        d.id, d.receiver, d.channel, d.integration, d.recipient, d.idempotency_key, d.attempts + 1
    )


async def renew(
    conn: AsyncConnection, held: Sequence[Claimed], now: datetime, lease: timedelta
) -> int:
    """Extend the leases this dispatcher still holds (sends in flight); returns how many."""
    renewed = 0
    for d in held:
        result = await conn.execute(
            update(deliveries)
            .where(
                deliveries.c.id == d.id,
                deliveries.c.attempts == d.attempts,
                deliveries.c.status == "sending",
            )
            .values(lease_until=now + lease)
        )
        renewed += result.rowcount
    return renewed


async def finish_delivery(
    conn: AsyncConnection,
    d: Claimed,
    now: datetime,
    *,
    sent: bool,
    retry_at: datetime | None = None,
    error: str = "",
) -> bool:
    """Record the outcome, only if this dispatcher still holds the lease."""
    holder = and_(
        deliveries.c.id == d.id,
        deliveries.c.attempts == d.attempts,
        deliveries.c.status == "sending",
    )
    if sent:
        values: dict[str, Any] = {
            "status": "sent",
            "sent_at": now,
            "lease_until": None,
            "last_error": None,
        }
        row_values: dict[str, Any] = {"status": "sent", "sent_at": now}
    elif retry_at is not None:
        values = {
            "status": "pending",
            "next_attempt_at": retry_at,
            "lease_until": None,
            "last_error": error[:2000],
        }
        row_values = {}
    else:
        values = {"status": "failed", "lease_until": None, "last_error": error[:2000]}
        row_values = {"status": "failed", "reason": error[:2000]}
    result = await conn.execute(update(deliveries).where(holder).values(**values))
    if result.rowcount != 1:
        return False
    if row_values:
        await conn.execute(
            update(notifications).where(notifications.c.delivery_id == d.id).values(**row_values)
        )
    return True


async def delivery_rows(
    conn: AsyncConnection, delivery_ids: Sequence[int]
) -> list[Mapping[str, Any]]:
    found: Sequence[Any] = (
        (
            await conn.execute(
                select(notifications)
                .where(notifications.c.delivery_id.in_(delivery_ids))
                .order_by(notifications.c.id)
            )
        )
        .mappings()
        .all()
    )
    return list(found)


async def outbox_counts(conn: AsyncConnection, now: datetime) -> list[dict[str, Any]]:
    """Per receiver: rows by status, and how many are held by a time window right now."""
    rows = (
        await conn.execute(
            select(
                notifications.c.receiver,
                notifications.c.status,
                func.count(),
                func.count().filter(
                    and_(notifications.c.held_until.is_not(None), notifications.c.held_until > now)
                ),
            ).group_by(notifications.c.receiver, notifications.c.status)
        )
    ).all()
    out: dict[str, dict[str, Any]] = {}
    for receiver, status, n, held in rows:
        entry = out.setdefault(receiver, {"receiver": receiver, "held": 0})
        entry[status] = int(n)
        if status == "pending":
            entry["held"] += int(held)
    return sorted(out.values(), key=lambda e: e["receiver"])


async def delivery_trouble(conn: AsyncConnection) -> tuple[int, int]:
    """Deliveries not sent yet after a failed try (waiting to be retried: a receiver that is
    down), and deliveries that failed for good (refused: they will never arrive)."""
    row = (
        await conn.execute(
            select(
                func.count().filter(
                    and_(deliveries.c.status.in_(("pending", "sending")), deliveries.c.attempts > 0)
                ),
                func.count().filter(deliveries.c.status == "failed"),
            )
        )
    ).one()
    return int(row[0]), int(row[1])
