"""Deleting posts' rows from the on-disk encoding cache (`classifier_encoding_cache`), as a
platform deletion, `monitor erase` and the retention purge do (`EncodingEraser.forget`).

A cache file in a temporary folder holds `--rows` rows (the shipped model's width: 6 feature
pools of 384 floats and a 384-float embedding, about 13 KB a row) written by two encoder
identities; then the rows of `--posts` of those texts are deleted three ways:
- batch: one `forget` call for all of them (what the retention purge does per 1,000 posts);
- batch + checkpoint: the same, then the write-ahead log copied in and truncated (what
  `monitor erase` and the purges' last step do);
- one by one: a `forget` call per post (as a stream of single deletions would), on a sample
  of `--single` posts, scaled to `--posts`.
Each is checked: the deleted texts' rows are gone and a sample of the others is still there.
It prints each way's wall time for `--posts` posts. Fictional texts only.

    .venv/bin/python benchmarks/encoding_erasure.py [--rows 20000] [--posts 1000] [--single 100]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

POOLS = 6


def build(folder: Path, texts: list[str]) -> None:
    from monitor.classify.disk_cache import DiskCacheConfig, DiskEncodingCache
    from monitor.classify.encoder import EMBEDDING_DIM, preprocess

    rng = np.random.default_rng(0)
    config = DiskCacheConfig(folder, len(texts) * 2, 30)
    for identity in ("graph=aaaa", "graph=bbbb"):
        cache = DiskEncodingCache(
            config.path,
            identity,
            width=POOLS * EMBEDDING_DIM,
            max_rows=config.max_rows,
            max_age_days=30,
        )
        half = texts[: len(texts) // 2] if identity.endswith("a") else texts[len(texts) // 2 :]
        for start in range(0, len(half), 2000):
            part = [preprocess(t) for t in half[start : start + 2000]]
            cache.put_many(
                part,
                rng.standard_normal((len(part), POOLS * EMBEDDING_DIM)).astype(np.float32),
                rng.standard_normal((len(part), EMBEDDING_DIM)).astype(np.float32),
            )
        cache.close()


def present(folder: Path, texts: list[str]) -> int:
    """How many of these texts still have a row, under either identity."""
    from monitor.classify.disk_cache import FILE_NAME, row_key
    from monitor.classify.encoder import preprocess

    keys = [row_key(i, preprocess(t)) for i in ("graph=aaaa", "graph=bbbb") for t in texts]
    with sqlite3.connect(folder / FILE_NAME) as conn:
        return sum(
            conn.execute("SELECT 1 FROM encodings WHERE key = ?", (k,)).fetchone() is not None
            for k in keys
        )


def run(rows: int, posts: int, single: int) -> dict[str, object]:
    from monitor.classify.disk_cache import DiskCacheConfig, EncodingEraser

    texts = [
        f"(fictional) post {i}: bins on Idle Road street {i % 97} not collected"
        for i in range(rows)
    ]
    out: dict[str, object] = {"rows": rows, "posts": posts}
    for how in ("batch", "batch + checkpoint", "one by one"):
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            build(folder, texts)
            eraser = EncodingEraser(DiskCacheConfig(folder, rows * 2, 30))
            gone = texts[:: max(1, rows // posts)][:posts]
            started = time.perf_counter()
            if how == "one by one":
                for t in gone[:single]:
                    eraser.forget([t])
                seconds = (time.perf_counter() - started) * posts / single
                gone = gone[:single]
            else:
                done = eraser.forget(gone, checkpoint=how.endswith("checkpoint"))
                seconds = time.perf_counter() - started
                assert done.rows == len(gone), done
            assert present(folder, gone) == 0
            others = [t for t in texts[1:400:7] if t not in set(gone)]
            assert present(folder, others) == len(others)
            out[how] = round(seconds, 3)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rows", type=int, default=20_000)
    ap.add_argument("--posts", type=int, default=1000)
    ap.add_argument("--single", type=int, default=100)
    args = ap.parse_args()
    print(json.dumps(run(args.rows, args.posts, args.single), indent=2))


if __name__ == "__main__":
    main()
