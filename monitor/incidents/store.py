"""The incidents' store shell: load what the pure core needs, write back what it decided.

Synchronous SQLAlchemy Core on purpose: the pipeline stage runs it through
`AsyncConnection.run_sync`, and the Alembic migration that turns existing open alerts into
incidents runs the very same code on its own connection.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Connection,
    Engine,
    and_,
    bindparam,
    delete,
    func,
    insert,
    inspect,
    or_,
    select,
    true,
    update,
)

from monitor.incidents import describe, grouping, lifecycle
from monitor.incidents.cache import Loader, PostFactsCache
from monitor.incidents.config import IncidentsConfig
from monitor.incidents.model import (
    CLOSED,
    LIVE_STATES,
    MERGED,
    OPEN,
    AlertFacts,
    PostFacts,
    Story,
    Summary,
    Where,
)
from monitor.incidents.responses import is_response, words
from monitor.labels import SEVERITY_RANK
from monitor.store.tables import (
    alert_posts,
    alerts,
    counter_messages,
    incident_alerts,
    incident_events,
    incidents,
    place_matches,
    post_labels,
    posts,
    rumour_posts,
    rumours,
)
from monitor.types import as_utc

OPEN_ALERT_STATUSES = ("new", "acknowledged")
ENGINE = "engine"
CHUNK = 500


@dataclass
class Inputs:
    alerts: dict[int, AlertFacts] = field(default_factory=dict)
    posts: dict[str, PostFacts] = field(default_factory=dict)
    existing: dict[int, lifecycle.Existing] = field(default_factory=dict)
    ward_localities: dict[str, str] = field(default_factory=dict)
    claims: dict[int, str] = field(default_factory=dict)
    counter_texts: list[frozenset[str]] = field(default_factory=list)
    members: dict[int, list[PostFacts]] = field(default_factory=dict)  # cluster -> responders
    officials: list[PostFacts] = field(default_factory=list)  # public organisations' posts
    merged: dict[int, int] = field(default_factory=dict)  # rumour cluster -> merged into
    # Rumour cluster -> (the cluster it split off, when, that cluster's incident if any).
    splits: dict[int, tuple[int, datetime, int | None]] = field(default_factory=dict)
    # Whether a post answers its story, remembered across regroupings (see cache.py); None:
    # `is_response` over `counter_texts`.
    responds: Callable[[PostFacts], bool] | None = None


def _chunks(values: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


def event_clock(conn: Connection, wall: datetime) -> datetime:
    """Event time now: the newest processed post's own time (never past the wall clock)."""
    latest = as_utc(
        conn.execute(
            select(func.max(posts.c.created_at)).where(posts.c.processed_at.is_not(None))
        ).scalar()
    )
    return min(latest, wall) if latest is not None else wall


def change_marker(conn: Connection, wall: datetime) -> tuple[Any, datetime]:
    """(the alerts' latest change, the event clock): when the first is as it was at the last
    regrouping, nothing but time can have moved the incidents on. Changes are told by the
    alerts' revisions, which every update raises: a change written under the clock reading of
    the last one, or by a host whose clock lags, leaves the latest `updated_at` as it was."""
    changed = conn.execute(
        select(
            func.max(alerts.c.updated_at),
            func.max(alerts.c.id),
            func.coalesce(func.sum(alerts.c.revision), 0),
        )
    ).one()
    return (tuple(changed), event_clock(conn, wall))


def next_deadline(conn: Connection, cfg: IncidentsConfig) -> datetime | None:
    """The event time at which the next live incident is due to cool or close."""
    due: list[datetime] = []
    for r in conn.execute(
        select(incidents.c.status, incidents.c.last_seen).where(incidents.c.status.in_(LIVE_STATES))
    ):
        last = as_utc(r.last_seen)
        due.append(last + (cfg.cool_after if r.status == OPEN else cfg.close_after))
    return min(due) if due else None


