"""Pure: run a rule set on posts — per-post rules, and windowed rules over the stream.

Per post, only rules that could match are tried: each rule's query names words at least one of
which a post must contain (its anchors, see `query.anchors`), and an index from those words to
rules picks the candidates from the post's own words. With hundreds of rules a post is checked
against a handful. Rules with no required word (only NOT, or scores alone) are tried on every
post; the loader caps how many there may be.

Windowed rules count the posts that met their per-post conditions, per place or rumour cluster,
in a sliding window, and fire when the count, the distinct authors, the velocity or the rise
over that place's own baseline pass their thresholds. Time is always passed in (`now`); authors
are only ever counted, never listed or returned.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import Counter, OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from monitor.rules.normalise import Doc, make_doc
from monitor.rules.query import matched_words
from monitor.rules.schema import (
    CounterSpeech,
    PackSpec,
    Problem,
    RuleSpec,
    WindowSpec,
    fold_name,
)
from monitor.types import PlaceMatch, Post, RuleHit

_CACHE_MAX = 200_000


@dataclass
class RuleSet:
    """Validated packs compiled for matching. Treat as immutable once built."""

    packs: tuple[PackSpec, ...]
    fingerprint: str = ""
    warnings: tuple[Problem, ...] = ()
    rules: tuple[RuleSpec, ...] = field(init=False)
    # Each rule's required clauses (see query.required_clauses) are numbered, and a set of
    # clauses is a bit mask (a Python int). A post's words give the mask of clauses they
    # satisfy; a rule is a candidate when all its clauses' bits are set. Rules are found from
    # their first (rarest) clause's bit, so the work follows what the post contains, not the
    # number of rules.
    _rule_mask: list[int] = field(init=False, default_factory=list)
    _first_bits: int = field(init=False, default=0)
    _first_rule: dict[int, int] = field(init=False, default_factory=dict)  # bit -> rule
    _exact: dict[str, int] = field(init=False, default_factory=dict)  # form -> mask
    _prefix: dict[str, int] = field(init=False, default_factory=dict)
    _pair: dict[str, int] = field(init=False, default_factory=dict)
    _prefix_lens: tuple[int, ...] = field(init=False, default=())
    _always: tuple[int, ...] = field(init=False, default=())
    _counter: dict[str, tuple[CounterSpeech, ...]] = field(init=False, default_factory=dict)
    _cache: dict[str, int] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.rules = tuple(r for p in self.packs for r in p.rules if r.enabled)
        self._counter = {p.id: p.counter_speech for p in self.packs}
        always: list[int] = []
        bit = 0
        for i, rule in enumerate(self.rules):
            clauses = rule.query.clauses if rule.query is not None else ()
            mask = 0
            if not clauses:
                always.append(i)
            for k, clause in enumerate(clauses):
                b = 1 << bit
                if k == 0:
                    self._first_bits |= b
                    self._first_rule[bit] = i
                mask |= b
                for table, keys in (
                    (self._exact, clause.exact),
                    (self._prefix, clause.prefixes),
                    (self._pair, clause.pairs),
                ):
                    for key in keys:
                        table[key] = table.get(key, 0) | b
                bit += 1
            self._rule_mask.append(mask)
        self._always = tuple(always)
        self._prefix_lens = tuple(sorted({len(k) for k in self._prefix}))

    @property
    def unanchored(self) -> tuple[RuleSpec, ...]:
        """Rules tried on every post (no word they require)."""
        return tuple(self.rules[i] for i in self._always)

    def rule(self, rule_id: str) -> RuleSpec | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    def _mask_for_form(self, form: str) -> int:
        if " " in form:  # a word pair
            mask = self._pair.get(form, 0)
        else:
            mask = self._exact.get(form, 0)
            for n in self._prefix_lens:
                if n > len(form):
                    break
                mask |= self._prefix.get(form[:n], 0)
        if len(self._cache) >= _CACHE_MAX:
            self._cache.clear()
        self._cache[form] = mask
        return mask

    def candidates(self, doc: Doc) -> list[int]:
        """Indexes of the rules that could match this post, in rule order."""
        satisfied = 0
        get = self._cache.get
        for form in doc.index:
            m = get(form)
            satisfied |= self._mask_for_form(form) if m is None else m
        if self._pair:
            for form in doc.pairs:
                m = get(form)
                satisfied |= self._mask_for_form(form) if m is None else m
        found: list[int] = []
        first = satisfied & self._first_bits
        while first:
            low = first & -first
            rule = self._first_rule[low.bit_length() - 1]
            mask = self._rule_mask[rule]
            if satisfied & mask == mask:
                found.append(rule)
            first ^= low
        if self._always:
            found.extend(self._always)
            found.sort()
        return found


@dataclass(frozen=True, slots=True)
class Evaluation:
    """A post's per-post hits, and the windowed rules whose per-post conditions it met."""

    hits: tuple[RuleHit, ...]
    windowed: tuple[RuleSpec, ...]


