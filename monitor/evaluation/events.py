"""Pure: the event-level evaluation. Replay a labelled stream of posts through the signals and
score what a person would be shown against the stories the stream really holds.

For each stream it reports:
- items opened: what a person would be shown: the incidents the incidents core groups the
  signals' alerts and the rules' own (`rule_alerts`: a threat or call to gather opens one at
  once, as in the service) into (`monitor.incidents.grouping`) that pass its precision gate
  (`monitor.incidents.describe.passed_at`, the function the service's store asks), each
  at the event time it passed; a story the gate holds is no item (`held`). Beside them,
  the same incidents ungated, each at its first alert ("signal" figures): what the
  evaluation counted before it applied the gate;
- stories found: a story (a rumour, an episode) is found when an item's evidence is mostly
  that story's posts (`MATCH_SHARE`); an item that is mostly no story's is a false item;
- false items per (simulated) week;
- minutes from a story's first post (its earliest post in the stream, not the simulator's
  onset, which may come well before any post) to its first item (and to its first signal
  alert, which the gate may hold back); and, beside it, minutes
  from the first post to when the story's own posts first met the incidents' precision gate
  (`GATE`: that many posts from that many authors): no item that waits for the gate can
  come sooner, so this is the floor the first figure is judged against;
- claim-cluster purity: over rumour clusters of at least `PURITY_MIN` posts, the share of
  clustered posts that belong to their cluster's main class (a story, or "none"; for PHEME
  the veracity class), so one catch-all cluster of everything scores low;
- cluster splits: claim clusters split because their claims diverged into two stories (a
  split post counts in the cluster it ended in, for purity and for items' evidence);
- levels raised by waves: rising level changes whose evidence is mostly a solidarity or
  counter-speech wave's posts (must be 0);
- per rumour story, how near it came to spreading and, with no item, what held it
  (`what_held`): too few of its posts in one velocity window, told as different claims none
  of which had enough, too few authors, a claim share under the bar, or the precision gate.

Streams come from `monitor.evaluation.event_streams` (demo week, generated weeks, PHEME).
"""

from __future__ import annotations

import random
import re
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from monitor.evaluation.evaluate import Replay
from monitor.evaluation.simulate import Story, Wave
from monitor.incidents.config import IncidentsConfig
from monitor.labels import SEVERITY_RANK, candidates
from monitor.signals.config import SignalsConfig
from monitor.signals.engine import SignalCandidate, SignalsEngine
from monitor.types import Processed

MINUTE = timedelta(minutes=1)
MATCH_SHARE = 0.5  # an item belongs to the story that holds at least this share of its evidence
PURITY_MIN = 3  # clusters smaller than this are not scored for purity
ITEM_UNIT = (
    "incidents past the precision gate (the signals' and the rules' alerts grouped and gated by"
    " monitor.incidents; the demo: the pipeline's own)"
)
ARRIVALS = ("batched", "bulk", "paced", "shuffled")
# The incidents' precision gate (incidents_min_posts, incidents_min_authors defaults): the
# evidence a story needs before any item may reach a person.
GATE = (5, 3)
# Smaller amounts of evidence, for what the stories physically allow: the minutes from a
# story's first post to its own n-th post from a distinct authors, for each (n, a) here. An
# item may not open on less than the smallest without opening on a handful of posts.
EVIDENCE = ((3, 3), (4, 3), (5, 3))


@dataclass(frozen=True)
class Stream:
    """A labelled stream: posts, the stories in it, waves that must not raise anything."""

    name: str
    items: Sequence[Processed]
    stories: tuple[Story, ...]
    start: datetime
    end: datetime
    waves: tuple[Wave, ...] = ()
    config: SignalsConfig | None = None
    classes: Mapping[str, str] | None = None  # post -> purity class; default: its story
    note: str = ""
    # What the pipeline itself opened (the demo: incidents from the store), in place of the
    # incidents grouped here from the signals' alerts.
    opened: tuple[Item, ...] | None = None
    # False: its posts carry no places at all (PHEME: none in the file), so the precision
    # gate's place condition cannot be met by any story and is off, as the signals' own
    # place condition is for such a stream; the posts and authors conditions still hold.
    places: bool = True
    # False: the stream's labels cover one kind of story only and its posts name no place
    # (PHEME: rumours), so the alerts each post opens itself (`rule_alerts`: the classifier's
    # hostility flag; it has no rule hits) are not replayed: the service would hold them for
    # naming no place, and they are neither a labelled story nor shown to be none.
    rule_alerts: bool = True

    @property
    def weeks(self) -> float:
        return max((self.end - self.start) / timedelta(days=7), 1e-9)


