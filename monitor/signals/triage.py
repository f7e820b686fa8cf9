"""What comms staff do to rumours, in one place for the web UI and the API (the CLI's
`monitor signals status` and `register` call the same store functions): move a rumour to another
status, register a known claim, merge two rumours that are one claim, record their own verdict
on it, and say who is on it. Each change is audited, in the caller's transaction.

People's changes reach the running signals stage through the rumour's `revision` (see
`monitor/store/signals.py`): a change here bumps it, and the stage takes the rumour up again at
its next batch instead of overwriting what the person decided.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import distinct, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.safeguards import audit
from monitor.signals.rumours import StatusError, check_status
from monitor.store import signals as store
from monitor.store.tables import posts, rumour_posts, rumours, users

# Comms staff's own finding on the claim. Never set by the classifier: a rumour is a claim being
# passed on, and its score says nothing about whether it is true.
VERDICTS = (
    ("unverified", "Not checked yet"),
    ("false", "False: the facts say otherwise"),
    ("misleading", "Misleading: true in part, wrong in what it implies"),
    ("true", "True: the facts bear it out"),
)
VERDICT_CODES = frozenset(code for code, _ in VERDICTS)
NOTE_CHARS = 1000
MIN_CLAIM_CHARS = 10
ASSIGNABLE_ROLES = ("admin", "comms")


class TriageError(ValueError):
    """A change that cannot be made; the message says why, for the person who asked."""


@dataclass(frozen=True, slots=True)
class Done:
    code: str
    message: str
    rumour: int


def _clean(text: str | None, limit: int = NOTE_CHARS) -> str:
    return " ".join((text or "").split())[:limit]


async def _row(conn: AsyncConnection, rumour_id: int) -> dict[str, Any]:
    row = await store.rumour(conn, rumour_id)
    if row is None:
        raise TriageError(f"There is no rumour r{rumour_id}.")
    return row


async def set_status(
    conn: AsyncConnection, rumour_id: int, status: str, by: str, now: datetime
) -> Done:
    row = await _row(conn, rumour_id)
    if row["merged_into"]:
        raise TriageError(f"r{rumour_id} was merged into r{row['merged_into']}: triage that one.")
    try:
        check_status(row["status"], status)
    except StatusError as exc:
        raise TriageError(str(exc).capitalize() + ".") from None
    await store.set_status(conn, rumour_id, status, now)
    detail = {"rumour": rumour_id, "from": row["status"], "to": status}
    await audit.record(conn, by, "rumour_status", None, detail, now)
    return Done("status", f"r{rumour_id} is {status} now (was {row['status']}).", rumour_id)


async def register(conn: AsyncConnection, claim_text: str, by: str, now: datetime) -> int:
    """Register a known claim; the signals stage adopts a live cluster that matches it, or
    starts a rumour of its own, at its next batch. Returns the claim's id."""
    text = _clean(claim_text, 2000)
    if len(text) < MIN_CLAIM_CHARS:
        raise TriageError(f"A claim needs at least {MIN_CLAIM_CHARS} characters to be matched.")
    claim_id = await store.register_claim(conn, text, by, now)
    # The claim is comms staff's own words, not a post: the audit keeps its length only.
    await audit.record(
        conn, by, "rumour_register", None, {"claim": claim_id, "chars": len(text)}, now
    )
    return claim_id


async def assignable(conn: AsyncConnection) -> list[str]:
    """Who a rumour can be given to: active comms and admin accounts."""
    stmt = (
        select(users.c.username)
        .where(users.c.role.in_(ASSIGNABLE_ROLES), users.c.disabled.is_(False))
        .order_by(users.c.username)
    )
    return list((await conn.execute(stmt)).scalars().all())


