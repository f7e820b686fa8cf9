"""Digests: the daily liaison digest, the weekly community tension summary and the comms
morning rumour brief (as `alerts/routing.yaml` defines them), on APScheduler 3.x cron jobs in
Europe/London time.

A run claims its (digest, period) row in `digest_runs` with INSERT … ON CONFLICT DO NOTHING, in
the same transaction that stores the rendered digest and writes its outbox rows: of several
instances, exactly one sends each digest, and a crash leaves either nothing (the next start
sends it) or everything (the dispatcher delivers it). At start-up the latest period of each
digest is sent once if nobody sent it — marked late.

Digests hold aggregates: places, counts, alert summaries and, only where a digest asks for
them, excerpts. Accounts appear only as distinct counts.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Collection, Mapping
from datetime import datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from jinja2 import Environment
from sqlalchemy import and_, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from monitor.alerts import briefing, chart
from monitor.alerts.config import AlertConfig, DigestSpec
from monitor.alerts.matchers import matches_all
from monitor.alerts.outbox import idempotency_key, upsert
from monitor.alerts.render import Message, london, render_digest
from monitor.alerts.schedule import LONDON, Period
from monitor.classify.languages import DEFAULT_COVERED, not_scored_notes
from monitor.privacy.suppress import DEFAULT_K, suppress_rows
from monitor.safeguards.recheck import Rechecker
from monitor.store import languages as language_store
from monitor.store.tables import (
    alert_posts,
    alerts,
    digest_runs,
    incident_alerts,
    incidents,
    notifications,
    place_matches,
    post_labels,
    posts,
)
from monitor.types import utcnow

log = logging.getLogger(__name__)

LATE_AFTER = timedelta(minutes=15)
RUMOUR_KIND_PREFIX = "rumour"
Clock = Callable[[], datetime]


def instance_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# --- data -----------------------------------------------------------------------------------


async def digest_view(
    conn: AsyncConnection,
    spec: DigestSpec,
    period: Period,
    *,
    late: bool,
    public_url: str = "",
    boundaries: list[chart.Boundary] | None = None,
    now: datetime | None = None,
    min_count: int = DEFAULT_K,
    covered_languages: Collection[str] | None = DEFAULT_COVERED,
) -> dict[str, Any]:
    """Everything a digest shows, as JSON-able data (stored with the run, rendered by templates).

    Whatever its sections, a digest says how many of the period's posts the classifier could
    not read ("53 Polish posts not scored by the classifier; rules still apply"): its flags
    and levels say nothing about those posts."""
    start, end = period.start, period.end
    view: dict[str, Any] = {
        "name": spec.name,
        "title": spec.title,
        "description": spec.description,
        "period": period.key,
        "period_start": start.isoformat(),
        "period_end": end.isoformat(),
        "period_label": f"{london(start)} – {london(end)} (UK time)",
        "late": late,
        "sections": list(spec.sections),
        "levels": None,
        "levels_text": "",
        "map_uri": None,
        "map_attribution": chart.ATTRIBUTION,
        "alerts": [],
        "alerts_by_kind": [],
        "incidents": [],
        "rumours": [],
        "not_scored": not_scored_notes(
            await language_store.not_scored(conn, covered_languages, since=start, until=end)
        ),
        "summary": None,
    }
    active = await _alerts_in(conn, start, end)
    link = public_url.rstrip("/")
    if "levels" in spec.sections:
        grid = await _levels(conn, start, end, active)
        view["levels"] = grid
        view["levels_text"] = chart.grid_text(grid)
        if boundaries:
            peaks = {r["area"]: r["peak"] for r in grid["rows"]}
            svg = chart.ward_map_svg(boundaries, peaks)
            view["map_uri"] = chart.svg_data_uri(svg) if svg else None
    chosen = [a for a in active if matches_all(spec.matchers, a["labels"])]
    if "alerts" in spec.sections:
        stats = await _evidence_stats(conn, [a["id"] for a in chosen], start, end)
        excerpts = await _excerpts(conn, [a["id"] for a in chosen]) if spec.excerpts else {}
        rank = {"critical": 4, "high": 3, "elevated": 2, "normal": 1}
        chosen.sort(
            key=lambda a: (-rank.get(chart.level_of(a["labels"]), 0), -a["post_count"], a["id"])
        )
        view["alerts"] = [
            {
                "id": a["id"],
                "period_posts": stats.get(a["id"], (0, 0))[0],
                "summary": a["summary"],
                "labels": a["labels"],
                "status": a["status"],
                "post_count": a["post_count"],
                "authors": stats.get(a["id"], (0, 0))[1],
                "first_seen": a["first_seen"].isoformat(),
                "last_seen": a["last_seen"].isoformat(),
                "excerpts": excerpts.get(a["id"], [])[:1],
                "url": f"{link}/alerts/{a['id']}" if link else None,
            }
            for a in chosen
            # An alert with no posts in the period says nothing about it (no zero rows).
            if stats.get(a["id"], (0, 0))[0] > 0
        ][: spec.top]
    if "alerts_by_kind" in spec.sections:
        kinds: dict[str, list[int]] = {}
        for a in chosen:
            entry = kinds.setdefault(a["labels"].get("kind", "?"), [0, 0])
            entry[0] += 1
            entry[1] += a["status"] in ("new", "acknowledged")
        view["alerts_by_kind"] = [
            {"kind": briefing.KIND_PHRASES.get(k, k.replace("_", " ")), "count": v[0], "open": v[1]}
            for k, v in sorted(kinds.items(), key=lambda kv: -kv[1][0])
        ]
    if "incidents" in spec.sections:
        view["incidents"] = await _incidents(conn, chosen, spec, link)
    if "rumours" in spec.sections:
        rumours = [a for a in chosen if a["labels"].get("kind", "").startswith(RUMOUR_KIND_PREFIX)]
        view["rumours"] = await _rumours(conn, rumours, start, end, spec, link)
    # Small distinct-author counts could single people out: shown as "<k" (monitor/privacy).
    suppress_rows([*view["alerts"], *view["incidents"], *view["rumours"]], min_count)
    # Plain sentences for the reader, after suppression so small counts read "fewer than".
    for incident in view["incidents"]:
        incident["sentences"] = briefing.incident_sentences(incident, start, end)
    for alert in view["alerts"]:
        alert["sentence"] = briefing.alert_sentence(alert, start, end)
    if "summary" in spec.sections:
        if not view["incidents"]:
            view["incidents"] = await _incidents(conn, chosen, spec, link)
            suppress_rows(view["incidents"], min_count)
        flagged = await _flagged(conn, start, end)
        before = await _flagged(conn, start - (end - start), start)
        view["summary"] = briefing.tension_summary(view, flagged, before)
    return view


async def _flagged(conn: AsyncConnection, start: datetime, end: datetime) -> int:
    """Flagged posts (a count) created in (start, end]: the summary's trend."""
    flagged_ids = select(post_labels.c.post_id).distinct().subquery()
    return int(
        (
            await conn.execute(
                select(func.count())
                .select_from(posts.join(flagged_ids, flagged_ids.c.post_id == posts.c.id))
                .where(posts.c.created_at > start, posts.c.created_at <= end)
            )
        ).scalar_one()
    )


