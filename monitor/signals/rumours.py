"""Pure: rumours as clusters with their statistics, status and spreading detection.

A rumour keeps first seen, a representative claim, posts and distinct authors, velocity
(posts per hour over the last window) and acceleration (change of velocity per hour), the
places it touches, the stance mix of its posts and a status:

    new ──(spreading, or a person)──► watching ──(counter message linked)──► countering ──► closed

The system moves a rumour only from new to watching (when it starts spreading) and closes
unregistered clusters that have gone quiet or were merged; every other move is a person's.
Authors are held as in-process tokens for distinct counts only; no author is ever listed.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from monitor.classify.labels import decide_stance
from monitor.signals.agreement import agrees
from monitor.signals.clustering import (
    Assignment,
    Clusterer,
    ClusterInput,
    Index,
    Late,
    Regroup,
    Split,
    Vector,
)
from monitor.signals.config import RumourConfig
from monitor.signals.hearsay import hearsay
from monitor.signals.responses import response_kind
from monitor.signals.tension import author_token

STATUSES = ("new", "watching", "countering", "closed")
LIVE_STATUSES = ("new", "watching", "countering")
HOUR = timedelta(hours=1)
REPRESENTATIVE_CHARS = 280
IDLE_CHECK = timedelta(minutes=10)
# Most posts a spreading rumour's alert gathers as evidence (its first window's and later
# ones'): enough for any precision gate to be judged on the story's own posts, bounded so a
# rumour that spreads for days does not write every member into its alert.
ALERT_EVIDENCE = 40
# Stances that answer a claim rather than tell it.
ANSWERS = frozenset({"deny", "query"})
ORPHAN_WAIT = timedelta(hours=24)


class StatusError(ValueError):
    """A status change that is not allowed; the message says why."""


def check_status(current: str, target: str) -> None:
    """A person may move a rumour to any status but its current one; only to known ones."""
    if target not in STATUSES:
        raise StatusError(f"unknown status {target!r}: one of {', '.join(STATUSES)}")
    if target == current:
        raise StatusError(f"rumour is already {current}")


def wilson_lower(successes: int, n: int, z: float = 1.64) -> float:
    """Lower bound of the (90 %, two-sided) Wilson interval of a share: judged
    on ten posts, 6 claims of 10 is not yet "most of them" when a noisy head flags a third of
    everyday talk as claim-like; 16 of 20 is."""
    if n <= 0:
        return 0.0
    p = successes / n
    centre = p + z * z / (2 * n)
    margin = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return float((centre - margin) / (1 + z * z / n))


def excerpt(text: str, limit: int = REPRESENTATIVE_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def stance_of(
    scores: Mapping[str, float],
    how: str,
    thresholds: Mapping[str, float] | None = None,
    text: str = "",
) -> str:
    """Support, deny, query, comment, or "" (no stance). Only a post that responds to the
    claim has a stance: a reply, quote or repost takes the classifier's (as the classifier
    decides it, with its stance thresholds); a standalone post has one only when its text
    refers to the claim to deny or question it. A standalone post that repeats the claim is
    the claim itself, not "support" for it.

    The head's denial is not taken where the words say otherwise: a claim passed on as hearsay
    ("they're not telling you", "nobody's talking about this": negations the head reads as
    denial) or a reply that agrees ("tell me about it", "not surprised") supports the claim.
    A hearsay question ("is this true?") stays the head's."""
    best = decide_stance(scores, thresholds)
    if (
        best == "deny"
        and text
        and ((hearsay(text) and "?" not in text) or agrees(text))
        and response_kind(text) != "denial"  # "not surprised people fell for it: it's fake"
    ):
        best = "support"
    if how == "link" or best in ("deny", "query"):
        return best
    return ""


def passed_on(rumour: Rumour, links: Sequence[str], read: str) -> str:
    """The stance of a post with no words of its own (a repost without comment) linked to
    one of the rumour's posts: it passes that post on, so it takes that post's stance (a
    shared denial is a denial) and a shared claim, which has none, supports it. What a stance
    head reads in an empty text (`read`: the shipped one, "support") says nothing about
    which, so the police's statement reposted would otherwise be counted as support and
    its sharers as people telling the rumour."""
    for link in links:
        parent = rumour.facts.get(link)
        if parent is not None:
            return parent.stance or "support"
    return read


