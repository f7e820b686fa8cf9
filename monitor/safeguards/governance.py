"""Governance: every monitored topic (rule pack) and place (gazetteer) has an owner, a purpose
from a closed list and a review date; past its review date it stops until someone re-approves it.

Monitoring for a council is lawful when it is necessary and proportionate for a stated purpose,
and stays so only while someone keeps checking that it still is. So the register holds one row
per subject — `pack:<id>` or `places:<gazetteer>` — and the running service consults it:
rule packs past their review date stop matching (`GovernanceGate.ruleset_for`), and place
gazetteers past theirs stop placing posts (`GovernanceGate.places`) and their posts are no
longer taken in. Approving records who, why and until when, in the register and in the audit log.

At the first start each subject found is registered with its pack's owner, the default purpose
for it, and a review date `governance_review_days` (default 90) ahead, recorded as approved by
the initial configuration: the DPIA (docs/dpia.md) covers that configuration, and the review
date makes someone look again.

Some uses are excluded whatever the purpose: watching lawful protest or criticism of the council
(see EXCLUDED_USES). The shipped rule packs carry examples of both as `no_match`, and
`monitor governance purposes` prints this policy.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from monitor.config import Settings
from monitor.safeguards import audit
from monitor.store.db import dialect_insert
from monitor.store.tables import governance_register
from monitor.types import Post

log = logging.getLogger(__name__)

PURPOSES: Mapping[str, str] = {
    "community_tension": (
        "Spot rising tension between communities in a place early, from themes and trends in "
        "public posts, so the communities team can plan engagement, reassurance and mediation."
    ),
    "rumour_response": (
        "Find false or misleading claims spreading in the district so comms staff can publish "
        "accurate information (#MakeSureItAddsUp) and see whether it worked."
    ),
    "public_safety_liaison": (
        "Share aggregate tension levels, and threats of violence or calls to gather in order to "
        "confront people, with police liaison under the information-sharing agreement."
    ),
    "event_safety": (
        "Time-limited monitoring around a named public event (a large gathering, a "
        "commemoration, a match) for the safety of the people attending."
    ),
}
EXCLUDED_USES = (
    "Monitoring, recording or reporting lawful, peaceful protest or the people taking part.",
    "Monitoring criticism of the council, its services, its officers or its councillors.",
    "Monitoring any named or identifiable person, group of accounts, or account watchlist "
    "(directed surveillance, which a council cannot authorise for this purpose).",
    "Profiling anyone's religion, ethnicity, politics or other special-category traits.",
)
DEFAULT_PURPOSE = {"pack:tension": "community_tension", "pack:rumour": "rumour_response"}
FALLBACK_PURPOSE = "community_tension"
INITIAL_APPROVER = "system (initial configuration)"


class GovernanceError(ValueError):
    """An approval that cannot be recorded (unknown purpose, no owner, a date in the past)."""


@dataclass(frozen=True, slots=True)
class Subject:
    """Something monitored: a rule pack (a topic) or a place gazetteer."""

    id: str  # "pack:tension", "places:bradford"
    owner: str  # from the pack file; the council's team for places

    @property
    def kind(self) -> str:
        return self.id.split(":", 1)[0]


@dataclass(frozen=True, slots=True)
class Approval:
    subject: str
    owner: str
    purpose: str
    review_by: datetime
    approved_by: str
    approved_at: datetime
    note: str | None = None

    def active(self, now: datetime) -> bool:
        return now < self.review_by


def subjects_for(settings: Settings, packs: Iterable[Any]) -> list[Subject]:
    """The subjects this instance monitors: its rule packs and its gazetteers."""
    out = [
        Subject(f"pack:{p.id}", str(getattr(p, "owner", "") or "Communities team")) for p in packs
    ]
    for name in (n.strip() for n in settings.places.split(",")):
        if name:
            out.append(Subject(f"places:{name}", "Communities team"))
    return out


async def load_register(conn: AsyncConnection) -> dict[str, Approval]:
    rows = (await conn.execute(select(governance_register))).mappings().all()
    return {
        r["subject"]: Approval(
            subject=r["subject"],
            owner=r["owner"],
            purpose=r["purpose"],
            review_by=r["review_by"],
            approved_by=r["approved_by"],
            approved_at=r["approved_at"],
            note=r["note"],
        )
        for r in rows
    }


async def approve(
    conn: AsyncConnection,
    subject: str,
    *,
    owner: str,
    purpose: str,
    approved_by: str,
    now: datetime,
    review_days: int = 90,
    note: str | None = None,
) -> Approval:
    """Record an approval (first or renewed) and audit it. Refuses what the policy does not
    allow: a purpose off the closed list, no owner, no approver, a review more than a year off."""
    if purpose not in PURPOSES:
        raise GovernanceError(f"purpose {purpose!r} is not on the list: {', '.join(PURPOSES)}")
    if not owner.strip() or not approved_by.strip():
        raise GovernanceError("an approval needs an owner and the name of who approves it")
    if not subject.startswith(("pack:", "places:")):
        raise GovernanceError("a subject is pack:<id> or places:<gazetteer>")
    if not 1 <= review_days <= 366:
        raise GovernanceError("the review date must be between 1 and 366 days ahead")
    approval = Approval(
        subject=subject,
        owner=owner.strip(),
        purpose=purpose,
        review_by=now + timedelta(days=review_days),
        approved_by=approved_by.strip(),
        approved_at=now,
        note=note,
    )
    values = dataclasses.asdict(approval)
    stmt = dialect_insert(conn, governance_register).values(values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["subject"], set_={k: v for k, v in values.items() if k != "subject"}
    )
    await conn.execute(stmt)
    await audit.record(
        conn,
        approval.approved_by,
        "governance_approve",
        purpose,
        {
            "subject": subject,
            "owner": approval.owner,
            "review_by": approval.review_by.isoformat(),
            "note": note,
        },
        now,
    )
    return approval


async def register_new(
    conn: AsyncConnection, subjects: Sequence[Subject], now: datetime, review_days: int
) -> list[Approval]:
    """Register subjects seen for the first time (the initial configuration's approval)."""
    known = await load_register(conn)
    added = []
    for s in subjects:
        if s.id in known:
            continue
        added.append(
            await approve(
                conn,
                s.id,
                owner=s.owner,
                purpose=DEFAULT_PURPOSE.get(s.id, FALLBACK_PURPOSE),
                approved_by=INITIAL_APPROVER,
                now=now,
                review_days=review_days,
                note="registered at first start; review and re-approve by the review date",
            )
        )
    return added


class GovernanceGate:
    """The register as the running service sees it: which packs and gazetteers may run now.

    Held in memory (rules and ingest ask per post) and refreshed from the store by `refresh`,
    which the service runs every minute, so an approval made with `monitor governance approve`
    in another process takes effect within a minute.
    """

    def __init__(self, approvals: Mapping[str, Approval] | None = None) -> None:
        self.approvals: dict[str, Approval] = dict(approvals or {})
        self._rules_cache: tuple[int, frozenset[str], Any] | None = None

    def allows(self, subject: str, now: datetime) -> bool:
        approval = self.approvals.get(subject)
        return approval is not None and approval.active(now)

    def lapsed(self, now: datetime) -> list[Approval]:
        return sorted(
            (a for a in self.approvals.values() if not a.active(now)), key=lambda a: a.subject
        )

    def ruleset_for(self, ruleset: Any, now: datetime) -> Any:
        """`ruleset` without the packs whose approval has lapsed (the same object when none)."""
        active = frozenset(p.id for p in ruleset.packs if self.allows(f"pack:{p.id}", now))
        if len(active) == len(ruleset.packs):
            return ruleset
        cached = self._rules_cache
        if cached is not None and cached[0] == id(ruleset) and cached[1] == active:
            return cached[2]
        kept = type(ruleset)(
            packs=tuple(p for p in ruleset.packs if p.id in active),
            fingerprint=f"{ruleset.fingerprint}+governance:{','.join(sorted(active))}",
            warnings=ruleset.warnings,
        )
        self._rules_cache = (id(ruleset), active, kept)
        return kept

    def places(self, post: Post, now: datetime) -> Post | None:
        """The post without place matches from lapsed gazetteers; None when it matched only
        lapsed places (it was taken in for a place no longer approved, so it is not kept)."""
        if not post.places:
            return post
        kept = tuple(
            m for m in post.places if self.allows(f"places:{m.place_id.split('/', 1)[0]}", now)
        )
        if len(kept) == len(post.places):
            return post
        return dataclasses.replace(post, places=kept) if kept else None

    async def refresh(
        self, engine: AsyncEngine, subjects: Sequence[Subject], now: datetime, review_days: int
    ) -> None:
        async with engine.begin() as conn:
            added = await register_new(conn, subjects, now, review_days)
            self.approvals = await load_register(conn)
        for a in added:
            log.info("governance: registered %s (review by %s)", a.subject, a.review_by.date())
        for a in self.lapsed(now):
            if a.subject in {s.id for s in subjects}:
                log.warning(
                    "governance: %s passed its review date %s and is not running; "
                    "re-approve it with `monitor governance approve`",
                    a.subject,
                    a.review_by.date(),
                )


def rules_packs(rules: Any) -> list[Any]:
    """The packs of a rule evaluator, when it has a rule set (the service); else none."""
    ruleset = getattr(rules, "ruleset", None)
    return list(getattr(ruleset, "packs", ()))


def home_subjects(settings: Settings, home: Path) -> list[Subject]:
    """Subjects from the pack files on disk (for the CLI, which runs no rule service)."""
    from monitor.rules.service import load_rule_evaluator

    return subjects_for(settings, rules_packs(load_rule_evaluator(settings, home)))
