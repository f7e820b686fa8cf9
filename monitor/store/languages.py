"""Read queries: processed posts the classifier left unscored because of their language.

The pipeline stores no scores for a post whose detected language the classifier does not
cover (`monitor.classify.languages`); these counts say how many there are, so pages and
digests can say "112 Urdu posts not scored by the classifier; rules still apply".
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.store.tables import place_matches, posts


async def not_scored(
    conn: AsyncConnection,
    covered: Collection[str] | None,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    wards: Collection[str] | None = None,
    post_ids: Collection[str] | None = None,
) -> dict[str, int]:
    """Processed posts per uncovered language code, most first (optionally only posts created
    in [since, until), placed in `wards`, or among `post_ids`). `covered` None: a classifier
    that covers every language, so nothing."""
    if covered is None:
        return {}
    stmt = (
        select(posts.c.language, func.count(posts.c.id.distinct()))
        .where(posts.c.processed_at.is_not(None), posts.c.language.is_not(None))
        .group_by(posts.c.language)
    )
    if since is not None:
        stmt = stmt.where(posts.c.created_at >= since)
    if until is not None:
        stmt = stmt.where(posts.c.created_at < until)
    if wards is not None:
        stmt = stmt.join(place_matches, place_matches.c.post_id == posts.c.id).where(
            place_matches.c.ward.in_(list(wards))
        )
    if post_ids is not None:
        stmt = stmt.where(posts.c.id.in_(list(post_ids)))
    covered_set = frozenset(covered)
    counts: dict[str, int] = {}
    for language, count in (await conn.execute(stmt)).all():
        code = _primary(language)  # empty: unknown, scored (as is_covered says)
        if code and code not in covered_set:
            counts[code] = counts.get(code, 0) + int(count)
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


async def not_scored_by_ward(
    conn: AsyncConnection, covered: Collection[str] | None
) -> dict[str, dict[str, int]]:
    """Ward -> uncovered language code -> processed posts placed in that ward."""
    if covered is None:
        return {}
    stmt = (
        select(place_matches.c.ward, posts.c.language, func.count(posts.c.id.distinct()))
        .join(place_matches, place_matches.c.post_id == posts.c.id)
        .where(
            posts.c.processed_at.is_not(None),
            posts.c.language.is_not(None),
            place_matches.c.ward.is_not(None),
        )
        .group_by(place_matches.c.ward, posts.c.language)
    )
    covered_set = frozenset(covered)
    out: dict[str, dict[str, int]] = {}
    for ward, language, count in (await conn.execute(stmt)).all():
        code = _primary(language)  # empty: unknown, scored (as is_covered says)
        if code and code not in covered_set:
            per = out.setdefault(str(ward), {})
            per[code] = per.get(code, 0) + int(count)
    return out


def _primary(language: object) -> str:
    """A language's primary subtag ("pl" of "pl-PL"), by which the classifier covers it
    (monitor.classify.languages.is_covered); empty for an unknown language, which is scored."""
    return str(language).split("-")[0].lower()