def asserts(scores: Mapping[str, float], thresholds: Mapping[str, float] | None = None) -> bool:
    """Whether a post states a claim rather than denying or questioning one."""
    return decide_stance(scores, thresholds) not in ("deny", "query")


@dataclass(frozen=True, slots=True)
class RumourPost:
    """What clustering needs of a processed post."""

    post_id: str
    at: datetime
    text: str
    author_ref: str
    embedding: Vector | None
    simhash: int | None
    links: tuple[str, ...]
    claim_like: bool
    scores: Mapping[str, float]
    place: str | None  # ward, else locality, else district
    terms: frozenset[str] = frozenset()  # claim terms (monitor.signals.terms)
    hearsay: bool = False  # passes something on second-hand (monitor.signals.hearsay)
    rule: bool = False  # a rumour rule matched it (not the classifier's score alone)
    # Tells what an official source or a news agency said (monitor.signals.reports).
    reported: bool = False
    # The classifier read it. A post in a language it does not cover keeps no scores; a rule
    # may still make it claim-like, and it may join the cluster of a claim it repeats, but its
    # embedding is no reading of it, so it neither starts a cluster nor shapes one (one Urdu
    # post of an English rumour would otherwise be a cluster of its own).
    read: bool = True

    @property
    def claim(self) -> bool:
        """Whether it counts as a claim towards the claim share: claim-like or hearsay; a
        report attributed to an official source is not, unless it is hearsay too or a rumour
        rule matched it."""
        return (self.claim_like and (self.rule or not self.reported)) or self.hearsay

    @property
    def report(self) -> bool:
        """A news report with its source named, not a claim passed on: it joins the cluster
        of what it is about, but counts neither as a claim nor as talk towards the claim
        share, nor towards the posts and authors that make a rumour spread."""
        return self.reported and not self.claim


@dataclass(frozen=True, slots=True)
class Membership:
    """A post's row in a rumour: `confirmed` False means held for a person to confirm."""

    rumour_id: int
    post_id: str
    at: datetime
    how: str
    similarity: float
    stance: str
    place: str | None
    confirmed: bool = True
    state: str = ""  # stored state when not member/pending: "near" (talk that stayed out)


@dataclass(frozen=True, slots=True)
class PostFact:
    """What a rumour counts of one member, so that a split can count each side again
    (authors as in-process tokens only)."""

    at: datetime
    author: int
    place: str | None
    stance: str
    claim: bool  # counted as a claim towards the claim share
    how: str
    links: tuple[str, ...] = ()
    text: str = ""  # an excerpt, for claims that may represent the rumour
    similarity: float = -1.0
    rule: bool = False  # a rumour rule matched it (see `RumourPost.rule`)
    report: bool = False  # a report with its source named (see `RumourPost.report`)


@dataclass(frozen=True, slots=True)
class RumourSplit:
    """A rumour whose claims diverged: `posts` left `source` for the new rumour `target`."""

    source: int
    target: int
    posts: tuple[str, ...]
    at: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class SpreadEvent:
    rumour_id: int
    at: datetime
    posts: int  # in the window
    authors: int  # distinct, in the window
    window_minutes: int
    evidence: tuple[str, ...]  # post ids in the window
    places: int = 0  # distinct places the window's posts name
    # The rumour's top places as they stood at `at` (event time), and the place its alert is
    # labelled with: the one it spread in, kept as later posts extend the alert. Both are read
    # here rather than from the rumour when the batch ends, so an alert's labels and summary
    # are a function of the posts in event time, not of where batches happened to end (a
    # label that moved with each batch would notify "updated" a batch-dependent number of
    # times; a follower and an inline worker must send the same).
    top_places: tuple[str, ...] = ()
    area: str | None = None


