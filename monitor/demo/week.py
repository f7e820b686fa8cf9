"""The demo week's building blocks: its timeline, fictional accounts, ids and posting habits.

Ids are derived from the post time as the platforms derive theirs (atproto TIDs, Mastodon
snowflakes), so that they sort and look like the real thing while staying unique and fictional.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from monitor.demo import phrases as ph

START = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday
DAYS = 5
END = START + timedelta(days=DAYS)

RUMOUR_ONSET = START + timedelta(days=1, hours=10, minutes=3, seconds=27)
COUNTER_TIME = START + timedelta(days=2, hours=15, minutes=2)
TENSION_ONSET = START + timedelta(days=3, hours=19, minutes=41, seconds=10)
GATHERING_TIME = START + timedelta(days=4, hours=19)  # "7pm tomorrow", as the call says
RUMOUR_ORIGIN = "Toller"
TENSION_WARD = "Little Horton"

# Hours after the rumour's onset at which each ward starts talking about it.
RUMOUR_WARD_ONSET = {
    "Toller": 0.0,
    "Manningham": 1.8,
    "Heaton": 4.5,
    "City": 8.5,
    "Bradford Moor": 14.0,
}
RUMOUR_PEAK_PER_HOUR = 36.0
RUMOUR_LAST_HOUR = 37  # the cascade is generated for this many hours after onset

# Relative posting volume by hour of day (UTC = London time in November): quiet nights,
# a morning bump, busiest evenings.
RHYTHM = (
    0.30, 0.16, 0.09, 0.06, 0.06, 0.10, 0.25, 0.55, 0.85, 0.85, 0.80, 0.85,
    1.00, 0.95, 0.85, 0.90, 1.00, 1.15, 1.35, 1.55, 1.55, 1.35, 1.00, 0.60,
)  # fmt: skip
CHATTER_PER_DAY = 540

BLUESKY_SOURCE = "bluesky-jetstream"
MASTODON_HOST = "social.example"
MASTODON_SOURCE = f"mastodon:{MASTODON_HOST}"
NEWS_SOURCE = "rss:bradford-district-news-fictional"
NEWS_HOST = "bradford-district-news.example"
COUNCIL_URL = "https://bradford-council.example/makesureitaddsup/toller-lane-mill"


# --- ids -----------------------------------------------------------------------------------

_B32 = "234567abcdefghijklmnopqrstuvwxyz"  # atproto's base32-sortable alphabet


def _tid(when: datetime, clock: int) -> str:
    """An atproto record key (TID): microseconds since the epoch and a 10-bit clock id."""
    micros = int(when.timestamp()) * 1_000_000 + (clock >> 10)
    value = micros << 10 | (clock & 0x3FF)
    out = ""
    for _ in range(13):
        out = _B32[value & 31] + out
        value >>= 5
    return out


def _snowflake(when: datetime, seq: int) -> int:
    """A Mastodon-style status id: milliseconds since the epoch over a 16-bit sequence."""
    return (int(when.timestamp()) * 1000 + seq % 1000) << 16 | (seq & 0xFFFF)


@dataclass(frozen=True, slots=True)
class Account:
    platform: str  # bluesky | mastodon | rss
    author: str  # the platform's author id: a DID, an actor uri, a feed author
    name: str  # the DID again, the Mastodon username, or the feed's host


@dataclass(slots=True)
class DemoPost:
    account: Account
    native_id: str
    text: str
    created_at: datetime
    tags: tuple[str, ...]
    ward: str | None = None
    lang: str | None = "en"
    url: str | None = None
    reply_to: str | None = None
    quote_of: str | None = None
    repost_of: str | None = None
    html: bool = False
    likes: int = 0
    reposts: int = 0
    replies: int = 0
    topic: str = ""

    @property
    def id(self) -> str:
        return f"{self.account.platform}:{self.native_id}"

    @property
    def is_repost(self) -> bool:
        return self.repost_of is not None


class Week:
    """Collects posts from every storyline, handing out unique, time-derived native ids."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.posts: list[DemoPost] = []
        self._ids: set[str] = set()

    def _native(self, account: Account, when: datetime, repost: bool) -> tuple[str, str | None]:
        for _ in range(100):
            clock = self.rng.randrange(1 << 20)
            if account.platform == "bluesky":
                kind = "app.bsky.feed.repost" if repost else "app.bsky.feed.post"
                native = f"at://{account.author}/{kind}/{_tid(when, clock)}"
                url = None
            else:
                status = _snowflake(when, clock)
                base = f"https://{MASTODON_HOST}/users/{account.name}/statuses/{status}"
                native = f"{base}/activity" if repost else base
                url = None if repost else f"https://{MASTODON_HOST}/@{account.name}/{status}"
            if f"{account.platform}:{native}" not in self._ids:
                return native, url
        raise RuntimeError("could not find a free id")  # pragma: no cover - 2**20 clocks

    def post(
        self,
        account: Account,
        when: datetime,
        text: str,
        tags: Sequence[str],
        *,
        ward: str | None = None,
        lang: str | None = "en",
        reply_to: DemoPost | None = None,
        quote_of: DemoPost | None = None,
        url: str | None = None,
        topic: str = "",
    ) -> DemoPost:
        native, own_url = self._native(account, when, repost=False)
        post = DemoPost(
            account=account,
            native_id=native,
            text=text,
            created_at=when,
            tags=tuple(tags),
            ward=ward,
            lang=lang,
            url=url or own_url,
            reply_to=reply_to.id if reply_to else None,
            quote_of=quote_of.id if quote_of else None,
            topic=topic,
        )
        return self._keep(post)

    def repost(
        self, account: Account, when: datetime, original: DemoPost, tags: Sequence[str]
    ) -> DemoPost:
        native, _ = self._native(account, when, repost=True)
        post = DemoPost(
            account=account,
            native_id=native,
            text=original.text,
            created_at=when,
            tags=tuple(tags),
            ward=original.ward,
            lang=original.lang,
            repost_of=original.id,
            topic=original.topic,
        )
        return self._keep(post)

    def keep(self, post: DemoPost) -> DemoPost:
        return self._keep(post)

    def _keep(self, post: DemoPost) -> DemoPost:
        if post.id in self._ids:
            raise ValueError(f"duplicate post id {post.id}")
        self._ids.add(post.id)
        self.posts.append(post)
        return post


