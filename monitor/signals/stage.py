"""The signals stage: the pipeline runs it inside the transaction that stores each batch.

It holds the engine's state in memory and keeps the store in step with it, so that a restart
resumes where it stopped: hourly aggregates, levels, live rumour clusters (centroids, hashes,
members) and the window of recent flagged posts are all reloaded from the store on first use.
If the batch's transaction rolls back, the in-memory state is thrown away and reloaded from the
store at the next batch, so memory never runs ahead of what was committed.

Each batch it also takes up what people did in the meantime (from the CLI or the web): claims
registered, statuses changed, posts confirmed into a registered rumour.

A failure inside signals is contained in a savepoint and logged: the batch's posts, labels and
rule alerts still commit, and signals reload their state at the next batch.

Scaled out, workers do not run this stage: the scheduler leader feeds it from the store
(`monitor.signals.follower`), so that one process holds the state.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.config import Settings
from monitor.signals.clustering import (
    CONTENT_JOINS,
    SPLIT_EVERY,
    SPLIT_LATENESS,
    SPLIT_MEMORY,
    WAITING,
    ClaimMember,
    checkpoint_after,
    normalise,
)
from monitor.signals.config import SignalsConfig
from monitor.signals.engine import (
    UNPLACED,
    SignalsEngine,
    SignalsUpdate,
    place_words,
    rule_flagged,
    spreading_alert_key,
    tension_labels,
)
from monitor.signals.hashing import simhash
from monitor.signals.levels import LevelState, post_weight
from monitor.signals.responses import response_kind
from monitor.signals.rumours import PostFact, Rumour, asserts, excerpt
from monitor.signals.tension import TICK, author_token, split_area
from monitor.signals.terms import TermProfile, claim_terms
from monitor.store import signals as store
from monitor.tasks import being_cancelled
from monitor.types import Classifier, Processed, as_utc

log = logging.getLogger(__name__)

Embed = Callable[[Sequence[str]], Awaitable[list[Sequence[float]]]]
MAX_STORED_HASHES = 500


class SignalsStage:
    """`Stage` for the pipeline: tension levels and rumour clusters, persisted."""

    # Its contained failures are about the posts it was given: the pipeline fails such a
    # batch and quarantines the post that fails alone (issue 13) rather than lose its signals.
    per_record_failures = True

    def __init__(
        self,
        config: SignalsConfig,
        *,
        embed: Embed | None = None,
        embedder: str = "",
        dim: int = 384,
        stance_thresholds: Mapping[str, float] | None = None,
    ) -> None:
        self.config = config
        self.embed = embed
        self.embedder = embedder
        self.dim = dim
        self.stance_thresholds = dict(stance_thresholds or {})
        self.engine = self._new_engine()
        self.disabled: str | None = None
        self.failures = 0
        # Batches failed since the last that succeeded, and why the last one failed: a run of
        # them is a stage that no longer works, though each is contained (readiness says so).
        self.failing = 0
        self.last_error: str | None = None
        self._stale = True
        self._revisions: dict[int, int] = {}
        self._resynced: set[int] = set()  # rumours people changed: their counts to save

    def _new_engine(self) -> SignalsEngine:
        return SignalsEngine(self.config, dim=self.dim, stance_thresholds=self.stance_thresholds)

    @classmethod
    def from_settings(cls, settings: Settings, classifier: Classifier) -> SignalsStage:
        """Thresholds for the classifier's embeddings; registered claims are embedded with
        the same classifier, so they are comparable with the posts."""
        hashed = classifier.name.startswith("keyword")

        async def embed(texts: Sequence[str]) -> list[Sequence[float]]:
            return [a.embedding for a in await classifier.analyse(texts)]

        config = SignalsConfig.from_settings(settings, hashed_embeddings=hashed)
        stance = getattr(classifier, "stance_thresholds", None)
        return cls(config, embed=embed, embedder=classifier.name, stance_thresholds=stance)

    # --- the stage -------------------------------------------------------------------------

    async def __call__(
        self,
        conn: AsyncConnection,
        items: Sequence[Processed],
        now: datetime,
        *,
        at: datetime | None = None,
        seen: store.Cursor | None = None,
    ) -> None:
        """Take up one processed batch. Inline, the pipeline calls it with `now` only. The
        signals follower (scaled out) also passes `at`, when the batch was processed (a post
        dated later counts at that time, as it did inline), and `seen`, its cursor: posts
        processed after it are not taken up yet, so a reload must not count them."""
        if self.disabled:
            return
        try:
            async with conn.begin_nested():
                if self._stale:
                    await self._load(conn, exclude={i.post.id for i in items}, seen=seen)
                    if self.disabled:
                        return
                await self._sync_people(conn, now)
                update = self.engine.observe(items, at or now)
                await self._save(conn, update, now)
        except Exception as exc:
            if being_cancelled():  # a stop, not this batch's failure
                raise asyncio.CancelledError from exc
            # Contained: the batch's posts and rule alerts still commit; signals reload
            # from the store next time, so they never hold what the store does not.
            self.failures += 1
            self.failing += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            self._stale = True
            log.exception("signals failed on a batch of %d posts; reloading next batch", len(items))
            return
        self.failing = 0
        self._reload_if_rolled_back(conn)

    def invalidate(self) -> None:
        """Reload from the store before the next batch (another process moved it on)."""
        self._stale = True

    def _reload_if_rolled_back(self, conn: AsyncConnection) -> None:
        def rolled_back(_conn: Any) -> None:
            self._stale = True

        event.listen(conn.sync_connection, "rollback", rolled_back)

    # --- loading ---------------------------------------------------------------------------

    async def _load(
        self, conn: AsyncConnection, exclude: set[str], seen: store.Cursor | None = None
    ) -> None:
        missing = await store.missing_signal_tables(conn)
        if missing:
            self.disabled = (
                f"signals tables missing ({', '.join(missing)}): run `monitor db upgrade`"
            )
            log.error("%s; tension levels and rumours are off until then", self.disabled)
            return
        engine = self._new_engine()
        clock = await store.watermark(conn, exclude, upto=seen)
        await self._load_tension(conn, engine, clock, exclude, seen)
        await self._load_rumours(conn, engine, clock)
        await self._load_terms(conn, engine, clock, exclude, seen)
        self.engine = engine
        self._stale = False
        log.info(
            "signals loaded: %d areas, %d live rumours, clock %s",
            len(engine.tension.areas),
            len(engine.board.rumours),
            clock,
        )

    async def _load_tension(
        self,
        conn: AsyncConnection,
        engine: SignalsEngine,
        clock: datetime | None,
        exclude: set[str],
        seen: store.Cursor | None = None,
    ) -> None:
        tension = engine.tension
        cfg = self.config.tension
        tension.observed_since = await store.first_hour(conn)
        scale = cfg.scale
        for row in await store.load_levels(conn):
            level = min(int(row["level"]), len(scale.names) - 1)
            tension.area(row["area"]).state = LevelState(
                level=level,
                since=as_utc(row["since"]),
                below_since=as_utc(row["below_since"]),
            )
        if clock is None:
            return
        horizon = clock - cfg.window - timedelta(weeks=cfg.baseline_weeks, hours=1)
        for area, hour, weighted in await store.load_area_weights(conn, horizon):
            tension.area(area).history.add(as_utc(hour), weighted)
        start = clock - cfg.window - TICK
        for p in await store.processed_posts_between(conn, start, clock, upto=seen):
            if p.id in exclude:
                continue
            hits = p.hits
            pairs, shown = tension_labels(p.flags, hits)
            weight = post_weight(pairs, cfg)
            tension.restore_post(
                p.id,
                p.created_at,
                p.author_ref,
                p.places,
                weight,
                shown if weight else (),
                rule=rule_flagged(hits, cfg),
                response=response_kind(p.text, hits) is not None,
            )
        tension.restore_clock(clock)

    async def _load_rumours(
        self, conn: AsyncConnection, engine: SignalsEngine, clock: datetime | None
    ) -> None:
        board = engine.board
        board.clusterer.next_id = await store.max_rumour_id(conn) + 1
        rows = await store.load_rumour_rows(conn)
        members = await store.load_members(conn, [r["id"] for r in rows])
        by_rumour: dict[int, list[store.MemberRow]] = {}
        for m in members:
            by_rumour.setdefault(m.rumour_id, []).append(m)
        other = 0
        for row in rows:
            other += not self._restore_rumour(engine, row, by_rumour.get(row["id"], []), clock)
        await self._restore_alerted(conn, [board.rumours[int(r["id"])] for r in rows])
        self._revisions = await store.revisions(conn)
        if other:
            log.warning(
                "%d live rumours were built with another classifier's embeddings: they keep "
                "their links and near-duplicate hashes but match no new post by similarity",
                other,
            )

    async def _load_terms(
        self,
        conn: AsyncConnection,
        engine: SignalsEngine,
        clock: datetime | None,
        exclude: set[str],
        seen: store.Cursor | None,
    ) -> None:
        """Rebuild what clustering knows of claim terms as it stood before the restart: the
        last day's document frequencies, each live cluster's term profile, and which of its
        recent posts were claims or talk, so that clustering and spreading go on exactly as
        they would have without one."""
        if clock is None:
            return
        board = engine.board
        clusterer = board.clusterer
        start = clock - clusterer.df.horizon - timedelta(seconds=1)
        recent = await store.processed_posts_between(conn, start, clock, upto=seen)
        for p in recent:
            if p.id in exclude:
                continue
            terms = claim_terms(p.text, place_words(p.places))
            if terms:
                clusterer.df.add(p.created_at, terms)
        live = list(board.rumours)
        members = await store.load_members(conn, live, states=("member", "near"))
        items = {
            i.post.id: i
            for i in await store.processed_by_ids(conn, sorted({m.post_id for m in members}))
        }
        for live_rumour in board.rumours.values():
            live_rumour.claim_posts = live_rumour.talk_posts = 0
        for m in members:
            rumour = board.rumours.get(m.rumour_id)
            item = items.get(m.post_id)
            if rumour is None or item is None:
                continue
            claim = engine.claim_like(item)
            told = engine.rumour_post(item)
            if m.state == "near":
                rumour.count_share(told.hearsay, m.how, near=True)
                continue
            if not told.report:
                rumour.count_share(told.claim, m.how)
            fact = rumour.facts.get(m.post_id)
            if fact is not None:  # what it counted, as it did before the restart
                # Whether a rumour rule matched it too: a rule-corroborated spread after a
                # reload must see the rule-matched authors the uninterrupted process saw.
                rumour.facts[m.post_id] = replace(
                    fact, claim=told.claim, report=told.report, rule=told.rule
                )
            shapes = claim and told.read and asserts(item.scores, self.stance_thresholds)
            if m.how in CONTENT_JOINS and shapes:
                terms = claim_terms(item.post.text, place_words(item.post.places))
                if terms:
                    clusterer.profiles.setdefault(m.rumour_id, TermProfile()).add(terms)
                vector = normalise(item.embedding) if len(item.embedding) == self.dim else None
                if vector is not None:  # what a split weighs, as it stood before the restart
                    clusterer.claims.setdefault(m.rumour_id, []).append(
                        ClaimMember(m.post_id, vector, m.created_at, simhash(item.post.text), terms)
                    )
        # Posts that stayed out of every cluster lately wait on for the claims they answer
        # (see clustering.WAITING), as they would have without a restart.
        wait_from = clock - WAITING - SPLIT_LATENESS
        near = {m.post_id: m.rumour_id for m in members if m.state == "near"}
        out = sorted(
            p.id
            for p in recent
            if p.created_at >= wait_from and p.id not in exclude and p.id not in clusterer.members
        )
        clusterer.latest = clock
        for item in sorted(
            await store.processed_by_ids(conn, out), key=lambda i: (i.post.created_at, i.post.id)
        ):
            board.keep_waiting(engine.rumour_post(item), near.get(item.post.id, -1))
        # Splits go on from the checkpoint the uninterrupted stream would be at, each cluster
        # judged as it was at the last one passed (a split depends on the set, not on when
        # the process started).
        clusterer.next_checkpoint = checkpoint_after(clock - SPLIT_LATENESS)
        last = clusterer.next_checkpoint - SPLIT_EVERY
        for cid, kept in clusterer.claims.items():
            kept.sort(key=lambda c: (c.at, c.post_id))
            del kept[:-SPLIT_MEMORY]
            clusterer.judged[cid] = sum(1 for c in kept if c.at < last)
            clusterer.unsettled.add(cid)

    async def _restore_alerted(self, conn: AsyncConnection, restored: Sequence[Rumour]) -> None:
        """A spreading rumour's alert: which posts it already holds and the place it is
        labelled with, from the store, so that after a restart its later posts extend it as
        they would have without one (never its window's posts again, never past its cap)."""
        spreading = [r for r in restored if r.spreading]
        if not spreading:
            return
        keys = {spreading_alert_key(r.id): r for r in spreading}
        for key, (labels, evidence) in (await store.alert_evidence(conn, list(keys))).items():
            rumour = keys[key]
            rumour.alerted = evidence
            area = labels.get("area")
            rumour.alert_area = area if area and area != UNPLACED else None

    def _restore_rumour(
        self,
        engine: SignalsEngine,
        row: Mapping[str, Any],
        members: Sequence[store.MemberRow],
        clock: datetime | None,
    ) -> bool:
        """Put one stored rumour back on the board; False when its embeddings are foreign."""
        board = engine.board
        cid = int(row["id"])
        same = (row.get("embedder") or "") == self.embedder
        total = _vector(row["centroid"]) if same else None
        anchor = _vector(row["anchor"]) if same else None
        hashes = [int(h, 16) for h in (row.get("simhashes") or [])]
        board.clusterer.restore(
            cid,
            total,
            int(row["centroid_count"] or 0),
            hashes,
            [m.post_id for m in members],
            normalise(anchor) if anchor is not None else None,
        )
        rumour = Rumour(
            id=cid,
            first_seen=as_utc(row["first_seen"]),
            last_seen=as_utc(row["last_seen"]),
            status=row["status"],
            registered=bool(row["registered"]),
            claim_text=row["claim_text"],
            representative=row["representative"] or "",
            representative_post_id=row["representative_post_id"],
            revision=int(row["revision"] or 0),
            spreading=bool(row["spreading"]),
            spreading_since=as_utc(row["spreading_since"]),
            split_from=row.get("split_from"),
            split_at=as_utc(row.get("split_at")),
        )
        if row["registered"]:
            board.clusterer.registered.add(cid)
        _fill_stats(rumour, members, clock, self.config.rumours.window)
        # How close the representative was, so that only a closer claim replaces it after a
        # restart, as it would have without one.
        for m in members:
            if m.post_id == rumour.representative_post_id:
                rumour.representative_sim = m.similarity
        board.rumours[cid] = rumour
        return same or row.get("centroid") is None

    # --- people's changes ------------------------------------------------------------------

    async def _sync_people(self, conn: AsyncConnection, now: datetime) -> None:
        board = self.engine.board
        clock = self.engine.clock or now
        revisions = await store.revisions(conn)
        changed = [cid for cid, rev in revisions.items() if rev > self._revisions.get(cid, 0)]
        if changed:
            rows = {
                r["id"]: r for r in await store.load_rumour_rows(conn, changed, live_only=False)
            }
            members = await store.load_members(conn, changed)
            for cid in changed:
                row = rows.get(cid)
                if row is None:
                    continue
                mine = [m for m in members if m.rumour_id == cid]
                if row["status"] == "closed":
                    board.close(cid, clock, record=False)  # a person's: already saved
                elif cid in board.rumours:
                    rumour = board.rumours[cid]
                    rumour.status = row["status"]
                    rumour.revision = int(row["revision"])
                    for post_id in (m.post_id for m in mine):
                        if post_id not in board.clusterer.members:
                            board.clusterer.members[post_id] = cid
                            board.clusterer.member_ids.setdefault(cid, []).append(post_id)
                    _fill_stats(rumour, mine, clock, self.config.rumours.window)
                    self._resynced.add(cid)
                else:  # reopened by a person
                    self._restore_rumour(self.engine, row, mine, clock)
                    await self._restore_alerted(conn, [board.rumours[cid]])
                    self._resynced.add(cid)
            self._revisions.update({cid: revisions[cid] for cid in changed})
        claims = await store.open_claims(conn)
        for claim_id, text in claims:
            anchor = None
            if self.embed is not None:
                vectors = await self.embed([text])
                anchor = normalise(vectors[0]) if vectors and len(vectors[0]) else None
            rumour = board.register(text, anchor, clock)
            await store.save_rumours(conn, [self._row(rumour, now)])
            await store.take_claim(conn, claim_id, rumour.id, now)
            log.info("registered claim %d is rumour r%d", claim_id, rumour.id)

    # --- saving ----------------------------------------------------------------------------

    async def _save(self, conn: AsyncConnection, update: SignalsUpdate, now: datetime) -> None:
        engine = self.engine
        tension = engine.tension
        counts = tension.take_hour_counts()
        await store.add_area_counts(
            conn, {k: (c.posts, c.flagged, c.weighted) for k, c in counts.items()}
        )
        alert_for: dict[int, int] = {}
        closed = {r.id: r for r in engine.board.take_closed()}
        rows = []
        resynced, self._resynced = self._resynced, set()
        for cid in sorted(update.rumours.changed | set(closed) | resynced):
            rumour = engine.board.rumours.get(cid) or closed.get(cid)
            if rumour is not None:
                rows.append(self._row(rumour, now))
        await store.save_rumours(conn, rows)
        await store.add_memberships(
            conn,
            [
                {
                    "rumour_id": m.rumour_id,
                    "post_id": m.post_id,
                    "created_at": m.at,
                    "how": m.how,
                    "similarity": round(m.similarity, 4),
                    "stance": m.stance,
                    "place": m.place,
                    "state": m.state or ("member" if m.confirmed else "pending"),
                    "added_at": now,
                }
                for m in update.rumours.memberships
            ],
        )
        for source, target in update.rumours.merges:
            await store.repoint_merged(conn, source, target)
        merged = dict(update.rumours.merges)
        for move in update.rumours.moves:  # late claims judged again in event-time order
            target = move.target
            while target in merged:  # where it ended, as the merges above left the rows
                target = merged[target]
            await store.move_members(conn, target, move.posts)
        for split in update.rumours.splits:
            await store.move_split(conn, split.source, split.target, split.posts)
            log.info("rumour r%d split: r%d took %d posts; %s", split.source, split.target,
                     len(split.posts), split.reason)  # fmt: skip
        for cand in update.candidates:
            alert_id = await store.record_signal_alert(
                conn, cand.key, cand.labels, cand.summary, cand.evidence, cand.at, cand.origin, now
            )
            if cand.change is not None:
                alert_for[id(cand.change)] = alert_id
        for change in update.level_changes:
            kind, name = split_area(change.area)
            await store.insert_level_change(
                conn,
                {
                    "area": change.area,
                    "area_kind": kind,
                    "name": name,
                    "at": change.at,
                    "from_level": change.from_name,
                    "to_level": change.to_name,
                    # The explanation (conditions crossed, window against baseline series)
                    # travels inside the measures document: no schema change.
                    "measures": {**change.measures.as_dict(), **(change.explanation or {})},
                    "top_labels": [list(x) for x in change.measures.top_labels],
                    "reason": change.reason,
                    "alert_id": alert_for.get(id(change)),
                    "recorded_at": now,
                },
            )
        names = self.config.tension.scale.names
        level_rows = []
        for key in sorted(tension.take_evaluated()):
            state = tension.areas[key].state
            kind, name = split_area(key)
            level_rows.append(
                {
                    "area": key,
                    "area_kind": kind,
                    "name": name,
                    "level": state.level,
                    "level_name": names[state.level],
                    "since": state.since,
                    "below_since": state.below_since,
                    "measures": state.measures.as_dict() if state.measures else None,
                    "updated_at": now,
                }
            )
        await store.save_levels(conn, level_rows)

    def _row(self, r: Rumour, now: datetime) -> dict[str, Any]:
        board = self.engine.board
        window = self.config.rumours.window
        t = self.engine.clock or now
        total, count = board.clusterer.centroid_total(r.id)
        anchor = board.anchor(r.id)
        hashes = sorted(board.clusterer.hashes.hashes(r.id))[:MAX_STORED_HASHES]
        live = r.status != "closed"
        return {
            "id": r.id,
            "status": r.status,
            "registered": r.registered,
            "claim_text": r.claim_text,
            "representative": r.representative,
            "representative_post_id": r.representative_post_id,
            "first_seen": r.first_seen,
            "last_seen": r.last_seen,
            "post_count": r.posts,
            "author_count": r.author_count,
            "places": dict(r.places),
            "stance": dict(r.stance),
            "velocity": round(r.velocity(t, window), 3) if live else 0.0,
            "acceleration": round(r.acceleration(t, window), 3) if live else 0.0,
            "spreading": r.spreading,
            "spreading_since": r.spreading_since,
            "merged_into": r.merged_into,
            "split_from": r.split_from,
            "split_at": r.split_at,
            "embedder": self.embedder,
            "centroid": total.astype(np.float32).tobytes() if total is not None else None,
            "centroid_count": count,
            "anchor": anchor.astype(np.float32).tobytes() if anchor is not None else None,
            "simhashes": [f"{h:016x}" for h in hashes],
            "revision": r.revision,
            "created_at": now,
            "updated_at": now,
            "closed_at": r.closed_at,
        }


def _vector(blob: bytes | None) -> np.ndarray[Any, np.dtype[np.float32]] | None:
    if not blob:
        return None
    return np.frombuffer(blob, dtype=np.float32).copy()


def _fill_stats(
    rumour: Rumour,
    members: Sequence[store.MemberRow],
    clock: datetime | None,
    window: timedelta,
) -> None:
    """Rebuild a rumour's counts from its stored members (authors as tokens, counted only)."""
    rumour.posts = len(members)
    rumour.authors = {author_token(m.author_ref) for m in members}
    rumour.places = Counter(m.place for m in members if m.place)
    rumour.stance = Counter(m.stance for m in members if m.stance)
    if members:
        rumour.first_seen = min(rumour.first_seen, min(m.created_at for m in members))
        rumour.last_seen = max(rumour.last_seen, max(m.created_at for m in members))
    since = (clock - 2 * window - timedelta(hours=1)) if clock is not None else None
    rumour.recent = sorted(
        (m.created_at, author_token(m.author_ref), m.post_id)
        for m in members
        if since is None or m.created_at >= since
    )
    # Whether a post was a claim is not stored with it; one that joined by its content (not
    # as a reply or repost of one) stood for the claim. A full load recounts them exactly.
    rumour.claim_posts = sum(1 for m in members if m.how != "link")
    rumour.talk_posts = 0
    # A news report stays one (it never makes the rumour spread), and a post a rumour rule
    # matched stays one (it corroborates an early spread), across a person's change.
    reports = {p for p, f in rumour.facts.items() if f.report}
    ruled = {p for p, f in rumour.facts.items() if f.rule}
    rumour.facts = {
        m.post_id: PostFact(
            m.created_at,
            author_token(m.author_ref),
            m.place,
            m.stance,
            m.how != "link",
            m.how,
            rule=m.post_id in ruled,
            report=m.post_id in reports,
        )
        for m in members
    }
    if rumour.registered and rumour.claim_text:
        rumour.representative = excerpt(rumour.claim_text)
