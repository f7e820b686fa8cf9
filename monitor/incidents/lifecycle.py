"""Pure: how the incidents on record follow the stories the alerts tell now.

Given the stories (from `grouping.group`, described by `describe.summarise`), the incidents on
record and the event-time clock, `plan` says for each story which incident carries it and what
changed, each change with its reason:

- opened: a story no incident holds yet (held instead while below the precision gate; opened
  when it passes it — once shown, an incident is never hidden again);
- grew: alerts joined it; level: its level rose or fell;
- merged: a story spans several incidents — the oldest carries on, the others are marked
  merged into it;
- cooling: no new evidence for `cool_after` (event time); warmed: new evidence while cooling;
- closed: no new evidence for `close_after`, or every alert in it was reviewed and closed;
  reopened: new evidence after it closed.

Event time (the posts' own times, never the wall clock) drives every step, so a bulk import and
a paced replay of the same posts end with the same incidents. Each event is stamped with the
event time of the evidence that caused it, never with the end of the batch in which it was
noticed: opened at the alert or post that took the story past the gate, grew at the joining
alert's time, warmed and reopened at the first newer post, cooling and closed at the last
evidence plus `cool_after` or `close_after`. Only what has no evidence time of its own (an
alert reviewed, a regrouping's split) takes the event clock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from monitor.incidents.config import IncidentsConfig
from monitor.incidents.model import (
    CLOSED,
    COOLING,
    HELD,
    MERGED,
    OPEN,
    AlertFacts,
    Story,
    Summary,
)
from monitor.labels import SEVERITY_RANK

REVIEWED = frozenset({"actioned", "dismissed", "closed"})
# When a story first passed the precision gate (None: it does not), from its evidence.
PassedAt = Callable[[Story, Summary], tuple[datetime, Summary] | None]
Event = tuple[str, str, datetime]  # kind, reason, the event time of what caused it


@dataclass(frozen=True)
class Existing:
    """An incident on record, as the planner needs it."""

    id: int
    status: str
    first_seen: datetime
    last_seen: datetime
    level: str
    alert_ids: frozenset[int]


@dataclass
class Change:
    """What to write for one story: its incident (None: a new one) and the events."""

    incident: int | None
    story: Story
    summary: Summary
    status: str
    trend: str
    absorbed: tuple[int, ...] = ()
    events: list[Event] = field(default_factory=list)
    # A new incident whose claim cluster split off another: (that cluster, when, its incident).
    split_from: tuple[int, datetime, int | None] | None = None

    @property
    def changed(self) -> bool:
        return bool(self.events) or self.incident is None


@dataclass
class Plan:
    changes: list[Change] = field(default_factory=list)
    emptied: list[int] = field(default_factory=list)  # incidents whose alerts all moved away


def trend_of(times: Sequence[datetime], now: datetime, window_hours: float = 3.0) -> str:
    """rising / steady / falling: evidence in the last window against the one before."""
    w = timedelta(hours=window_hours)
    recent = sum(1 for t in times if now - w < t <= now)
    before = sum(1 for t in times if now - 2 * w < t <= now - w)
    if recent > max(before * 1.5, before + 1):
        return "rising"
    if recent < before / 1.5:
        return "falling"
    return "steady"


def plan(
    stories: Sequence[tuple[Story, Summary, Sequence[datetime]]],
    alerts: Mapping[int, AlertFacts],
    existing: Mapping[int, Existing],
    now: datetime,
    cfg: IncidentsConfig,
    passed_at: PassedAt | None = None,
) -> Plan:
    """The changes that bring the incidents on record in line with the stories.
    `passed_at` says when a story first passed the gate (`describe.passed_at`); without it
    an opening is stamped with the story's latest evidence."""
    out = Plan()

    def opened(story: Story, summary: Summary) -> Event:
        # Stamped, and its reason counted, as the story stood when it passed the gate.
        found = passed_at(story, summary) if passed_at is not None else None
        when, then = found or (summary.last_seen, summary)
        return ("opened", _passes(then), min(when, now))

    # Which incident each story carries on, decided for all stories before any absorbs one:
    # an incident that carries a story of its own (a regrouping moved some of its alerts to
    # another story) is never also merged into that other story's incident, which left it
    # open in the queue while its history and `merged_into` said it was merged.
    held_by: list[list[int]] = []
    targets: list[int | None] = []
    contested: list[bool] = []  # its incident carries an earlier story: it opens anew
    claimed: set[int] = set()
    for story, _summary, _times in stories:
        holders = sorted(
            {
                held
                for a in story.alert_ids
                if (held := alerts[a].incident) is not None and held in existing
            }
        )
        live = [i for i in holders if existing[i].status not in (CLOSED, MERGED)]
        closed = [i for i in holders if existing[i].status == CLOSED]
        target: int | None = live[0] if live else (closed[0] if closed else None)
        contested.append(target is not None and target in claimed)
        if target is not None:
            claimed.add(target)
        targets.append(target)
        held_by.append(live)

    taken: set[int] = set()  # incidents absorbed so far
    for (story, summary, times), live, target, lost in zip(
        stories, held_by, targets, contested, strict=True
    ):
        trend = trend_of(times, now)
        change = Change(target, story, summary, HELD, trend)
        if target is None:
            _open(change, summary, now, cfg, opened)
            out.changes.append(change)
            continue
        if lost:
            # Two stories claim one incident (an engine regrouping): the later one opens anew.
            change.incident = None
            _open(change, summary, now, cfg, opened)
            change.events.insert(
                0, ("split", f"split off incident {target}: a separate story", now)
            )
            out.changes.append(change)
            continue
        row = existing[target]
        change.absorbed = tuple(i for i in live[1:] if i not in claimed and i not in taken)
        taken.update(change.absorbed)
        added = set(story.alert_ids) - row.alert_ids
        # The joining alerts' own time (a bulk import adds several at once: the first of them).
        joined = min((min(alerts[a].first_seen, now) for a in added), default=now)
        for other in change.absorbed:
            change.events.append(("merged", f"incident {other} joined: {_why(story)}", joined))
        if added:
            kinds = sorted({alerts[a].kind.replace("_", " ") for a in added})
            change.events.append(
                (
                    "grew",
                    f"{len(added)} alert(s) joined ({', '.join(kinds)}): {_why(story)}",
                    joined,
                )
            )
        change.status = _next_status(change, row, summary, story, alerts, now, cfg, opened, times)
        old_rank = SEVERITY_RANK.get(row.level, 0)
        new_rank = SEVERITY_RANK.get(summary.level, 0)
        if new_rank != old_rank and change.status != HELD:
            word = "rose" if new_rank > old_rank else "fell"
            # A level moves with the alerts that joined; else with the latest evidence.
            when = joined if added else min(summary.last_seen, now)
            change.events.append(("level", f"level {word}: {row.level} → {summary.level}", when))
        out.changes.append(change)
    absorbed = {i for c in out.changes for i in c.absorbed}
    for incident_id, row in sorted(existing.items()):
        if row.status in (CLOSED, MERGED) or incident_id in claimed or incident_id in absorbed:
            continue
        out.emptied.append(incident_id)
    return out