async def _incidents(
    conn: AsyncConnection, chosen: list[dict[str, Any]], spec: DigestSpec, link: str
) -> list[dict[str, Any]]:
    """The incidents (stories) the period's chosen alerts belong to, most severe first, each
    with how many of its alerts were active. Held incidents (below the precision gate) and
    merged ones are left out. A rumour's claim is post text, so its headline names its places
    and the claim goes only into the excerpt (when the digest carries excerpts)."""
    by_alert = {a["id"]: a for a in chosen}
    if not by_alert:
        return []
    counts: dict[int, int] = {}
    ids = sorted(by_alert)
    for i in range(0, len(ids), 500):
        for member in (
            await conn.execute(
                select(incident_alerts.c.incident_id, incident_alerts.c.alert_id).where(
                    incident_alerts.c.alert_id.in_(ids[i : i + 500])
                )
            )
        ).all():
            counts[int(member.incident_id)] = counts.get(int(member.incident_id), 0) + 1
    if not counts:
        return []
    found = (
        (
            await conn.execute(
                select(incidents).where(
                    incidents.c.id.in_(sorted(counts)),
                    incidents.c.status.in_(("open", "cooling", "closed")),
                )
            )
        )
        .mappings()
        .all()
    )
    rank = {"critical": 4, "high": 3, "medium": 2, "low": 1}
    out = []
    for r in sorted(found, key=lambda m: (-rank.get(m["level"], 0), -m["post_count"], m["id"])):
        places = list(r["wards"] or []) or list(r["localities"] or [])
        headline, claim = r["headline"], None
        if r["family"] == "rumour":
            # The headline is stored with the run and read by every role (liaison too), so it
            # never quotes the claim; a digest with excerpts carries the claim as an excerpt,
            # which only the e-mail shows and the stored view's readers never get.
            headline = "Rumour spreading in " + (", ".join(places[:4]) or "no named place")
            claim = r["headline"] if spec.excerpts else None
        gathering = r["gathering"] or {}
        out.append(
            {
                "id": r["id"],
                "headline": headline,
                "excerpt": claim,
                "family": r["family"],
                "status": r["status"],
                "level": r["level"],
                "trend": r["trend"],
                "kinds": list(r["kinds"] or []),
                "places": places,
                "post_count": r["post_count"],
                "authors": r["author_count"],
                "alerts": r["alert_count"],
                "alerts_in_period": counts[int(r["id"])],
                "gathering": ", ".join(
                    p for p in (gathering.get("where"), gathering.get("when")) if p
                )
                or None,
                "first_seen": r["first_seen"].isoformat(),
                "last_seen": r["last_seen"].isoformat(),
                "url": f"{link}/incidents/{r['id']}" if link else None,
            }
        )
    return out[: spec.top]