@dataclass(frozen=True)
class Item:
    """What a person would be shown: its key, kind, when it opened and the posts behind it."""

    key: str
    kind: str
    at: datetime
    evidence: frozenset[str]
    area: str = ""
    # When its story's first signal alert was raised (an incident's `at` is when it passed
    # the precision gate, which may be later); None where unknown (the demo's incidents).
    signal_at: datetime | None = None


@dataclass
class StreamResult:
    name: str
    weeks: float
    items: int
    stories: int
    found: int
    false_items: int
    delays_min: list[float]
    purity: float | None
    clusters_scored: int
    largest_cluster: int
    wave_levels: int
    board: list[dict[str, Any]] = field(default_factory=list)
    splits: int = 0  # claim clusters split because their claims diverged
    # Per story found (as delays_min): minutes from its first post to the gate's evidence.
    floor_min: list[float] = field(default_factory=list)
    # Per amount of evidence in `EVIDENCE` ("3/3"), per story (found or not): minutes from
    # its first post to that evidence.
    evidence_min: dict[str, list[float]] = field(default_factory=dict)
    missed: list[str] = field(default_factory=list)
    false_keys: list[str] = field(default_factory=list)
    note: str = ""
    # The same incidents ungated (each at its first signal alert), as scored before the
    # gate was applied: None for the demo, whose items are the pipeline's own.
    held: int = 0  # incidents the precision gate held: never shown to a person
    signal_items: int | None = None
    signal_false_items: int | None = None
    signal_delays_min: list[float] = field(default_factory=list)
    # Per story (found or not): minutes to its item and the kinds of the alerts that item's
    # incident is made of (as it ends), to its first signal, and to its own n posts from a
    # authors (`EVIDENCE`): where a slow story waited.
    per_story: list[dict[str, Any]] = field(default_factory=list)

    @property
    def false_per_week(self) -> float:
        return self.false_items / self.weeks

    @property
    def median_delay_min(self) -> float | None:
        return statistics.median(self.delays_min) if self.delays_min else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "stream": self.name,
            "item_unit": ITEM_UNIT,
            "weeks": round(self.weeks, 3),
            "items_opened": self.items,
            "stories": self.stories,
            "stories_found": self.found,
            "missed": self.missed,
            "false_items": self.false_items,
            "false_items_per_week": round(self.false_per_week, 3),
            "false_item_keys": self.false_keys,
            "minutes_to_item": [round(d, 1) for d in self.delays_min],
            "median_minutes_to_item": (
                None if self.median_delay_min is None else round(self.median_delay_min, 1)
            ),
            "held_by_gate": self.held,
            "signal_items": self.signal_items,
            "signal_false_items_per_week": (
                None
                if self.signal_false_items is None
                else round(self.signal_false_items / self.weeks, 3)
            ),
            "minutes_to_signal": [round(d, 1) for d in self.signal_delays_min],
            "median_minutes_to_signal": (
                round(statistics.median(self.signal_delays_min), 1)
                if self.signal_delays_min
                else None
            ),
            "stories_detail": self.per_story,
            "minutes_to_gate_evidence": [round(d, 1) for d in self.floor_min],
            "median_minutes_to_gate_evidence": (
                round(statistics.median(self.floor_min), 1) if self.floor_min else None
            ),
            "median_minutes_to_evidence": {
                f"{k} (posts/authors)": round(statistics.median(v), 1)
                for k, v in self.evidence_min.items()
                if v
            },
            "claim_cluster_purity": None if self.purity is None else round(self.purity, 3),
            "clusters_scored": self.clusters_scored,
            "largest_cluster": self.largest_cluster,
            "cluster_splits": self.splits,
            "levels_raised_by_waves": self.wave_levels,
            "rumour_board": self.board,
            "note": self.note,
        }


