"""Erase the copies of post text kept outside `posts`: alert excerpts' copies in delivered
messages (the local mailbox), stored digests, and rumours' representative claims.

Called whenever an excerpt goes — a platform reports a post or account deleted
(`monitor.store.posts.purge_text`), or the excerpt passes `alert_excerpt_retention_days`
(`monitor.safeguards.retention`). Outbox rows hold no text of their own: a pending notification is
rendered from `alert_posts` when it is sent, so once the excerpt is gone it is gone from the
message too.
Digests and mailbox messages were rendered earlier and keep text, so each copy of a purged
excerpt in them — as written, whitespace-collapsed, or HTML-escaped by the templates, whole or
cut short with "…" (a rumour incident's headline quotes its claim's first 147 characters, and
digests carry that headline) — is replaced with a notice.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from markupsafe import escape
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.store.tables import alert_posts, digest_runs, incidents, mailbox, rumours

REMOVED = "[text removed: deleted by its author or past its retention period]"
# Excerpts matched per query: keeps each statement's OR list and LIKE patterns small.
CHUNK = 40
# Shorter texts could match innocent words in a message ("ok", "yes"): the excerpt of a post
# that short is left in place rather than damaging unrelated text. Checked by a test.
MIN_SCRUB_CHARS = 12
# A copy cut short (the text's start, then "…", as monitor.incidents.describe.clip makes for a
# rumour's headline) is found by this many first characters and counts only where the
# ellipsis follows the text's own start exactly: another post that merely begins the same way
# is left alone.
PROBE_CHARS = 40
ELLIPSIS = "…"


def variants(excerpt: str) -> list[str]:
    """How an excerpt can appear in a rendered message: as written, with its whitespace
    collapsed (as headlines quote it), and HTML-escaped."""
    forms = {excerpt, " ".join(excerpt.split())}
    forms |= {str(escape(f)) for f in forms} | {html.escape(f, quote=True) for f in forms}
    forms |= {f.replace("\n", "\n  > ") for f in list(forms)}  # text templates quote lines
    return sorted((f for f in forms if len(f) >= MIN_SCRUB_CHARS), key=len, reverse=True)


def probes(forms: Iterable[str]) -> list[str]:
    """What to look for in stored messages: each form's start, which finds it whole and cut
    short alike (`scrub` then decides)."""
    return sorted({f[:PROBE_CHARS] for f in forms})


def scrub(text: str, forms: Iterable[str]) -> str:
    forms = list(forms)
    for form in forms:
        if form in text:
            text = text.replace(form, REMOVED)
    for form in forms:
        if len(form) > PROBE_CHARS and form[:PROBE_CHARS] in text:
            text = _scrub_clipped(text, form)
    return text


def _scrub_clipped(text: str, form: str) -> str:
    """Replace each copy of `form` cut short: at least its first PROBE_CHARS characters, then
    the ellipsis."""
    out: list[str] = []
    start = 0
    probe = form[:PROBE_CHARS]
    while (at := text.find(probe, start)) >= 0:
        end = at + PROBE_CHARS
        while end < len(text) and end - at < len(form) and text[end] == form[end - at]:
            end += 1
        if text.startswith(ELLIPSIS, end):
            out.append(text[start:at] + REMOVED)
            start = end + len(ELLIPSIS)
        else:
            out.append(text[start : at + 1])
            start = at + 1
    out.append(text[start:])
    return "".join(out)


def scrub_json(value: Any, forms: Sequence[str]) -> Any:
    if isinstance(value, str):
        return scrub(value, forms)
    if isinstance(value, list):
        return [scrub_json(v, forms) for v in value]
    if isinstance(value, dict):
        return {k: scrub_json(v, forms) for k, v in value.items()}
    return value


async def excerpts_of(conn: AsyncConnection, post_ids: Sequence[str]) -> list[str]:
    """Every excerpt kept of these posts: alert evidence and rumour representatives."""
    found: set[str] = set()
    for start in range(0, len(post_ids), 500):
        ids = list(post_ids[start : start + 500])
        rows = await conn.execute(
            select(alert_posts.c.excerpt).where(
                alert_posts.c.post_id.in_(ids), alert_posts.c.excerpt.is_not(None)
            )
        )
        found.update(r[0] for r in rows.all() if r[0])
        rows = await conn.execute(
            select(rumours.c.representative).where(rumours.c.representative_post_id.in_(ids))
        )
        found.update(r[0] for r in rows.all() if r[0])
    return sorted(found)


async def erase_copies(
    conn: AsyncConnection, post_ids: Sequence[str], now: datetime, excerpts: Sequence[str] = ()
) -> int:
    """Remove every copy of these posts' excerpts (plus `excerpts`) outside `posts` and
    `alert_posts`; returns how many stored messages, digests and rumours were changed."""
    texts = sorted(set(excerpts) | set(await excerpts_of(conn, post_ids)))
    changed = 0
    if post_ids:
        for start in range(0, len(post_ids), 500):
            ids = list(post_ids[start : start + 500])
            # The signals stage reloads a rumour whose revision went up.
            result = await conn.execute(
                update(rumours)
                .where(rumours.c.representative_post_id.in_(ids))
                .values(
                    representative="",
                    representative_post_id=None,
                    revision=rumours.c.revision + 1,
                    updated_at=now,
                )
            )
            changed += int(result.rowcount or 0)
    for start in range(0, len(texts), CHUNK):
        forms = [f for t in texts[start : start + CHUNK] for f in variants(t)]
        if forms:
            changed += await _scrub_mailbox(conn, forms)
            changed += await _scrub_digests(conn, forms)
            changed += await _scrub_incidents(conn, forms, now)
    return changed


async def _scrub_incidents(conn: AsyncConnection, forms: list[str], now: datetime) -> int:
    """A rumour incident's headline quotes its claim: where it quotes erased text, it is
    named by its places instead (the incidents engine never takes purged text back)."""
    probes = [" ".join(f.split()) for f in forms if len(f) >= 20]  # headlines quote the start
    if not probes:
        return 0
    cond = or_(*[incidents.c.headline.contains(f[:80], autoescape=True) for f in probes])
    rows = await conn.execute(select(incidents.c.id, incidents.c.wards).where(cond))
    n = 0
    for row in rows.all():
        places = ", ".join(list(row.wards or [])[:3]) or "no named place"
        await conn.execute(
            update(incidents)
            .where(incidents.c.id == row.id)
            .values(headline=f"Rumour in {places} (claim text removed)", updated_at=now)
        )
        n += 1
    return n


async def _scrub_mailbox(conn: AsyncConnection, forms: list[str]) -> int:
    starts = probes(forms)
    cond = or_(
        *[mailbox.c.text.contains(f, autoescape=True) for f in starts],
        *[mailbox.c.html.contains(f, autoescape=True) for f in starts],
    )
    rows = await conn.execute(select(mailbox.c.id, mailbox.c.text, mailbox.c.html).where(cond))
    n = 0
    for row in rows.all():
        text, body = scrub(row.text, forms), scrub(row.html, forms)
        if (text, body) == (row.text, row.html):  # only began like an erased text
            continue
        await conn.execute(
            update(mailbox).where(mailbox.c.id == row.id).values(text=text, html=body)
        )
        n += 1
    return n


async def _scrub_digests(conn: AsyncConnection, forms: list[str]) -> int:
    starts = probes(forms)
    cond = or_(
        *[digest_runs.c.text.contains(f, autoescape=True) for f in starts],
        *[digest_runs.c.html.contains(f, autoescape=True) for f in starts],
    )
    n = 0
    rows = await conn.execute(
        select(digest_runs.c.id, digest_runs.c.text, digest_runs.c.html, digest_runs.c.data).where(
            cond
        )
    )
    for row in rows.all():
        text = scrub(row.text, forms) if row.text else row.text
        body = scrub(row.html, forms) if row.html else row.html
        data = scrub_json(row.data, forms) if row.data is not None else None
        if (text, body, data) == (row.text, row.html, row.data):  # only began like one
            continue
        await conn.execute(
            update(digest_runs)
            .where(digest_runs.c.id == row.id)
            .values(text=text, html=body, data=data)
        )
        n += 1
    return n
