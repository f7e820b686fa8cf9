"""Generated scenarios with known ground truth, to measure what the signals detect and when.

A scenario is weeks of fictional posts across a dozen wards, with a weekly rhythm (quiet
nights, busy evenings, a Saturday match-day crowd whose chants a rule misreads as hostility),
background noise (the odd offensive post, rules firing on banter, one-off claims that go
nowhere, now and then one account posting a burst of hostile posts) and, optionally, two
episodes:
- a rumour (a false claim about tap water) that grows, is answered by a counter message and
  fades; its posts are variants of one claim plus replies that support, deny, query or comment;
- a tension episode in one ward (an incident, anger, threats, then calm);
and, for the event-level evaluation (`monitor.evaluation.events`), optionally:
- several concurrent distinct claims (`claims`): different stories told about the same wards
  in the same hours with the same cue words ("apparently", "I heard"), so that only the claim
  itself tells them apart;
- a solidarity wave and a counter-speech wave (`solidarity_at`, `counter_wave_at`): many
  people offering help or rejecting hate after an incident, a share of which a classifier
  misreads as hostile (as one did on a real solidarity hashtag, 40 % of the time);
- chatter bursts (`chatter_bursts`): everyone talking about the same everyday thing at once
  (snow, a power cut, a cup win), which a noisy rumour head partly scores as claim-like.

Posts come out as `Processed` records scored by the keyword classifier (its weak hashed
embeddings included); rule hits are simulated from each post's ground-truth kind with a miss
rate and a false-positive rate, since the point is to test signals, not rules. Every text,
place use and author here is invented.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from monitor.classify.keyword import hashed_embedding, keyword_scores
from monitor.types import PlaceMatch, Post, Processed, RuleHit

HOUR = timedelta(hours=1)

# (ward, locality) — Bradford district's wards and constituency areas, used as place names.
WARDS: tuple[tuple[str, str, float], ...] = (  # (ward, locality, posts per hour at peak)
    ("City", "Bradford West", 9.0),
    ("Manningham", "Bradford West", 5.0),
    ("Toller", "Bradford West", 4.0),
    ("Heaton", "Bradford West", 3.0),
    ("Little Horton", "Bradford East", 4.0),
    ("Bradford Moor", "Bradford East", 3.0),
    ("Eccleshill", "Bradford East", 2.5),
    ("Wibsey", "Bradford South", 2.5),
    ("Great Horton", "Bradford South", 2.5),
    ("Shipley", "Shipley", 3.0),
    ("Bingley", "Shipley", 2.0),
    ("Keighley Central", "Keighley", 3.0),
)
DISTRICT = "Bradford"
# Share of peak volume by local hour: quiet nights, a lunchtime bump, busy evenings.
DIURNAL = (
    0.15, 0.08, 0.05, 0.04, 0.05, 0.1, 0.25, 0.5, 0.7, 0.7, 0.7, 0.75,
    0.85, 0.8, 0.7, 0.7, 0.75, 0.85, 0.95, 1.0, 1.0, 0.9, 0.6, 0.3,
)  # fmt: skip

CHATTER = (
    "Bins still not emptied on our street in {w}, third week running.",
    "The bus through {w} was 20 minutes late again this morning.",
    "Lovely sunset over {w} tonight.",
    "Anyone know a good plumber round {w}? Boiler's packed in.",
    "New bakery opened in {w}, the pastries are unreal.",
    "Roadworks in {w} again, what are they digging for this time.",
    "Lost cat in {w}, black with a white paw, answers to Mitten.",
    "Car boot sale at the school in {w} on Sunday if anyone's about.",
    "Parking outside the school in {w} is a nightmare every single morning.",
    "Fair play to the lads who cleaned up the park in {w} today.",
    "Potholes on the main road through {w} are getting ridiculous.",
    "Does anyone know why the chippy in {w} is shut today?",
    "Kids loved the library session in {w} this afternoon.",
    "Power cut in part of {w}, anyone else?",
    "Quiz night at the community hall in {w} was brilliant.",
)
MATCH = (
    "Come on City! Packed round {w} for the match.",
    "Traffic around the ground in {w} is mental, walk if you can.",
    "What a goal! Whole of {w} heard that cheer.",
    "Referee is an idiot, absolute joke of a decision.",
    "Stupid penalty to give away, we never learn.",
)
BANTER_FLAGGED = (
    "My brother ate the last samosa, I'm going to kill him.",
    "That referee wants locking up, shocking.",
    "The traffic warden in {w} is a total idiot.",
)
# One-off claims: each a different story, built from parts that rarely repeat together.
ONE_OFF_OPENERS = ("Apparently", "I heard", "Someone said", "Rumour has it", "Word is", "")
ONE_OFF_STORIES = (
    "the {thing} in {w} is closing down for good next month",
    "they're building a {thing} on the old car park in {w}",
    "a film crew is shooting a detective series near the {thing} in {w}",
    "a famous footballer bought a house behind the {thing} in {w}",
    "the {thing} in {w} has been sold to a developer",
    "there's going to be a new tram line past the {thing} in {w}",
    "a lion escaped from a circus and was seen near the {thing} in {w}",
    "the council will charge for parking outside every {thing} in {w}",
    "the {thing} in {w} is haunted, staff won't lock up alone",
    "a meteorite landed in the field behind the {thing} in {w}",
    "the {thing} in {w} is giving away free food on Fridays",
    "roads around the {thing} in {w} close for a marathon in spring",
    "a celebrity chef is opening a restaurant next to the {thing} in {w}",
    "the {thing} in {w} found a wartime bomb under the floor",
)
ONE_OFF_TAILS = ("", "Anyone know more?", "No idea if it's true.", "Big if true.", "Hmm.")
THINGS = (
    "swimming baths", "post office", "corner shop", "park cafe", "leisure centre",
    "bowling green", "petrol station", "pub", "cinema", "garden centre", "market",
)  # fmt: skip
R_CUES = (
    "Apparently", "I heard that", "Word is", "My neighbour says", "Just been told",
    "Someone at the water board told me", "Heard from a mate that", "Rumour is",
)  # fmt: skip
R_SUBJECT = (
    "the tap water in {w}", "the water round {w}", "the water supply in {w}",
    "tap water across {w}",
)  # fmt: skip
R_CLAIM = (
    "is contaminated", "has been poisoned by a chemical leak", "is unsafe to drink",
    "has got sewage in it", "is making kids ill",
)  # fmt: skip
R_COVER = (
    "and the water company is covering it up", "and they're keeping it quiet",
    "and nobody is telling residents", "and the council knew for weeks",
)  # fmt: skip
R_PUSH = ("Share before it gets deleted.", "Spread the word.", "Don't drink it.", "", "Pass it on.")
R_SHAPES = (
    "{cue} {subject} {claim} {cover}. {push}",
    "{cue} {subject} {claim}. {push}",
    "Nobody is talking about this: {subject} {claim} {cover}. {push}",
    "{push} {cue} {subject} {claim}.",
)
R_QUERY = (
    "Is it true that {subject} {claim}?",
    "Anyone know if {subject} is actually safe? Hearing all sorts.",
    "Can anyone confirm whether {subject} {claim}?",
)
R_REPLIES = {
    "support": ("Same here, mine tastes funny.", "Knew it.", "Sharing.",
                "My kids have been poorly all week too.", "Not surprised one bit."),
    "deny": ("This is fake, the water's been tested.", "Not true. Stop spreading this nonsense.",
             "No evidence at all, it's a hoax.", "Made up. Check before you share."),
    "query": ("Source?", "Is this true?", "Who told you?", "Any evidence for this?"),
    "comment": ("Wow.", "Here we go again.", "Every week something new.", "Mad."),
}  # fmt: skip
R_COUNTER = (
    "#MakeSureItAddsUp The tap water in {w} is safe to drink. Tests this morning found no "
    "contamination. Please check before you share."
)

T_REPORTS = (
    "Windows smashed at the community centre in {w} tonight, police there now.",
    "Someone has thrown bricks through the community centre windows in {w}.",
    "Massive police presence at the community centre in {w}, windows all smashed.",
)
T_ANGER = (
    "Sick to death of this happening in {w}.",
    "Absolutely fuming about the community centre in {w}.",
    "Whoever did this in {w} knew exactly what they were doing.",
    "Enough is enough in {w}.",
    "People in {w} are raging and I don't blame them.",
)
T_THREAT = (
    "If the police won't sort it, people round {w} will.",
    "Whoever did this wants to watch their back.",
    "Time to sort it ourselves in {w}.",
)
T_HOSTILE = (
    "Send them back, simple as.",
    "These people don't belong here, {w} was fine before.",
    "Vermin, the lot of them.",
)
T_GATHER = ("Everyone meet outside the centre in {w} at 7 tomorrow, time to sort this.",)
T_CALM = (
    "Please stay calm, let the police do their job in {w}.",
    "Volunteers cleaning up at the centre in {w} this morning, come and help.",
    "{w} is better than this. Love to everyone at the centre.",
)


@dataclass(frozen=True)
class Truth:
    """What really happened in a scenario."""

    start: datetime
    end: datetime
    weeks: float
    rumour_onset: datetime | None = None
    rumour_wards: tuple[str, ...] = ()
    rumour_posts: frozenset[str] = frozenset()  # posts that state or query the claim
    rumour_thread: frozenset[str] = frozenset()  # ... and the replies and quotes to them
    counter_at: datetime | None = None
    tension_ward: str | None = None
    tension_onset: datetime | None = None
    tension_end: datetime | None = None
    tension_related: tuple[str, ...] = ()  # other wards the episode rightly reaches
    tension_posts: frozenset[str] = frozenset()
    stories: tuple[Story, ...] = ()  # every story a person should be shown, for `events`
    waves: tuple[Wave, ...] = ()  # responses and bursts that must never raise a level


@dataclass(frozen=True)
class Story:
    """One thing a communities team should be shown: a rumour (claim) or an episode."""

    id: str
    kind: str  # "rumour" | "episode"
    first_at: datetime
    posts: frozenset[str]  # the story's own posts (claims, replies, incident posts)
    wards: tuple[str, ...] = ()
    last_at: datetime | None = None


@dataclass(frozen=True)
class Wave:
    """Posts that must not become a story: a solidarity or counter-speech wave, or a burst of
    chatter. `ward` None: the wave names no place."""

    kind: str  # "solidarity" | "counter_speech" | "chatter"
    ward: str | None
    start: datetime
    end: datetime
    posts: frozenset[str]


@dataclass
class ScenarioSpec:
    seed: int = 7
    start: datetime = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)  # a Monday
    weeks: float = 1.0
    rumour_at: timedelta | None = timedelta(days=2, hours=9)
    rumour_wards: tuple[str, ...] = ("Toller", "Manningham")
    counter_after: timedelta = timedelta(hours=7)
    tension_at: timedelta | None = timedelta(days=3, hours=19)
    tension_ward: str = "Little Horton"
    tension_hours: float = 10.0
    noise: float = 1.0  # scales background flagged noise and one-off claims
    volume: float = 1.0  # scales ordinary post volume
    # Concurrent distinct claims: (family in CLAIM_FAMILIES, onset after start, wards).
    claims: tuple[tuple[str, timedelta, tuple[str, ...]], ...] = ()
    solidarity_at: timedelta | None = None  # a solidarity wave (about 3 h) in `wave_ward`
    counter_wave_at: timedelta | None = None  # a counter-speech wave (about 3 h)
    wave_ward: str = "City"
    chatter_bursts: int = 0  # bursts of everyday talk, each in a random ward and hour


@dataclass
class _Gen:
    spec: ScenarioSpec
    rng: random.Random
    out: list[tuple[Processed, str]] = field(default_factory=list)  # (item, truth kind)
    n: int = 0

    def author(self, pool: str, size: int) -> str:
        # A few prolific accounts and a long tail, as in real feeds.
        k = min(int(self.rng.paretovariate(1.2)), size)
        return f"fictional-{pool}-{k if self.rng.random() < 0.3 else self.rng.randrange(size)}"

    def post(
        self,
        at: datetime,
        ward: str | None,
        text: str,
        kind: str,
        author: str,
        *,
        hits: tuple[RuleHit, ...] = (),
        reply_to: str | None = None,
    ) -> str:
        self.n += 1
        pid = f"sim:{self.spec.seed}:{self.n}"
        places: tuple[PlaceMatch, ...] = ()
        if ward is not None:
            locality = next(loc for w, loc, _ in WARDS if w == ward)
            places = (
                PlaceMatch(
                    place_id=f"sim/ward/{ward.lower().replace(' ', '-')}",
                    name=ward,
                    kind="ward",
                    ward=ward,
                    locality=locality,
                    district=DISTRICT,
                    matched=ward,
                ),
            )
        post = Post(
            id=pid,
            platform="sim",
            source="simulation",
            text=text,
            language="en",
            created_at=at,
            collected_at=at,
            author_ref=author,
            reply_to=reply_to,
            places=places,
        )
        scores = keyword_scores(text)
        flags = tuple(sorted(k for k in ("hostile", "offensive", "rumour") if scores[k] >= 0.5))
        item = Processed(post, scores, hashed_embedding(text), flags, hits + self._noise_hits())
        self.out.append((item, kind))
        return pid

    def _noise_hits(self) -> tuple[RuleHit, ...]:
        # Rules firing on ordinary posts: rare, low severity, anywhere.
        r = self.rng.random() / max(self.spec.noise, 1e-9)
        if r < 0.004:
            return (RuleHit("sim-noise", {"kind": "tension", "severity": "low"}),)
        if r < 0.005:
            return (RuleHit("sim-noise", {"kind": "threat", "severity": "medium"}),)
        return ()

    def fill(self, template: str, ward: str) -> str:
        return template.format(w=ward, thing=self.rng.choice(THINGS))


def _hours(spec: ScenarioSpec) -> Iterator[datetime]:
    t = spec.start
    end = spec.start + timedelta(days=7 * spec.weeks)
    while t < end:
        yield t
        t += HOUR


def _poisson(rng: random.Random, lam: float) -> int:
    # Knuth's method is fine for the small rates here.
    if lam <= 0:
        return 0
    n, p, limit = 0, 1.0, pow(2.718281828459045, -lam)
    while True:
        p *= rng.random()
        if p <= limit:
            return n
        n += 1


def generate(spec: ScenarioSpec) -> tuple[list[Processed], Truth]:
    """Posts in time order, and the ground truth."""
    rng = random.Random(spec.seed)
    g = _Gen(spec, rng)
    for hour in _hours(spec):
        _background(g, hour)
    truth = Truth(
        start=spec.start, end=spec.start + timedelta(days=7 * spec.weeks), weeks=spec.weeks
    )
    if spec.rumour_at is not None:
        truth = _rumour(g, truth)
    if spec.tension_at is not None:
        truth = _tension(g, truth)
    truth = _stories_of(truth)
    for family, offset, wards in spec.claims:
        truth = _claim(g, truth, family, spec.start + offset, wards)
    if spec.solidarity_at is not None:
        truth = _wave(g, truth, "solidarity", spec.start + spec.solidarity_at)
    if spec.counter_wave_at is not None:
        truth = _wave(g, truth, "counter_speech", spec.start + spec.counter_wave_at)
    for _ in range(spec.chatter_bursts):
        truth = _chatter_burst(g, truth)
    items = sorted((i for i, _ in g.out), key=lambda i: (i.post.created_at, i.post.id))
    return items, truth


def _at(hour: datetime, rng: random.Random) -> datetime:
    return hour + timedelta(seconds=rng.randrange(3600))


def _background(g: _Gen, hour: datetime) -> None:
    rng, spec = g.rng, g.spec
    local_hour = (hour.hour + 0) % 24  # November: London is on UTC
    weekend = hour.weekday() >= 5
    for ward, _, peak in WARDS:
        rate = peak * DIURNAL[local_hour] * (1.2 if weekend else 1.0) * spec.volume
        match_day = ward == "Manningham" and hour.weekday() == 5 and 14 <= local_hour < 18
        if match_day:
            rate *= 5
        for _ in range(_poisson(rng, rate)):
            at = _at(hour, rng)
            placed = rng.random() < 0.8
            author = g.author(ward, 400)
            hits: tuple[RuleHit, ...] = ()
            if match_day and rng.random() < 0.5:
                text = g.fill(rng.choice(MATCH), ward)
                if rng.random() < 0.3 * spec.noise:  # a rule misreads the chants, every week
                    hits = (RuleHit("sim-chant", {"kind": "hostility", "severity": "low"}),)
            elif rng.random() < 0.01 * spec.noise:
                text = g.fill(rng.choice(BANTER_FLAGGED), ward)
            else:
                text = g.fill(rng.choice(CHATTER), ward)
            g.post(at, ward if placed else None, text, "chatter", author, hits=hits)
    # Now and then one account posts a burst of hostile posts about a ward: one voice, however
    # loud, is not community tension.
    if rng.random() < 0.02 * spec.noise:
        ward = rng.choice(WARDS)[0]
        author = g.author("loud", 50)
        t0 = _at(hour, rng)
        for _ in range(rng.randint(10, 20)):
            g.post(
                t0 + timedelta(minutes=rng.randrange(90)),
                ward,
                g.fill(rng.choice(T_HOSTILE), ward),
                "loud_account",
                author,
                hits=(RuleHit("sim-loud", {"kind": "hostility", "severity": "medium"}),),
            )
    # One-off claims: about one every four hours somewhere, repeated by a few people at most.
    if rng.random() < 0.25 * spec.noise:
        ward = rng.choice(WARDS)[0]
        story = g.fill(rng.choice(ONE_OFF_STORIES), ward)
        t0 = _at(hour, rng)
        for k in range(rng.choice((1, 1, 2, 3, 4))):
            text = " ".join(
                f"{rng.choice(ONE_OFF_OPENERS)} {story}. {rng.choice(ONE_OFF_TAILS)}".split()
            )
            g.post(
                t0 + timedelta(minutes=rng.randrange(240)) * (k > 0),
                ward,
                text[0].upper() + text[1:],
                "one_off_claim",
                g.author("district", 5000),
            )


def _rumour_text(g: _Gen, ward: str) -> str:
    rng = g.rng
    parts = {
        "cue": rng.choice(R_CUES),
        "subject": rng.choice(R_SUBJECT).format(w=ward),
        "claim": rng.choice(R_CLAIM),
        "cover": rng.choice(R_COVER),
        "push": rng.choice(R_PUSH),
    }
    return " ".join(rng.choice(R_SHAPES).format(**parts).split())


def _rumour(g: _Gen, truth: Truth) -> Truth:
    """Claim posts as a process whose rate doubles every 75 minutes up to 40/h, then halves
    every two hours from the counter message on; each may draw replies."""
    spec, rng = g.spec, g.rng
    assert spec.rumour_at is not None
    onset = spec.start + spec.rumour_at
    counter_at = onset + spec.counter_after
    claims: set[str] = set()
    thread: set[str] = set()
    minute = 0
    while True:
        t = onset + timedelta(minutes=minute)
        if t >= truth.end:
            break
        if t < counter_at:
            rate = min(40.0, 2.0 * 2 ** (minute / 75))
        else:
            peak = min(40.0, 2.0 * 2 ** ((counter_at - onset) / timedelta(minutes=75)))
            rate = peak * 0.5 ** ((t - counter_at) / timedelta(hours=2))
        if rate < 0.3 and t > counter_at:
            break
        for _ in range(_poisson(rng, rate / 60)):
            ward = rng.choice(spec.rumour_wards)
            at = t + timedelta(seconds=rng.randrange(60))
            is_query = rng.random() < 0.15
            if is_query:
                text = rng.choice(R_QUERY).format(
                    subject=rng.choice(R_SUBJECT).format(w=ward), claim=rng.choice(R_CLAIM)
                )
            else:
                text = _rumour_text(g, ward)
            hits: tuple[RuleHit, ...] = ()
            if rng.random() < 0.5:  # a rumour rule catches about half of them
                hits = (RuleHit("sim-rumour", {"kind": "rumour", "severity": "low"}),)
            pid = g.post(at, ward, text, "rumour", g.author("district", 5000), hits=hits)
            claims.add(pid)
            thread.add(pid)
            for _ in range(_poisson(rng, 0.6)):
                after = at >= counter_at
                weights = (1, 4, 2, 1) if after else (4, 1, 2, 2)
                stance = rng.choices(("support", "deny", "query", "comment"), weights)[0]
                reply_at = at + timedelta(minutes=rng.randrange(1, 90))
                if reply_at >= truth.end:
                    continue
                thread.add(
                    g.post(
                        reply_at,
                        ward if rng.random() < 0.5 else None,
                        rng.choice(R_REPLIES[stance]),
                        f"rumour_reply_{stance}",
                        g.author("district", 5000),
                        reply_to=pid,
                    )
                )
        minute += 1
    ward = spec.rumour_wards[0]
    g.post(counter_at, ward, R_COUNTER.format(w=ward), "counter", "fictional-council-account")
    return _replace(
        truth,
        rumour_onset=onset,
        rumour_wards=spec.rumour_wards,
        rumour_posts=frozenset(claims),
        rumour_thread=frozenset(thread),
        counter_at=counter_at,
    )


def _tension(g: _Gen, truth: Truth) -> Truth:
    """An incident, then anger, threats and hostility from many people for `tension_hours`,
    with calming posts growing towards the end."""
    spec, rng = g.spec, g.rng
    assert spec.tension_at is not None
    onset = spec.start + spec.tension_at
    end = onset + timedelta(hours=spec.tension_hours)
    ward = spec.tension_ward
    kinds = (
        ("report", T_REPORTS, ("tension", "medium"), 0.8),
        ("anger", T_ANGER, ("tension", "medium"), 0.6),
        ("threat", T_THREAT, ("threat", "high"), 0.8),
        ("hostile", T_HOSTILE, ("hostility", "medium"), 0.7),
        ("gather", T_GATHER, ("call_to_gather", "high"), 0.9),
        ("calm", T_CALM, None, 0.0),
    )
    t = onset
    posts: set[str] = set()
    while t < end:
        progress = (t - onset) / (end - onset)
        rate = 25.0 * (1 - progress) + 3.0  # posts per hour about the incident
        for _ in range(_poisson(rng, rate / 6)):  # per 10 minutes
            at = t + timedelta(seconds=rng.randrange(600))
            weights = (
                3 * (1 - progress) + 0.2,
                4,
                1.5,
                1.5,
                0.3 if 0.2 < progress < 0.6 else 0.0,
                1 + 6 * progress,
            )
            name, texts, labels, detect = rng.choices(kinds, weights)[0]
            hits: tuple[RuleHit, ...] = ()
            if labels is not None and rng.random() < detect:
                hits = (RuleHit(f"sim-{name}", {"kind": labels[0], "severity": labels[1]}),)
            pid = g.post(
                at,
                ward if rng.random() < 0.85 else None,
                g.fill(rng.choice(texts), ward),
                f"tension_{name}",
                g.author("district", 5000),
                hits=hits,
            )
            posts.add(pid)
        t += timedelta(minutes=10)
    return _replace(
        truth,
        tension_ward=ward,
        tension_onset=onset,
        tension_end=end,
        tension_posts=frozenset(posts),
    )


# --- the event-level additions -----------------------------------------------------------------

# Distinct claims told in the same places with the same cue words: (subjects, claims, covers).
CLAIM_FAMILIES: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "schools": (
        ("the schools in {w}", "every primary school round {w}", "the high school in {w}"),
        (
            "are shutting on Monday over a gas leak",
            "have asbestos in the classroom ceilings",
            "are closing for a fortnight because the boilers failed",
        ),
        ("and parents are the last to know", "and the head won't admit it"),
    ),
    "bridge": (
        ("the railway bridge in {w}", "the old canal bridge in {w}"),
        (
            "is about to collapse",
            "has cracks right through the arches",
            "failed its safety inspection twice",
        ),
        ("and the engineers' survey is being hidden", "and the council knows"),
    ),
    "blackout": (
        ("the substation in {w}", "the electricity in {w}"),
        (
            "is being switched off for three days next week",
            "will be cut every night this winter to save money",
        ),
        ("and the power company hasn't told anyone", "and nobody is warning the elderly"),
    ),
    "zoo": (
        ("the wildlife park near {w}", "the farm park in {w}"),
        ("has lost two wolves that escaped overnight", "let a bear get out of its enclosure"),
        ("and the keepers are out searching", "and they're keeping it off the news"),
    ),
}
SOLIDARITY = (
    "Anyone in {w} nervous about getting home tonight, I'll walk with you. #WithYou{w0}",
    "Happy to sit with anyone on the bus through {w} who feels unsafe. #WithYou{w0}",
    "{w} stands with our neighbours. Nobody walks alone tonight. #WithYou{w0}",
    "If you're worried about abuse on your way to work in {w}, message me, I'll come with you.",
    "Offering lifts round {w} to anyone scared to travel after what happened. #WithYou{w0}",
    "Proud of {w} tonight, so many people offering to accompany folk home. #WithYou{w0}",
)
COUNTER_WAVE = (
    "Saw posts calling our neighbours vermin. Disgusting. Reported every one. {w} is better.",
    "People saying 'send them back' about {w}? No. Not in our name.",
    "Whoever is spreading hate about {w} tonight, there is no place for it here.",
    "Stop blaming whole communities in {w} for what one idiot did.",
    "Reported the scum posting 'get rid of them' about {w}. That's not who we are.",
)
# Everyday bursts: everyone talking about one thing at once, each in their own words.
BURSTS: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (
        (
            "Snow in {w}!",
            "Proper snow this morning in {w}.",
            "{w} has turned white overnight.",
            "The snow in {w} is settling fast.",
            "First snow of the year round {w}.",
        ),
        (
            "Kids are going mad for it.",
            "Roads are lethal, take care.",
            "Sledges out.",
            "Car won't start, great.",
            "Buses are crawling.",
            "Dog has never seen anything like it.",
            "Snowman contest on our street.",
            "Stay warm everyone.",
        ),
    ),
    (
        (
            "What a win for the club!",
            "Cup win! {w} is bouncing tonight.",
            "Car horns all over {w} after the match.",
            "Pubs in {w} are rammed after that result.",
        ),
        (
            "What a night.",
            "Never in doubt.",
            "Keeper was unreal.",
            "Parade next?",
            "Best night in years.",
            "My voice has gone.",
        ),
    ),
    (
        (
            "Power cut across {w} again.",
            "Lights out in half of {w}.",
            "No electric in {w}.",
            "Everything's gone dark round {w}.",
        ),
        (
            "Candles out.",
            "Freezer's defrosting.",
            "Anyone know how long?",
            "Third time this year.",
            "Kids think it's an adventure.",
            "Phone on 5%.",
        ),
    ),
)


def _stories_of(truth: Truth) -> Truth:
    """The scenario's own rumour and episode as `Story` records."""
    stories = list(truth.stories)
    if truth.rumour_onset is not None:
        stories.append(
            Story("rumour:water", "rumour", truth.rumour_onset, truth.rumour_thread,
                  truth.rumour_wards)
        )  # fmt: skip
    if truth.tension_onset is not None and truth.tension_ward:
        stories.append(
            Story("episode:tension", "episode", truth.tension_onset,
                  truth.tension_posts, (truth.tension_ward,), truth.tension_end)
        )  # fmt: skip
    return _replace(truth, stories=tuple(stories))