async def _alerts_in(conn: AsyncConnection, start: datetime, end: datetime) -> list[dict[str, Any]]:
    rows = (
        (
            await conn.execute(
                select(alerts)
                .where(alerts.c.first_seen <= end, alerts.c.last_seen >= start)
                .order_by(alerts.c.id)
            )
        )
        .mappings()
        .all()
    )
    return [
        {**dict(r), "labels": {str(k): str(v) for k, v in (r["labels"] or {}).items()}}
        for r in rows
    ]


async def _levels(
    conn: AsyncConnection, start: datetime, end: datetime, active: list[dict[str, Any]]
) -> dict[str, Any]:
    flagged_ids = select(post_labels.c.post_id).distinct().subquery()
    rows = (
        await conn.execute(
            select(place_matches.c.ward, posts.c.created_at)
            .select_from(
                posts.join(place_matches, place_matches.c.post_id == posts.c.id).join(
                    flagged_ids, flagged_ids.c.post_id == posts.c.id
                )
            )
            .where(
                posts.c.created_at > start,
                posts.c.created_at <= end,
                place_matches.c.ward.is_not(None),
            )
            .distinct()
        )
    ).all()
    alerted = [
        (a["labels"]["area"], chart.level_of(a["labels"]), a["first_seen"], a["last_seen"])
        for a in active
        # "unplaced" is a routing label, not a place: levels by place leave it out.
        if a["labels"].get("area") not in (None, "", briefing.UNPLACED)
    ]
    return chart.level_grid(start, end, [(r[0], r[1]) for r in rows], alerted)