def load_inputs(
    conn: Connection, official_names: Collection[str] = (), cache: PostFactsCache | None = None
) -> Inputs:
    """What `compute` needs, read in this transaction. `cache`: posts' facts kept from the
    last regrouping, used where the store shows them unchanged (the pipeline's stage; a
    regrouping without it reads every post in full, to the same result)."""
    out = Inputs()
    read: Loader = cache.load if cache is not None else load_posts
    live_ids = {
        int(r.id)
        for r in conn.execute(select(incidents.c.id).where(incidents.c.status.in_(LIVE_STATES)))
    }
    link = incident_alerts
    wanted: ColumnElement[bool] = alerts.c.status.in_(OPEN_ALERT_STATUSES)
    if live_ids:
        wanted = or_(wanted, link.c.incident_id.in_(sorted(live_ids)))
    # Named columns only: the migration that turns open alerts into incidents runs this on a
    # schema that later revisions may have added columns to.
    rows = conn.execute(
        select(
            alerts.c.id,
            alerts.c.key,
            alerts.c.labels,
            alerts.c.summary,
            alerts.c.status,
            alerts.c.first_seen,
            alerts.c.last_seen,
            link.c.incident_id,
            link.c.pinned,
        )
        .select_from(alerts.outerjoin(link, link.c.alert_id == alerts.c.id))
        .where(wanted)
    ).all()
    ids = [int(r.id) for r in rows]
    evidence: dict[int, list[str]] = {i: [] for i in ids}
    for chunk in _chunks(ids):
        for ev in conn.execute(
            select(alert_posts.c.alert_id, alert_posts.c.post_id).where(
                alert_posts.c.alert_id.in_(chunk)
            )
        ):
            evidence[int(ev.alert_id)].append(ev.post_id)
    holders = {int(r.incident_id) for r in rows if r.incident_id is not None} | live_ids
    for r in rows:
        out.alerts[int(r.id)] = AlertFacts(
            id=int(r.id),
            key=r.key,
            labels={str(k): str(v) for k, v in (r.labels or {}).items()},
            summary=r.summary,
            status=r.status,
            first_seen=as_utc(r.first_seen),
            last_seen=as_utc(r.last_seen),
            posts=tuple(sorted(evidence[int(r.id)])),
            incident=int(r.incident_id) if r.incident_id is not None else None,
            pinned=bool(r.pinned),
        )
    out.posts = read(conn, sorted({p for e in evidence.values() for p in e}), official_names)
    members: dict[int, set[int]] = {}
    for member in conn.execute(select(link.c.alert_id, link.c.incident_id)):
        members.setdefault(int(member.incident_id), set()).add(int(member.alert_id))
    for chunk in _chunks(sorted(holders)):
        for inc in conn.execute(
            select(
                incidents.c.id,
                incidents.c.status,
                incidents.c.first_seen,
                incidents.c.last_seen,
                incidents.c.level,
            ).where(incidents.c.id.in_(chunk))
        ):
            out.existing[int(inc.id)] = lifecycle.Existing(
                id=int(inc.id),
                status=inc.status,
                first_seen=as_utc(inc.first_seen),
                last_seen=as_utc(inc.last_seen),
                level=inc.level,
                alert_ids=frozenset(members.get(int(inc.id), ())),
            )
    for pm in conn.execute(
        select(place_matches.c.ward, place_matches.c.locality)
        .where(place_matches.c.ward.is_not(None), place_matches.c.locality.is_not(None))
        .distinct()
    ):
        out.ward_localities[pm.ward] = pm.locality
    clusters = sorted({p.cluster for p in out.posts.values() if p.cluster is not None})
    clusters += [
        c
        for a in out.alerts.values()
        if (c := grouping.cluster_number(a.labels.get("cluster"))) is not None
    ]
    # Clusters that merged into another (an alert's label keeps the old number): follow
    # them to where they live now, so both halves of one claim are one story.
    pending = sorted(set(clusters))
    while pending:
        found: list[int] = []
        for chunk in _chunks(pending):
            for row in conn.execute(
                select(rumours.c.id, rumours.c.merged_into).where(
                    rumours.c.id.in_(chunk), rumours.c.merged_into.is_not(None)
                )
            ):
                out.merged[int(row.id)] = int(row.merged_into)
                found.append(int(row.merged_into))
        pending = sorted(set(found) - set(clusters) - set(out.merged))
        clusters += pending
    out.splits = load_splits(conn, sorted(set(clusters)))
    for chunk in _chunks(sorted(set(clusters))):
        for claim in conn.execute(
            select(rumours.c.id, rumours.c.claim_text, rumours.c.representative).where(
                rumours.c.id.in_(chunk)
            )
        ):
            text = claim.claim_text or claim.representative
            if text:
                out.claims[int(claim.id)] = text
    out.members, out.officials = load_answers(
        conn, sorted(set(clusters)), list(out.alerts.values()), official_names, out.posts, read
    )
    out.counter_texts = [
        words(r.text)
        for r in conn.execute(
            select(counter_messages.c.text).where(counter_messages.c.text.is_not(None))
        )
    ]
    if cache is not None:
        answering = {p.id for p in out.officials}
        answering.update(p.id for found in out.members.values() for p in found)
        cache.retain(out.posts.keys() | answering)
        out.responds = cache.responder(out.counter_texts)
    return out


