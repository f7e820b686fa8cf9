"""Pure: processed posts in, level changes, rumour updates and alert candidates out.

The engine is everything the signals stage knows, without a database: tests and the detection
benchmark drive it directly with generated scenarios; the stage persists what it returns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from monitor.classify.labels import RUMOUR
from monitor.labels import alert_key
from monitor.signals.clustering import Index, normalise
from monitor.signals.config import SignalsConfig, TensionConfig
from monitor.signals.hashing import simhash
from monitor.signals.hearsay import hearsay
from monitor.signals.levels import LevelChange, post_weight
from monitor.signals.reports import boilerplate, reported
from monitor.signals.responses import response_kind
from monitor.signals.rumours import Rumour, RumourBoard, RumourPost, RumourUpdate, SpreadEvent
from monitor.signals.tension import TensionTracker, split_area
from monitor.signals.terms import claim_terms
from monitor.types import PlaceMatch, Processed, RuleHit

UNPLACED = "unplaced"
EVIDENCE_LIMIT = 20


@dataclass(frozen=True, slots=True)
class SignalCandidate:
    """An alert the signals raise: labels (the routing contract), a summary and evidence."""

    key: str
    labels: Mapping[str, str]
    summary: str
    evidence: tuple[str, ...]  # post ids
    at: datetime
    origin: str  # "signals:rising_tension" | "signals:rumour_spreading"
    change: LevelChange | None = None  # the level change it stands on


@dataclass(slots=True)
class SignalsUpdate:
    level_changes: list[LevelChange] = field(default_factory=list)
    rumours: RumourUpdate = field(default_factory=RumourUpdate)
    candidates: list[SignalCandidate] = field(default_factory=list)
    inhibited: list[tuple[LevelChange, str]] = field(default_factory=list)


def tension_labels(
    flags: Iterable[str], hits: Iterable[RuleHit]
) -> tuple[list[tuple[str, str | None]], list[str]]:
    """(kind, severity) pairs for weighing a post, and the labels its reasons list."""
    pairs: list[tuple[str, str | None]] = [(f, None) for f in flags]
    shown = [f"flag={f}" for f in flags]
    for hit in hits:
        kind = hit.labels.get("kind")
        if kind:
            pairs.append((kind, hit.labels.get("severity", "medium")))
            shown.append(f"kind={kind}")
        if "topic" in hit.labels:
            shown.append(f"topic={hit.labels['topic']}")
    return pairs, sorted(set(shown))


def crossed_text(change: LevelChange) -> str:
    """The thresholds a rising change crossed, for the alert's summary: "; rise ×6.0 (needs
    4), weighted 12.0 (10), 8 authors (6), 5 with rule-flagged posts (3)"."""
    explanation = change.explanation or {}
    conditions = explanation.get("conditions")
    if not isinstance(conditions, list) or not conditions:
        return ""
    names = {
        "rise": "rise ×{v:.1f} (needs {t:g})",
        "weighted": "weighted {v:.1f} ({t:g})",
        "authors": "{v:.0f} authors ({t:g})",
        "rule_authors": "{v:.0f} with rule-flagged posts ({t:g})",
    }
    parts = [
        names[c["measure"]].format(v=c["value"], t=c["threshold"])
        for c in conditions
        if isinstance(c, dict) and c.get("measure") in names
    ]
    return "; " + ", ".join(parts) if parts else ""


def rule_flagged(hits: Iterable[RuleHit], config: TensionConfig) -> bool:
    """A rule's words (not the classifier alone, nor a build-up of posts it scored) gave the
    post a weighed kind."""
    return any(h.words and config.kind_weights.get(h.labels.get("kind", ""), 0.0) > 0 for h in hits)


def place_words(places: Iterable[PlaceMatch]) -> list[str]:
    """The names a post's place matches go by, left out of its claim terms."""
    return [n for m in places for n in (m.name, m.matched, m.ward, m.locality, m.district) if n]


def place_of(item: Processed) -> str | None:
    for m in item.post.places:
        if m.ward:
            return m.ward
    for m in item.post.places:
        return m.locality or m.district
    return None


def spreading_alert_key(rumour_id: int) -> str:
    """The key of a rumour's spreading alert (one open alert a rumour at a time)."""
    return alert_key({"kind": "rumour_spreading", "cluster": f"r{rumour_id}"})


