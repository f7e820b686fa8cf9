"""Rumour clustering throughput with 10,000 live clusters, and its memory.

Posts go through the rumour board exactly as the signals stage sends them (batches of 64 by
default, the pipeline's batch size): SimHash of the text, links, the registered-claim check,
the centroid search, cluster stats, spreading checks and merging. The stream is a mix like a
busy feed: most posts are everyday chatter that joins nothing, some repeat a live claim in
other words, some are copies, some start new clusters. Texts are made of a fictional
vocabulary; embeddings are 384-d unit vectors drawn around per-claim topic directions, with
the pairwise similarity real sentence embeddings have.

Baseline, in the same run on the same posts: the same board with the naive index, one
`numpy.dot` per live cluster in a Python loop (what a first implementation would do).

    .venv/bin/python benchmarks/clustering.py [--clusters 10000] [--posts 20000]
        [--baseline-posts 1000] [--batch 64] [--seed 7]

Aim (issue #6): keep up with the stream — a district's thousands of posts an hour are ~1 post/s;
the pipeline's classifier runs at 100-7,000 posts/s, so clustering should not be the slowest
stage.
"""

from __future__ import annotations

import argparse
import copy
import gc
import random
import resource
import sys
import time
import tracemalloc
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.config import Settings  # noqa: E402
from monitor.signals.clustering import CentroidIndex, Index, NaiveIndex  # noqa: E402
from monitor.signals.config import SignalsConfig  # noqa: E402
from monitor.signals.hashing import simhash  # noqa: E402
from monitor.signals.rumours import RumourBoard, RumourPost  # noqa: E402

DIM = 384
T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
CLAIM = {"rumour": 0.9, "stance_support": 0.6, "stance_comment": 0.2}
CHATTER = {"rumour": 0.05, "stance_comment": 0.7, "stance_support": 0.1}


