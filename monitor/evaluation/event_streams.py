"""The labelled streams the event-level evaluation replays (`monitor.evaluation.events`):

- generated weeks (`monitor.evaluation.simulate`): each with the water rumour, a tension episode,
  two more concurrent distinct claims, a solidarity wave, a counter-speech wave and chatter
  bursts; two calm weeks with background only; and a quiet week at half volume;
- the PHEME source tweets in `<data>/labelled/pheme/pheme9-sources.csv`, replayed in time
  order (a tweet id's time is `(id >> 22) + 1288834974657` ms since the Unix epoch) and cut
  into events where the stream falls silent for a day. The file has no authors, places or
  claim ids: each post counts as its own author, the place condition is off, the story of
  an event is its rumour posts, and purity is over the veracity classes (non-rumour, true,
  false, unverified);
- the bundled demo week through the real pipeline (ingest, classifier, shipped rules) into a
  scratch SQLite database, with its answer file.
"""

from __future__ import annotations

import csv
import random
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from monitor.classify.keyword import hashed_embedding, keyword_scores
from monitor.config import Settings
from monitor.evaluation.events import Item, Stream, StreamResult
from monitor.evaluation.simulate import ScenarioSpec, Story, generate
from monitor.incidents.config import IncidentsConfig
from monitor.signals.config import SignalsConfig
from monitor.types import Classifier, Post, Processed, as_utc

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

TWITTER_EPOCH_MS = 1288834974657
EVENT_GAP = timedelta(days=1)
PHEME_CLASSES = {("0", "0"): "non-rumour", ("1", "0"): "true", ("1", "1"): "false"}
FAMILIES = ("schools", "bridge", "blackout", "zoo")
WARD_NAMES = ("City", "Manningham", "Toller", "Heaton", "Bradford Moor", "Shipley", "Wibsey")


def tweet_time(tweet_id: int) -> datetime:
    return datetime.fromtimestamp(((tweet_id >> 22) + TWITTER_EPOCH_MS) / 1000, tz=UTC)


def generated_streams(weeks: int = 4) -> list[Stream]:
    """`weeks` busy weeks (seeds 1..weeks), two calm weeks and one quiet week."""
    streams = []
    for seed in range(1, weeks + 1):
        rng = random.Random(seed * 7919)
        a, b = rng.sample(FAMILIES, 2)
        claims = (
            # one claim the same morning as the water rumour, sharing one of its wards
            (a, timedelta(days=2, hours=rng.randrange(9, 13)), ("Toller", rng.choice(WARD_NAMES))),
            (b, timedelta(days=rng.choice((1, 4, 5)), hours=rng.randrange(8, 18)),
             tuple(rng.sample(WARD_NAMES, 2))),
        )  # fmt: skip
        spec = ScenarioSpec(
            seed=seed,
            claims=claims,
            solidarity_at=timedelta(days=4, hours=rng.randrange(7, 12)),
            counter_wave_at=timedelta(days=5, hours=rng.randrange(12, 17)),
            wave_ward=rng.choice(("City", "Shipley", "Keighley Central")),
            chatter_bursts=3,
        )
        items, truth = generate(spec)
        streams.append(
            Stream(f"week {seed}", items, truth.stories, truth.start, truth.end, truth.waves)
        )
    calm = ScenarioSpec(seed=1001, weeks=2, rumour_at=None, tension_at=None, chatter_bursts=4)
    items, truth = generate(calm)
    streams.append(Stream("calm weeks", items, (), truth.start, truth.end, truth.waves))
    quiet = ScenarioSpec(seed=1002, rumour_at=None, tension_at=None, noise=0.5, volume=0.5)
    items, truth = generate(quiet)
    streams.append(Stream("quiet week", items, (), truth.start, truth.end, truth.waves))
    return streams


# --- PHEME -----------------------------------------------------------------------------------


