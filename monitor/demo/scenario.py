"""Generate the bundled demo: five fictional days of public posts across Bradford district.

Everything here is made up and every line says so (`"synthetic": true`). The week holds:

* ordinary local chatter with a daily rhythm (quiet nights, busy evenings), ~5% not in English,
  neutral mentions of communities and counter-speech that a good system must not flag;
* a false rumour that starts in Toller on Tuesday at ~10:00 and spreads for ~36 hours to
  neighbouring wards through paraphrases, reposts, quotes and replies of every stance;
* a #MakeSureItAddsUp counter message from the (fictional) council account on Wednesday at
  ~15:00, after which the rumour slows;
* a tension episode after a car is set alight outside a community centre in Little Horton on
  Thursday (Bonfire Night) evening: anger, retaliation talk, mild hostility, a call to gather,
  then appeals for calm; it subsides on Friday;
* a few local-news RSS items in HTML and one post carrying an HTML/script payload.

The output is the import format (JSONL, one post a line) and a ground-truth JSON file that
tags every post, so later stages can score detection delay and false alarms. Generation is
pure and seeded: `python -m monitor.demo.scenario` rewrites the committed files byte for byte,
and `--check` fails when they have drifted from the generator.

Reposts carry the reposted post's text, as an importer that flattens reposts would see it,
with `repost_of` linking the original; their ids are the platform's repost record ids.
"""

from __future__ import annotations

import argparse
import functools
import json
import random
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

from monitor.demo import phrases as ph
from monitor.demo import storylines as story
from monitor.demo.week import (
    BLUESKY_SOURCE,
    END,
    GATHERING_TIME,
    MASTODON_SOURCE,
    NEWS_SOURCE,
    ORG_ACCOUNTS,
    RUMOUR_ORIGIN,
    START,
    TENSION_WARD,
    DemoPost,
    Week,
    make_crowd,
)

SEED = 20261102
DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "demo"
POSTS_FILE = "bradford-scenario.jsonl"
TRUTH_FILE = "bradford-scenario.truth.json"

TAGS = {
    "chatter": "ordinary local talk, not part of any episode; must not raise an alert",
    "identity_neutral": "chatter that names a community neutrally or as counter-speech; "
    "must not be flagged",
    "news": "an item from the fictional local news feed (RSS, HTML)",
    "payload": "chatter whose text carries an HTML/script payload, to test escaping",
    "rumour": "part of the rumour's cascade (claim, repost, quote or reply)",
    "rumour_support": "passes the claim on or endorses it",
    "rumour_deny": "says the claim is false",
    "rumour_query": "asks whether the claim is true",
    "rumour_comment": "comments on the claim without taking a side",
    "counter": "the council's #MakeSureItAddsUp message, its shares and reports of it",
    "tension": "part of the tension episode (report, anger, threat, hostility, gathering)",
    "threat": "retaliation talk within the tension episode",
    "hostile": "mild, generic hostility towards a group (no slurs)",
    "call_to_gather": "a call to gather at a place and time, or a repost of one",
    "calming": "appeals for calm and counter-speech after the incident; must not raise tension",
}


def _record(post: DemoPost) -> dict[str, Any]:
    account = post.account
    source = {"bluesky": BLUESKY_SOURCE, "mastodon": MASTODON_SOURCE, "rss": NEWS_SOURCE}
    out: dict[str, Any] = {
        "platform": account.platform,
        "id": post.native_id,
        "text": post.text,
        "created_at": post.created_at.isoformat(),
        "author": account.author,
    }
    optional = {
        "url": post.url,
        "lang": post.lang,
        "reply_to": post.reply_to,
        "quote_of": post.quote_of,
        "repost_of": post.repost_of,
    }
    out.update({k: v for k, v in optional.items() if v is not None})
    out.update({"likes": post.likes, "reposts": post.reposts, "replies": post.replies})
    if post.html:
        out["html"] = True
    out["source"] = source[account.platform]
    out["synthetic"] = True
    return out


@dataclass(slots=True)
class Scenario:
    """The generated week: import records in time order, and the ground truth about them."""

    records: list[dict[str, Any]]
    truth: dict[str, Any]
    tags: dict[str, tuple[str, ...]] = field(default_factory=dict)  # post id -> tags


def _order(post: DemoPost) -> tuple[datetime, str]:
    """Time order, ties broken by id: the order of the JSONL file and of every id list."""
    return post.created_at, post.id


def _iso(when: datetime) -> str:
    return when.isoformat()


def _first_seen(posts: Sequence[DemoPost]) -> dict[str, str]:
    seen: dict[str, datetime] = {}
    for post in sorted(posts, key=_order):
        if post.ward and post.ward not in seen:
            seen[post.ward] = post.created_at
    return {ward: _iso(when) for ward, when in seen.items()}