# --- replay ----------------------------------------------------------------------------------


def arrive(items: Sequence[Processed], arrival: str, seed: int = 0) -> list[list[Processed]]:
    """The batches in which a stream reaches the signals:
    - batched: time order, 64 at a time (the pipeline's usual batch);
    - bulk: time order, 500 at a time (a fast `monitor import`);
    - paced: time order, one at a time (a paced replay or a live stream);
    - shuffled: batches of 64 whose posts are shuffled within each batch, and up to a few
      posts held back to the next batch (late arrivals, as a live stream has)."""
    ordered = sorted(items, key=lambda i: (i.post.created_at, i.post.id))
    if arrival not in ARRIVALS:
        raise ValueError(f"arrival must be one of {', '.join(ARRIVALS)}, got {arrival!r}")
    if arrival == "paced":
        return [[i] for i in ordered]
    size = 500 if arrival == "bulk" else 64
    batches = [ordered[k : k + size] for k in range(0, len(ordered), size)]
    if arrival == "shuffled":
        rng = random.Random(seed)
        carried: list[Processed] = []
        out = []
        for batch in batches:
            batch = carried + batch
            rng.shuffle(batch)
            late = rng.randrange(0, 4)
            carried, batch = batch[:late], batch[late:]
            out.append(batch)
        if carried:
            out.append(carried)
        return out
    return batches


def run(
    items: Sequence[Processed],
    config: SignalsConfig,
    end: datetime,
    arrival: str = "batched",
    seed: int = 0,
    *,
    baseline: bool = False,
) -> Replay:
    """Replay through a fresh engine; each batch is observed at its latest post time.
    `baseline`: responses weighed like any flagged post (with `baseline_config`, the monitor
    as it was before claim-level rumours and response recognition)."""
    engine = SignalsEngine(config, recognise_responses=not baseline)
    out = Replay(engine=engine)
    for batch in arrive(items, arrival, seed):
        if not batch:
            continue
        update = engine.observe(batch, max(i.post.created_at for i in batch))
        out.collect(update)
    out.collect(engine.flush(end))
    out.cluster_of = {p: out.resolve(c) for p, c in out.cluster_of.items()}
    return out


def rule_alerts(items: Sequence[Processed]) -> list[SignalCandidate]:
    """The alerts the service opens from each post itself, before any signal: its rules'
    hits (a threat, a call to gather, hostility, a rumour a rule knows) and the classifier
    flags that raise one alone, as `monitor.labels.candidates` gives them to the alert store
    (`monitor.store.alerts.record_hits`): one alert per key, opened at its first post and
    extended by each later one, its labels raised when a post brings a higher severity. Each
    post's part is given as a signal would give it (its labels, the post as evidence, at the
    post's time), so the incidents are made of both as the service's store makes them."""
    out: list[SignalCandidate] = []
    labels_of: dict[str, Mapping[str, str]] = {}
    for item in sorted(items, key=lambda i: (i.post.created_at, i.post.id)):
        for cand in candidates(item):
            held = labels_of.get(cand.key)
            if held is None or SEVERITY_RANK.get(cand.labels.get("severity", ""), 0) > (
                SEVERITY_RANK.get(held.get("severity", ""), 0)
            ):
                labels_of[cand.key] = held = cand.labels
            out.append(
                SignalCandidate(
                    key=cand.key,
                    labels=held,
                    summary=cand.summary,
                    evidence=(item.post.id,),
                    at=item.post.created_at,
                    origin=cand.rule,
                )
            )
    return out