def _claim(g: _Gen, truth: Truth, family: str, onset: datetime, wards: tuple[str, ...]) -> Truth:
    """One more distinct claim: a few hours of posts rising to about 20 an hour, with replies."""
    rng = g.rng
    subjects, claims, covers = CLAIM_FAMILIES[family]
    posts: set[str] = set()
    hours = 6.0
    t = onset
    while (t - onset) / HOUR < hours:
        progress = (t - onset) / HOUR / hours
        rate = 22.0 * min(1.0, 3 * progress) * (1.2 - progress) + 2.0
        for _ in range(_poisson(rng, rate / 6)):
            ward = rng.choice(wards)
            at = t + timedelta(seconds=rng.randrange(600))
            if at >= truth.end:
                continue
            subject = rng.choice(subjects).format(w=ward)
            text = " ".join(
                f"{rng.choice(R_CUES)} {subject} {rng.choice(claims)} {rng.choice(covers)}. "
                f"{rng.choice(R_PUSH)}".split()
            )
            hits: tuple[RuleHit, ...] = ()
            if rng.random() < 0.5:
                hits = (RuleHit("sim-rumour", {"kind": "rumour", "severity": "low"}),)
            pid = g.post(at, ward, text, f"claim_{family}", g.author("district", 5000), hits=hits)
            posts.add(pid)
            for _ in range(_poisson(rng, 0.5)):
                stance = rng.choice(("support", "deny", "query", "comment"))
                reply_at = at + timedelta(minutes=rng.randrange(1, 60))
                if reply_at < truth.end:
                    posts.add(
                        g.post(reply_at, None, rng.choice(R_REPLIES[stance]),
                               f"claim_reply_{stance}", g.author("district", 5000), reply_to=pid)
                    )  # fmt: skip
        t += timedelta(minutes=10)
    story = Story(f"rumour:{family}", "rumour", onset, frozenset(posts), wards)
    return _replace(truth, stories=(*truth.stories, story))


