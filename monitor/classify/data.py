"""Readers for the labelled data in ../shared/data/labelled (never copied into the repository).

Each reader returns plain lists and says clearly what is missing. Pitfalls handled here, so that
training and evaluation read the files the same way:
- TweetEval: one post a line, and some posts are empty: split on newline, drop only the final
  empty element, and check the text and label counts agree.
- PHEME: the file has no event column; events are recovered from the tweet id's timestamp
  (Twitter ids carry their creation time), which puts each event in its own days.
- RumourEval-2017 (processed copy): stance labels are support 0, query 1, deny 2, comment 3.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

STANCES: tuple[str, ...] = ("support", "deny", "query", "comment")
# The processed RumourEval copy's numbering (its README and stanceCategory.json agree).
_RUMOUREVAL_STANCE = {0: "support", 1: "query", 2: "deny", 3: "comment"}

# PHEME-9 events by the UTC days their source tweets were posted (Sydney siege removed).
PHEME_EVENTS: tuple[tuple[str, date, date], ...] = (
    ("ferguson", date(2014, 8, 9), date(2014, 8, 16)),
    ("ebola-essien", date(2014, 10, 12), date(2014, 10, 13)),
    ("ottawashooting", date(2014, 10, 22), date(2014, 10, 23)),
    ("prince-toronto", date(2014, 11, 3), date(2014, 11, 5)),
    ("gurlitt", date(2014, 11, 20), date(2014, 11, 24)),
    ("charliehebdo", date(2015, 1, 7), date(2015, 1, 9)),
    ("putinmissing", date(2015, 3, 13), date(2015, 3, 16)),
    ("germanwings-crash", date(2015, 3, 24), date(2015, 3, 27)),
)
_TWITTER_EPOCH_MS = 1288834974657


class DataMissing(FileNotFoundError):
    """A labelled data file is not where it should be; the message names it."""


def default_data_dir() -> Path:
    """$MONITOR_DATA_DIR, else ../shared/data next to the checkout (as on every dev machine)."""
    env = os.environ.get("MONITOR_DATA_DIR")
    if env:
        return Path(env)
    checkout = Path(__file__).resolve().parents[2]
    return checkout.parent / "shared" / "data"


def _need(path: Path) -> Path:
    if not path.is_file():
        raise DataMissing(f"labelled data not found: {path} (see ../shared/data/README.md)")
    return path


@dataclass(slots=True)
class Labelled:
    """Texts with one label each, plus an optional group per text (event or thread)."""

    name: str
    texts: list[str]
    labels: list[int]
    groups: list[str] = field(default_factory=list)
    label_names: Sequence[str] = ("0", "1")

    def __post_init__(self) -> None:
        if len(self.texts) != len(self.labels):
            raise ValueError(f"{self.name}: {len(self.texts)} texts but {len(self.labels)} labels")


def _lines(path: Path) -> list[str]:
    parts = _need(path).read_text(encoding="utf-8").split("\n")
    if parts and parts[-1] == "":
        parts.pop()  # only the final empty element: empty posts inside are real rows
    return parts


def tweeteval(task: str, split: str, data_dir: Path | None = None) -> Labelled:
    """TweetEval `hate` or `offensive`, split `train`, `val` or `test` (labels 0/1)."""
    folder = (data_dir or default_data_dir()) / "labelled" / "tweeteval" / task
    texts = _lines(folder / f"{split}_text.txt")
    labels = [int(x) for x in _lines(folder / f"{split}_labels.txt")]
    return Labelled(f"tweeteval-{task}-{split}", texts, labels)


def davidson(data_dir: Path | None = None) -> Labelled:
    """Davidson et al. 2017: class 0 hate, 1 offensive, 2 neither."""
    path = _need((data_dir or default_data_dir()) / "labelled" / "davidson" / "labeled_data.csv")
    texts: list[str] = []
    labels: list[int] = []
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            texts.append(row["tweet"])
            labels.append(int(row["class"]))
    return Labelled("davidson", texts, labels, label_names=("hate", "offensive", "neither"))


def tweet_time(tweet_id: int) -> datetime:
    return datetime.fromtimestamp(((tweet_id >> 22) + _TWITTER_EPOCH_MS) / 1000, tz=UTC)


def pheme_event(tweet_id: int) -> str:
    day = tweet_time(tweet_id).date()
    for name, first, last in PHEME_EVENTS:
        if first <= day <= last:
            return name
    raise ValueError(f"PHEME tweet {tweet_id} ({day}) falls in no known event's days")


def pheme(data_dir: Path | None = None) -> Labelled:
    """PHEME-9 source tweets: rumour 1 / non-rumour 0, grouped by event. Text is normalised."""
    path = _need((data_dir or default_data_dir()) / "labelled" / "pheme" / "pheme9-sources.csv")
    texts: list[str] = []
    labels: list[int] = []
    groups: list[str] = []
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            texts.append(row["text"].strip())
            labels.append(int(row["rumour"]))
            groups.append(pheme_event(int(row["tweetID"])))
    return Labelled("pheme", texts, labels, groups, ("non-rumour", "rumour"))


def rumoureval(split: str, data_dir: Path | None = None) -> Labelled:
    """RumourEval-2017 stance of every post (`traindev` or `test`), grouped by thread.

    Labels index STANCES (support, deny, query, comment).
    """
    folder = (data_dir or default_data_dir()) / "labelled" / "rumoureval2017" / split
    posts = json.loads(_need(folder / "posts.json").read_text(encoding="utf-8"))
    trees = json.loads(_need(folder / "structures.json").read_text(encoding="utf-8"))
    thread_of: dict[str, str] = {}
    for thread_id, tree in trees.items():
        stack = [tree]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                for post_id, children in node.items():
                    thread_of[str(post_id)] = str(thread_id)
                    stack.append(children)
    by_id: dict[str, tuple[str, str]] = {}
    for post_id, post in posts.items():
        by_id[str(post_id)] = (thread_of.get(str(post_id), str(post_id)), post["text"])
    ids = _lines(folder / "post_id.txt")
    raw = [int(x) for x in _lines(folder / "post_label.txt")]
    texts: list[str] = []
    groups: list[str] = []
    for post_id in ids:
        if post_id not in by_id:
            raise ValueError(f"rumoureval {split}: post {post_id} has no text in posts.json")
        thread_id, text = by_id[post_id]
        texts.append(text)
        groups.append(thread_id)
    labels = [STANCES.index(_RUMOUREVAL_STANCE[x]) for x in raw]
    return Labelled(f"rumoureval-{split}", texts, labels, groups, STANCES)