def language_code(language: str | None) -> str:
    return (language or "unknown").lower().split("-")[0].split("_")[0]


def _counter_match(
    cs: Sequence[CounterSpeech], doc: Doc, memo: dict[str, CounterSpeech | None], pack: str
) -> CounterSpeech | None:
    if pack in memo:
        return memo[pack]
    found = next((c for c in cs if c.query.test(doc)), None)
    memo[pack] = found
    return found


def asks_claims_back(language: str | None) -> bool:
    """Whether claims asked back and answered are read as not the post's own words in this
    language: English only. In the other languages the packs cover, a group asked about and
    then derided ("Hindu ki dosti pe bharosa? lol.") is a common hateful shape of their
    training posts, and the question words are the developers' guesses."""
    return language_code(language) == "en"


def own_words_match(rule: RuleSpec, doc: Doc, language: str | None) -> bool:
    """Whether the rule's words are in what the post says itself: outside its quotations, and
    in English, when a claim it asks back and answers holds all the rule needs ("Roma are
    dirty? The tidiest garden on our estate is a Roma family's"), outside those claims too. A
    question the rule needs with its answer ("Refugees? Parasites, the lot of them") counts."""
    if rule.query is None:
        return True
    if not rule.query.test(doc.own_words()):
        return False
    if not asks_claims_back(language):
        return True
    rest, claims = doc.asked_claims()
    if any(rule.query.test(claim) for claim in claims):
        return rule.query.test(rest)
    return True


def _passes(rule: RuleSpec, post: Post, scores: Mapping[str, float], doc: Doc) -> bool:
    if rule.languages is not None and language_code(post.language) not in rule.languages:
        return False
    if rule.place is not None and not rule.place.accepts(post.places):
        return False
    for cond in rule.scores:
        value = scores.get(cond.head)
        if value is None or not cond.cmp.holds(value):
            return False
    if rule.query is not None and not rule.query.test(doc):
        return False
    return rule.unless is None or not rule.unless.test(doc)


def _reason(rule: RuleSpec, scores: Mapping[str, float], doc: Doc) -> str:
    parts: list[str] = []
    if rule.query is not None:
        words = matched_words(rule.query, doc)
        if words:
            parts.append("matched " + ", ".join(repr(w) for w in words))
    for cond in rule.scores:
        parts.append(f"{cond.head} {scores[cond.head]:.2f} {cond.cmp}")
    if rule.place is not None:
        parts.append(f"place: {rule.place}")
    return "; ".join(parts) or rule.description


def evaluate_post(
    ruleset: RuleSet, post: Post, scores: Mapping[str, float], doc: Doc | None = None
) -> Evaluation:
    """Every rule's verdict on one post (windowed rules only report their per-post part)."""
    if doc is None:
        doc = make_doc(post.text)
    hits: list[RuleHit] = []
    windowed: list[RuleSpec] = []
    memo: dict[str, CounterSpeech | None] = {}
    rules = ruleset.rules
    for i in ruleset.candidates(doc):
        rule = rules[i]
        if not _passes(rule, post, scores, doc):
            continue
        if rule.ignore_quoted and not own_words_match(rule, doc, post.language):
            continue
        if rule.counter_speech:
            cs = ruleset._counter.get(rule.pack)
            if cs and _counter_match(cs, doc, memo, rule.pack) is not None:
                continue
        if rule.window is not None:
            windowed.append(rule)
        else:
            hits.append(
                RuleHit(rule.id, dict(rule.labels), _reason(rule, scores, doc), has_words(rule))
            )
    return Evaluation(tuple(hits), tuple(windowed))


def has_words(rule: RuleSpec) -> bool:
    """Whether the rule tests a post's words (not its scores, place or language alone)."""
    return rule.query is not None


