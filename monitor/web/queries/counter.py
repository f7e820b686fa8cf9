"""The counter-message planner's store: plans, four-eyes approval, and recording publication.

Publishing here means recording that people published the approved text somewhere: it adds
the `counter_messages` row that the rumour's before/after comparison uses, and moves the rumour
to `countering`. The system itself never posts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.safeguards import audit
from monitor.store import signals as signal_store
from monitor.store.tables import counter_plans, counter_versions

CHANNELS = (
    "Council website",
    "Council social media",
    "WhatsApp community groups",
    "Community and faith leaders",
    "Ward councillors",
    "Local radio",
    "Local newspaper",
    "Posters and newsletters",
    "Schools' parent messages",
)
MAX_FACTS = 5
DRAFT_CHARS = 4000


class PlanError(ValueError):
    """A plan that cannot be saved, approved or published. `code` is one of ERRORS' keys: pages
    pass the code (never free text) in the address they redirect to."""

    def __init__(self, code: str) -> None:
        super().__init__(ERRORS[code])
        self.code = code


ERRORS = {
    "locked": "This plan was published or withdrawn and can no longer be edited.",
    "language": "Choose the language of the version from the list.",
    "missing": "There is no such plan.",
    "not_draft": "Only a draft can be approved.",
    "four_eyes": (
        "Someone who wrote none of its words (its last editor, or a language version's) must "
        "approve it (four eyes)."
    ),
    "incomplete": "The plan is not complete yet: see what it lacks below.",
    "not_approved": "Only an approved plan can be recorded as published.",
    "future": "The publication time is in the future: record it once the message is out.",
    "channel": "Choose the channel it was published on.",
    "url": "The link to the published message must start with https:// or http://.",
    "time": "Give the publication time.",
}


@dataclass(frozen=True, slots=True)
class PlanInput:
    claim: str
    facts: list[dict[str, str]]
    messengers: str
    channels: list[str]
    template: str | None
    draft: str

    @classmethod
    def from_form(cls, form: Mapping[str, Any]) -> PlanInput:
        facts = []
        for i in range(MAX_FACTS):
            fact = " ".join(str(form.get(f"fact{i}", "")).split())[:500]
            source = " ".join(str(form.get(f"source{i}", "")).split())[:500]
            if fact or source:
                facts.append({"fact": fact, "source": source})
        getall = getattr(form, "getall", None)
        raw_channels = getall("channels", []) if getall else form.get("channels", [])
        channels = [c for c in CHANNELS if c in set(map(str, raw_channels or []))]
        return cls(
            claim=" ".join(str(form.get("claim", "")).split())[:500],
            facts=facts,
            messengers=" ".join(str(form.get("messengers", "")).split())[:500],
            channels=channels,
            template=str(form.get("template", "")) or None,
            draft=str(form.get("draft", "")).replace("\r\n", "\n")[:DRAFT_CHARS],
        )


def problems_for_approval(plan: Mapping[str, Any]) -> list[str]:
    """What a plan lacks before it may be approved."""
    out = []
    if not (plan.get("claim") or "").strip():
        out.append("say what the claim is")
    facts = plan.get("facts") or []
    if not facts:
        out.append("add at least one fact")
    if any(not f.get("fact") or not f.get("source") for f in facts):
        out.append("give every fact its source")
    if not (plan.get("draft") or "").strip():
        out.append("write the draft")
    if not plan.get("channels"):
        out.append("choose at least one channel")
    return out


async def list_plans(conn: AsyncConnection, rumour_id: int) -> list[dict[str, Any]]:
    stmt = (
        select(counter_plans)
        .where(counter_plans.c.rumour_id == rumour_id)
        .order_by(counter_plans.c.id.desc())
    )
    return [dict(r._mapping) for r in (await conn.execute(stmt)).all()]


async def get_plan(conn: AsyncConnection, plan_id: int) -> dict[str, Any] | None:
    row = (await conn.execute(select(counter_plans).where(counter_plans.c.id == plan_id))).first()
    return None if row is None else dict(row._mapping)


async def save(
    conn: AsyncConnection,
    rumour_id: int,
    plan_id: int | None,
    data: PlanInput,
    actor: str,
    now: datetime,
) -> int:
    """Create a draft, or edit one (an approved plan that is edited needs approving again)."""
    values = {
        "claim": data.claim,
        "facts": data.facts,
        "messengers": data.messengers,
        "channels": data.channels,
        "template": data.template,
        "draft": data.draft,
        "updated_by": actor,
        "updated_at": now,
    }
    if plan_id is None:
        result = await conn.execute(
            counter_plans.insert()
            .values(rumour_id=rumour_id, status="draft", created_by=actor, created_at=now, **values)
            .returning(counter_plans.c.id)
        )
        plan_id = int(result.scalar_one())
    else:
        done = await conn.execute(
            update(counter_plans)
            .where(
                counter_plans.c.id == plan_id,
                counter_plans.c.rumour_id == rumour_id,
                counter_plans.c.status.in_(("draft", "approved")),
            )
            .values(status="draft", approved_by=None, approved_at=None, **values)
        )
        if not done.rowcount:
            raise PlanError("locked")
    await audit.record(
        conn, actor, "counter_plan_saved", None, {"rumour_id": rumour_id, "plan_id": plan_id}, now
    )
    return plan_id


async def authors(conn: AsyncConnection, plan: Mapping[str, Any]) -> set[str]:
    """Who wrote the plan's words as they stand: its last editor and each language version's.
    None of them may approve it: every word published is checked by someone who did not
    write it (an empty save of a version by a colleague must not let the author approve)."""
    stmt = select(counter_versions.c.updated_by).where(counter_versions.c.plan_id == plan["id"])
    return {plan["updated_by"], *(await conn.execute(stmt)).scalars()}


async def approve(conn: AsyncConnection, plan_id: int, actor: str, now: datetime) -> None:
    plan = await get_plan(conn, plan_id)
    if plan is None:
        raise PlanError("missing")
    if plan["status"] != "draft":
        raise PlanError("not_draft")
    if actor in await authors(conn, plan):
        raise PlanError("four_eyes")
    if problems_for_approval(plan):
        raise PlanError("incomplete")
    await conn.execute(
        update(counter_plans)
        .where(counter_plans.c.id == plan_id, counter_plans.c.status == "draft")
        .values(status="approved", approved_by=actor, approved_at=now)
    )
    await audit.record(conn, actor, "counter_plan_approved", None, {"plan_id": plan_id}, now)


def _check_url(url: str) -> str | None:
    url = url.strip()
    if not url:
        return None
    if urlsplit(url).scheme not in ("http", "https"):
        raise PlanError("url")
    return url[:2000]


async def publish(
    conn: AsyncConnection,
    plan_id: int,
    actor: str,
    published_at: datetime,
    channel: str,
    url: str,
    now: datetime,
) -> int:
    """Record publication; returns the counter message id the before/after view uses."""
    plan = await get_plan(conn, plan_id)
    if plan is None:
        raise PlanError("missing")
    if plan["status"] != "approved":
        raise PlanError("not_approved")
    if published_at > now:
        raise PlanError("future")
    if channel not in CHANNELS:
        raise PlanError("channel")
    link = _check_url(url)
    message_id = await signal_store.add_counter(
        conn,
        plan["rumour_id"],
        published_at,
        by=actor,
        now=now,
        text=plan["draft"],
        url=link,
        channel=channel,
    )
    await conn.execute(
        update(counter_plans)
        .where(counter_plans.c.id == plan_id)
        .values(
            status="published",
            published_at=published_at,
            published_channel=channel,
            published_url=link,
            counter_message_id=message_id,
        )
    )
    rumour = await signal_store.rumour(conn, plan["rumour_id"])
    if rumour is not None and rumour["status"] in ("new", "watching"):
        await signal_store.set_status(conn, plan["rumour_id"], "countering", now)
    await audit.record(
        conn,
        actor,
        "counter_published",
        None,
        {"plan_id": plan_id, "rumour_id": plan["rumour_id"], "channel": channel},
        now,
    )
    return message_id


def places_of(rumour: Mapping[str, Any], limit: int = 4) -> Sequence[str]:
    places = dict(rumour.get("places") or {})
    return [name for name, _ in sorted(places.items(), key=lambda kv: -kv[1])[:limit]]


# Community languages a counter message is most often needed in (docs: reference on identity
# groups and community languages); the plan's draft is the English original.
LANGUAGES = (
    ("pl", "Polish"),
    ("ur", "Urdu"),
    ("pa", "Punjabi"),
    ("bn", "Bengali"),
    ("gu", "Gujarati"),
    ("ar", "Arabic"),
    ("fa", "Persian"),
    ("ro", "Romanian"),
    ("sk", "Slovak"),
    ("cs", "Czech"),
    ("uk", "Ukrainian"),
    ("so", "Somali"),
    ("ti", "Tigrinya"),
    ("cy", "Welsh"),
)
LANGUAGE_NAMES = dict(LANGUAGES)
RIGHT_TO_LEFT = frozenset({"ar", "fa", "ur"})
VERSION_CHARS = 4000


async def versions(
    conn: AsyncConnection, plan_ids: Sequence[int]
) -> dict[int, list[dict[str, Any]]]:
    """Each plan's versions in other languages, by language name."""
    out: dict[int, list[dict[str, Any]]] = {i: [] for i in plan_ids}
    if not plan_ids:
        return out
    stmt = select(counter_versions).where(counter_versions.c.plan_id.in_(plan_ids))
    for r in (await conn.execute(stmt)).mappings().all():
        row = dict(r)
        row["name"] = LANGUAGE_NAMES.get(row["language"], row["language"])
        row["dir"] = "rtl" if row["language"] in RIGHT_TO_LEFT else "ltr"
        out[row["plan_id"]].append(row)
    for rows in out.values():
        rows.sort(key=lambda v: v["name"])
    return out