def _misread(g: _Gen, pid: str, share: float) -> None:
    """A classifier that reads `share` of a wave as hostile (it sees 'vermin', 'send them
    back', fear of abuse) flags it so, whatever the keyword lexicon scored."""
    item, kind = g.out[-1]
    assert item.post.id == pid
    if g.rng.random() < share and "hostile" not in item.flags:
        scores = dict(item.scores)
        scores["hostile"] = 0.8
        flags = tuple(sorted({*item.flags, "hostile"}))
        g.out[-1] = (Processed(item.post, scores, item.embedding, flags, item.hits), kind)


def _wave(g: _Gen, truth: Truth, kind: str, start: datetime) -> Truth:
    """About three hours of many people responding: 40 % read as hostile by the classifier."""
    rng, ward = g.rng, g.spec.wave_ward
    texts = SOLIDARITY if kind == "solidarity" else COUNTER_WAVE
    posts: set[str] = set()
    end = start + timedelta(hours=3)
    t = start
    while t < end and t < truth.end:
        for _ in range(_poisson(rng, 8)):  # about 50 an hour
            at = t + timedelta(seconds=rng.randrange(600))
            text = rng.choice(texts).format(w=ward, w0=ward.replace(" ", ""))
            pid = g.post(at, ward if rng.random() < 0.8 else None, text, kind,
                         g.author("district", 5000))  # fmt: skip
            _misread(g, pid, 0.4)
            posts.add(pid)
        t += timedelta(minutes=10)
    wave = Wave(kind, ward, start, end, frozenset(posts))
    return _replace(truth, waves=(*truth.waves, wave))