def load_answers(
    conn: Connection,
    clusters: Sequence[int],
    in_play: Sequence[AlertFacts],
    official_names: Collection[str],
    known: Mapping[str, PostFacts] | None = None,
    read: Loader | None = None,
) -> tuple[dict[int, list[PostFacts]], list[PostFacts]]:
    """Posts that may answer a story without being in its alerts' evidence: the members of
    its claim clusters that deny or question the claim or come from a public organisation,
    and public organisations' own posts over the alerts' time (an episode's calming appeals).

    `known`: posts' facts read in this same transaction (the evidence), not read again: a
    rumour's questions are often its alerts' evidence too, and each batch regroups. `read`:
    how the others are read (default `load_posts`)."""
    wanted: set[str] = set()
    by_cluster: dict[int, list[str]] = {}
    for chunk in _chunks(list(clusters)):
        for m in conn.execute(
            select(rumour_posts.c.rumour_id, rumour_posts.c.post_id)
            .select_from(rumour_posts.join(posts, posts.c.id == rumour_posts.c.post_id))
            .where(
                rumour_posts.c.rumour_id.in_(chunk),
                rumour_posts.c.state == "member",
                or_(
                    rumour_posts.c.stance.in_(("deny", "query")),
                    posts.c.author_name.is_not(None),
                ),
            )
        ):
            by_cluster.setdefault(int(m.rumour_id), []).append(m.post_id)
            wanted.add(m.post_id)
    official_ids: list[str] = []
    if official_names and in_play:
        start = min(a.first_seen for a in in_play)
        end = max(a.last_seen for a in in_play)
        official_ids = [
            r.id
            for r in conn.execute(
                select(posts.c.id).where(
                    posts.c.author_name.in_(sorted(official_names)),
                    posts.c.created_at >= start,
                    posts.c.created_at <= end,
                )
            )
        ]
        wanted |= set(official_ids)
    known = known or {}
    facts = (read or load_posts)(conn, sorted(wanted - known.keys()), official_names)
    facts.update((p, known[p]) for p in wanted & known.keys())
    members = {c: [facts[p] for p in ids if p in facts] for c, ids in by_cluster.items()}
    return members, [facts[p] for p in official_ids if p in facts]