def items_of(result: Replay) -> list[Item]:
    """One item per alert key, opened at its first alert. A rumour item's evidence is its
    cluster's posts (as it ends, merges resolved); a tension item's, the flagged posts its
    level change stood on."""
    members: dict[int, set[str]] = {}
    for post, cid in result.cluster_of.items():
        members.setdefault(result.resolve(cid), set()).add(post)
    seen: dict[str, Item] = {}
    for c in result.candidates:
        if c.key in seen:
            if not c.origin.startswith("signals:"):  # a rule's alert: each post extends it
                held = seen[c.key]
                seen[c.key] = replace(held, evidence=held.evidence | frozenset(c.evidence))
            continue
        kind = c.labels.get("kind", "")
        evidence: set[str] = set(c.evidence)
        if kind == "rumour_spreading" and "cluster" in c.labels:
            cid = result.resolve(int(c.labels["cluster"].lstrip("r")))
            evidence |= members.get(cid, set())
        seen[c.key] = Item(c.key, kind, c.at, frozenset(evidence), c.labels.get("area", ""))
    return sorted(seen.values(), key=lambda i: i.at)


def incidents_of(
    alerts: Sequence[Item],
    stream: Stream,
    result: Replay,
    cfg: IncidentsConfig | None = None,
    *,
    gated: bool = True,
) -> list[Item]:
    """The incidents the incidents core makes of these alerts, as the service's store makes
    them (`monitor.incidents.store.compute`): grouped by `grouping.group` (a rumour's alerts
    of one claim cluster, an episode's of one place and time, are one story), and shown to a
    person only once `describe.passed_at` says the story passed the precision gate (posts,
    authors and places, responses not counted), at the event time it passed. A story that
    never passes is held: no item. `gated=False`: every story, at its first alert (what the
    evaluation counted before it applied the gate), for comparison.

    Each alert is what the store keeps for an alert key: opened at its first signal
    (`first_seen`), extended by each later one (`last_seen`, latest labels, the union of
    their evidence). Posts carry what the store's `load_posts` gives the core: places,
    claim cluster and stance (a denial or question of the claim is a response), replies and
    quotes. Rule alerts are among them where the caller added `rule_alerts` to the replay
    (`evaluate_stream` does). Not modelled here: public organisations' accounts and recorded
    counter messages (none in these streams)."""
    from monitor.incidents.describe import passed_at
    from monitor.incidents.grouping import group
    from monitor.incidents.model import AlertFacts, PostFacts, Where

    cfg = cfg or IncidentsConfig()
    signals: dict[str, list[Any]] = {}
    for c in result.candidates:
        signals.setdefault(c.key, []).append(c)
    by_id = {i.post.id: i for i in stream.items}
    alert_facts = []
    for n, a in enumerate(alerts):
        raised = signals.get(a.key, [])
        posts = sorted({p for c in raised for p in c.evidence} or a.evidence)
        alert_facts.append(
            AlertFacts(
                id=n + 1,
                key=a.key,
                labels=dict(raised[-1].labels) if raised else {"kind": a.kind},
                summary=a.key,
                status="new",
                first_seen=min((c.at for c in raised), default=a.at),
                last_seen=max((c.at for c in raised), default=a.at),
                posts=tuple(posts),
            )
        )
    facts: dict[str, PostFacts] = {}
    for fact in alert_facts:
        for p in fact.posts:
            item = by_id.get(p)
            if item is None or p in facts:
                continue
            facts[p] = PostFacts(
                id=p,
                at=item.post.created_at,
                author=item.post.author_ref,
                text=item.post.text,
                places=tuple(
                    Where(m.name, m.kind, m.ward, m.locality, m.district) for m in item.post.places
                ),
                cluster=result.cluster_of.get(p),
                stance=result.stance_of.get(p, ""),
                # as the store reads them: the hits whose rule's words matched the post
                kinds=frozenset(
                    h.labels["kind"] for h in item.hits if "kind" in h.labels and h.words
                ),
                flags=frozenset(item.flags),
                severity=max(
                    (h.labels.get("severity", "") for h in item.hits if h.words),
                    key=lambda v: SEVERITY_RANK.get(v, 0),
                    default="",
                ),
                reply_to=item.post.reply_to,
                quote_of=item.post.quote_of,
            )
    wards = {
        m.ward: m.locality for i in stream.items for m in i.post.places if m.ward and m.locality
    }
    out = []
    for story in group(alert_facts, facts, cfg.gap, wards, result.merged):
        members = [alerts[i - 1] for i in story.alert_ids]
        first = min(m.at for m in members)
        at = first
        if gated:
            passed = passed_at(story, alert_facts, facts, cfg, ward_localities=wards)
            if passed is None:
                continue  # held below the gate: nobody is shown it
            at = max(passed[0], first)
        out.append(
            Item(
                key="incident:" + "+".join(m.key for m in members),
                kind=story.family,
                at=at,
                evidence=frozenset().union(*(m.evidence for m in members)),
                signal_at=first,
            )
        )
    return sorted(out, key=lambda i: i.at)