class SignalsEngine:
    def __init__(
        self,
        config: SignalsConfig,
        dim: int = 384,
        index: Index | None = None,
        stance_thresholds: Mapping[str, float] | None = None,
        *,
        recognise_responses: bool = True,
    ) -> None:
        """`stance_thresholds`: the classifier's, so a reply's stance is decided as it decides.
        `recognise_responses` False: weigh calming, denials, counter-speech and solidarity
        like any other flagged post (the evaluation's baseline, as the monitor once did)."""
        self.config = config
        self.recognise_responses = recognise_responses
        self.tension = TensionTracker(config.tension)
        self.board = RumourBoard(
            config.rumours, dim=dim, index=index, stance_thresholds=stance_thresholds
        )

    @property
    def clock(self) -> datetime | None:
        return self.tension.clock

    def claim_like(self, item: Processed) -> bool:
        """A rumour score or a rumour rule says it may be a claim; boilerplate never is."""
        if boilerplate(item.post.text):
            return False
        if item.scores.get(RUMOUR, 0.0) >= self.config.rumours.claim_min_score:
            return True
        return any(h.labels.get("kind") == "rumour" for h in item.hits)

    def rumour_post(self, item: Processed) -> RumourPost:
        p = item.post
        return RumourPost(
            post_id=p.id,
            at=p.created_at,
            text=p.text,
            author_ref=p.author_ref,
            embedding=normalise(item.embedding) if len(item.embedding) else None,
            simhash=simhash(p.text),
            links=tuple(x for x in (p.reply_to, p.quote_of, p.repost_of) if x),
            claim_like=self.claim_like(item),
            scores=item.scores,
            place=place_of(item),
            terms=claim_terms(p.text, place_words(p.places)),
            hearsay=hearsay(p.text),
            rule=any(h.words and h.labels.get("kind") == "rumour" for h in item.hits),
            reported=reported(p.text),
            read=bool(item.scores),  # no scores: a language the classifier does not cover
        )

    def observe(self, items: Sequence[Processed], now: datetime) -> SignalsUpdate:
        """Take one batch. A post dated after `now` counts at `now` (clocks disagree)."""
        update = SignalsUpdate()
        ordered = sorted(items, key=lambda i: i.post.created_at)
        tcfg = self.config.tension
        for item in ordered:
            p = item.post
            at = min(p.created_at, now)
            pairs, shown = tension_labels(item.flags, item.hits)
            weight = post_weight(pairs, tcfg)
            update.level_changes += self.tension.add(
                p.id,
                at,
                p.author_ref,
                p.places,
                weight,
                shown if weight else (),
                rule=rule_flagged(item.hits, tcfg),
                response=self.recognise_responses and response_kind(p.text, item.hits) is not None,
            )
        t = self.tension.clock or now
        update.rumours = self.board.observe([self.rumour_post(i) for i in ordered], t)
        self._candidates(update)
        return update

    def flush(self, t: datetime) -> SignalsUpdate:
        """Evaluate ticks up to `t` with no new posts (end of a replay, or a quiet stream)."""
        update = SignalsUpdate(level_changes=self.tension.advance(t), rumours=self.board.advance(t))
        self._candidates(update)
        return update

    # --- alert candidates ------------------------------------------------------------------

    def _candidates(self, update: SignalsUpdate) -> None:
        # Wards' levels as the changes happened, not as they stand after the whole batch: a
        # ward that alerted and calmed down again within one large batch must still hold back
        # its locality's alert at the time it was alerting, so alerts do not depend on batch
        # size. The changes come in event-time order, each tick's wards before its localities
        # and districts; a ward's level before its first change here is that change's
        # `from_level`, and a ward with no change here had its current level all along.
        ward_levels: dict[str, int] = {}
        for change in update.level_changes:
            if split_area(change.area)[0] == "ward":
                ward_levels.setdefault(change.area, change.from_level)
        for change in update.level_changes:
            kind, _ = split_area(change.area)
            if kind == "ward":
                ward_levels[change.area] = change.to_level
            cand = self.tension_candidate(change)
            if cand is None:
                continue
            covering = None
            if kind != "ward":
                covering = self._covering_ward(change.area, ward_levels)
            if covering is not None:
                # The ward's own alert already says it; a second for its locality is noise.
                update.inhibited.append((change, covering))
            else:
                update.candidates.append(cand)
        for event in [*update.rumours.spreading, *update.rumours.extended]:
            rumour = self.board.get(event.rumour_id)
            if rumour is not None:
                update.candidates.append(self.rumour_candidate(rumour, event))

    def _covering_ward(self, key: str, ward_levels: Mapping[str, int]) -> str | None:
        """A ward inside this locality or district at the alert level or above, with the
        wards' levels as of the change being decided (`ward_levels`, else their current)."""
        alert_level = self.config.tension.alert_level
        for ward in sorted(self.tension.parents.get(key, ())):
            if ward_levels.get(ward, self.tension.level(ward)) >= alert_level:
                return ward
        return None

    def tension_candidate(self, change: LevelChange) -> SignalCandidate | None:
        cfg = self.config.tension
        if not change.rising or change.to_level < cfg.alert_level:
            return None
        evidence = change.evidence[:EVIDENCE_LIMIT] or tuple(
            self.tension.evidence(change.area, change.at, EVIDENCE_LIMIT)
        )
        if not evidence:
            return None  # an item must show what it stands on; none is never an item
        kind, name = split_area(change.area)
        labels = {
            "kind": "rising_tension",
            "area": name,
            "area_kind": kind,
            "level": change.to_name,
            "severity": cfg.scale.severity(change.to_level),
        }
        key = alert_key({k: v for k, v in labels.items() if k not in ("level", "severity")})
        return SignalCandidate(
            key=key,
            labels=labels,
            summary=f"rising tension in {name} ({kind}): {change.to_name}{crossed_text(change)}",
            evidence=evidence,
            at=change.at,
            origin="signals:rising_tension",
            change=change,
        )

    def rumour_candidate(self, rumour: Rumour, event: SpreadEvent) -> SignalCandidate:
        places = list(event.top_places)
        area = event.area or (places[0] if places else None)
        labels = {
            "kind": "rumour_spreading",
            "cluster": f"r{rumour.id}",
            "area": area or UNPLACED,
            "severity": "high" if rumour.registered else "medium",
        }
        key = spreading_alert_key(rumour.id)
        where = ", ".join(places) if places else "no named place"
        return SignalCandidate(
            key=key,
            labels=labels,
            summary=(
                f"rumour r{rumour.id} spreading ({where}): {event.posts} posts from "
                f"{event.authors} distinct authors in {event.window_minutes} min"
                + (f", naming {event.places} places" if event.places > 1 else "")
            ),
            evidence=event.evidence,
            at=event.at,
            origin="signals:rumour_spreading",
        )