async def save_version(
    conn: AsyncConnection, plan_id: int, language: str, text: str, actor: str, now: datetime
) -> None:
    """Add or replace the plan's text in `language` (empty text removes it). The words people
    publish are checked by a second person: an approved plan goes back to draft."""
    if language not in LANGUAGE_NAMES:
        raise PlanError("language")
    plan = await get_plan(conn, plan_id)
    if plan is None:
        raise PlanError("missing")
    if plan["status"] not in ("draft", "approved"):
        raise PlanError("locked")
    text = text.strip()[:VERSION_CHARS]
    where = (counter_versions.c.plan_id == plan_id, counter_versions.c.language == language)
    await conn.execute(counter_versions.delete().where(*where))
    if text:
        await conn.execute(
            counter_versions.insert().values(
                plan_id=plan_id, language=language, text=text, updated_by=actor, updated_at=now
            )
        )
    # Back to draft; the plan's own last editor stays (the version row says who wrote it), so
    # that approval can exclude both (`authors`).
    await conn.execute(
        update(counter_plans)
        .where(counter_plans.c.id == plan_id)
        .values(status="draft", approved_by=None, approved_at=None, updated_at=now)
    )
    detail = {"plan_id": plan_id, "language": language, "removed": not text}
    await audit.record(conn, actor, "counter_version_saved", None, detail, now)