@dataclass(slots=True)
class Rumour:
    id: int
    first_seen: datetime
    last_seen: datetime
    status: str = "new"
    registered: bool = False
    claim_text: str | None = None
    representative: str = ""
    representative_post_id: str | None = None
    representative_sim: float = -1.0
    posts: int = 0
    authors: set[int] = field(default_factory=set)
    places: Counter[str] = field(default_factory=Counter)
    stance: Counter[str] = field(default_factory=Counter)
    recent: list[tuple[datetime, int, str]] = field(default_factory=list)  # (at, author, post)
    # Members that are claims (rumour score, a rumour rule, or hearsay cues).
    claim_posts: int = 0
    # Posts about the same thing that are not claims and not replies: joined by content, or
    # near enough to have joined had they been claims.
    talk_posts: int = 0
    spreading: bool = False
    spreading_since: datetime | None = None
    merged_into: int | None = None
    closed_at: datetime | None = None
    revision: int = 0  # the last revision people made that this copy reflects
    split_from: int | None = None  # the rumour whose claims diverged into this one
    split_at: datetime | None = None
    facts: dict[str, PostFact] = field(default_factory=dict)  # post id -> what it counted
    alerted: set[str] = field(default_factory=set)  # posts its spreading alert already holds
    alert_area: str | None = None  # the top place when it began to spread (its alert's area)

    @property
    def author_count(self) -> int:
        return len(self.authors)

    def add(self, post: RumourPost, stance: str, a: Assignment) -> None:
        self.posts += 1
        self.authors.add(author_token(post.author_ref))
        if post.place:
            self.places[post.place] += 1
        if stance:
            self.stance[stance] += 1
        if not post.report:
            self.count_share(post.claim, a.how)
        representable = a.how in ("new", "similar", "duplicate", "claim") and post.claim_like
        self.facts[post.post_id] = PostFact(
            post.at,
            author_token(post.author_ref),
            post.place,
            stance,
            post.claim,
            a.how,
            post.links,
            excerpt(post.text) if representable else "",
            a.similarity if representable else -1.0,
            post.rule,
            post.report,
        )
        self.first_seen = min(self.first_seen, post.at)
        self.last_seen = max(self.last_seen, post.at)
        item = (post.at, author_token(post.author_ref), post.post_id)
        if not self.recent or self.recent[-1][0] <= post.at:
            self.recent.append(item)
        else:
            bisect.insort(self.recent, item)
        if (
            not self.registered
            and a.how in ("new", "similar", "duplicate", "claim")
            and post.claim_like
            and a.similarity > self.representative_sim
        ):
            self.representative = excerpt(post.text)
            self.representative_post_id = post.post_id
            self.representative_sim = a.similarity

    def count_share(self, claim: bool, how: str, *, near: bool = False) -> None:
        """Count a post towards the claim share. `near`: talk that stayed out of the cluster;
        hearsay among it (`claim`) is someone passing a claim on in other words, not the
        everyday talk the share weighs claims against, so it is left out."""
        if near:
            if not claim:
                self.talk_posts += 1
        elif claim:
            self.claim_posts += 1
        elif how != "link":
            self.talk_posts += 1

    def claim_share(self) -> float:
        """Share of claims among the posts about this that are not replies, over the
        cluster's life (judged conservatively): a rumour is people passing a claim on; a
        cluster amid a burst of talk about the same thing, which a noisy rumour head
        half-believes, is chatter."""
        return wilson_lower(self.claim_posts, self.claim_posts + self.talk_posts)

    def window(
        self, t: datetime, length: timedelta, offset: int = 0
    ) -> list[tuple[datetime, int, str]]:
        """Posts in (t - (offset+1)·length, t - offset·length]."""
        end = t - length * offset
        start = end - length
        lo = bisect.bisect_right(self.recent, (start, 2**64, "\uffff"))
        hi = bisect.bisect_right(self.recent, (end, 2**64, "\uffff"))
        return self.recent[lo:hi]

    def velocity(self, t: datetime, length: timedelta) -> float:
        """Posts per hour over the last window."""
        return len(self.window(t, length)) / (length / HOUR)

    def acceleration(self, t: datetime, length: timedelta) -> float:
        """Change of velocity from the previous window to the last, per hour."""
        before = len(self.window(t, length, 1)) / (length / HOUR)
        return (self.velocity(t, length) - before) / (length / HOUR)

    def prune(self, t: datetime, length: timedelta) -> None:
        cut = bisect.bisect_left(self.recent, (t - 2 * length - HOUR,))
        if cut:
            del self.recent[:cut]

    def absorb(self, other: Rumour) -> None:
        self.posts += other.posts
        self.authors |= other.authors
        self.places.update(other.places)
        self.stance.update(other.stance)
        self.first_seen = min(self.first_seen, other.first_seen)
        self.last_seen = max(self.last_seen, other.last_seen)
        self.recent = sorted(self.recent + other.recent)
        self.claim_posts += other.claim_posts
        self.talk_posts += other.talk_posts
        self.facts.update(other.facts)
        if not self.registered and other.representative_sim > self.representative_sim:
            self.representative = other.representative
            self.representative_post_id = other.representative_post_id
            self.representative_sim = other.representative_sim

    def split_off(self, post_ids: set[str], new_id: int, at: datetime) -> Rumour:
        """Move these members into a new rumour and count both sides again from what each
        member counted. Talk that stayed out (near posts) stays with this one."""
        leaving = {p: f for p, f in self.facts.items() if p in post_ids}
        other = Rumour(
            new_id,
            min((f.at for f in leaving.values()), default=at),
            max((f.at for f in leaving.values()), default=at),
            split_from=self.id,
            split_at=at,
        )
        for post_id, fact in leaving.items():
            del self.facts[post_id]
            other.facts[post_id] = fact
            other.posts += 1
            if fact.place:
                other.places[fact.place] += 1
            if fact.stance:
                other.stance[fact.stance] += 1
            if not fact.report:
                other.count_share(fact.claim, fact.how)
            if fact.similarity > other.representative_sim:
                other.representative = fact.text
                other.representative_post_id = post_id
                other.representative_sim = fact.similarity
        other.authors = {f.author for f in leaving.values()}
        other.recent = [r for r in self.recent if r[2] in leaving]
        self.recent = [r for r in self.recent if r[2] not in leaving]
        self.posts -= len(leaving)
        self.authors = {f.author for f in self.facts.values()}
        self.places = Counter(f.place for f in self.facts.values() if f.place)
        self.stance = Counter(f.stance for f in self.facts.values() if f.stance)
        self.claim_posts -= other.claim_posts
        self.talk_posts -= other.talk_posts
        if self.facts:
            self.first_seen = min(f.at for f in self.facts.values())
            self.last_seen = max(f.at for f in self.facts.values())
        if not self.registered and self.representative_post_id in leaving:
            best = max(
                ((f.similarity, p) for p, f in self.facts.items() if f.text),
                default=None,
            )
            if best is not None:
                self.representative = self.facts[best[1]].text
                self.representative_post_id, self.representative_sim = best[1], best[0]
        return other

    def places_in(self, recent: Sequence[tuple[datetime, int, str]]) -> int:
        """Distinct places (wards, else localities) these posts of the window name."""
        return len({f.place for _, _, p in recent if (f := self.facts.get(p)) and f.place})

    def rule_authors_in(self, recent: Sequence[tuple[datetime, int, str]]) -> int:
        """Distinct authors of these posts of the window that a rumour rule matched."""
        return len({a for _, a, p in recent if (f := self.facts.get(p)) and f.rule})

    def top_places(self, n: int = 3) -> list[str]:
        return [p for p, _ in sorted(self.places.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]


@dataclass(slots=True)
class RumourUpdate:
    memberships: list[Membership] = field(default_factory=list)
    changed: set[int] = field(default_factory=set)
    merges: list[tuple[int, int]] = field(default_factory=list)
    splits: list[RumourSplit] = field(default_factory=list)
    # Claims that came late and, judged in event-time order, belong to another rumour: they
    # moved there (with their replies); a rumour left with none of its claims is in `merges`.
    moves: list[RumourSplit] = field(default_factory=list)
    spreading: list[SpreadEvent] = field(default_factory=list)
    # Later posts of a rumour already spreading, each extending its open alert's evidence.
    extended: list[SpreadEvent] = field(default_factory=list)


class RumourBoard:
    """Live rumours and their clusterer."""

    def __init__(
        self,
        config: RumourConfig,
        dim: int = 384,
        index: Index | None = None,
        stance_thresholds: Mapping[str, float] | None = None,
    ) -> None:
        self.config = config
        self.stance_thresholds = dict(stance_thresholds or {})
        self.clusterer = Clusterer(config, dim=dim, index=index)  # type: ignore[arg-type]
        self.rumours: dict[int, Rumour] = {}
        self._last_idle_check: datetime | None = None
        self._closed: list[Rumour] = []  # left the board since last taken, to be saved once
        self._orphans: dict[str, list[RumourPost]] = {}  # parent post id -> unassigned replies
        # Posts the clusterer keeps waiting for their claims, and the rumour each was counted
        # near as talk (or -1).
        self._waiting: dict[str, tuple[RumourPost, int]] = {}

    # --- stream ----------------------------------------------------------------------------

    def observe(self, posts: Sequence[RumourPost], t: datetime) -> RumourUpdate:
        update = RumourUpdate()
        # Event time, then post id: posts of the same second in the same order however they came.
        ordered = sorted(posts, key=lambda p: (p.at, p.post_id))
        inputs = [
            ClusterInput(
                p.post_id,
                p.embedding,
                p.simhash,
                p.links,
                p.claim_like,
                asserts=p.read and asserts(p.scores, self.stance_thresholds),
                terms=p.terms,
                at=p.at,
            )
            for p in ordered
        ]
        assignments = self.clusterer.assign(inputs)
        merges: dict[int, list[tuple[int, int]]] = {}
        for pos, source, target in self.clusterer.take_merges():
            merges.setdefault(pos, []).append((source, target))
        splits: dict[int, list[Split]] = {}
        for split in self.clusterer.take_splits():
            splits.setdefault(split.position, []).append(split)
        late: dict[int, list[Late]] = {}
        for taken in self.clusterer.take_late():
            late.setdefault(taken.position, []).append(taken)
        for pos, (post, a) in enumerate(zip(ordered, assignments, strict=True)):
            # Splits are decided at event-time checkpoints, before the post whose time passed
            # one; merges after the post that made them: each where it happened in the stream.
            for split in splits.get(pos, ()):
                self._split(split, update)
            self._take(post, a, update)
            for source, target in merges.get(pos, ()):
                self._merge(source, target, post.at, update)
            for taken in late.get(pos, ()):
                self._take_late(taken, update)
        # Late claims re-decided in event-time order, after the batch's posts joined.
        for regroup in self.clusterer.take_regroups():
            self._regroup(regroup, max(p.at for p in ordered), update)
        waiting = self.clusterer.waiting_ids
        self._waiting = {p: w for p, w in self._waiting.items() if p in waiting}
        self._prune_orphans(t)
        for rumour in self.rumours.values():
            if rumour.spreading:
                self._check_spreading(rumour, t, update)
        self.close_idle(t, update)
        return update

    def advance(self, t: datetime) -> RumourUpdate:
        """Event time has reached `t` with no new post: the splits its checkpoints decide."""
        update = RumourUpdate()
        for split in self.clusterer.advance(t):
            self._split(split, update)
        return update

    def _take(self, post: RumourPost, a: Assignment, update: RumourUpdate) -> None:
        """One post's assignment: join it, note it as talk, or hold it as an orphan reply."""
        for cid, sim in a.pending:
            if cid in self.rumours and cid != a.cluster:
                update.memberships.append(
                    Membership(cid, post.post_id, post.at, "claim", sim, "", post.place, False)
                )
                update.changed.add(cid)
        if a.how == "seen":
            return
        if a.cluster < 0:
            # Kept while the clusterer keeps it waiting (it may take it in later in this same
            # batch, so every post that stayed out is kept until the batch is done).
            self._waiting[post.post_id] = (post, a.near)
            near = self.rumours.get(a.near)
            if near is not None:
                near.count_share(post.hearsay, a.how, near=True)
                # Kept (not shown) so that a restart counts the same talk.
                update.memberships.append(
                    Membership(
                        a.near, post.post_id, post.at, "near", a.similarity, "", post.place,
                        confirmed=False, state="near",
                    )
                )  # fmt: skip
            if post.links:  # it may yet join, if what it answers joins a rumour later
                for link in post.links:
                    self._orphans.setdefault(link, []).append(post)
            return
        self._join(post, a, update)
        # Replies, quotes and reposts that came before their parent joined come along now.
        waiting = [post.post_id]
        while waiting:
            for orphan in self._orphans.pop(waiting.pop(), []):
                if orphan.post_id in self.clusterer.members:
                    continue
                self.clusterer.attach(orphan.post_id, a.cluster)
                self._join(orphan, Assignment(a.cluster, "link", 1.0), update)
                waiting.append(orphan.post_id)

    def keep_waiting(self, post: RumourPost, near: int = -1) -> None:
        """Put back a post that was waiting for its claims (at start-up), if it still may."""
        if post.embedding is None or post.post_id in self.clusterer.members:
            return
        if post.claim_like and post.read and asserts(post.scores, self.stance_thresholds):
            return  # it would have started a cluster, not waited
        item = ClusterInput(
            post.post_id, post.embedding, post.simhash, post.links, post.claim_like,
            asserts=False, terms=post.terms, at=post.at,
        )  # fmt: skip
        self.clusterer.keep_waiting(item)
        if post.post_id in self.clusterer.waiting_ids:
            self._waiting[post.post_id] = (post, near)

    def _take_late(self, taken: Late, update: RumourUpdate) -> None:
        """A waiting post taken in when the claims it answers came: it joins as if it had come
        after them, judged at the event time of that evidence (never before it)."""
        held = self._waiting.pop(taken.post_id, None)
        if held is None:
            return
        post, near = held
        # The cluster as it was at that point of the batch (a merge later in the batch, which
        # the clusterer already knows of, follows it in order).
        cid = taken.cluster
        rumour = self.rumours.get(cid)
        if rumour is not None and near == cid and not post.hearsay:
            # It was counted as talk near this rumour; joining counts it as talk again.
            rumour.talk_posts = max(0, rumour.talk_posts - 1)
        self._join(post, Assignment(cid, "similar", taken.similarity), update, taken.at)
        waiting = [post.post_id]
        while waiting:
            for orphan in self._orphans.pop(waiting.pop(), []):
                if orphan.post_id in self.clusterer.members:
                    continue
                self.clusterer.attach(orphan.post_id, cid)
                self._join(orphan, Assignment(cid, "link", 1.0), update, taken.at)
                waiting.append(orphan.post_id)

    def _join(
        self, post: RumourPost, a: Assignment, update: RumourUpdate, t: datetime | None = None
    ) -> None:
        """Join a post; `t`: when the evidence that it belongs came (its own time if later)."""
        rumour = self.rumours.get(a.cluster)
        if rumour is None:
            rumour = self.rumours[a.cluster] = Rumour(a.cluster, post.at, post.at)
        stance = stance_of(post.scores, a.how, self.stance_thresholds, post.text)
        if a.how == "link" and not post.text.strip():
            stance = passed_on(rumour, post.links, stance)
        rumour.add(post, stance, a)
        update.memberships.append(
            Membership(a.cluster, post.post_id, post.at, a.how, a.similarity, stance, post.place)
        )
        update.changed.add(a.cluster)
        at = post.at if t is None else max(t, post.at)
        self._check_spreading(rumour, at, update)
        if rumour.spreading or rumour.claim_share() < self.config.claim_share:
            return
        # A late post (claims arriving after what answers them, a shuffled stream): it is in
        # the window of each later post within one window of it, so judge again at their times
        # (earliest first), as if it had come in time: spreading is a function of the posts
        # and their event times, not of when they arrived.
        later = rumour.window(at + self.config.window, self.config.window)
        for when in sorted({r[0] for r in later if r[0] > at}):
            self._check_spreading(rumour, when, update)
            if rumour.spreading:
                break

    def _prune_orphans(self, t: datetime) -> None:
        """Unassigned replies wait a day for their parent to join a rumour, then are dropped."""
        if len(self._orphans) < 1024:
            return
        cutoff = t - ORPHAN_WAIT
        for parent in list(self._orphans):
            kept = [p for p in self._orphans[parent] if p.at >= cutoff]
            if kept:
                self._orphans[parent] = kept
            else:
                del self._orphans[parent]

    def _check_spreading(self, rumour: Rumour, t: datetime, update: RumourUpdate) -> None:
        cfg = self.config
        recent = rumour.window(t, cfg.window)
        # News reports with their source named do not make a rumour spread (nor keep it
        # spreading): people passing the claim on do.
        recent = [r for r in recent if not ((f := rumour.facts.get(r[2])) and f.report)]
        authors = len({a for _, a, _ in recent})
        if not rumour.spreading:
            if (
                len(recent) >= cfg.spread_posts
                and authors >= cfg.spread_authors
                and len(rumour.places) >= cfg.spread_places
                or self._spreading_early(rumour, recent, authors)
            ) and rumour.claim_share() >= cfg.claim_share:
                rumour.spreading = True
                rumour.spreading_since = t
                if rumour.status == "new":
                    rumour.status = "watching"
                update.changed.add(rumour.id)
                top = tuple(rumour.top_places())
                rumour.alert_area = top[0] if top else None
                event = SpreadEvent(
                    rumour.id,
                    t,
                    len(recent),
                    authors,
                    int(cfg.window / timedelta(minutes=1)),
                    tuple(p for _, _, p in recent[-20:]),
                    rumour.places_in(recent),
                    top,
                    rumour.alert_area,
                )
                rumour.alerted.update(event.evidence)
                update.spreading.append(event)
        elif len(recent) < cfg.spread_posts / 2 and t >= rumour.last_seen:
            # Hysteresis: half the posts that made it spread before it stops counting as such.
            # Judged only as event time moves on (at or after its latest post): a late post,
            # or a merge or move at a late post's time, re-checks the rumour at an earlier
            # time, whose window may be thin, but what came since is the story's now: a
            # spread already begun (its alert raised) is not switched off in the past.
            rumour.spreading = False
            update.changed.add(rumour.id)
        elif len(rumour.alerted) < ALERT_EVIDENCE:
            # Still spreading: its later posts join the alert's evidence, so an incident the
            # precision gate held on the first window (replies, denials among it) passes when
            # the story's own posts are there, not only if it stops and spreads again.
            new = tuple(p for _, _, p in recent if p not in rumour.alerted)
            new = new[: ALERT_EVIDENCE - len(rumour.alerted)]
            if new:
                rumour.alerted.update(new)
                update.extended.append(
                    SpreadEvent(
                        rumour.id, t, len(recent), authors,
                        int(cfg.window / timedelta(minutes=1)), new, rumour.places_in(recent),
                        tuple(rumour.top_places()), rumour.alert_area,
                    )
                )  # fmt: skip
        rumour.prune(t, cfg.window)

    def _spreading_early(
        self, rumour: Rumour, recent: Sequence[tuple[datetime, int, str]], authors: int
    ) -> bool:
        """The earlier way to spread: fewer posts and authors, when the window's evidence is
        corroborated beyond the classifier's score. Either its own posts already name several
        places (one ward's burst of talk, a match-day crowd or a claim a few neighbours repeat
        stays in its place; a story people pass on spreads across them), or posts from several
        of its authors matched a rumour rule (a claim passed on second-hand, a "share before
        it's deleted"), which talk the rumour head half-believes does not. Either is the
        evidence that lets it reach a person sooner."""
        cfg = self.config
        rule_posts = cfg.early_rule_posts or cfg.early_posts
        if cfg.early_posts <= 0 or len(recent) < min(cfg.early_posts, rule_posts):
            return False
        # Fewer posts than the usual way needs, so every one must tell the claim: a denial or
        # a question answers it, and the incident it opens would not count it either.
        telling = [r for r in recent if (f := rumour.facts.get(r[2])) is None or f.stance
                   not in ANSWERS]  # fmt: skip
        if len({a for _, a, _ in telling}) < cfg.early_authors:
            return False
        places = rumour.places_in(telling)
        if len(telling) >= cfg.early_posts and places >= max(cfg.early_places, cfg.spread_places):
            return True
        if cfg.early_rule_authors <= 0 or len(telling) < rule_posts or places < cfg.spread_places:
            return False
        return rumour.rule_authors_in(telling) >= cfg.early_rule_authors

    def _merge(self, source: int, target: int, t: datetime, update: RumourUpdate) -> None:
        src = self.rumours.pop(source, None)
        dst = self.rumours.get(target)
        if src is None or dst is None:
            return
        dst.absorb(src)
        src.status = "closed"
        src.merged_into = target
        src.closed_at = t
        update.merges.append((source, target))
        update.changed.update((source, target))
        self._closed.append(src)
        self._check_spreading(dst, t, update)

    def _split(self, split: Split, update: RumourUpdate) -> None:
        """The clusterer split a cluster: its leaving claims, and the replies, quotes and
        reposts that answer them, become a new rumour; both sides are counted again. The
        split is recorded at its checkpoint (the event time of the evidence it was decided
        on), and each side's spreading judged as of when it was decided."""
        t = split.decision.at
        src = self.rumours.get(split.source)
        if src is None:
            return
        leaving = set(split.leaving)
        grew = True
        while grew:  # replies to replies follow too
            grew = False
            for post_id, fact in src.facts.items():
                if post_id not in leaving and fact.how == "link" and leaving & set(fact.links):
                    leaving.add(post_id)
                    grew = True
        followers = sorted(leaving - set(split.leaving))
        self.clusterer.move(followers, split.source, split.target)
        new = src.split_off(leaving, split.target, t)
        self.rumours[split.target] = new
        posts = tuple(sorted(p for p in leaving if p in new.facts))
        update.splits.append(
            RumourSplit(split.source, split.target, posts, t, split.decision.reason())
        )
        update.changed.update((split.source, split.target))
        self._check_spreading(src, split.decided, update)
        self._check_spreading(new, split.decided, update)

    def _regroup(self, regroup: Regroup, t: datetime, update: RumourUpdate) -> None:
        """Late claims were assigned again in event-time order: each claim that now belongs
        to another rumour moves there with its replies (to a new rumour if it starts one),
        then the rumours that merged (or were left with none of their claims) merge, so the
        alerts they raised stay in one story. Both sides are judged again at `t`."""
        groups: dict[tuple[int, int], list[str]] = {}
        for post_id, source, target in regroup.moves:
            groups.setdefault((source, target), []).append(post_id)
        for (source, target), post_ids in groups.items():
            self._move(post_ids, source, target, t, update)
        for source, target in regroup.merges:
            self._merge(source, target, t, update)

    def _move(
        self, post_ids: Sequence[str], source: int, target: int, t: datetime, update: RumourUpdate
    ) -> None:
        src = self.rumours.get(source)
        if src is None:
            return
        moving = {p for p in post_ids if p in src.facts}
        grew = True
        while grew:  # the replies, quotes and reposts that answer them go with them
            grew = False
            for post_id, fact in src.facts.items():
                if post_id not in moving and fact.how == "link" and moving & set(fact.links):
                    moving.add(post_id)
                    grew = True
        if not moving:
            return
        self.clusterer.move(sorted(moving - set(post_ids)), source, target)
        moved = src.split_off(moving, target, t)
        moved.split_from, moved.split_at = None, None  # told in time, it began here
        dst = self.rumours.get(target)
        if dst is None:
            self.rumours[target] = dst = moved
        else:
            dst.absorb(moved)
        reason = "its claims, judged in event-time order after late posts came, belong here"
        update.moves.append(RumourSplit(source, target, tuple(sorted(moving)), t, reason))
        update.changed.update((source, target))
        self._check_spreading(src, t, update)
        self._check_spreading(dst, t, update)

    def close_idle(self, t: datetime, update: RumourUpdate) -> None:
        """Unregistered new or watching rumours quiet for `idle` leave the live index."""
        if self._last_idle_check is not None and t - self._last_idle_check < IDLE_CHECK:
            return
        self._last_idle_check = t
        cutoff = t - self.config.idle
        for cid in [
            cid
            for cid, r in self.rumours.items()
            if not r.registered and r.status in ("new", "watching") and r.last_seen < cutoff
        ]:
            self.close(cid, t)
            update.changed.add(cid)

    def close(self, cid: int, t: datetime, *, record: bool = True) -> Rumour | None:
        """Take a rumour off the board; `record`: keep it to be saved as closed."""
        rumour = self.rumours.pop(cid, None)
        self.clusterer.remove(cid)
        if rumour is not None:
            rumour.status = "closed"
            rumour.closed_at = t
            rumour.spreading = False
            if record:
                self._closed.append(rumour)
        return rumour

    def get(self, cid: int) -> Rumour | None:
        """A live rumour, or one that left the board since closed rumours were last taken
        (merged into another later in the same batch): a rumour that spread before it merged
        still raises its alert, as it does when posts arrive one at a time."""
        rumour = self.rumours.get(cid)
        if rumour is None:
            rumour = next((r for r in reversed(self._closed) if r.id == cid), None)
        return rumour

    def take_closed(self) -> list[Rumour]:
        closed, self._closed = self._closed, []
        return closed

    # --- registered claims -----------------------------------------------------------------

    def register(self, claim_text: str, anchor: Vector | None, t: datetime) -> Rumour:
        """A claim comms staff registered: adopt the live cluster that already matches it, or
        start an empty rumour that new posts repeating the claim will join."""
        if anchor is not None:
            cid, sim = self.clusterer.best_for_claim(anchor)
            if cid >= 0 and sim >= self.config.claim_match and cid in self.rumours:
                rumour = self.rumours[cid]
            else:
                rumour = self._new_registered(t)
            self.clusterer.register(rumour.id, anchor)
        else:
            rumour = self._new_registered(t)
        rumour.registered = True
        rumour.claim_text = claim_text
        rumour.representative = excerpt(claim_text)
        if rumour.status == "new":
            rumour.status = "watching"
        return rumour

    def _new_registered(self, t: datetime) -> Rumour:
        cid = self.clusterer.new_cluster()
        rumour = self.rumours[cid] = Rumour(cid, t, t)
        self.clusterer.member_ids.setdefault(cid, [])
        return rumour

    def anchor(self, cid: int) -> Vector | None:
        return self.clusterer.anchors.vector(cid)