def window_hit(rule: RuleSpec, name: str, reason: str) -> RuleHit:
    """A windowed rule's hit on the post that met its build-up in the window named `name`."""
    assert rule.window is not None
    labels = dict(rule.labels)
    if rule.window.per == "cluster":
        labels["cluster"] = name
    elif rule.window.per != "all":
        labels["area"] = name
    return RuleHit(rule.id, labels, reason, has_words(rule))


def evaluate(ruleset: RuleSet, post: Post, scores: Mapping[str, float]) -> list[RuleHit]:
    """The per-post rules that fire on `post`. Windowed rules need a `WindowState`."""
    return list(evaluate_post(ruleset, post, scores).hits)


# --- windows ---------------------------------------------------------------------------------


def window_keys(
    spec: WindowSpec, places: Iterable[PlaceMatch], clusters: Iterable[str]
) -> dict[str, str]:
    """The keys (folded) a post counts under for a window, with their display names."""
    keys: dict[str, str] = {}
    if spec.per == "all":
        return {"all": "all"}
    if spec.per == "cluster":
        return {c: c for c in clusters}
    for p in places:
        name = {
            "ward": p.ward,
            "locality": p.locality,
            "district": p.district,
            "place": p.name,
        }[spec.per]
        if name:
            keys.setdefault(p.place_id if spec.per == "place" else fold_name(name), name)
    return keys


@dataclass(slots=True)
class _Series:
    """Matched posts for one rule and one key: recent events and bucketed history."""

    times: list[float] = field(default_factory=list)  # sorted, within the window
    authors: list[str] = field(default_factory=list)  # parallel to times; only ever counted
    author_counts: Counter[str] = field(default_factory=Counter)
    buckets: dict[int, int] = field(default_factory=dict)  # bucket index -> posts (baseline)

    def add(self, t: float, author: str, bucket: int) -> None:
        k = bisect.bisect_right(self.times, t)
        self.times.insert(k, t)
        self.authors.insert(k, author)
        self.author_counts[author] += 1
        self.buckets[bucket] = self.buckets.get(bucket, 0) + 1

    def prune(self, cutoff: float, oldest_bucket: int) -> None:
        k = bisect.bisect_right(self.times, cutoff)
        if k:
            for author in self.authors[:k]:
                left = self.author_counts[author] - 1
                if left:
                    self.author_counts[author] = left
                else:
                    del self.author_counts[author]
            del self.times[:k]
            del self.authors[:k]
        for b in [b for b in self.buckets if b < oldest_bucket]:
            del self.buckets[b]


@dataclass(frozen=True, slots=True)
class WindowReading:
    """What a window held for one key at one moment (counts only)."""

    key: str
    count: int
    distinct_authors: int
    velocity: float  # posts per hour over velocity_within
    rise: float | None  # None while the baseline is still warming up
    baseline_per_window: float | None


def _epoch(t: dt.datetime) -> float:
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.timestamp()