# --- scoring ---------------------------------------------------------------------------------


def first_post(story: Story, items: Sequence[Processed]) -> datetime:
    """When the story's first post in the stream was made (its onset if none is there)."""
    return min((i.post.created_at for i in items if i.post.id in story.posts),
               default=story.first_at)  # fmt: skip


def gate_evidence_at(
    story: Story, items: Sequence[Processed], gate: tuple[int, int] = GATE
) -> datetime | None:
    """When the story's own posts (replies aside) first numbered `gate[0]` from at least
    `gate[1]` distinct authors: the earliest an item held to the precision gate can open."""
    posts = sorted(
        (i.post.created_at, i.post.author_ref)
        for i in items
        if i.post.id in story.posts and i.post.reply_to is None
    )
    authors: set[str] = set()
    for n, (at, author) in enumerate(posts, start=1):
        authors.add(author)
        if n >= gate[0] and len(authors) >= gate[1]:
            return at
    return None


def story_of(item: Item, stories: Sequence[Story]) -> Story | None:
    """The story holding at least `MATCH_SHARE` of the item's evidence, if any."""
    if not item.evidence:
        return None
    best, share = None, 0.0
    for story in stories:
        s = len(item.evidence & story.posts) / len(item.evidence)
        if s > share:
            best, share = story, s
    return best if share >= MATCH_SHARE else None


def purity(
    cluster_of: Mapping[str, int], classes: Mapping[str, str], min_size: int = PURITY_MIN
) -> tuple[float | None, int, int]:
    """(weighted purity, clusters scored, largest cluster's size)."""
    by_cluster: dict[int, Counter[str]] = {}
    for post, cid in cluster_of.items():
        by_cluster.setdefault(cid, Counter())[classes.get(post, "none")] += 1
    scored = [c for c in by_cluster.values() if sum(c.values()) >= min_size]
    largest = max((sum(c.values()) for c in by_cluster.values()), default=0)
    total = sum(sum(c.values()) for c in scored)
    if not total:
        return None, 0, largest
    return sum(max(c.values()) for c in scored) / total, len(scored), largest


def wave_levels(result: Replay, stream: Stream) -> int:
    """Rising level changes that a solidarity or counter-speech wave raised: those whose
    evidence (the flagged posts the change stood on) is mostly the wave's own posts."""
    waves = [w for w in stream.waves if w.kind != "chatter"]
    count = 0
    for ch in result.level_changes:
        if not ch.rising or not ch.evidence:
            continue
        for wave in waves:
            if len(set(ch.evidence) & wave.posts) / len(ch.evidence) >= MATCH_SHARE:
                count += 1
                break
    return count


def board_of(result: Replay, stream: Stream, classes: Mapping[str, str]) -> list[dict[str, Any]]:
    """The rumours that reached the board (spread), largest first, each with its main class."""
    members: dict[int, list[str]] = {}
    for post, cid in result.cluster_of.items():
        members.setdefault(cid, []).append(post)
    out: list[dict[str, Any]] = []
    for c in result.candidates:
        if c.labels.get("kind") != "rumour_spreading":
            continue
        cid = result.resolve(int(c.labels["cluster"].lstrip("r")))
        if any(b["cluster"] == cid for b in out):
            continue
        posts = members.get(cid, [])
        main = Counter(classes.get(p, "none") for p in posts).most_common(1)
        out.append(
            {
                "cluster": cid,
                "posts": len(posts),
                "main_class": main[0][0] if main else "none",
                "main_share": round(main[0][1] / len(posts), 3) if posts and main else 0.0,
            }
        )
    out.sort(key=lambda b: (-int(b["posts"]), int(b["cluster"])))
    return out