async def _evidence_stats(
    conn: AsyncConnection, ids: list[int], start: datetime, end: datetime
) -> dict[int, tuple[int, int]]:
    """Per alert: evidence posts in the period, and distinct accounts among them (a count)."""
    if not ids:
        return {}
    rows = (
        await conn.execute(
            select(
                alert_posts.c.alert_id,
                func.count(distinct(posts.c.id)),
                func.count(distinct(posts.c.author_ref)),
            )
            .select_from(alert_posts.join(posts, posts.c.id == alert_posts.c.post_id))
            .where(
                alert_posts.c.alert_id.in_(ids),
                posts.c.created_at > start,
                posts.c.created_at <= end,
            )
            .group_by(alert_posts.c.alert_id)
        )
    ).all()
    return {r[0]: (int(r[1]), int(r[2])) for r in rows}


async def _excerpts(conn: AsyncConnection, ids: list[int]) -> dict[int, list[str]]:
    if not ids:
        return {}
    out: dict[int, list[str]] = {}
    for r in (
        await conn.execute(
            select(alert_posts.c.alert_id, alert_posts.c.excerpt)
            .where(alert_posts.c.alert_id.in_(ids), alert_posts.c.excerpt.is_not(None))
            .order_by(alert_posts.c.added_at, alert_posts.c.post_id)
        )
    ).all():
        out.setdefault(r[0], []).append(r[1])
    return out


async def _rumours(
    conn: AsyncConnection,
    rumours: list[dict[str, Any]],
    start: datetime,
    end: datetime,
    spec: DigestSpec,
    link: str,
) -> list[dict[str, Any]]:
    """Rumours ranked by spread: posts in the period, then distinct accounts, then places."""
    ids = [a["id"] for a in rumours]
    stats = await _evidence_stats(conn, ids, start, end)
    recent = await _evidence_stats(conn, ids, end - timedelta(hours=24), end)
    areas: dict[int, set[str]] = {}
    if ids:
        for r in (
            await conn.execute(
                select(alert_posts.c.alert_id, place_matches.c.ward)
                .select_from(
                    alert_posts.join(
                        place_matches, place_matches.c.post_id == alert_posts.c.post_id
                    )
                )
                .where(alert_posts.c.alert_id.in_(ids), place_matches.c.ward.is_not(None))
                .distinct()
            )
        ).all():
            areas.setdefault(r[0], set()).add(r[1])
    excerpts = await _excerpts(conn, ids) if spec.excerpts else {}
    ranked = sorted(
        rumours,
        key=lambda a: (
            -stats.get(a["id"], (0, 0))[0],
            -stats.get(a["id"], (0, 0))[1],
            -len(areas.get(a["id"], ())),
            a["id"],
        ),
    )
    out = []
    for i, a in enumerate(ranked[: spec.top], start=1):
        first = excerpts.get(a["id"], [])
        out.append(
            {
                "rank": i,
                "id": a["id"],
                "summary": a["summary"],
                "cluster": a["labels"].get("cluster", ""),
                "posts": stats.get(a["id"], (0, 0))[0],
                "authors": stats.get(a["id"], (0, 0))[1],
                "recent": recent.get(a["id"], (0, 0))[0],
                "areas": sorted(areas.get(a["id"], set())),
                "status": a["status"],
                "excerpt": first[0] if first else None,
                "url": f"{link}/alerts/{a['id']}" if link else None,
            }
        )
    return out


# --- running --------------------------------------------------------------------------------


