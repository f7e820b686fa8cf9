"""Pure: what a person sees of one story — headline, kinds, places, counts, level, the when and
where of a gathering — and whether it passes the precision gate.

Everything is derived from the evidence, with no language model: a rumour's headline is its
claim (as comms staff registered it, else the cluster's representative post, else the evidence
post most like the others); an episode's is "Tension after the fire in Little Horton": the
incident word its posts name most, and the place most of its evidence is about.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import NamedTuple

from monitor.incidents import gathering
from monitor.incidents.config import IncidentsConfig
from monitor.incidents.grouping import anchor_of
from monitor.incidents.model import (
    EPISODE,
    HOSTILE_FLAG,
    IMMEDIATE_KINDS,
    RUMOUR,
    AlertFacts,
    Gathering,
    PostFacts,
    Story,
    Summary,
)
from monitor.incidents.responses import is_counter_message, is_response, words
from monitor.labels import SEVERITY_RANK

HEADLINE_CHARS = 160
# What happened, as people name it after an incident; the most named one heads an episode.
EVENT_WORDS = (
    "fire",
    "arson",
    "attack",
    "stabbing",
    "shooting",
    "assault",
    "crash",
    "explosion",
    "murder",
    "killing",
    "death",
    "riot",
    "fight",
    "brawl",
    "robbery",
    "break-in",
    "protest",
    "march",
    "disorder",
    "raid",
)
_EVENT = re.compile(r"\b(" + "|".join(re.escape(w) for w in EVENT_WORDS) + r")s?\b", re.I)
GATHER_KINDS = frozenset({"call_to_gather"})
# Rule kinds that mark a post as telling a rumour (a rule, not the classifier's score).
RUMOUR_RULE_KINDS = frozenset({"rumour"})
KIND_ORDER = (
    "rumour",
    "rumour_spreading",
    "claims_rising",
    "threat",
    "call_to_gather",
    "rising_tension",
    "tension",
    "hostility",
)
LEVEL_NAMES = {1: "low", 2: "medium", 3: "high", 4: "critical"}


def level_of(alerts: Sequence[AlertFacts]) -> str:
    """The highest severity among the alerts (a rising-tension alert's is its level's)."""
    rank = max((SEVERITY_RANK.get(a.labels.get("severity", ""), 0) for a in alerts), default=0)
    return LEVEL_NAMES.get(rank, "low")


def kinds_of(alerts: Sequence[AlertFacts]) -> tuple[str, ...]:
    found = {a.kind for a in alerts if a.kind}
    order = {k: i for i, k in enumerate(KIND_ORDER)}
    return tuple(sorted(found, key=lambda k: (order.get(k, len(order)), k)))


def representative(texts: Sequence[str]) -> str | None:
    """The text sharing most words with the others (a medoid), ties to the shortest."""
    if not texts:
        return None
    bags = [words(t) for t in texts[:200]]
    best: tuple[float, int, str] | None = None
    for i, text in enumerate(texts[:200]):
        score = sum(
            len(bags[i] & b) / (len(bags[i] | b) or 1) for j, b in enumerate(bags) if j != i
        )
        candidate = (-score, len(text), text)
        if best is None or candidate < best:
            best = candidate
    return best[2] if best else None


def event_word(texts: Sequence[str]) -> str | None:
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update({m.group(1).lower() for m in _EVENT.finditer(text)})
    if not counts:
        return None
    word, n = min(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return word if n >= 2 else None


def clip(text: str, limit: int = HEADLINE_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def summarise(
    story: Story,
    alerts: Sequence[AlertFacts],
    posts: Mapping[str, PostFacts],
    cfg: IncidentsConfig,
    *,
    ward_localities: Mapping[str, str] | None = None,
    claims: Mapping[int, str] | None = None,
    counter_texts: Collection[frozenset[str]] = (),
    answers: Sequence[PostFacts] = (),
    responds: Callable[[PostFacts], bool] | None = None,
) -> Summary:
    """The incident a person sees for this story; `claims` maps a rumour cluster to its
    claim text (registered, else its representative excerpt); `answers` are posts outside
    the alerts' evidence that may answer it (its cluster's members, public organisations'
    posts in its places and time): those that are responses are counted as such.
    `responds`: `is_response` over `counter_texts`, as the caller remembers it (each batch
    summarises every story again over all its evidence)."""
    places_map = ward_localities or {}
    if responds is None:
        responds = _responder(counter_texts)
    mine = [a for a in alerts if a.id in set(story.alert_ids)]
    evidence_ids = sorted({p for a in mine for p in a.posts if p in posts})
    evidence = [posts[p] for p in evidence_ids]
    responses = [p for p in evidence if responds(p)]
    response_ids = {p.id for p in responses}
    core = [p for p in evidence if p.id not in response_ids]
    responses += [
        p for p in answers if p.id not in response_ids and p.id not in posts and responds(p)
    ]
    officials = [p for p in responses if is_counter_message(p, counter_texts)]

    # Places: each alert's own place, and the wards its (non-response) posts name.
    ward_weight: Counter[str] = Counter()
    localities: set[str] = set()
    for a in mine:
        anchor = anchor_of(a, posts, places_map)
        if anchor.ward:
            ward_weight[anchor.ward] += max(1, len(a.posts))
        if anchor.locality:
            localities.add(anchor.locality)
    for p in core:
        for w in p.wards:
            ward_weight[w] += 1
        localities |= set(p.localities)
    wards = tuple(w for w, _ in sorted(ward_weight.items(), key=lambda kv: (-kv[1], kv[0])))
    localities |= {places_map[w] for w in wards if w in places_map}

    # The story's span: its posts' own times, from the alerts a rule or a level raised (the
    # classifier's flags count as posts but do not stretch the story to a stray early post).
    spanning = [a for a in mine if not a.from_classifier_only] or mine
    span_ids = {p for a in spanning for p in a.posts}
    times = [p.at for p in core if p.id in span_ids]
    times += [t for a in spanning if not a.posts for t in (a.first_seen, a.last_seen)]
    times = times or [t for a in spanning for t in (a.first_seen, a.last_seen)]
    first_seen: datetime = min(times)
    last_seen: datetime = max(times)

    # Responses never raise the level: an alert whose every post answers the story (a
    # counter message a rumour rule also matched) does not count towards it.
    leveled = [a for a in mine if not a.posts or any(p not in response_ids for p in a.posts)]

    calls = [posts[p] for a in mine if a.kind in GATHER_KINDS for p in a.posts if p in posts]
    found_gathering = gathering.extract(sorted({c.id: c for c in calls}.values(), key=_by_id))

    headline = _headline(story, core, wards, localities, mine, claims or {}, found_gathering)
    authors = len({p.author for p in core})
    place_count = len(set(wards) | localities)
    if not place_count and found_gathering is not None and found_gathering.where:
        # A call to gather naming its meeting point ("the mosque on Carlisle Road") names a
        # place even where the gazetteer lacks the street: held for want of one, a call
        # that many people pass on would never reach the police liaison.
        place_count = 1
    backed = story.family == RUMOUR and corroborated(core, cfg)
    counts = Counter(a.kind for a in mine)
    return Summary(
        family=story.family,
        headline=headline,
        kinds=kinds_of(mine),
        wards=wards,
        localities=tuple(sorted(localities)),
        first_seen=first_seen,
        last_seen=last_seen,
        level=level_of(leveled or mine),
        post_count=len(core),
        author_count=authors,
        response_count=len(responses),
        official_count=len(officials),
        place_count=place_count,
        gathering=found_gathering,
        cluster=story.cluster,
        gate=gate(
            mine, core, place_count, len(responses), cfg, family=story.family, corroborated=backed
        ),
        counts_by_kind=dict(sorted(counts.items())),
    )


def _responder(counter_texts: Collection[frozenset[str]]) -> Callable[[PostFacts], bool]:
    def responds(post: PostFacts) -> bool:
        return is_response(post, counter_texts)

    return responds


def gate(
    alerts: Sequence[AlertFacts],
    core: Sequence[PostFacts],
    places: int,
    responses: int,
    cfg: IncidentsConfig,
    *,
    family: str = EPISODE,
    corroborated: bool = False,
) -> str | None:
    """Why this story is held back from people (None: it passes). Precision first: no
    incident from a handful of posts, from a few authors, with no named place, or from
    responses alone; the classifier alone needs twice the posts a rule does. `core` is the
    story's own posts (responses aside).

    An episode is connected in place and event time, so its posts and authors are counted
    within one span of `gap` (the densest): a rule's alert for a ward stays open for as long
    as its hits keep coming, and a week of scattered one-off hits on ordinary talk there
    ("killing it", "bombed the exam") is not a story however many they add up to. Its posts
    that name no place count only while its placed posts come (`near_places`), and the span
    needs one post that is more than a weak cue (`strong_posts`). A rumour is one claim told
    for as long as people tell it: all its posts count.

    A threat or call to gather a rule matched reaches people at once (as promised to the
    police liaison) when it is corroborated: the classifier also reads one of its posts as
    hostile, or `immediate_min_posts` such posts came close together (see
    `immediate_ready`); otherwise it waits for that, or for the usual posts and authors. A
    level change has passed its own thresholds. An episode passes sooner when several
    people said something a rule of at least medium severity knows within a short span (see
    `corroborated_episode`). A `corroborated` rumour (its claim told
    across places, or matched by rumour rules for several authors: see `corroborated`)
    needs only `corroborated_min_posts`, from as many authors as any other."""
    posts = len(core)
    authors = len({p.author for p in core})
    if posts == 0:
        if responses:
            return "only responses (denials, calming, counter messages): nothing to review"
        rising = [a for a in alerts if a.kind == "rising_tension"]
        if not rising:
            return "no evidence posts"
    classifier_alone = all(a.from_classifier_only for a in alerts)
    if classifier_alone and posts < 2 * cfg.min_posts:
        return f"classifier alone on {posts} posts (needs {2 * cfg.min_posts})"
    if places < cfg.min_places:
        return f"{places} named places (needs {cfg.min_places})"
    if any(a.kind == "rising_tension" for a in alerts):
        return None  # the level's own thresholds already counted posts and authors
    if immediate_ready(alerts, core, cfg):
        return None  # a rule's corroborated threat or call to gather: the liaison's at once
    if family == EPISODE and not classifier_alone and corroborated_episode(alerts, core, cfg):
        return None  # several people in one place, each in words a firm rule knows, at once
    need = min(cfg.min_posts, cfg.corroborated_min_posts) if corroborated else cfg.min_posts
    if classifier_alone:
        need = 2 * cfg.min_posts
    if posts < need:
        return f"{posts} posts (needs {need})"
    if authors < cfg.min_authors:
        return f"{authors} distinct authors (needs {cfg.min_authors})"
    if family == RUMOUR:
        return None
    firm = strong_posts(alerts, core)
    best = Window(0, 0, 0)
    for w in spans(near_places(core, cfg.gap), cfg.gap, firm):
        if w.posts >= need and w.authors >= cfg.min_authors and w.strong:
            return None
        best = max(best, w, key=lambda x: (min(x.posts, need) + min(x.authors, cfg.min_authors),
                                           x.strong))  # fmt: skip
    if best.posts >= need and best.authors >= cfg.min_authors:
        return (
            f"only low-severity rules on its {best.posts} posts within {_hours(cfg.gap)} "
            "(needs a stronger rule or the classifier's hostile flag on one)"
        )
    return (
        f"{min(best.posts, need)} posts from {min(best.authors, cfg.min_authors)} authors "
        f"within {_hours(cfg.gap)} at most (needs {need} from {cfg.min_authors})"
    )


def near_places(core: Sequence[PostFacts], gap: timedelta) -> list[PostFacts]:
    """An episode's posts that name a place, and those that name none within `gap` of one
    that does. Posts naming no place join an episode by time alone, through an alert that
    gathers them from anywhere for as long as they come: only those told while the episode
    was going on are its."""
    placed = sorted(p.at for p in core if p.wards or p.localities)
    if not placed:
        return list(core)
    out = []
    for p in core:
        if p.wards or p.localities:
            out.append(p)
            continue
        k = bisect_left(placed, p.at)
        if any(abs(p.at - t) <= gap for t in placed[max(k - 1, 0) : k + 1]):
            out.append(p)
    return out


class Window(NamedTuple):
    """One event-time window of a story's posts: how many, from how many authors, and how
    many of them are strong evidence (`strong_posts`)."""

    posts: int
    authors: int
    strong: int


def strong_posts(alerts: Sequence[AlertFacts], core: Sequence[PostFacts]) -> frozenset[str]:
    """The posts that are more than a weak cue: a rule of at least medium severity matched
    them, or the classifier flags them hostile. A pack marks its weak cues low ("the whole
    estate is fuming"; words a match-day crowd uses too): they raise a place's level with
    the rest, but a crowd saying them is talk until something stronger is said there. A
    post whose rules' severity is not kept (rows from before it was) takes its alerts'; one
    whose severity nothing says is not held for it."""
    medium = SEVERITY_RANK["medium"]
    alert_rank: dict[str, int] = {}
    for a in alerts:
        if "severity" not in a.labels:
            continue
        rank = SEVERITY_RANK.get(a.labels["severity"], 0)
        for p in a.posts:
            alert_rank[p] = max(alert_rank.get(p, 0), rank)
    return frozenset(
        p.id
        for p in core
        if HOSTILE_FLAG in p.flags
        or SEVERITY_RANK.get(p.severity, 0) >= medium
        or (not p.severity and alert_rank.get(p.id, medium) >= medium)
    )


def spans(
    core: Sequence[PostFacts], span: timedelta, strong: Collection[str] = ()
) -> Iterator[Window]:
    """The posts in each window of `span` (event time) that starts at one of these posts
    (how many, from how many authors, how many of them in `strong`): windows on the posts'
    own times, never on how they were batched."""
    ordered = sorted(core, key=lambda p: (p.at, p.id))
    inside: Counter[str] = Counter()
    strong_inside = 0
    end = 0
    for start, first in enumerate(ordered):
        while end < len(ordered) and ordered[end].at <= first.at + span:
            inside[ordered[end].author] += 1
            strong_inside += ordered[end].id in strong
            end += 1
        yield Window(end - start, len(inside), strong_inside)
        strong_inside -= first.id in strong
        inside[first.author] -= 1
        if not inside[first.author]:
            del inside[first.author]


def immediate_ready(
    alerts: Sequence[AlertFacts], core: Sequence[PostFacts], cfg: IncidentsConfig
) -> bool:
    """Whether a rule's threat or call to gather here goes to people at once. A keyword rule
    misfires on ordinary language ("killing it", "bombed the exam") about one post in a
    thousand, and one such post is no-one's business; a real threat is. So one post is
    enough when two readings agree: a threat or call-to-gather rule matched it and the
    classifier flags it hostile. Else `immediate_min_posts` posts such rules matched within
    `immediate_within` of each other are (two misfires in one story rarely come that close);
    or the story waits for the usual posts and authors."""
    matched = {
        p for a in alerts if a.kind in IMMEDIATE_KINDS and not a.from_classifier_only
        for p in a.posts
    }  # fmt: skip
    posts = [p for p in core if p.id in matched]
    if not posts:
        return False
    if any(HOSTILE_FLAG in p.flags for p in posts):
        return True
    return any(w.posts >= cfg.immediate_min_posts for w in spans(posts, cfg.immediate_within))


def corroborated_episode(
    alerts: Sequence[AlertFacts], core: Sequence[PostFacts], cfg: IncidentsConfig
) -> bool:
    """Whether an episode's own posts corroborate each other: within
    `corroborated_episode_within` (event time), `corroborated_episode_posts` posts from as many
    distinct authors (and at least `min_authors`), each matched by a rule (not the classifier
    alone) of at least medium severity. One person, however loud, is one author; a crowd's
    weak cues (low-severity rules: match-day chants) are not firm; and a rule misfiring on
    ordinary words about one post in a thousand rarely does so for three people in one place
    within half an hour, while people reacting to something that happened there do. The
    usual gate (`min_posts` within `gap`) is for slower or weaker evidence. Posts naming no
    place count while the episode's placed posts come (`near_places`)."""
    need = cfg.corroborated_episode_posts
    if need <= 0 or need >= cfg.min_posts:
        return False  # off, or no sooner than the usual gate
    medium = SEVERITY_RANK["medium"]
    ruled: dict[str, int] = {}
    for a in alerts:
        if a.from_classifier_only:
            continue
        rank = SEVERITY_RANK.get(a.labels.get("severity", ""), medium)
        for p in a.posts:
            ruled[p] = max(ruled.get(p, 0), rank)
    firm = [
        p
        for p in near_places(core, cfg.gap)
        if p.id in ruled
        and (SEVERITY_RANK.get(p.severity, 0) if p.severity else ruled[p.id]) >= medium
    ]
    authors = max(need, cfg.min_authors)
    return any(w.authors >= authors for w in spans(firm, cfg.corroborated_episode_within))


def _hours(span: timedelta) -> str:
    return f"{span.total_seconds() / 3600:g} h"


def corroborated(core: Sequence[PostFacts], cfg: IncidentsConfig) -> bool:
    """Whether a rumour's own posts (responses aside) are backed beyond the classifier: told
    in at least `corroborated_places` distinct places (wards, else localities: a claim passed
    on across a city, not one street's talk), or matched by a rumour rule for at least
    `corroborated_rule_authors` distinct authors (people passing a claim on in the words
    rules know). Either lets the story pass on fewer posts (from as many authors)."""
    places = {where for p in core for where in (p.wards or p.localities)}
    if cfg.corroborated_places > 0 and len(places) >= cfg.corroborated_places:
        return True
    ruled = {p.author for p in core if RUMOUR_RULE_KINDS & p.kinds}
    return cfg.corroborated_rule_authors > 0 and len(ruled) >= cfg.corroborated_rule_authors


def _headline(
    story: Story,
    core: Sequence[PostFacts],
    wards: Sequence[str],
    localities: Collection[str],
    alerts: Sequence[AlertFacts],
    claims: Mapping[int, str],
    called: Gathering | None = None,
) -> str:
    where = wards[0] if wards else (sorted(localities)[0] if localities else None)
    if story.family == RUMOUR:
        claim = claims.get(story.cluster) if story.cluster is not None else None
        if not claim:
            claim = representative([p.text for p in core if p.text])
        if claim:
            return clip(f"Rumour: “{clip(claim, HEADLINE_CHARS - 12)}”")
        return f"Rumour in {where}" if where else "Rumour"
    texts = [p.text for p in core if p.text]
    kinds = {a.kind for a in alerts}
    noun = "Tension"
    if kinds <= {"hostility"}:
        noun = "Hostility"
    elif kinds & {"threat", "call_to_gather"} and not kinds & {"tension", "rising_tension"}:
        noun = "Threats and calls to gather"
    event = event_word(texts)
    text = noun
    if event:
        text += f" after the {event}"
    if where:
        text += f" in {where}"
    if not event and called is not None and called.text and kinds & GATHER_KINDS:
        # Where and when people are called to is what the police liaison acts on first:
        # "Threats and calls to gather: Carlisle Road, Saturday 19:00", not ": gathering".
        # (A story named by what happened keeps its headline; its gathering shows beside it.)
        text += f": {called.text}"
    elif not event:
        topics = Counter(
            a.labels["topic"].replace("_", " ") for a in alerts if a.labels.get("topic")
        )
        if topics:
            text += f": {min(topics.items(), key=lambda kv: (-kv[1], kv[0]))[0]}"
    return clip(text)


def _by_id(post: PostFacts) -> str:
    return post.id


def passed_at(
    story: Story,
    alerts: Sequence[AlertFacts],
    posts: Mapping[str, PostFacts],
    cfg: IncidentsConfig,
    *,
    ward_localities: Mapping[str, str] | None = None,
    claims: Mapping[int, str] | None = None,
    counter_texts: Collection[frozenset[str]] = (),
    answers: Sequence[PostFacts] = (),
    responds: Callable[[PostFacts], bool] | None = None,
) -> tuple[datetime, Summary] | None:
    """The event time at which this story first passed the precision gate (the time of the
    alert or post that made it pass) and the story as it stood then; None: it does not pass.
    The story at time t is its alerts raised by t with their posts up to t, so the answer
    depends on the evidence alone, never on how the posts were batched. Passing only gets
    easier as evidence arrives (more posts, authors and places; a rule's or the level's alert
    joining), so a binary search over the evidence times finds it."""
    mine = [a for a in alerts if a.id in set(story.alert_ids)]
    if not mine:
        return None
    start = min(a.first_seen for a in mine)
    moments = sorted(
        {a.first_seen for a in mine}
        | {posts[p].at for a in mine for p in a.posts if p in posts and posts[p].at >= start}
    )

    def as_of(t: datetime) -> Summary:
        then = [
            replace(a, posts=tuple(p for p in a.posts if p in posts and posts[p].at <= t))
            for a in mine
            if a.first_seen <= t
        ]
        return summarise(
            story,
            then,
            {k: v for k, v in posts.items() if v.at <= t},
            cfg,
            ward_localities=ward_localities,
            claims=claims,
            counter_texts=counter_texts,
            answers=[p for p in answers if p.at <= t],
            responds=responds,
        )

    found: tuple[datetime, Summary] | None = None
    lo, hi = 0, len(moments)
    while lo < hi:
        mid = (lo + hi) // 2
        then = as_of(moments[mid])
        if then.gate is None:
            found = (moments[mid], then)
            hi = mid
        else:
            lo = mid + 1
    return found