# load_posts' statements, built once; `:ids` is one chunk of post ids.
_IDS: BindParameter[list[str]] = bindparam("ids", expanding=True)
_POSTS = select(
    posts.c.id,
    posts.c.created_at,
    posts.c.author_ref,
    posts.c.author_name,
    posts.c.text,
    posts.c.reply_to,
    posts.c.quote_of,
).where(posts.c.id.in_(_IDS))
_PLACES = select(
    place_matches.c.post_id,
    place_matches.c.name,
    place_matches.c.kind,
    place_matches.c.ward,
    place_matches.c.locality,
    place_matches.c.district,
).where(place_matches.c.post_id.in_(_IDS))
_MEMBERSHIPS = select(
    rumour_posts.c.post_id, rumour_posts.c.rumour_id, rumour_posts.c.stance
).where(rumour_posts.c.post_id.in_(_IDS), rumour_posts.c.state == "member")
_LABEL_ROWS = select(
    post_labels.c.post_id, post_labels.c.origin, post_labels.c.name, post_labels.c.value
).where(post_labels.c.post_id.in_(_IDS))
_RULE_LABEL = and_(
    post_labels.c.name.in_(("kind", "severity")), post_labels.c.origin != "classifier"
)
_CLASSIFIER_FLAG = and_(post_labels.c.name == "flag", post_labels.c.origin == "classifier")
_LABELS = _LABEL_ROWS.where(
    or_(
        # a rule's own words matched the post (RuleHit.words): a build-up the classifier
        # scored (a windowed rule of scores alone) does not make its posts rule-matched
        and_(_RULE_LABEL, post_labels.c.words.is_(true())),
        _CLASSIFIER_FLAG,
    )
)
# Before migration 0014 (the incidents migration, 0002, groups the alerts on record with this
# module) there is no `words` column: every rule label then meant the rule's words matched.
_LABELS_BEFORE_WORDS = _LABEL_ROWS.where(or_(_RULE_LABEL, _CLASSIFIER_FLAG))


def load_posts(
    conn: Connection, ids: Sequence[str], official_names: Collection[str] = ()
) -> dict[str, PostFacts]:
    """Evidence posts with their places, rumour membership, rule kinds and highest rule
    severity, and classifier flags.

    Every regrouping loads all open alerts' evidence again (once per processed batch), so the
    rows are unpacked as tuples (reading a row's columns by name cost more than the query) and
    the statements are built once, the ids bound to them (not coerced one by one each time)."""
    places: dict[str, list[Where]] = {}
    cluster: dict[str, tuple[int, str]] = {}
    kinds: dict[str, set[str]] = {}
    flags: dict[str, set[str]] = {}
    severity: dict[str, str] = {}
    base: dict[str, tuple[Any, ...]] = {}
    officials = set(official_names)
    rank = SEVERITY_RANK.get
    labels = _LABELS if _has_label_words(conn) else _LABELS_BEFORE_WORDS
    for chunk in _chunks(list(ids)):
        some = {"ids": list(chunk)}
        for pid, *rest in conn.execute(_POSTS, some):
            base[pid] = tuple(rest)
        for pid, name, kind, ward, locality, district in conn.execute(_PLACES, some):
            places.setdefault(pid, []).append(Where(name, kind, ward, locality, district))
        for pid, rumour_id, stance in conn.execute(_MEMBERSHIPS, some):
            cluster[pid] = (int(rumour_id), stance or "")
        for pid, origin, name, value in conn.execute(labels, some):
            if origin == "classifier":
                flags.setdefault(pid, set()).add(value)
            elif name == "kind":
                kinds.setdefault(pid, set()).add(value)
            elif rank(value, 0) > rank(severity.get(pid, ""), 0):
                severity[pid] = value
    out: dict[str, PostFacts] = {}
    none: frozenset[str] = frozenset()
    for pid, (created_at, author_ref, author_name, text, reply_to, quote_of) in base.items():
        c = cluster.get(pid)
        where = places.get(pid)
        k = kinds.get(pid)
        f = flags.get(pid)
        out[pid] = PostFacts(
            id=pid,
            at=as_utc(created_at),
            author=author_ref,
            text=text,
            places=tuple(sorted(where, key=_place_order)) if where else (),
            cluster=c[0] if c else None,
            stance=c[1] if c else "",
            official=bool(author_name) and author_name in officials,
            kinds=frozenset(k) if k else none,
            flags=frozenset(f) if f else none,
            severity=severity.get(pid, ""),
            reply_to=reply_to,
            quote_of=quote_of,
        )
    return out


def _place_order(w: Where) -> tuple[str, str]:
    return (w.kind, w.name)