def generate(seed: int = SEED) -> Scenario:
    """The whole week, from `seed` alone: no clock, no network, no files read."""
    week = Week(random.Random(f"{seed}:ids"))
    crowd = make_crowd(random.Random(f"{seed}:crowd"))
    story.chatter(week, crowd, random.Random(f"{seed}:chatter"))
    payload = story.payload(week, crowd, random.Random(f"{seed}:payload"))
    story.news(week)
    rumour = story.rumour(week, crowd, random.Random(f"{seed}:rumour"))
    counter, counter_shares = story.counter(week, crowd, random.Random(f"{seed}:counter"))
    episode, calming = story.tension(week, crowd, random.Random(f"{seed}:tension"))
    posts = sorted(week.posts, key=_order)
    story.engagement(posts, random.Random(f"{seed}:engagement"))

    news = [p for p in posts if p.account.platform == "rss"]
    tension_posts = sorted([*episode, *(p for p in news if "tension" in p.tags)], key=_order)
    calming_posts = sorted([*calming, *(p for p in news if "calming" in p.tags)], key=_order)
    rumour_sorted = sorted(rumour, key=_order)
    by_tag = Counter(tag for p in posts for tag in p.tags)
    truth: dict[str, Any] = {
        "synthetic": True,
        "description": "Fictional demo week in Bradford district. No real posts, people or "
        "incidents. Times are UTC (= Europe/London in November).",
        "seed": seed,
        "start": _iso(START),
        "end": _iso(END),
        "counts": {
            "posts": len(posts),
            "by_tag": dict(sorted(by_tag.items())),
            "by_platform": dict(sorted(Counter(p.account.platform for p in posts).items())),
            "by_lang": dict(sorted(Counter(p.lang or "unset" for p in posts).items())),
            "distinct_authors": len({p.account.author for p in posts}),
        },
        "rumour": {
            "claim": ph.RUMOUR_CLAIM,
            "onset": _iso(rumour_sorted[0].created_at),
            "seed_post_id": rumour_sorted[0].id,
            "last_seen": _iso(rumour_sorted[-1].created_at),
            "origin_ward": RUMOUR_ORIGIN,
            "wards_reached": list(_first_seen(rumour)),
            "first_seen_by_ward": _first_seen(rumour),
            "post_ids": [p.id for p in rumour_sorted],
        },
        "counter": {
            "post_id": counter.id,
            "time": _iso(counter.created_at),
            "author": counter.account.author,
            "share_ids": [p.id for p in sorted(counter_shares, key=_order)],
            "news_ids": [p.id for p in news if "counter" in p.tags],
        },
        "tension": {
            "ward": TENSION_WARD,
            "incident": "a car set alight outside a community centre on Little Horton Lane",
            "onset": _iso(tension_posts[0].created_at),
            "end": _iso(tension_posts[-1].created_at),
            "post_ids": [p.id for p in tension_posts],
            "call_to_gather_ids": [
                p.id for p in sorted((p for p in episode if "call_to_gather" in p.tags), key=_order)
            ],
            "gathering": {
                "place": "Centenary Square",
                "ward": "City",
                "time": _iso(GATHERING_TIME),
            },
            "calming_ids": [p.id for p in calming_posts],
            "calming_end": _iso(calming_posts[-1].created_at),
        },
        "payload_post_id": payload.id,
        "org_accounts": ORG_ACCOUNTS,
        "tag_descriptions": TAGS,
        "posts": {p.id: {"tags": list(p.tags), "ward": p.ward} for p in posts},
    }
    return Scenario(
        records=[_record(p) for p in posts], truth=truth, tags={p.id: p.tags for p in posts}
    )


# --- files ---------------------------------------------------------------------------------


def render_posts(records: Iterable[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def render_truth(truth: dict[str, Any]) -> str:
    """Indented JSON, but one line per post so that diffs of the file stay readable."""
    head = {k: v for k, v in truth.items() if k != "posts"}
    body = json.dumps(head, ensure_ascii=False, indent=2)
    lines = [
        f"    {json.dumps(pid)}: {json.dumps(info, ensure_ascii=False)}"
        for pid, info in truth["posts"].items()
    ]
    return body[:-2] + ',\n  "posts": {\n' + ",\n".join(lines) + "\n  }\n}\n"


@functools.lru_cache(maxsize=2)  # deterministic, so one generation serves a whole process
def rendered(seed: int = SEED) -> Mapping[str, str]:
    """File name -> content, exactly as committed."""
    scenario = generate(seed)
    files = {POSTS_FILE: render_posts(scenario.records), TRUTH_FILE: render_truth(scenario.truth)}
    return MappingProxyType(files)


def write(out_dir: Path = DATA_DIR, seed: int = SEED) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, content in rendered(seed).items():
        path = out_dir / name
        path.write_text(content, encoding="utf-8")
        paths.append(path)
    return paths


def drifted(out_dir: Path = DATA_DIR, seed: int = SEED) -> list[str]:
    """Names of the files under `out_dir` that differ from a fresh generation (or are missing)."""
    out = []
    for name, content in rendered(seed).items():
        path = out_dir / name
        if not path.is_file() or path.read_text(encoding="utf-8") != content:
            out.append(name)
    return out


def load_truth(path: Path = DATA_DIR / TRUTH_FILE) -> dict[str, Any]:
    with path.open(encoding="utf-8") as fh:
        truth: dict[str, Any] = json.load(fh)
    return truth


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m monitor.demo.scenario", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DATA_DIR,
        help="folder to write (default: the package's data/demo)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; fail if the files differ from a fresh generation",
    )
    args = parser.parse_args(argv)
    if args.check:
        stale = drifted(args.out)
        for name in stale:
            print(
                f"{args.out / name}: differs from a fresh generation; "
                "run python -m monitor.demo.scenario",
                file=sys.stderr,
            )
        return 1 if stale else 0
    for path in write(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