class Stream:
    """Deterministic fictional posts around `clusters` claim topics."""

    def __init__(self, clusters: int, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.py = random.Random(seed)
        common = self._unit(self.rng.standard_normal(DIM))
        # Topic directions share a common component, so unrelated texts sit near 0.2 cosine,
        # as sentence embeddings do, rather than at 0.
        raw = self.rng.standard_normal((clusters, DIM)).astype(np.float32)
        raw /= np.linalg.norm(raw, axis=1, keepdims=True)
        self.topics = raw * 0.9 + common * 0.45
        self.topics /= np.linalg.norm(self.topics, axis=1, keepdims=True)
        self.vocab = [self._word() for _ in range(6000)]
        self.topic_words = [self.py.sample(self.vocab, 12) for _ in range(clusters)]
        self.n = 0
        self.common = common

    @staticmethod
    def _unit(v: np.ndarray) -> np.ndarray:
        return (v / np.linalg.norm(v)).astype(np.float32)

    def _word(self) -> str:
        return "".join(
            self.py.choice("abcdefghijklmnoprstuvwy") for _ in range(self.py.randint(3, 9))
        )

    def _post(
        self, text: str, vec: np.ndarray, scores: dict[str, float], at: datetime
    ) -> RumourPost:
        self.n += 1
        return RumourPost(
            post_id=f"bench:{self.n}",
            at=at,
            text=text,
            author_ref=f"fictional-{self.py.randrange(50_000)}",
            embedding=self._unit(vec),
            simhash=None,  # computed in the timed loop, as the engine does
            links=(),
            claim_like=scores is CLAIM,
            scores=scores,
            place=None,
        )

    def claim(self, topic: int, at: datetime, noise: float = 0.25) -> RumourPost:
        words = self.topic_words[topic][:]
        self.py.shuffle(words)
        words = words[:9] + self.py.sample(self.vocab, 6)
        vec = (
            self.topics[topic]
            + self.rng.standard_normal(DIM).astype(np.float32) * noise / np.sqrt(DIM) * 3
        )
        return self._post(" ".join(words), vec, CLAIM, at)

    def new_claim(self, at: datetime) -> RumourPost:
        """A claim about something no live cluster is about."""
        raw = self.rng.standard_normal(DIM).astype(np.float32)
        topic = self._unit(self._unit(raw) * 0.9 + self.common * 0.45)
        return self._post(" ".join(self.py.sample(self.vocab, 15)), topic, CLAIM, at)

    def chatter(self, at: datetime) -> RumourPost:
        vec = self.common * 0.45 + self.rng.standard_normal(DIM).astype(np.float32) / np.sqrt(DIM)
        return self._post(" ".join(self.py.sample(self.vocab, 16)), vec, CHATTER, at)

    def mixed(self, n: int, start: datetime, live: int) -> list[RumourPost]:
        """60 % chatter, 30 % a live claim again, 5 % copies, 5 % new claims."""
        out: list[RumourPost] = []
        for i in range(n):
            at = start + timedelta(seconds=i)
            r = self.py.random()
            if r < 0.6:
                out.append(self.chatter(at))
            elif r < 0.9:
                out.append(self.claim(self.py.randrange(live), at))
            elif r < 0.95 and out:
                self.n += 1
                out.append(_renamed(self.py.choice(out), f"bench:{self.n}", at))
            else:
                out.append(self.new_claim(at))
        return out


def _as_dict(p: RumourPost) -> dict[str, object]:
    return {s: getattr(p, s) for s in RumourPost.__slots__}


def _renamed(p: RumourPost, post_id: str, at: datetime) -> RumourPost:
    d = _as_dict(p)
    d["post_id"], d["at"] = post_id, at
    return RumourPost(**d)  # type: ignore[arg-type]


def with_hashes(posts: Sequence[RumourPost]) -> list[RumourPost]:
    out = []
    for p in posts:
        d = _as_dict(p)
        d["simhash"] = simhash(p.text)
        out.append(RumourPost(**d))  # type: ignore[arg-type]
    return out


def build(index: Index, stream: Stream, clusters: int, batch: int) -> tuple[RumourBoard, float]:
    """A board with `clusters` live clusters: three claim posts each."""
    cfg = SignalsConfig.from_settings(Settings()).rumours
    board = RumourBoard(cfg, dim=DIM, index=index)
    posts = []
    for k in range(3):
        for topic in range(clusters):
            posts.append(stream.claim(topic, T0 + timedelta(seconds=k * clusters + topic), 0.15))
    started = time.perf_counter()
    for i in range(0, len(posts), 512):
        chunk = with_hashes(posts[i : i + 512])
        board.observe(chunk, chunk[-1].at)
    return board, time.perf_counter() - started


def run(board: RumourBoard, posts: Sequence[RumourPost], batch: int) -> tuple[float, int]:
    """Seconds to take every post, and how many joined a cluster."""
    joined = 0
    started = time.perf_counter()
    for i in range(0, len(posts), batch):
        chunk = with_hashes(posts[i : i + batch])  # hashing is part of the cost
        joined += sum(m.confirmed for m in board.observe(chunk, chunk[-1].at).memberships)
    return time.perf_counter() - started, joined


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clusters", type=int, default=10_000)
    parser.add_argument("--posts", type=int, default=20_000)
    parser.add_argument("--baseline-posts", type=int, default=1_000)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    stream = Stream(args.clusters, args.seed)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    board, build_s = build(CentroidIndex(DIM), stream, args.clusters, args.batch)
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    live = len(board.rumours)
    posts = stream.mixed(args.posts, T0 + timedelta(hours=1), args.clusters)

    # The baseline starts from the very same clusters: a copy of the board whose index is the
    # naive loop over the same centroids, fed the first posts of the same stream.
    naive_board = copy.deepcopy(board)
    naive = NaiveIndex(DIM)
    matrix_index = board.clusterer.index
    assert isinstance(matrix_index, CentroidIndex)
    for cid in list(naive_board.rumours):
        vec = matrix_index.vector(cid)
        if vec is not None:
            naive.set(cid, vec)
    naive_board.clusterer.index = naive
    naive_s, _ = run(naive_board, posts[: args.baseline_posts], args.batch)
    del naive_board

    fast_s, joined = run(board, posts, args.batch)
    fast_rate = args.posts / fast_s
    naive_rate = args.baseline_posts / naive_s
    index = board.clusterer.index
    matrix = index.nbytes if isinstance(index, CentroidIndex) else 0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"live clusters: {live:,} (after the stream: {len(board.rumours):,}); batch {args.batch}")
    print(f"{'index':<34}{'posts':>8}{'seconds':>10}{'posts/s':>12}")
    print(f"{'centroid matrix (numpy)':<34}{args.posts:>8}{fast_s:>10.2f}{fast_rate:>12,.0f}")
    naive_row = f"{'naive: per-cluster Python loop':<34}{args.baseline_posts:>8}"
    print(f"{naive_row}{naive_s:>10.2f}{naive_rate:>12,.0f}")
    print(f"speed-up: {fast_rate / naive_rate:.0f}×")
    print(f"posts that joined or started a cluster: {joined:,} of {args.posts:,}")
    print(
        f"memory held by the board with {live:,} clusters: {held / 2**20:.1f} MiB "
        f"({held / live / 1024:.1f} KiB per cluster; centroid matrix {matrix / 2**20:.1f} MiB); "
        f"process peak RSS {rss:.0f} MiB"
    )
    print(f"building the {live:,} clusters ({3 * live:,} posts in batches of 512): {build_s:.1f} s")


if __name__ == "__main__":
    main()