def load_splits(
    conn: Connection, clusters: Sequence[int]
) -> dict[int, tuple[int, datetime, int | None]]:
    """Which of these claim clusters split off another (its claims diverged into two
    stories), when, and the incident that other cluster's story is in."""
    out: dict[int, tuple[int, datetime, int | None]] = {}
    if not clusters:
        return out
    # The migration that turns open alerts into incidents (0002) runs this code on a store
    # whose rumours have no split columns yet (0010): no cluster there has split.
    if not _has_split_columns(conn):
        return out
    for chunk in _chunks(clusters):
        for row in conn.execute(
            select(rumours.c.id, rumours.c.split_from, rumours.c.split_at).where(
                rumours.c.id.in_(chunk), rumours.c.split_from.is_not(None)
            )
        ):
            parent = int(row.split_from)
            holder = conn.execute(
                select(incidents.c.id)
                .where(incidents.c.cluster == parent, incidents.c.status != MERGED)
                .order_by(incidents.c.id.desc())
                .limit(1)
            ).scalar()
            at = as_utc(row.split_at) or datetime.min.replace(tzinfo=UTC)
            out[int(row.id)] = (parent, at, int(holder) if holder is not None else None)
    return out


# The columns each engine's store was seen to have: columns are added, never taken away, so
# only a positive finding is kept (reading the schema on every regrouping cost a statement and
# an inspector per processed batch). Both are read by the incidents migration (0002), before
# the later migrations that add them.
_SEEN_COLUMNS: weakref.WeakKeyDictionary[Engine, set[tuple[str, str]]] = weakref.WeakKeyDictionary()


def _has_column(conn: Connection, table: str, column: str) -> bool:
    seen = _SEEN_COLUMNS.setdefault(conn.engine, set())
    if (table, column) in seen:
        return True
    if column not in {c["name"] for c in inspect(conn).get_columns(table)}:
        return False
    seen.add((table, column))
    return True


def _has_label_words(conn: Connection) -> bool:
    """Whether post_labels has its `words` column (migration 0014)."""
    return _has_column(conn, "post_labels", "words")


def _has_split_columns(conn: Connection) -> bool:
    """Whether rumours has its split columns (migration 0010)."""
    return _has_column(conn, "rumours", "split_from")


def compute(inputs: Inputs, now: datetime, cfg: IncidentsConfig) -> lifecycle.Plan:
    """Pure given the inputs: stories, their summaries and the plan for the records."""
    facts = [a for a in inputs.alerts.values() if _in_play(a, inputs)]
    stories = grouping.group(facts, inputs.posts, cfg.gap, inputs.ward_localities, inputs.merged)
    described = []
    counters = inputs.counter_texts
    responds = inputs.responds or (lambda post: is_response(post, counters))

    def passed_at(story: Story, _summary: Summary) -> tuple[datetime, Summary] | None:
        # Asked only of a story about to open: a few more summaries over its evidence.
        return describe.passed_at(
            story,
            facts,
            inputs.posts,
            cfg,
            ward_localities=inputs.ward_localities,
            claims=inputs.claims,
            counter_texts=inputs.counter_texts,
            answers=_answers(story, inputs, cfg),
            responds=responds,
        )

    for story in stories:
        summary = describe.summarise(
            story,
            facts,
            inputs.posts,
            cfg,
            ward_localities=inputs.ward_localities,
            claims=inputs.claims,
            counter_texts=inputs.counter_texts,
            answers=_answers(story, inputs, cfg),
            responds=responds,
        )
        # The story's own posts: responses (a denial wave hours after the claim, people
        # sharing the council's statement) are no sign that it is rising or back to life.
        times = sorted(
            {
                post.at
                for a in story.alert_ids
                for p in inputs.alerts[a].posts
                if (post := inputs.posts.get(p)) is not None and not responds(post)
            }
        )
        described.append((story, summary, times))
    plan = lifecycle.plan(described, inputs.alerts, inputs.existing, now, cfg, passed_at)
    for change in plan.changes:
        cluster = change.story.cluster
        if change.incident is None and cluster is not None and cluster in inputs.splits:
            change.split_from = inputs.splits[cluster]
    return plan