class DigestService:
    """Claims, renders and enqueues digests; schedules them with APScheduler."""

    def __init__(
        self,
        engine: AsyncEngine,
        config: AlertConfig,
        envs: tuple[Environment, Environment],
        *,
        environ: Mapping[str, str],
        public_url: str = "",
        boundaries: list[chart.Boundary] | None = None,
        clock: Clock = utcnow,
        instance: str | None = None,
        on_enqueued: Callable[[], None] | None = None,
        min_count: int = DEFAULT_K,
        recheck: Rechecker | None = None,
    ) -> None:
        self.min_count = min_count
        # Languages the serving classifier covers (set from it at start; the shipped model's
        # by default), for the digest's "not scored" lines.
        self.covered_languages: Collection[str] | None = DEFAULT_COVERED
        self.recheck = recheck  # posts behind excerpts re-checked on their platform first
        self.engine = engine
        self.config = config
        self.envs = envs
        self.environ = environ
        self.public_url = public_url
        self.boundaries = boundaries
        self.clock = clock
        self.instance = instance or instance_name()
        self.on_enqueued = on_enqueued
        self.scheduler: AsyncIOScheduler | None = None
        # Replay (the demo): the last fire each digest was sent for, from `replay_from` on.
        self.replay_from: datetime | None = None
        self._replayed: dict[str, datetime] = {}

    def spec(self, name: str) -> DigestSpec:
        try:
            return self.config.digests[name]
        except KeyError:
            known = ", ".join(sorted(self.config.digests)) or "none"
            raise KeyError(f"no digest named {name!r} (known: {known})") from None

    def due_period(self, name: str, now: datetime) -> Period | None:
        spec = self.spec(name)
        fire = spec.cron.latest_fire(now)
        return None if fire is None else spec.cron.period(fire)

    async def preview(self, name: str, now: datetime) -> Message:
        """Render the latest period's digest without claiming or sending it."""
        spec = self.spec(name)
        period = self.due_period(name, now) or spec.cron.period(spec.cron.next_fire(now))
        async with self.engine.connect() as conn:
            view = await digest_view(
                conn,
                spec,
                period,
                late=False,
                public_url=self.public_url,
                boundaries=self.boundaries,
                now=now,
                min_count=self.min_count,
                covered_languages=self.covered_languages,
            )
        return render_digest(view, self.envs)

    async def run(self, name: str, now: datetime | None = None) -> int | None:
        """Send the digest for the latest period due at `now`, unless some instance already
        has. Returns the digest_runs id when this call claimed it, else None."""
        now = now or self.clock()
        spec = self.spec(name)
        period = self.due_period(name, now)
        if period is None:
            return None
        async with self.engine.connect() as conn:
            if await _claimed(conn, name, period.key):
                return None
        late = now - period.end > LATE_AFTER

        async def build() -> dict[str, Any]:
            async with self.engine.connect() as conn:
                return await digest_view(
                    conn,
                    spec,
                    period,
                    late=late,
                    public_url=self.public_url,
                    boundaries=self.boundaries,
                    now=now,
                    min_count=self.min_count,
                    covered_languages=self.covered_languages,
                )

        view = await build()
        if spec.excerpts and self.recheck is not None:
            # Excerpts of posts deleted or hidden on their platform must not be sent: check the
            # old ones, and build the digest again if any went.
            ids = sorted(
                {int(a["id"]) for part in ("alerts", "rumours") for a in view.get(part) or []}
            )
            if await self.recheck.verify_alerts(ids, now):
                view = await build()
        message = render_digest(view, self.envs)
        async with self.engine.begin() as conn:
            run_id = (
                await conn.execute(
                    upsert(conn, digest_runs)
                    .values(
                        digest=name,
                        period=period.key,
                        period_start=period.start,
                        period_end=period.end,
                        late=late,
                        claimed_by=self.instance,
                        claimed_at=now,
                        subject=message.subject,
                        text=message.text,
                        html=message.html,
                        data=dict(message.data),
                    )
                    .on_conflict_do_nothing(index_elements=["digest", "period"])
                    .returning(digest_runs.c.id)
                )
            ).scalar_one_or_none()
            if run_id is None:
                log.info("digest %s for %s was claimed by another instance", name, period.key)
                return None
            await self._enqueue(conn, spec, period, run_id, now)
        log.info(
            "digest %s for %s claimed by %s%s",
            name,
            period.key,
            self.instance,
            " (late)" if late else "",
        )
        if self.on_enqueued is not None:
            self.on_enqueued()
        return int(run_id)

    async def _enqueue(
        self, conn: AsyncConnection, spec: DigestSpec, period: Period, run_id: int, now: datetime
    ) -> None:
        subject_key = f"digest:{spec.name}:{period.key}"
        targets = [
            (receiver, integ, recipient)
            for receiver in spec.receivers
            for integ in self.config.active_integrations(receiver, self.environ)
            for recipient in integ.recipients(receiver, self.environ)
        ]
        for receiver, integ, recipient in targets:
            await conn.execute(
                upsert(conn, notifications)
                .values(
                    kind="digest",
                    digest_run_id=run_id,
                    seq=0,
                    step="",
                    route=f"digest:{spec.name}",
                    receiver=receiver,
                    channel=integ.channel,
                    integration=integ.label,
                    recipient=recipient,
                    group_key=f"digest|{subject_key}",
                    idempotency_key=idempotency_key(receiver, recipient, subject_key, 0),
                    status="pending",
                    not_before=now,
                    created_at=now,
                )
                .on_conflict_do_nothing(index_elements=["idempotency_key"])
            )

    async def catch_up(self, now: datetime | None = None) -> list[str]:
        """Send, once and marked late, each digest whose latest period nobody sent."""
        now = now or self.clock()
        sent = []
        for name in self.config.digests:
            if await self.run(name, now) is not None:
                sent.append(name)
        return sent

    async def replay_until(self, upto: datetime) -> list[tuple[str, str]]:
        """Replay (the demo): send, in order and at its own fire time, each digest whose
        schedule fired between the replay's start and `upto` (the replayed posts processed so
        far), as the scheduler would have on those days. Returns (digest, period) sent."""
        start = self.replay_from or upto
        sent = []
        for name, spec in self.config.digests.items():
            fire = spec.cron.next_fire(self._replayed.get(name, start))
            while fire <= upto:
                self._replayed[name] = fire
                if await self.run(name, fire) is not None:
                    sent.append((name, spec.cron.period(fire).key))
                fire = spec.cron.next_fire(fire)
        return sent

    async def close_replay(self, end: datetime) -> list[tuple[str, str]]:
        """After the replay: send each digest once more at its next fire after `end`, so
        the last days (and the weekly summary of the whole week) are reported."""
        sent = await self.replay_until(end)
        for name, spec in self.config.digests.items():
            fire = spec.cron.next_fire(max(end, self._replayed.get(name, end)))
            self._replayed[name] = fire
            if await self.run(name, fire) is not None:
                sent.append((name, spec.cron.period(fire).key))
        return sent

    def replayed_until(self) -> datetime | None:
        """The latest fire the replay sent a digest for (where the demo's clock ends)."""
        return max(self._replayed.values(), default=None)

    # --- APScheduler ----------------------------------------------------------------------

    def start(self) -> None:
        scheduler = AsyncIOScheduler(timezone=LONDON)
        for name, spec in self.config.digests.items():
            scheduler.add_job(
                self._job,
                CronTrigger.from_crontab(spec.cron.expr, timezone=LONDON),
                args=[name],
                id=f"digest:{name}",
                name=f"digest {name}",
                misfire_grace_time=3600,
                coalesce=True,
                max_instances=1,
            )
        scheduler.start()
        self.scheduler = scheduler

    def next_runs(self) -> dict[str, datetime | None]:
        if self.scheduler is None:
            return {}
        return {
            job.id.removeprefix("digest:"): job.next_run_time for job in self.scheduler.get_jobs()
        }

    async def _job(self, name: str) -> None:
        try:
            await self.run(name, self.clock())
        except Exception:
            log.exception("digest %s failed; the next start sends it late", name)

    def stop(self) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
            self.scheduler = None


async def _claimed(conn: AsyncConnection, name: str, period: str) -> bool:
    row = (
        await conn.execute(
            select(digest_runs.c.id).where(
                and_(digest_runs.c.digest == name, digest_runs.c.period == period)
            )
        )
    ).first()
    return row is not None