def window_peak(
    posts: Sequence[tuple[datetime, str]], length: timedelta
) -> tuple[int, int, datetime | None]:
    """(posts, distinct authors, when) of the busiest window of `length` ending at a post:
    the most of these (time, author) posts a rumour's velocity window ever held."""
    ordered = sorted(posts)
    best: tuple[int, int, datetime | None] = (0, 0, None)
    lo = 0
    for hi, (at, _) in enumerate(ordered):
        while ordered[lo][0] <= at - length:
            lo += 1
        n = hi - lo + 1
        if n > best[0]:
            best = (n, len({a for _, a in ordered[lo : hi + 1]}), at)
    return best


def what_held(
    story: Story,
    stream: Stream,
    result: Replay,
    config: SignalsConfig,
    *,
    found: bool,
    signalled: bool,
) -> dict[str, Any]:
    """How near a rumour story came to spreading, and (for one with no item) what held it: its
    own posts never as many as spreading needs in one velocity window; spread over claim
    clusters none of which held that many; the claim cluster that did held too few authors
    or claims (its claim share as it ends); or it spread and the precision gate held its
    incident. Reports naming an official source are left out of a cluster's window, as
    spreading leaves them out."""
    cfg = config.rumours
    length = cfg.window
    by_id = {i.post.id: i.post for i in stream.items}
    own = [(by_id[p].created_at, by_id[p].author_ref) for p in story.posts if p in by_id]
    most, _, _ = window_peak(own, length)
    members: dict[int, list[str]] = {}
    for post, cid in result.cluster_of.items():
        members.setdefault(result.resolve(cid), []).append(post)
    spread = {
        result.resolve(int(c.labels["cluster"].lstrip("r")))
        for c in result.candidates
        if c.labels.get("kind") == "rumour_spreading" and "cluster" in c.labels
    }
    board = result.engine.board if result.engine is not None else None
    closest: dict[str, Any] | None = None
    for cid in sorted({result.resolve(result.cluster_of[p]) for p in story.posts
                       if p in result.cluster_of}):  # fmt: skip
        rumour = board.get(cid) if board is not None else None
        facts = rumour.facts if rumour is not None else {}
        told = [
            (by_id[p].created_at, by_id[p].author_ref)
            for p in members.get(cid, ())
            if p in by_id and not ((f := facts.get(p)) is not None and f.report)
        ]
        posts, authors, _ = window_peak(told, length)
        row = {
            "cluster": cid,
            "posts_in_window": posts,
            "authors_in_window": authors,
            "claim_share": None if rumour is None else round(rumour.claim_share(), 2),
            "spread": cid in spread,
        }
        rank = (posts, cid in spread)
        if closest is None or rank > (closest["posts_in_window"], closest["spread"]):
            closest = row
    minutes = int(length / MINUTE)
    need = f"spreading needs {cfg.spread_posts} from {cfg.spread_authors} authors"
    if cfg.early_posts > 0:
        need += f"; {cfg.early_posts} from {cfg.early_authors} told in {cfg.early_places} places"
        if cfg.early_rule_authors > 0:
            need += f", {cfg.early_rule_posts or cfg.early_posts} where a rumour rule matched"
    held = ""
    if found:
        pass
    elif closest is not None and closest["spread"] or signalled:
        held = "it spread: the precision gate held its incident, or its evidence was others'"
    elif most < cfg.spread_posts:
        held = f"at most {most} of its posts in one {minutes}-min window; {need}"
    elif closest is None or closest["posts_in_window"] < cfg.spread_posts:
        held = (
            f"split over claims: at most {0 if closest is None else closest['posts_in_window']}"
            f" in one claim cluster's {minutes}-min window ({most} of its posts in all); {need}"
        )
    elif closest["authors_in_window"] < cfg.spread_authors:
        held = f"{closest['authors_in_window']} authors in its cluster's window; {need}"
    elif closest["claim_share"] is not None and closest["claim_share"] < cfg.claim_share:
        held = (
            f"claim share {closest['claim_share']:.2f} (needs {cfg.claim_share:.2f}): its "
            "cluster read as talk about the subject, not a claim passed on"
        )
    else:
        held = "its cluster did not spread (places, or its claim share when it was busiest)"
    return {"most_posts_in_window": most, "closest_cluster": closest, "held": held}