def _answers(story: Story, inputs: Inputs, cfg: IncidentsConfig) -> list[PostFacts]:
    """Candidate responses to one story: its cluster's responders, and public organisations'
    posts naming its wards within its time (plus the gap)."""
    found = list(inputs.members.get(story.cluster, [])) if story.cluster is not None else []
    mine = [inputs.alerts[a] for a in story.alert_ids]
    wards = {
        w for a in mine for p in a.posts if p in inputs.posts for w in inputs.posts[p].wards
    } | {a.labels.get("area", "") for a in mine}
    start = min(a.first_seen for a in mine) - cfg.gap
    end = max(a.last_seen for a in mine) + cfg.gap
    found += [
        p for p in inputs.officials if start <= p.at <= end and (p.wards & wards or not p.wards)
    ]
    return found


def _in_play(alert: AlertFacts, inputs: Inputs) -> bool:
    """Open alerts and the alerts of live incidents; an alert of a closed incident comes
    back into play only with evidence newer than the incident's."""
    if alert.incident is None:
        return alert.status in OPEN_ALERT_STATUSES
    row = inputs.existing.get(alert.incident)
    if row is None:
        return alert.status in OPEN_ALERT_STATUSES
    if row.status in (CLOSED, MERGED):
        return alert.status in OPEN_ALERT_STATUSES and alert.last_seen > row.last_seen
    return True


def apply(
    conn: Connection, plan: lifecycle.Plan, at: datetime, now: datetime, actor: str = ENGINE
) -> list[int]:
    """Write the plan; returns the ids of the incidents that changed. Each event keeps the
    event time the plan gave it (what caused it); `at`, the event clock, stamps only what the
    plan has no time for (an incident emptied by a regrouping)."""
    touched: list[int] = []
    of_cluster: dict[int, int] = {}  # claim cluster -> its incident, as written here
    splits: list[tuple[int, int | None, tuple[int, datetime, int | None]]] = []
    for change in plan.changes:
        s = change.summary
        values: dict[str, Any] = {
            "family": s.family,
            "status": change.status,
            "headline": s.headline,
            "kinds": list(s.kinds),
            "wards": list(s.wards),
            "localities": list(s.localities),
            "level": s.level,
            "trend": change.trend,
            "post_count": s.post_count,
            "author_count": s.author_count,
            "response_count": s.response_count,
            "official_count": s.official_count,
            "alert_count": len(change.story.alert_ids),
            "gathering": (
                {"where": s.gathering.where, "when": s.gathering.when, "posts": s.gathering.posts}
                if s.gathering
                else None
            ),
            "cluster": s.cluster,
            "gate": s.gate,
            "first_seen": s.first_seen,
            "last_seen": s.last_seen,
            "updated_at": now,
        }
        if change.status == CLOSED:
            values["closed_at"] = now
        elif change.incident is not None:
            values["closed_at"] = None
        if change.incident is None:
            incident_id = int(
                conn.execute(
                    insert(incidents).values(created_at=now, **values).returning(incidents.c.id)
                ).scalar_one()
            )
        else:
            incident_id = change.incident
            current = conn.execute(select(incidents).where(incidents.c.id == incident_id)).one()
            if not change.events and all(
                _same(getattr(current, k), v) for k, v in values.items() if k != "updated_at"
            ):
                continue
            conn.execute(update(incidents).where(incidents.c.id == incident_id).values(**values))
        touched.append(incident_id)
        if change.story.cluster is not None:
            of_cluster.setdefault(change.story.cluster, incident_id)
        if change.incident is None and change.split_from is not None:
            splits.append((incident_id, change.story.cluster, change.split_from))
        link(conn, incident_id, change.story.alert_ids, now)
        joined = next((t for kind, _, t in change.events if kind == "merged"), at)
        for other in change.absorbed:
            conn.execute(
                update(incidents)
                .where(incidents.c.id == other)
                .values(status=MERGED, merged_into=incident_id, updated_at=now, closed_at=now)
            )
            record(conn, other, "merged", f"merged into incident {incident_id}", joined, now, actor)
        for kind, reason, when in change.events:
            record(conn, incident_id, kind, reason, when, now, actor)
    for incident_id in plan.emptied:
        conn.execute(
            update(incidents)
            .where(incidents.c.id == incident_id)
            .values(status=CLOSED, updated_at=now, closed_at=now, alert_count=0)
        )
        record(conn, incident_id, "closed", "its alerts all moved to other incidents", at, now)
    for incident_id, cluster, (parent, when, holder) in splits:
        # The story it split from may have opened its incident in this same pass (a bulk
        # import): the same history as when they opened a batch apart.
        holder = holder if holder is not None else of_cluster.get(parent)
        record_split(conn, incident_id, cluster, (parent, when, holder), now, actor)
    return touched