def _open(
    change: Change,
    summary: Summary,
    now: datetime,
    cfg: IncidentsConfig,
    opened: Callable[[Story, Summary], Event],
) -> None:
    if summary.gate is not None:
        change.status = HELD
        change.events.append(
            ("held", f"held below the precision gate: {summary.gate}", summary.first_seen)
        )
        return
    if now - summary.last_seen >= cfg.close_after:
        change.status = CLOSED
        change.events.append(opened(change.story, summary))
        change.events.append(_quiet("closed", summary, cfg.close_after))
        return
    change.status = OPEN
    change.events.append(opened(change.story, summary))
    if now - summary.last_seen >= cfg.cool_after:
        change.status = COOLING
        change.events.append(_quiet("cooling", summary, cfg.cool_after))


def _quiet(kind: str, summary: Summary, after: timedelta, reason: str = "") -> Event:
    """Cooling or closing: due `after` the last evidence, whenever a batch noticed it."""
    return (kind, reason or f"no new posts for {_h(after)}", summary.last_seen + after)


def _next_status(
    change: Change,
    row: Existing,
    summary: Summary,
    story: Story,
    alerts: Mapping[int, AlertFacts],
    now: datetime,
    cfg: IncidentsConfig,
    opened: Callable[[Story, Summary], Event],
    times: Sequence[datetime],
) -> str:
    status = row.status
    newer = summary.last_seen > row.last_seen
    quiet = now - summary.last_seen
    # The first post after what the record last saw: when it came back to life.
    fresh = min((t for t in times if t > row.last_seen), default=summary.last_seen)
    fresh = min(fresh, now)
    if status == HELD:
        if summary.gate is None:
            change.events.append(opened(story, summary))
            status = OPEN
        elif quiet >= cfg.close_after:
            reason = f"never passed the gate; quiet {_h(cfg.close_after)}"
            change.events.append(_quiet("closed", summary, cfg.close_after, reason))
            return CLOSED
        else:
            return HELD
    if status == CLOSED:
        if not newer:
            return CLOSED
        change.events.append(("reopened", "new posts after it closed", fresh))
        status = OPEN
    if all(alerts[a].status in REVIEWED for a in story.alert_ids):
        # A person's review has no evidence time of its own: the event clock.
        change.events.append(("closed", "every alert in it was reviewed and closed", now))
        return CLOSED
    if quiet >= cfg.close_after:
        change.events.append(_quiet("closed", summary, cfg.close_after))
        return CLOSED
    if status == COOLING and newer and quiet < cfg.cool_after:
        change.events.append(("warmed", "new posts while it was cooling", fresh))
        return OPEN
    if status == OPEN and quiet >= cfg.cool_after:
        change.events.append(_quiet("cooling", summary, cfg.cool_after))
        return COOLING
    return status


def _passes(summary: Summary) -> str:
    return (
        f"passed the precision gate: {summary.post_count} posts, "
        f"{summary.author_count} authors, {summary.place_count} named places"
    )


def _why(story: Story) -> str:
    return "; ".join(story.links) if story.links else "one story"


def _h(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:g} h"