class WindowState:
    """Sliding-window counts for every windowed rule, per key. Time is always passed in.

    Memory is bounded: events older than the window are dropped, history is kept as buckets
    (a quarter of the window each) for at most the baseline period, and each rule keeps at
    most `max_keys` keys (the least recently active go first).
    """

    def __init__(self, *, max_keys: int = 5000) -> None:
        self.max_keys = max_keys
        self._series: dict[str, OrderedDict[str, _Series]] = {}
        self._signature: dict[str, tuple[object, ...]] = {}
        self._started: float | None = None

    @staticmethod
    def _signature_of(rule: RuleSpec) -> tuple[object, ...]:
        return (
            rule.window,
            rule.query.source if rule.query else None,
            rule.unless.source if rule.unless else None,
            rule.scores,
            rule.place,
            rule.languages,
        )

    def retain(self, ruleset: RuleSet) -> None:
        """After a reload: keep counts for windowed rules that did not change, drop the rest."""
        current = {r.id: self._signature_of(r) for r in ruleset.rules if r.window is not None}
        for rule_id in list(self._series):
            if self._signature.get(rule_id) != current.get(rule_id):
                del self._series[rule_id]
                self._signature.pop(rule_id, None)

    def observe(
        self,
        evaluation: Evaluation,
        post: Post,
        now: dt.datetime,
        clusters: Sequence[str] = (),
    ) -> list[RuleHit]:
        """Count `post` for each windowed rule it met, and return the windows that fire."""
        t = _epoch(now)
        if self._started is None:
            self._started = t
        hits: list[RuleHit] = []
        for rule in evaluation.windowed:
            spec = rule.window
            assert spec is not None
            per_rule = self._series.get(rule.id)
            if per_rule is None:
                per_rule = self._series[rule.id] = OrderedDict()
                self._signature[rule.id] = self._signature_of(rule)
            for key, name in window_keys(spec, post.places, clusters).items():
                series = per_rule.get(key)
                if series is None:
                    series = per_rule[key] = _Series()
                    if len(per_rule) > self.max_keys:
                        per_rule.popitem(last=False)
                else:
                    per_rule.move_to_end(key)
                size = _bucket_size(spec)
                series.add(t, post.author_ref, int(t // size))
                series.prune(
                    t - spec.within.total_seconds(),
                    int((t - spec.within.total_seconds() - spec.baseline.total_seconds()) // size),
                )
                reading = self._read(spec, series, key, t)
                fired, reason = _fires(spec, reading, name)
                if fired:
                    hits.append(window_hit(rule, name, reason))
        return hits

    def reading(self, rule: RuleSpec, key: str, now: dt.datetime) -> WindowReading | None:
        """The window for one rule and key as of `now` (tests, the rules page)."""
        spec = rule.window
        if spec is None:
            return None
        if spec.per in ("ward", "locality", "district"):
            key = fold_name(key)
        per_rule = self._series.get(rule.id)
        series = per_rule.get(key) if per_rule is not None else None
        if series is None:
            return None
        return self._read(spec, series, key, _epoch(now))

    def _read(self, spec: WindowSpec, series: _Series, key: str, t: float) -> WindowReading:
        within = spec.within.total_seconds()
        lo = bisect.bisect_right(series.times, t - within)
        hi = bisect.bisect_right(series.times, t)
        count = hi - lo
        if lo == 0 and hi == len(series.times):
            distinct = len(series.author_counts)
        else:
            distinct = len(set(series.authors[lo:hi]))
        vwin = spec.velocity_within.total_seconds()
        vlo = bisect.bisect_right(series.times, t - vwin)
        velocity = (hi - vlo) / (vwin / 3600.0)
        started = self._started if self._started is not None else t
        history = min(spec.baseline.total_seconds(), (t - within) - started)
        rise: float | None = None
        baseline: float | None = None
        if history >= within:
            size = _bucket_size(spec)
            first = int((t - within - history) // size)
            last = int((t - within) // size)
            past = sum(n for b, n in series.buckets.items() if first <= b < last)
            baseline = past / (history / within)
            rise = count / max(baseline, spec.baseline_floor)
        return WindowReading(key, count, distinct, velocity, rise, baseline)


def _bucket_size(spec: WindowSpec) -> float:
    return max(spec.within.total_seconds() / 4, 60.0)


def _fires(spec: WindowSpec, r: WindowReading, name: str) -> tuple[bool, str]:
    parts: list[str] = []
    within = _human(spec.within)
    if spec.count is not None:
        if not spec.count.holds(r.count):
            return False, ""
        parts.append(f"{r.count} posts in {within} ({spec.count})")
    if spec.distinct_authors is not None:
        if not spec.distinct_authors.holds(r.distinct_authors):
            return False, ""
        parts.append(f"{r.distinct_authors} distinct authors ({spec.distinct_authors})")
    if spec.velocity is not None:
        if not spec.velocity.holds(r.velocity):
            return False, ""
        parts.append(
            f"{r.velocity:.0f} posts/h over {_human(spec.velocity_within)} ({spec.velocity})"
        )
    if spec.rise is not None:
        if r.rise is None or not spec.rise.holds(r.rise):
            return False, ""
        parts.append(f"{r.rise:.1f}x its {_human(spec.baseline)} baseline ({spec.rise})")
    where = "" if spec.per == "all" else f"{spec.per} {name}: "
    return True, where + "; ".join(parts)


def _human(d: dt.timedelta) -> str:
    s = int(d.total_seconds())
    if s % 86400 == 0:
        return f"{s // 86400}d"
    if s % 3600 == 0:
        return f"{s // 3600}h"
    return f"{s // 60}m"