# --- accounts ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Crowd:
    """Resident accounts on each platform with a skewed activity (a few post a lot)."""

    bluesky: tuple[Account, ...]
    mastodon: tuple[Account, ...]
    bluesky_weights: tuple[float, ...]
    mastodon_weights: tuple[float, ...]

    def pick(self, rng: random.Random, platform: str) -> Account:
        if platform == "bluesky":
            return rng.choices(self.bluesky, cum_weights=self.bluesky_weights)[0]
        return rng.choices(self.mastodon, cum_weights=self.mastodon_weights)[0]


_MASTO_WORDS = (
    ("quiet", "rainy", "northern", "grey", "windy", "early", "late", "tired", "cheery", "urban"),
    ("heron", "ginnel", "terrace", "beck", "moor", "mill", "chimney", "tram", "pigeon", "kettle"),
)


def make_crowd(rng: random.Random, bluesky: int = 1100, mastodon: int = 360) -> Crowd:
    def cum(n: int) -> tuple[float, ...]:
        total, out = 0.0, []
        for rank in range(n):
            total += 1.0 / (rank + 4) ** 0.85
            out.append(total)
        return tuple(out)

    dids: list[Account] = []
    seen: set[str] = set()
    while len(dids) < bluesky:
        did = "did:plc:fictional" + "".join(rng.choice(_B32) for _ in range(8))
        if did not in seen:
            seen.add(did)
            dids.append(Account("bluesky", did, did))
    users: list[Account] = []
    while len(users) < mastodon:
        adjective, noun = rng.choice(_MASTO_WORDS[0]), rng.choice(_MASTO_WORDS[1])
        name = f"fictional_{adjective}_{noun}{rng.randrange(10, 100)}"
        if name not in seen:
            seen.add(name)
            users.append(Account("mastodon", f"https://{MASTODON_HOST}/users/{name}", name))
    return Crowd(tuple(dids), tuple(users), cum(bluesky), cum(mastodon))


