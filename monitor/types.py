"""The shared records that pass between stages (raw posts, posts, place matches, analyses, hits)
and the protocols the stages meet (a classifier, a pipeline stage, a clock)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Protocol, overload

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

Labels = Mapping[str, str]
Scores = dict[str, float]
Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


# The days a person may type or a command may take: far wider than any post, digest, silence
# or counter message the service holds, far narrower than Python's years 1-9999, near whose
# ends stepping an hour or a digest period raised OverflowError.
FIRST_DAY = date(1970, 1, 1)
LAST_DAY = date(2199, 12, 31)
CALENDAR = f"between {FIRST_DAY.year} and {LAST_DAY.year}"


def within_calendar(day: date) -> bool:
    return FIRST_DAY <= day <= LAST_DAY


def is_utf8(text: str) -> bool:
    """False for text holding a lone surrogate: bytes that were not UTF-8 (arguments and
    environment values keep them so) or a broken JSON escape. No store, hash or encoder takes
    it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@overload
def as_utc(value: None) -> None: ...
@overload
def as_utc(value: datetime | str) -> datetime: ...
def as_utc(value: datetime | str | None) -> datetime | None:
    """A time read back from the store, as aware UTC: SQLite hands back naive datetimes, and
    aggregates (MAX, MIN) bypass the column type as ISO text; both mean UTC. None stays None."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class RawPost:
    """A post as a collector or importer hands it to ingest: untrusted, unnormalised.

    `author_id` is the platform's own author id. Ingest turns it into a keyed pseudonym and
    drops it: it is never written anywhere.
    """

    platform: str
    native_id: str
    text: str
    created_at: datetime
    author_id: str | None = None
    source: str = "import"
    url: str | None = None
    language: str | None = None
    reply_to: str | None = None
    quote_of: str | None = None
    repost_of: str | None = None
    like_count: int = 0
    repost_count: int = 0
    reply_count: int = 0
    is_html: bool = False

    @property
    def post_id(self) -> str:
        """The stable id: platform plus native id (Mastodon: status uri; Bluesky: at-uri)."""
        return f"{self.platform}:{self.native_id}"


@dataclass(frozen=True, slots=True)
class PlaceMatch:
    """A named place a post mentions, resolved to the areas that tension levels are kept for."""

    place_id: str  # gazetteer id, e.g. "bradford/ward/E05001355" or "bradford/hood/girlington"
    name: str  # the canonical name, e.g. "Manningham"
    kind: str  # ward | locality | district | neighbourhood | landmark
    ward: str | None  # ward name the place lies in, when known
    locality: str | None  # locality (constituency area) name, when known
    district: str  # e.g. "Bradford"
    matched: str  # the text that matched, as written in the post


@dataclass(frozen=True, slots=True)
class Post:
    """A post after ingest: normalised, bounded, pseudonymised, with its places."""

    id: str
    platform: str
    source: str
    text: str
    language: str | None
    created_at: datetime
    collected_at: datetime
    author_ref: str  # keyed HMAC of the platform author id; never the handle
    # After ingest `id`, `url` and the links are keyed HMACs of the platform's ids and link
    # (which name the author), and `origin` is the platform id sealed for re-checks only
    # (monitor/privacy/postids.py).
    url: str | None = None
    reply_to: str | None = None
    quote_of: str | None = None
    repost_of: str | None = None
    like_count: int = 0
    repost_count: int = 0
    reply_count: int = 0
    truncated: bool = False
    places: tuple[PlaceMatch, ...] = ()
    author_name: str | None = None  # public name of an allowlisted organisation only
    origin: str | None = None


@dataclass(frozen=True, slots=True)
class Analysis:
    """One forward pass's output for one text: every head's score and the sentence embedding."""

    scores: Scores
    embedding: Sequence[float] = ()


class Classifier(Protocol):
    """Scores post texts. Runs off the event loop; the fake and the transformer share this."""

    name: str
    thresholds: Mapping[str, float]

    async def score(self, texts: Sequence[str]) -> list[Scores]: ...

    async def analyse(self, texts: Sequence[str]) -> list[Analysis]: ...

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class RuleHit:
    """A rule that fired on a post: the labels it attaches and a human-readable reason.

    `words` says whether the rule's words matched the post. A rule of scores alone (the
    shipped windowed rules: a build-up of posts the classifier scored) fires with False: it
    says no more about the post than its scores do, so signals do not treat the post as
    rule-corroborated (an attributed news report stays a report, a classifier-only post
    stays one)."""

    rule_id: str
    labels: Mapping[str, str]
    reason: str = ""
    words: bool = True


@dataclass(slots=True)
class Processed:
    """A post with everything the pipeline learnt about it, handed to signals and alerts."""

    post: Post
    scores: Scores = field(default_factory=dict)
    embedding: Sequence[float] = ()
    flags: tuple[str, ...] = ()  # classifier labels over their thresholds
    hits: tuple[RuleHit, ...] = ()


class Stage(Protocol):
    """A step after classification and rules, run inside the transaction that stores the
    batch's results, so its writes commit or roll back with them (signals, alerts)."""

    async def __call__(
        self, conn: AsyncConnection, items: Sequence[Processed], now: datetime
    ) -> None: ...