def baseline_config(config: SignalsConfig) -> SignalsConfig:
    """The same thresholds without what keeps stories apart and responses out: no cohesion
    ceiling, no claim terms, no claim share or place condition on spreading, no earlier way
    to spread across places, and classifier flags alone may raise any level."""
    return replace(
        config,
        tension=replace(config.tension, alert_rule_authors=0),
        rumours=replace(
            config.rumours,
            cohesion=0.0,
            term_overlap=0.0,
            claim_share=0.0,
            spread_places=0,
            early_posts=0,
        ),
    )


def score_items(items: Sequence[Item], stream: Stream) -> tuple[dict[str, float], list[str]]:
    """Per story found, minutes from its first post to its first item; the false items' keys.
    An item shows a story from when it holds one of the story's posts: one opened earlier
    (a rule's alert for a place, open since a post days before, that the story's posts
    later extend) found it when the first of them joined, not before the story began."""
    firsts, false_keys = first_items(items, stream)
    return {story: delay for story, (delay, _) in firsts.items()}, false_keys


def first_items(
    items: Sequence[Item], stream: Stream
) -> tuple[dict[str, tuple[float, Item]], list[str]]:
    """`score_items` with, per story found, the item that found it first (its key names the
    alerts its incident is made of)."""
    found: dict[str, tuple[float, Item]] = {}
    false_keys = []
    at_of = {i.post.id: i.post.created_at for i in stream.items}
    for item in items:
        story = story_of(item, stream.stories)
        if story is None:
            false_keys.append(item.key)
            continue
        own = [at_of[p] for p in item.evidence & story.posts if p in at_of]
        shown = max(item.at, min(own)) if own else item.at
        delay = (shown - first_post(story, stream.items)) / MINUTE
        if story.id not in found or delay < found[story.id][0]:
            found[story.id] = (delay, item)
    return found, false_keys


def alert_kinds(item: Item) -> tuple[str, ...]:
    """The kinds of the alerts an incident item was made of (from its key), in order."""
    return tuple(dict.fromkeys(re.findall(r"(?<![a-z_])kind=([a-z_]+)", item.key)))