def record_split(
    conn: Connection,
    incident_id: int,
    cluster: int | None,
    split_from: tuple[int, datetime, int | None],
    now: datetime,
    actor: str = ENGINE,
) -> None:
    """An incident opened for a claim cluster that split off another: both incidents' history
    says so, at the split's own event time, as an analyst's split is recorded."""
    parent, at, holder = split_from
    why = "its claims diverged into two stories"
    detail = {"cluster": cluster, "split_from_cluster": parent}
    if holder is None:
        reason = f"claim cluster r{cluster} split off r{parent}: {why}"
        record(conn, incident_id, "split", reason, at, now, actor, detail)
        return
    reason = f"split from incident {holder} (claim cluster r{parent} → r{cluster}): {why}"
    record(conn, incident_id, "split", reason, at, now, actor, {**detail, "from": holder})
    reason = f"claim cluster r{cluster} split off into incident {incident_id}: {why}"
    record(conn, holder, "split", reason, at, now, actor, {**detail, "into": incident_id})


def _same(old: Any, new: Any) -> bool:
    if isinstance(old, datetime) and isinstance(new, datetime):
        return (as_utc(old)) == new
    return bool(old == new)


def link(conn: Connection, incident_id: int, alert_ids: Sequence[int], now: datetime) -> None:
    """Point these alerts at the incident (keeping an analyst's pin)."""
    if not alert_ids:
        return
    have = {
        int(r.alert_id): int(r.incident_id)
        for r in conn.execute(
            select(incident_alerts.c.alert_id, incident_alerts.c.incident_id).where(
                incident_alerts.c.alert_id.in_(list(alert_ids))
            )
        )
    }
    for alert_id in alert_ids:
        if alert_id not in have:
            conn.execute(
                insert(incident_alerts).values(
                    alert_id=alert_id, incident_id=incident_id, pinned=False, added_at=now
                )
            )
        elif have[alert_id] != incident_id:
            conn.execute(
                update(incident_alerts)
                .where(incident_alerts.c.alert_id == alert_id)
                .values(incident_id=incident_id, added_at=now)
            )


def record(
    conn: Connection,
    incident_id: int,
    kind: str,
    reason: str,
    at: datetime,
    now: datetime,
    actor: str = ENGINE,
    detail: Mapping[str, Any] | None = None,
) -> None:
    conn.execute(
        insert(incident_events).values(
            incident_id=incident_id,
            at=at,
            recorded_at=now,
            kind=kind,
            reason=reason,
            actor=actor,
            detail=dict(detail) if detail else None,
        )
    )


def refresh(
    conn: Connection,
    cfg: IncidentsConfig,
    now: datetime,
    official_names: Collection[str] = (),
    clock: datetime | None = None,
    cache: PostFactsCache | None = None,
) -> list[int]:
    """Bring the incidents in line with the alerts; returns the incidents that changed.
    `clock`: the event clock if the caller read it in this transaction already; `cache`: see
    `load_inputs`."""
    if clock is None:
        clock = event_clock(conn, now)
    inputs = load_inputs(conn, official_names, cache)
    return apply(conn, compute(inputs, clock, cfg), clock, now)