async def triage(
    conn: AsyncConnection,
    rumour_id: int,
    by: str,
    now: datetime,
    *,
    verdict: str | None = None,
    verdict_note: str | None = None,
    assignee: str | None = None,
) -> Done:
    """Record the verdict (with a note saying on what facts) and/or who is on it ("" to give
    it back to nobody). Only what is given changes."""
    row = await _row(conn, rumour_id)
    values: dict[str, Any] = {}
    if verdict is not None:
        if verdict not in VERDICT_CODES:
            raise TriageError("Choose a verdict from the list.")
        note = _clean(verdict_note)
        if verdict in ("false", "misleading", "true") and len(note) < 5:
            raise TriageError("Say on what facts the verdict rests (a few words and a source).")
        values["verdict"], values["verdict_note"] = verdict, note or None
    if assignee is not None:
        assignee = assignee.strip()
        if assignee and assignee not in await assignable(conn):
            raise TriageError(f"{assignee!r} is not an active comms account.")
        values["assignee"] = assignee or None
    changed = {k: v for k, v in values.items() if row.get(k) != v}
    if not changed:
        return Done("unchanged", "Nothing changed.", rumour_id)
    await conn.execute(
        update(rumours)
        .where(rumours.c.id == rumour_id)
        .values(**changed, revision=rumours.c.revision + 1, updated_at=now)
    )
    detail = {"rumour": rumour_id, **{k: v for k, v in changed.items() if k != "verdict_note"}}
    await audit.record(conn, by, "rumour_triage", None, detail, now)
    return Done("triaged", f"r{rumour_id}: " + ", ".join(sorted(changed)) + " saved.", rumour_id)


async def merge(
    conn: AsyncConnection, source: int, target: int, by: str, now: datetime, reason: str
) -> Done:
    """`source` is the same claim as `target`: its posts and counter messages move to
    `target`, it closes as merged, and `target`'s figures are counted again from its posts."""
    reason = _clean(reason, 300)
    if len(reason) < 3:
        raise TriageError("Say why they are one claim (a few words are enough).")
    if source == target:
        raise TriageError("A rumour cannot be merged into itself.")
    src, dst = await _row(conn, source), await _row(conn, target)
    for r in (src, dst):
        if r["merged_into"]:
            raise TriageError(f"r{r['id']} was already merged into r{r['merged_into']}.")
    if dst["status"] == "closed":
        raise TriageError(f"r{target} is closed: reopen it first, or merge the other way.")
    await store.repoint_merged(conn, source, target)
    await conn.execute(
        update(rumours)
        .where(rumours.c.id == source)
        .values(
            status="closed",
            merged_into=target,
            closed_at=now,
            spreading=False,
            revision=rumours.c.revision + 1,
            updated_at=now,
        )
    )
    await conn.execute(
        update(rumours)
        .where(rumours.c.id == target)
        .values(
            **await _figures(conn, target),
            registered=bool(dst["registered"] or src["registered"]),
            claim_text=dst["claim_text"] or src["claim_text"],
            revision=rumours.c.revision + 1,
            updated_at=now,
        )
    )
    detail = {"rumour": source, "into": target, "reason": reason}
    await audit.record(conn, by, "rumour_merge", None, detail, now)
    return Done("merged", f"r{source} merged into r{target}.", target)


async def _figures(conn: AsyncConnection, rumour_id: int) -> dict[str, Any]:
    """Posts, distinct authors, places, stance mix and first and last seen, from its members."""
    members = (
        select(rumour_posts.c.post_id, rumour_posts.c.created_at, rumour_posts.c.place)
        .add_columns(rumour_posts.c.stance)
        .where(rumour_posts.c.rumour_id == rumour_id, rumour_posts.c.state == "member")
    )
    rows = (await conn.execute(members)).all()
    authors = (
        await conn.execute(
            select(func.count(distinct(posts.c.author_ref)))
            .select_from(rumour_posts.join(posts, posts.c.id == rumour_posts.c.post_id))
            .where(rumour_posts.c.rumour_id == rumour_id, rumour_posts.c.state == "member")
        )
    ).scalar_one()
    if not rows:
        return {"post_count": 0, "author_count": int(authors or 0)}
    times = [r.created_at for r in rows]
    return {
        "post_count": len(rows),
        "author_count": int(authors or 0),
        "places": dict(Counter(r.place for r in rows if r.place)),
        "stance": dict(Counter(r.stance or "comment" for r in rows)),
        "first_seen": min(times),
        "last_seen": max(times),
    }
