"""The repeated-viewing guard: looking at themes is lawful, following a person is not.

Opening an alert's evidence shows posts by many authors. If one user keeps opening different
alerts or rumours that contain posts by the same pseudonymous author, the pattern starts to look
like following that person (directed surveillance, which a council cannot authorise for this
purpose). So when, within `privacy_view_guard_days`, one user has opened evidence from
`privacy_view_guard_contexts` different alerts or rumours containing posts by the same author,
the next view needs a written justification, which goes to the audit log and to the senior
responsible officer's mailbox. Organisational accounts named by the allowlist are not counted.

The counter works on the audit log itself: each evidence view's audit event carries, in
`detail`, the context ("alert:12") and a digest of each author shown. The digest is a hash of
the author reference, not the reference, so the audit page never shows one; and as references
change with every key period, so do the digests — nothing links across periods here either.

How an evidence view uses it (monitor/web):

    refs = await viewguard.author_refs_for_alert(conn, alert_id)   # or _for_rumour
    decision = await viewguard.check_repeated_viewing(
        conn, user, refs, now, context=f"alert:{alert_id}", policy=policy)
    if not decision.allowed:
        # show a form asking why; on POST:
        await viewguard.record_justification(conn, user, decision, text, now, policy)
    note_audit(request, **viewguard.audit_detail(refs, f"alert:{alert_id}"))

`record_justification` refuses a justification shorter than MIN_JUSTIFICATION_CHARS. A
justification covers the authors it was given for, for that user, for the rest of the window.

Contexts count stories, not alerts: an alert that belongs to an incident, and a rumour that an
incident follows, are counted as that incident ("incident:4", see `story_context`). Triaging the
forty alerts of one episode is reviewing one story; opening three different stories that all
hold posts by one author is the pattern the guard is for.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.config import Settings
from monitor.privacy.mailbox_access import ADMIN_ONLY, encode
from monitor.safeguards import audit
from monitor.store.db import dialect_insert
from monitor.store.tables import (
    alert_posts,
    audit_events,
    incident_alerts,
    incidents,
    mailbox,
    posts,
    rumour_posts,
)

VIEW_ACTIONS = ("view_evidence", "export")
JUSTIFIED = "view_justified"
MIN_JUSTIFICATION_CHARS = 20


class JustificationError(ValueError):
    """A justification too short to say anything, or given when none was asked for."""


@dataclass(frozen=True, slots=True)
class GuardPolicy:
    contexts: int = 3
    window: timedelta = timedelta(days=7)
    sro_mailbox: str = "sro"

    @classmethod
    def from_settings(cls, settings: Settings) -> GuardPolicy:
        return cls(
            contexts=settings.privacy_view_guard_contexts,
            window=timedelta(days=settings.privacy_view_guard_days),
            sro_mailbox=settings.privacy_sro_mailbox,
        )


@dataclass(frozen=True, slots=True)
class GuardDecision:
    allowed: bool
    context: str
    authors: tuple[str, ...] = ()  # digests of the authors that need a justification
    contexts: int = 0  # the most contexts any one of them has been seen in, this one included

    @property
    def needs_justification(self) -> bool:
        return not self.allowed


def digest(author_ref: str) -> str:
    """What the audit log keeps of an author shown: not the reference itself."""
    return hashlib.sha256(b"viewguard\x00" + author_ref.encode()).hexdigest()[:20]


def audit_detail(author_refs: Iterable[str], context: str) -> dict[str, Any]:
    """The fields an evidence view adds to its audit event, so later views can be counted."""
    return {"context": context, "viewed_authors": sorted({digest(r) for r in author_refs})}


def decide(
    events: Iterable[Mapping[str, Any]],
    author_refs: Iterable[str],
    context: str,
    policy: GuardPolicy,
) -> GuardDecision:
    """Pure: given one user's audit events in the window (action and detail of each), may they
    open `context`, showing these authors, without a justification?"""
    seen: dict[str, set[str]] = defaultdict(set)
    justified: set[str] = set()
    for event in events:
        detail = event.get("detail") or {}
        if event.get("action") == JUSTIFIED:
            justified.update(detail.get("authors") or ())
            continue
        ctx = detail.get("context")
        if event.get("action") in VIEW_ACTIONS and ctx:
            for d in detail.get("viewed_authors") or ():
                seen[d].add(str(ctx))
    over = []
    most = 0
    for d in sorted({digest(r) for r in author_refs}):
        n = len(seen[d] | {context})
        most = max(most, n)
        if n >= policy.contexts and d not in justified:
            over.append(d)
    return GuardDecision(allowed=not over, context=context, authors=tuple(over), contexts=most)


async def _events(
    conn: AsyncConnection, user: str, now: datetime, policy: GuardPolicy
) -> list[dict[str, Any]]:
    stmt = select(audit_events.c.action, audit_events.c.detail).where(
        audit_events.c.actor == user,
        audit_events.c.at > now - policy.window,
        audit_events.c.action.in_((*VIEW_ACTIONS, JUSTIFIED)),
    )
    return [{"action": r.action, "detail": r.detail} for r in (await conn.execute(stmt)).all()]


async def check_repeated_viewing(
    conn: AsyncConnection,
    user: str,
    author_refs: Sequence[str] | str,
    now: datetime,
    *,
    context: str,
    policy: GuardPolicy | None = None,
) -> GuardDecision:
    """Whether `user` may open evidence `context` showing posts by `author_refs` now."""
    refs = [author_refs] if isinstance(author_refs, str) else list(author_refs)
    policy = policy or GuardPolicy()
    return decide(await _events(conn, user, now, policy), refs, context, policy)


async def record_justification(
    conn: AsyncConnection,
    user: str,
    decision: GuardDecision,
    justification: str,
    now: datetime,
    policy: GuardPolicy | None = None,
) -> None:
    """Record why `user` needs to keep viewing these authors' posts, and tell the senior
    responsible officer (their local mailbox), in the caller's transaction."""
    policy = policy or GuardPolicy()
    text = " ".join(justification.split())
    if decision.allowed:
        raise JustificationError("no justification is needed for this view")
    if len(text) < MIN_JUSTIFICATION_CHARS:
        raise JustificationError(
            f"say why in at least {MIN_JUSTIFICATION_CHARS} characters: what the work is and "
            "why it needs these posts"
        )
    event = await audit.record(
        conn,
        user,
        JUSTIFIED,
        text,
        {
            "context": decision.context,
            "authors": list(decision.authors),
            "contexts": decision.contexts,
        },
        now,
    )
    subject = f"Repeated viewing: {user} gave a justification"
    body = (
        f"{user} has opened evidence from {decision.contexts} different alerts or rumours "
        f"containing posts by the same pseudonymous author within "
        f"{policy.window.days} days, and gave this justification to continue "
        f"(opening {decision.context}):\n\n{text}\n\n"
        f"Audit event {event.id} at {now.isoformat()}. Check that the work is about themes and "
        "places, not about following a person; the audit log shows this user's evidence views."
    )
    await conn.execute(
        dialect_insert(conn, mailbox)
        .values(
            idempotency_key=hashlib.sha256(f"viewguard:{event.id}".encode()).hexdigest(),
            mailbox=policy.sro_mailbox,
            subject=subject,
            text=body,
            html=_html(body),
            kind="privacy",
            sent_at=now,
            readers=encode(ADMIN_ONLY),  # colleagues' justifications: admins only
        )
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
    )