def pheme_streams(path: Path, config: SignalsConfig) -> list[Stream]:
    """The PHEME source tweets as time-ordered event streams (keyword scores and hashed
    embeddings; `with_classifier` swaps in a real classifier's)."""
    rows = []
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            tid = int(row["tweetID"])
            label = PHEME_CLASSES.get((row["rumour"], row["label"]), "unverified")
            if row["rumour"] == "0":
                label = "non-rumour"
            rows.append((tweet_time(tid), tid, row["text"], label))
    rows.sort()
    events: list[list[tuple[datetime, int, str, str]]] = []
    for r in rows:
        if not events or r[0] - events[-1][-1][0] > EVENT_GAP:
            events.append([])
        events[-1].append(r)
    # No places in the file: the place condition of the rumour board is off for these streams.
    cfg = replace(config, rumours=replace(config.rumours, spread_places=0))
    streams = []
    for event in events:
        if len(event) < 20:
            continue
        items = [_pheme_item(at, tid, text) for at, tid, text, _ in event]
        classes = {f"pheme:{tid}": label for _, tid, _, label in event}
        rumour_posts = frozenset(p for p, c in classes.items() if c != "non-rumour")
        first = min((at for at, tid, _, _ in event if f"pheme:{tid}" in rumour_posts), default=None)
        stories = (Story("rumours", "rumour", first, rumour_posts),) if first is not None else ()
        start = event[0][0]
        name = f"pheme {start:%Y-%m-%d} ({len(event)} posts)"
        streams.append(
            Stream(name, items, stories, start, event[-1][0] + timedelta(hours=1), (), cfg,
                   classes, "no authors or places in the file: each post its own author",
                   places=False, rule_alerts=False)
        )  # fmt: skip
    return streams


def _pheme_item(at: datetime, tid: int, text: str) -> Processed:
    post = Post(
        id=f"pheme:{tid}",
        platform="twitter",
        source="pheme",
        text=text,
        language="en",
        created_at=at,
        collected_at=at,
        author_ref=f"pheme-author-of-{tid}",  # unknown: one author per post
    )
    scores = keyword_scores(text)
    flags = tuple(sorted(k for k in ("hostile", "offensive", "rumour") if scores[k] >= 0.5))
    return Processed(post, scores, hashed_embedding(text), flags, ())


# --- a real classifier -----------------------------------------------------------------------


async def with_classifier(
    items: Sequence[Processed], classifier: Classifier, *, scores: bool
) -> list[Processed]:
    """The same posts with the classifier's sentence embeddings (and, with `scores`, its
    scores and flags): the generated weeks keep their scripted scores, so only the embedding
    changes; PHEME takes everything from the classifier."""
    texts = [i.post.text for i in items]
    analyses = []
    for k in range(0, len(texts), 512):
        analyses += await classifier.analyse(texts[k : k + 512])
    out = []
    for item, a in zip(items, analyses, strict=True):
        if scores:
            flags = tuple(
                sorted(k for k, t in classifier.thresholds.items() if a.scores.get(k, 0) >= t)
            )
            out.append(Processed(item.post, a.scores, a.embedding, flags, item.hits))
        else:
            out.append(Processed(item.post, item.scores, a.embedding, item.flags, item.hits))
    return out


# --- the demo week ---------------------------------------------------------------------------


async def demo_stream(
    demo: Path, settings: Settings, classifier: Classifier
) -> tuple[list[Processed], Stream]:
    """Import the demo week through the real pipeline into a scratch database and read back
    the processed posts; the stream's stories come from its answer file."""
    from monitor.evaluation.evaluate import demo_truth
    from monitor.ingest.importer import import_file
    from monitor.runtime.app import open_runtime
    from monitor.store import signals as queries

    with tempfile.TemporaryDirectory() as tmp:
        run_settings = settings.with_overrides(
            database_url=f"sqlite+aiosqlite:///{Path(tmp) / 'events.db'}", alerts_deliver=False
        )
        async with open_runtime(run_settings, classifier=classifier) as rt:
            report = await import_file(demo, rt.pipeline, batch_size=500)
            await rt.pipeline.drain()
            if report.problems:
                raise ValueError(f"demo import reported problems: {report.problems[:3]}")
            async with rt.engine.connect() as conn:
                items = await queries.load_processed(conn)
                opened = await opened_incidents(conn)
            ids = await rt.pipeline.ingestor.ids()  # the store keeps platform ids keyed
    truth, _ = demo_truth(demo.with_suffix(".truth.json"), ids.key)
    stories = []
    if truth.rumour_onset is not None:
        stories.append(
            Story("rumour", "rumour", truth.rumour_onset, truth.rumour_posts, truth.rumour_wards)
        )
    if truth.tension_onset is not None and truth.tension_ward:
        import json

        raw = json.loads(demo.with_suffix(".truth.json").read_text(encoding="utf-8"))
        posts = frozenset(ids.key(p) for p in raw.get("tension", {}).get("post_ids", ()))
        stories.append(
            Story("episode", "episode", truth.tension_onset, posts, (truth.tension_ward,),
                  truth.tension_end)
        )  # fmt: skip
    stream = Stream(
        "demo week", items, tuple(stories), truth.start, truth.end, opened=tuple(opened),
        note="items: incidents the pipeline opened (its rules' alerts and the signals')",
    )  # fmt: skip
    return items, stream