# --- an analyst's merge and split -------------------------------------------------------------


class IncidentError(ValueError):
    """A merge or split that cannot be done; the message says why."""


def merge(
    conn: Connection, target: int, sources: Sequence[int], actor: str, reason: str, now: datetime
) -> None:
    """Merge incidents into `target`: their alerts are pinned there (the engine keeps them)."""
    ids = [target, *[s for s in sources if s != target]]
    rows = {int(r.id): r for r in conn.execute(select(incidents).where(incidents.c.id.in_(ids)))}
    missing = [i for i in ids if i not in rows]
    if missing:
        raise IncidentError(f"no incident {', '.join(map(str, missing))}")
    if len(ids) < 2:
        raise IncidentError("name at least one other incident to merge into this one")
    gone = [i for i in ids if rows[i].status == MERGED]
    if gone:
        raise IncidentError(f"incident {', '.join(map(str, gone))} was already merged")
    at = event_clock(conn, now)
    conn.execute(
        update(incident_alerts)
        .where(incident_alerts.c.incident_id.in_(ids))
        .values(incident_id=target, pinned=True, added_at=now)
    )
    for source in ids[1:]:
        conn.execute(
            update(incidents)
            .where(incidents.c.id == source)
            .values(status=MERGED, merged_into=target, updated_at=now, closed_at=now)
        )
        record(conn, source, "merged", f"merged into incident {target}: {reason}", at, now, actor)
    joined = ", ".join(str(s) for s in ids[1:])
    record(conn, target, "merged", f"incident {joined} joined by hand: {reason}", at, now, actor)


def split(
    conn: Connection,
    incident_id: int,
    alert_ids: Sequence[int],
    actor: str,
    reason: str,
    now: datetime,
) -> int:
    """Move these alerts of an incident into a new incident; both sides are pinned so the
    engine keeps them apart. Returns the new incident's id."""
    row = conn.execute(select(incidents).where(incidents.c.id == incident_id)).one_or_none()
    if row is None:
        raise IncidentError(f"no incident {incident_id}")
    members = {
        int(r.alert_id)
        for r in conn.execute(
            select(incident_alerts.c.alert_id).where(incident_alerts.c.incident_id == incident_id)
        )
    }
    moving = sorted(set(alert_ids))
    strangers = [a for a in moving if a not in members]
    if not moving or strangers:
        raise IncidentError(
            f"alerts {', '.join(map(str, strangers))} are not in incident {incident_id}"
            if strangers
            else "name the alerts to split off"
        )
    if len(moving) == len(members):
        raise IncidentError("a split must leave at least one alert in the incident")
    at = event_clock(conn, now)
    new_id = int(
        conn.execute(
            insert(incidents)
            .values(
                family=row.family,
                status=row.status if row.status != MERGED else "open",
                headline=row.headline,
                kinds=[],
                wards=[],
                localities=[],
                level=row.level,
                trend="steady",
                first_seen=row.first_seen,
                last_seen=row.last_seen,
                created_at=now,
                updated_at=now,
            )
            .returning(incidents.c.id)
        ).scalar_one()
    )
    conn.execute(
        update(incident_alerts)
        .where(incident_alerts.c.alert_id.in_(moving))
        .values(incident_id=new_id, pinned=True, added_at=now)
    )
    conn.execute(
        update(incident_alerts)
        .where(incident_alerts.c.incident_id == incident_id)
        .values(pinned=True)
    )
    moved = ", ".join(map(str, moving))
    record(
        conn,
        new_id,
        "split",
        f"split from incident {incident_id} by hand: {reason}",
        at,
        now,
        actor,
    )
    record(
        conn,
        incident_id,
        "split",
        f"alerts {moved} split off into incident {new_id} by hand: {reason}",
        at,
        now,
        actor,
    )
    return new_id


def forget(conn: Connection) -> None:
    """Drop every incident (tests and a rebuild from the alerts)."""
    conn.execute(delete(incident_events))
    conn.execute(delete(incident_alerts))
    conn.execute(delete(incidents))