def evaluate_stream(
    stream: Stream,
    config: SignalsConfig,
    arrival: str = "batched",
    seed: int = 0,
    *,
    baseline: bool = False,
    incidents: IncidentsConfig | None = None,
) -> StreamResult:
    """`incidents`: the incidents core's settings (its gap and precision gate)."""
    cfg = stream.config or config
    if baseline:
        cfg = baseline_config(cfg)
    result = run(stream.items, cfg, stream.end, arrival, seed, baseline=baseline)
    # The rules' own alerts (a threat, a call to gather: the police liaison's at once) beside
    # the signals', as the service opens them.
    if stream.rule_alerts:
        result.candidates += rule_alerts(stream.items)
    signal: list[Item] | None = None
    held = 0
    if not stream.places:
        incidents = replace(incidents or IncidentsConfig(), min_places=0)
    if stream.opened is not None and not baseline:
        items = list(stream.opened)
    else:
        alerts = items_of(result)
        items = incidents_of(alerts, stream, result, incidents)
        signal = incidents_of(alerts, stream, result, incidents, gated=False)
        held = len(signal) - len(items)
    firsts, false_keys = first_items(items, stream)
    found = {story: delay for story, (delay, _) in firsts.items()}
    signal_found, signal_false = score_items(signal or [], stream)
    floor = []
    for story in stream.stories:
        at = gate_evidence_at(story, stream.items)
        if story.id in found and at is not None:
            floor.append((at - first_post(story, stream.items)) / MINUTE)
    evidence: dict[str, list[float]] = {}
    for n, a in EVIDENCE:
        for story in stream.stories:
            at = gate_evidence_at(story, stream.items, (n, a))
            if at is not None:
                minutes = (at - first_post(story, stream.items)) / MINUTE
                evidence.setdefault(f"{n}/{a}", []).append(minutes)
    per_story = []
    for story in stream.stories:
        begun = first_post(story, stream.items)
        row: dict[str, Any] = {"story": story.id, "minutes_to_item": None, "made_of": []}
        if story.id in firsts:
            delay, opener = firsts[story.id]
            row |= {"minutes_to_item": round(delay, 1), "made_of": list(alert_kinds(opener))}
        if story.id in signal_found:
            row["minutes_to_signal"] = round(signal_found[story.id], 1)
        for n, a in EVIDENCE:
            at = gate_evidence_at(story, stream.items, (n, a))
            row[f"minutes_to_{n}/{a}"] = None if at is None else round((at - begun) / MINUTE, 1)
        if story.kind == "rumour" and stream.opened is None:
            row |= what_held(
                story, stream, result, cfg,
                found=story.id in firsts, signalled=story.id in signal_found,
            )  # fmt: skip
        per_story.append(row)
    classes: dict[str, str] = dict(stream.classes or {})
    if stream.classes is None:
        for story in stream.stories:
            for p in story.posts:
                classes[p] = story.id
    pur, scored, largest = purity(result.cluster_of, classes)
    return StreamResult(
        name=stream.name,
        weeks=stream.weeks,
        items=len(items),
        stories=len(stream.stories),
        found=len(found),
        false_items=len(false_keys),
        delays_min=[found[s.id] for s in stream.stories if s.id in found],
        purity=pur,
        clusters_scored=scored,
        largest_cluster=largest,
        wave_levels=wave_levels(result, stream),
        board=board_of(result, stream, classes)[:5],
        splits=result.splits,
        floor_min=floor,
        evidence_min=evidence,
        missed=[s.id for s in stream.stories if s.id not in found],
        false_keys=false_keys,
        note=stream.note,
        held=held,
        signal_items=None if signal is None else len(signal),
        signal_false_items=None if signal is None else len(signal_false),
        signal_delays_min=[signal_found[s.id] for s in stream.stories if s.id in signal_found],
        per_story=per_story,
    )


HEADERS = (
    "stream",
    "items",
    "stories found",
    "false/wk",
    "median min",
    "signal min",
    "held",
    "gate floor",
    "purity",
    "largest",
    "splits",
    "wave levels",
)


def table(results: Sequence[StreamResult]) -> str:
    rows = [
        [
            r.name,
            str(r.items),
            f"{r.found}/{r.stories}",
            f"{r.false_per_week:.2f}",
            "-" if r.median_delay_min is None else f"{r.median_delay_min:.0f}",
            f"{statistics.median(r.signal_delays_min):.0f}" if r.signal_delays_min else "-",
            str(r.held),
            f"{statistics.median(r.floor_min):.0f}" if r.floor_min else "-",
            "-" if r.purity is None else f"{r.purity:.2f}",
            str(r.largest_cluster),
            str(r.splits),
            str(r.wave_levels),
        ]
        for r in results
    ]
    widths = [max(len(x[i]) for x in [list(HEADERS), *rows]) for i in range(len(HEADERS))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(HEADERS, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return (
        "\n".join(lines)
        + f"\nitems = {ITEM_UNIT}"
        + "\nmedian min: first post to item (the incident past the precision gate); signal min:"
        + " first post to its first alert, a signal's or a rule's (ungated); held: incidents"
        + " the gate held"
        + "\ngate floor: first post to the precision gate's"
        + f" evidence ({GATE[0]} posts from {GATE[1]} authors)"
    )