def _html(text: str) -> str:
    from markupsafe import escape

    return "".join(f"<p>{escape(p)}</p>" for p in text.split("\n\n"))


async def author_refs_for_alert(conn: AsyncConnection, alert_id: int) -> list[str]:
    """The pseudonymous authors of an alert's evidence (allowlisted organisations left out)."""
    stmt = (
        select(posts.c.author_ref)
        .select_from(alert_posts.join(posts, posts.c.id == alert_posts.c.post_id))
        .where(alert_posts.c.alert_id == alert_id, posts.c.author_name.is_(None))
        .distinct()
    )
    return list((await conn.execute(stmt)).scalars().all())


async def author_refs_for_rumour(conn: AsyncConnection, rumour_id: int) -> list[str]:
    """The pseudonymous authors of a rumour's posts (allowlisted organisations left out)."""
    stmt = (
        select(posts.c.author_ref)
        .select_from(rumour_posts.join(posts, posts.c.id == rumour_posts.c.post_id))
        .where(rumour_posts.c.rumour_id == rumour_id, posts.c.author_name.is_(None))
        .distinct()
    )
    return list((await conn.execute(stmt)).scalars().all())


async def author_refs_for_incident(conn: AsyncConnection, incident_id: int) -> list[str]:
    """The pseudonymous authors of the posts an incident's page lists: its alerts' evidence
    (allowlisted organisations left out)."""
    stmt = (
        select(posts.c.author_ref)
        .select_from(
            incident_alerts.join(
                alert_posts, alert_posts.c.alert_id == incident_alerts.c.alert_id
            ).join(posts, posts.c.id == alert_posts.c.post_id)
        )
        .where(incident_alerts.c.incident_id == incident_id, posts.c.author_name.is_(None))
        .distinct()
    )
    return list((await conn.execute(stmt)).scalars().all())


async def story_context(conn: AsyncConnection, context: str) -> str:
    """The story an evidence view belongs to: "alert:12" or "rumour:3" become the incident that
    holds the alert or follows the rumour ("incident:4", following merges); a view outside any
    incident keeps its own context."""
    kind, _, text = context.partition(":")
    if not text.isdigit():
        return context
    number = int(text)
    if kind == "alert":
        stmt = select(incident_alerts.c.incident_id).where(incident_alerts.c.alert_id == number)
    elif kind == "incident":
        stmt = select(incidents.c.id).where(incidents.c.id == number)
    elif kind == "rumour":
        stmt = (
            select(incidents.c.id)
            .where(incidents.c.cluster == number)
            .order_by(incidents.c.merged_into.is_not(None), incidents.c.id.desc())
            .limit(1)
        )
    else:
        return context
    incident_id = (await conn.execute(stmt)).scalar_one_or_none()
    for _ in range(20):  # a merged incident points at the one it joined
        if incident_id is None:
            return context
        merged_into = (
            await conn.execute(select(incidents.c.merged_into).where(incidents.c.id == incident_id))
        ).scalar_one_or_none()
        if merged_into is None:
            break
        incident_id = merged_into
    return f"incident:{incident_id}"