async def opened_incidents(conn: AsyncConnection) -> list[Item]:
    """Incidents the pipeline put before people (an `opened` event), each at the event time
    it opened, with the evidence posts of all its alerts."""
    from sqlalchemy import select

    from monitor.store.tables import alert_posts, incident_alerts, incident_events, incidents

    opened: dict[int, datetime] = {}
    rows = await conn.execute(
        select(incident_events.c.incident_id, incident_events.c.at).where(
            incident_events.c.kind == "opened"
        )
    )
    for incident_id, at in rows.all():
        at = as_utc(at)
        opened[incident_id] = min(opened.get(incident_id, at), at)
    evidence: dict[int, set[str]] = {}
    rows = await conn.execute(
        select(incident_alerts.c.incident_id, alert_posts.c.post_id).join(
            alert_posts, alert_posts.c.alert_id == incident_alerts.c.alert_id
        )
    )
    for incident_id, post_id in rows.all():
        evidence.setdefault(incident_id, set()).add(post_id)
    # An incident merged into another is the same story: its posts count for the target.
    merged = dict(
        (await conn.execute(
            select(incidents.c.id, incidents.c.merged_into).where(
                incidents.c.merged_into.is_not(None)
            )
        )).all()
    )  # fmt: skip
    family = dict((await conn.execute(select(incidents.c.id, incidents.c.family))).all())
    out = []
    for incident_id, at in sorted(opened.items(), key=lambda kv: (kv[1], kv[0])):
        if incident_id in merged:
            continue
        posts = set(evidence.get(incident_id, ()))
        posts |= {
            p for src, dst in merged.items() if dst == incident_id for p in evidence.get(src, ())
        }
        out.append(
            Item(f"incident:{incident_id}", str(family.get(incident_id, "")), at, frozenset(posts))
        )
    return out


# --- all of it -------------------------------------------------------------------------------


async def evaluate_all(
    settings: Settings,
    *,
    encoder: bool = False,
    weeks: int = 4,
    demo: Path | None = None,
    pheme: Path | None = None,
    arrival: str = "batched",
    progress: Callable[[str], None] | None = None,
    baseline: bool = False,
) -> list[StreamResult]:
    """Every stream, scored. `encoder`: the transformer classifier's sentence embeddings
    (and, for the demo and PHEME, its scores) in place of the keyword classifier's.
    `baseline`: also score each stream as the monitor did before (`events.baseline_config`),
    returned after the shipped results, each named "<stream> (baseline)"."""
    from monitor.classify import KeywordClassifier, load_classifier

    say = progress or (lambda _: None)
    classifier: Classifier = (
        load_classifier(settings.with_overrides(classifier="transformer"))
        if encoder
        else KeywordClassifier()
    )
    config = SignalsConfig.from_settings(settings, hashed_embeddings=not encoder)
    gate = IncidentsConfig.from_settings(settings)
    results: list[StreamResult] = []
    try:
        if weeks > 0:
            for stream in generated_streams(weeks):
                if encoder:
                    items = await with_classifier(stream.items, classifier, scores=False)
                    stream = replace(stream, items=items)
                say(f"{stream.name}: {len(stream.items)} posts")
                results += _score(stream, config, gate, arrival, baseline)
        if demo is not None:
            _, stream = await demo_stream(demo, settings, classifier)
            say(f"{stream.name}: {len(stream.items)} posts")
            results += _score(stream, config, gate, arrival, baseline)
        if pheme is not None:
            for stream in pheme_streams(pheme, config):
                if encoder:
                    items = await with_classifier(stream.items, classifier, scores=True)
                    stream = replace(stream, items=items)
                say(f"{stream.name}")
                results += _score(stream, config, gate, arrival, baseline)
    finally:
        await classifier.close()
    return results


def _score(
    stream: Stream, config: SignalsConfig, gate: IncidentsConfig, arrival: str, baseline: bool
) -> list[StreamResult]:
    from monitor.evaluation.events import evaluate_stream

    out = [evaluate_stream(stream, config, arrival, incidents=gate)]
    if baseline:
        base = evaluate_stream(stream, config, arrival, baseline=True, incidents=gate)
        base.name = f"{stream.name} (baseline)"
        out.append(base)
    return out