def _org_bluesky(slug: str) -> Account:
    did = f"did:plc:fictional-{slug}"
    return Account("bluesky", did, did)


def _org_mastodon(name: str) -> Account:
    return Account("mastodon", f"https://{MASTODON_HOST}/users/{name}", name)


COUNCIL = _org_bluesky("bradford-council")
POLICE = _org_bluesky("district-police")
CENTRE = _org_bluesky("lh-community-centre")
FAITH_FORUM = _org_mastodon("fictional_lh_faith_forum")
NEWSDESK = Account("rss", f"newsdesk@{NEWS_HOST}", NEWS_HOST)
ORG_ACCOUNTS = {
    COUNCIL.author: "Bradford Council (fictional account)",
    POLICE.author: "District police (fictional account)",
    CENTRE.author: "Little Horton community centre (fictional account)",
    FAITH_FORUM.author: "Little Horton faith forum (fictional account)",
    NEWSDESK.author: "Bradford District News (fictional outlet)",
}


# --- helpers -------------------------------------------------------------------------------


def poisson_count(rng: random.Random, expected: float) -> int:
    """A count near `expected` with Poisson-like spread (normal approximation, never below 0)."""
    if expected <= 0:
        return 0
    if expected < 8:
        # Knuth's method: exact and cheap for small means.
        limit, k, p = math.exp(-expected), 0, 1.0
        while True:
            p *= rng.random()
            if p <= limit:
                return k
            k += 1
    return max(0, round(rng.gauss(expected, math.sqrt(expected))))


def times_in(rng: random.Random, start: datetime, seconds: float, n: int) -> list[datetime]:
    return sorted(start + timedelta(seconds=int(rng.random() * seconds)) for _ in range(n))


def pick_platform(rng: random.Random, mastodon_share: float) -> str:
    return "mastodon" if rng.random() < mastodon_share else "bluesky"


def lang_for(rng: random.Random, account: Account, lang: str) -> str | None:
    # Bluesky clients set `langs` on most posts, not all; Mastodon always has a language.
    if account.platform == "bluesky" and rng.random() < 0.08:
        return None
    return lang


def sign_off(text: str, suffix: str) -> str:
    """Append a sign-off with the punctuation a person would use between the two."""
    if not suffix:
        return text
    if suffix[0].isalpha():  # a sentence of its own
        ends = text[-1] in ".?!" or not text[-1].isalnum()
        return f"{text} {suffix}" if ends else f"{text}. {suffix}"
    if text.endswith("?"):
        return f"{text} {suffix}"
    body = text.rstrip(".")
    return body + suffix if suffix.startswith("!") else f"{body} {suffix}"


def style(rng: random.Random, text: str, hour: int) -> str:
    """Openers, sign-offs and lapses that make the same template read as different people."""
    roll = rng.random()
    if roll < 0.05 and hour < 11:
        text = ph.pick(rng, ph.OPENERS_MORNING) + text
    elif roll < 0.08 and hour >= 18:
        text = ph.pick(rng, ph.OPENERS_EVENING) + text
    elif roll < 0.16:
        text = ph.pick(rng, ph.OPENERS) + text
    if rng.random() < 0.28:
        text = sign_off(text, ph.pick(rng, ph.CLOSERS))
    elif rng.random() < 0.3:
        text = text.rstrip(".")
    if rng.random() < 0.07:
        text = text.lower()
    return text


def named_ward(text: str) -> str | None:
    """The ward a storyline post names as where it speaks from, for the ground truth.

    Rumour posts all name the claim's building (in Toller); when one also names another ward,
    that other ward is where it was heard, so it wins.
    """
    named = [ward for ward, names in _WARD_NAMES.items() if any(n in text for n in names)]
    others = [ward for ward in named if ward != RUMOUR_ORIGIN]
    return others[0] if others else (named[0] if named else None)


_WARD_NAMES = {**ph.WARD_LOCALES, "City": (*ph.WARD_LOCALES["City"], "Centenary Square")}


def weighted_parent(rng: random.Random, candidates: Sequence[DemoPost]) -> DemoPost:
    weights = [1.0 + 2.0 * p.replies + 3.0 * p.reposts for p in candidates]
    return rng.choices(candidates, weights=weights)[0]


def choose(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]
