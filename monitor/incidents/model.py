"""Pure: the records the incident core works on, and what it hands back.

An incident is one story a person reviews: a rumour (its claim cluster, wherever it spreads) or
an episode (tension, threats, calls to gather and level changes connected in place and time).
Its unit of membership is the alert: alerts stay the routing contract (labels), and an incident
groups them. Everything here is plain data; the store shell loads it and saves what comes back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

RUMOUR = "rumour"
EPISODE = "episode"
# Alert kinds that belong to a rumour's story (its claim cluster), wherever they are placed.
RUMOUR_KINDS = frozenset({"rumour", "rumour_spreading", "claims_rising"})
# Rule kinds that are a person's immediate business even on few posts (if from a rule, and
# corroborated: see `describe.immediate_ready`).
IMMEDIATE_KINDS = frozenset({"threat", "call_to_gather"})
# The classifier's flag that, on a post a threat or call-to-gather rule matched, corroborates it.
HOSTILE_FLAG = "hostile"
UNPLACED = "unplaced"

# Lifecycle states. `held`: grouped but below the precision gate, so nobody is shown it yet.
OPEN = "open"
HELD = "held"
COOLING = "cooling"
CLOSED = "closed"
MERGED = "merged"
LIVE_STATES = (OPEN, HELD, COOLING)
SHOWN_STATES = (OPEN, COOLING)


@dataclass(frozen=True, slots=True)
class Where:
    """One place a post matched: a ward (with its locality and district) or a wider area."""

    name: str
    kind: str  # ward | locality | district | neighbourhood | landmark ...
    ward: str | None
    locality: str | None
    district: str


@dataclass(frozen=True, slots=True)
class PostFacts:
    """What the incident core knows of one evidence post. `author` is a pseudonym, only
    ever counted; `official` marks a public organisation's account (the allowlist)."""

    id: str
    at: datetime
    author: str
    text: str | None = None
    places: tuple[Where, ...] = ()
    cluster: int | None = None  # the rumour cluster it is a member of
    stance: str = ""  # its stance towards that cluster's claim, when it answers one
    official: bool = False
    kinds: frozenset[str] = frozenset()  # rule kind= labels it carries
    flags: frozenset[str] = frozenset()  # the classifier's flags over their thresholds
    severity: str = ""  # the highest severity of the rules that matched it
    reply_to: str | None = None
    quote_of: str | None = None

    @property
    def wards(self) -> frozenset[str]:
        return frozenset(p.ward for p in self.places if p.ward)

    @property
    def localities(self) -> frozenset[str]:
        return frozenset(p.locality for p in self.places if p.locality)


@dataclass(frozen=True, slots=True)
class AlertFacts:
    """One alert as the incident core sees it: labels, event-time span and evidence."""

    id: int
    key: str
    labels: Mapping[str, str]
    summary: str
    status: str
    first_seen: datetime
    last_seen: datetime
    posts: tuple[str, ...] = ()
    incident: int | None = None  # the incident it belongs to now
    pinned: bool = False  # an analyst put it there: the engine never moves it

    @property
    def kind(self) -> str:
        return self.labels.get("kind", "")

    @property
    def family(self) -> str:
        return RUMOUR if self.kind in RUMOUR_KINDS else EPISODE

    @property
    def from_classifier_only(self) -> bool:
        return self.labels.get("topic") == "hostile_content"


@dataclass(frozen=True, slots=True)
class Story:
    """A group of alerts the core decided tell one story, with why they were joined."""

    alert_ids: tuple[int, ...]
    family: str
    cluster: int | None = None
    links: tuple[str, ...] = ()  # reasons, e.g. "same rumour cluster r4"


@dataclass(frozen=True)
class Gathering:
    where: str | None
    when: str | None
    posts: int

    @property
    def text(self) -> str:
        return ", ".join(p for p in (self.where, self.when) if p)


@dataclass(frozen=True)
class Summary:
    """What a person sees of an incident, derived from its alerts and evidence only."""

    family: str
    headline: str
    kinds: tuple[str, ...]
    wards: tuple[str, ...]
    localities: tuple[str, ...]
    first_seen: datetime
    last_seen: datetime
    level: str
    post_count: int
    author_count: int
    response_count: int
    official_count: int
    place_count: int
    gathering: Gathering | None
    cluster: int | None
    gate: str | None  # why it is held below the precision gate; None: it passes
    counts_by_kind: Mapping[str, int] = field(default_factory=dict)
