"""The directions of the encoder's pools that PHEME's text normalisation moves (issue 18).

The rumour head learns from PHEME, whose source tweets come normalised: no punctuation,
handles, links or '#', and only ASCII letters and digits. In service it reads posts as they
were written. That difference alone moves the head: on the 207 PHEME rumours whose raw text
RumourEval-2017 keeps, the head of the earlier recipe flagged 81% of the normalised text and
64% of the raw (leave-one-event-out, logits 0.63 lower on the raw text). A head that is blind
to the few directions along which normalisation moves a post scores a post the same whichever
way it is written.

The directions come from pairs of texts with no rumour label: every RumourEval-2017 post
(replies and sources, as written) against its PHEME-style normalisation. Each pair belongs to
the PHEME event of its thread, so that a leave-one-event-out fold reads no pair of the event
it holds out.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from monitor.classify import data as datasets
from monitor.classify.deobfuscate import TRAINING_LEVEL, cache_texts
from monitor.classify.features import FeatureCache, select

FloatArray = npt.NDArray[np.float32]

_LINK = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_HANDLE = re.compile(r"@\w+")
_NOT_ALNUM = re.compile(r"[^0-9A-Za-z]+")
# Pairs whose thread falls on no PHEME event's days: kept in every fold.
NO_EVENT = "-"


def pheme_normalise(text: str) -> str:
    """A post as PHEME's source tweets are written: links and handles dropped, then every run
    of characters other than ASCII letters and digits (punctuation, '#', '_', accents, emoji)
    a single space. Matches PHEME's own text for 193 of the 207 tweets whose raw text
    RumourEval keeps (the rest are PHEME's placeholders for withheld tweets, and a few
    characters it keeps)."""
    text = _LINK.sub(" ", text)
    text = _HANDLE.sub(" ", text)
    return _NOT_ALNUM.sub(" ", text).strip()


@dataclass(frozen=True)
class NormalisationPairs:
    """Pooled features of raw posts minus those of their normalised twins, one row a post,
    and the PHEME event of each post's thread."""

    differences: FloatArray
    events: tuple[str, ...]
    texts_sha256: str = ""  # of the posts as written, for the manifest's data_sha256

    def excluding(self, event: str) -> FloatArray:
        """The differences of every pair outside `event` (a held-out fold's event)."""
        keep = np.array([e != event for e in self.events], dtype=bool)
        out: FloatArray = self.differences[keep]
        return out


def normalisation_pairs(
    cache: FeatureCache, layers: Sequence[int], data_dir: Path | None
) -> NormalisationPairs:
    """Every RumourEval-2017 post (both splits), its pools as written against its pools
    normalised PHEME's way, read the way serving encodes a post (`cache_texts`)."""
    rows: list[FloatArray] = []
    events: list[str] = []
    digest = hashlib.sha256()
    for split in ("traindev", "test"):
        posts = datasets.rumoureval(split, data_dir)
        for text in posts.texts:
            digest.update(f"{text}\n".encode())
        raw = select(cache.layers(posts.name, cache_texts(posts.texts, TRAINING_LEVEL)), layers)
        plain = [pheme_normalise(t) for t in posts.texts]
        norm = select(
            cache.layers(f"{posts.name}-pheme-style", cache_texts(plain, TRAINING_LEVEL)), layers
        )
        rows.append((raw - norm).astype(np.float32))
        events.extend(_event_of(thread) for thread in posts.groups)
    return NormalisationPairs(np.vstack(rows), tuple(events), digest.hexdigest())


def _event_of(thread_id: str) -> str:
    try:
        return datasets.pheme_event(int(thread_id))
    except ValueError:
        return NO_EVENT


def invariant_basis(differences: FloatArray, scale: FloatArray, k: int) -> npt.NDArray[np.float64]:
    """(d, k) orthonormal directions, in the standardised columns (`differences / scale`),
    along which normalisation moves posts the most: the top right singular vectors of the
    uncentred differences, so the mean shift is among them. Their projector does not depend
    on the vectors' signs, so the fit it feeds is deterministic."""
    if len(differences) < k:
        raise ValueError(f"{k} invariant directions need at least {k} normalisation pairs")
    d = differences.astype(np.float64) / scale.astype(np.float64)
    _, vectors = np.linalg.eigh(d.T @ d)
    out: npt.NDArray[np.float64] = vectors[:, ::-1][:, :k]
    return out


def raw_twins(data_dir: Path | None) -> tuple[datasets.Labelled, datasets.Labelled]:
    """The PHEME source tweets whose raw text RumourEval-2017 keeps (its threads' sources,
    both splits): as written, and as PHEME has them (normalised), each labelled as PHEME
    labels it and grouped by its event. All are rumours: RumourEval's threads are PHEME's."""
    root = data_dir or datasets.default_data_dir()
    pheme: dict[str, tuple[str, int]] = {}
    with (root / "labelled" / "pheme" / "pheme9-sources.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            pheme[row["tweetID"]] = (row["text"].strip(), int(row["rumour"]))
    written: list[str] = []
    normalised: list[str] = []
    labels: list[int] = []
    events: list[str] = []
    for split in ("traindev", "test"):
        folder = root / "labelled" / "rumoureval2017" / split
        posts = json.loads((folder / "posts.json").read_text(encoding="utf-8"))
        threads = (folder / "thread_id.txt").read_text(encoding="utf-8").split()
        for thread in dict.fromkeys(threads):
            if thread in pheme and thread in posts:
                written.append(posts[thread]["text"])
                normalised.append(pheme[thread][0])
                labels.append(pheme[thread][1])
                events.append(_event_of(thread))
    return (
        datasets.Labelled("pheme-raw-twins", written, labels, events),
        datasets.Labelled("pheme", normalised, list(labels), list(events)),
    )