def _chatter_burst(g: _Gen, truth: Truth) -> Truth:
    """An hour or two of everyone talking about one everyday thing; the rumour head scores a
    third of it as claim-like."""
    rng = g.rng
    ward = rng.choice(WARDS)[0]
    span = (truth.end - truth.start) / HOUR
    start = truth.start + timedelta(hours=rng.randrange(8, max(9, int(span) - 4)))
    firsts, seconds = rng.choice(BURSTS)
    posts: set[str] = set()
    end = start + timedelta(hours=rng.choice((1, 2)))
    t = start
    while t < end and t < truth.end:
        for _ in range(_poisson(rng, 6)):
            at = t + timedelta(seconds=rng.randrange(600))
            text = f"{rng.choice(firsts)} {rng.choice(seconds)}".format(w=ward)
            pid = g.post(at, ward if rng.random() < 0.8 else None, text, "chatter_burst",
                         g.author(ward, 400))  # fmt: skip
            item, kind = g.out[-1]
            if rng.random() < 0.33:
                scores = dict(item.scores)
                scores["rumour"] = max(scores.get("rumour", 0.0), 0.7)
                flags = tuple(sorted({*item.flags, "rumour"}))
                g.out[-1] = (Processed(item.post, scores, item.embedding, flags, item.hits), kind)
            posts.add(pid)
        t += timedelta(minutes=10)
    wave = Wave("chatter", ward, start, end, frozenset(posts))
    return _replace(truth, waves=(*truth.waves, wave))


def _replace(truth: Truth, **kw: object) -> Truth:
    from dataclasses import replace

    return replace(truth, **kw)  # type: ignore[arg-type]
