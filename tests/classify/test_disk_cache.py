"""The on-disk encoding cache (`classifier_encoding_cache`, monitor.classify.disk_cache).

The first tests use a stand-in encoder (fictional texts, deterministic rows) to check the file's
behaviour: hits, misses on another identity, damage, several writers, the size and age bounds,
no text in clear. The `model` tests check the real encoder's rows come back bitwise and that
`load_classifier` wires the setting.
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from monitor.classify.disk_cache import (
    FILE_NAME,
    CachedEncoder,
    DiskCacheConfig,
    DiskEncodingCache,
    EncodingCacheError,
    EncodingEraser,
    with_disk_cache,
)
from monitor.classify.encoder import EMBEDDING_DIM, Encoded, preprocess

LAYERS = (3, 4)
WIDTH = len(LAYERS) * EMBEDDING_DIM
TEXTS = [f"Fictional: bins not collected on street {i} in Idle" for i in range(40)]


def rows_for(text: str) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic rows of awkward float32 values (subnormals, negatives, many bits)."""
    seed = int.from_bytes(text.encode()[-8:].ljust(8, b"\0"), "little") ^ len(text)
    rng = np.random.default_rng(seed)
    f = rng.standard_normal(WIDTH).astype(np.float32) * np.float32(1e-30)
    e = rng.standard_normal(EMBEDDING_DIM).astype(np.float32)
    return f, e


class StandIn:
    """An encoder with an identity, counting the texts it is asked to encode."""

    device = "cpu"
    layers = LAYERS

    def __init__(self, identity: str = "stand-in graph=aaaa") -> None:
        self.identity = identity
        self.variant = "stand-in"
        self.seen: list[str] = []

    def cache_identity(self) -> str:
        return self.identity

    def encode(self, texts: Sequence[str], *, sort: bool = True, clean: bool = True) -> Encoded:
        prepared = [preprocess(t) if clean else t for t in texts]
        self.seen += prepared
        rows = [rows_for(t) for t in prepared]
        return Encoded(
            np.array([r[0] for r in rows], dtype=np.float32).reshape(len(rows), WIDTH),
            np.array([r[1] for r in rows], dtype=np.float32).reshape(len(rows), EMBEDDING_DIM),
        )


def cached(folder: Path, inner: Any, max_rows: int = 1000, days: float = 30) -> Any:
    return with_disk_cache(inner, DiskCacheConfig(folder, max_rows, days))


def test_a_hit_gives_the_rows_bitwise_without_encoding(tmp_path: Path) -> None:
    first = StandIn()
    cold = cached(tmp_path, first).encode(TEXTS)
    assert len(first.seen) == len(TEXTS)
    second = StandIn()
    warm = cached(tmp_path, second).encode([*TEXTS, "Fictional: a new post"])
    assert second.seen == ["Fictional: a new post"]
    assert warm.features[: len(TEXTS)].tobytes() == cold.features.tobytes()
    assert warm.embeddings[: len(TEXTS)].tobytes() == cold.embeddings.tobytes()
    fresh = StandIn().encode(TEXTS)
    assert warm.features[: len(TEXTS)].tobytes() == fresh.features.tobytes()


def test_another_identity_misses(tmp_path: Path) -> None:
    cached(tmp_path, StandIn("stand-in graph=aaaa")).encode(TEXTS)
    other = StandIn("stand-in graph=bbbb")
    cached(tmp_path, other).encode(TEXTS)
    assert len(other.seen) == len(TEXTS)


def test_the_cache_keeps_no_text_in_clear(tmp_path: Path) -> None:
    cached(tmp_path, StandIn()).encode(["Fictional: Zanzibarquux Road is shut"])
    for path in tmp_path.iterdir():
        assert b"Zanzibarquux" not in path.read_bytes(), path


def test_a_damaged_file_is_a_logged_miss(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / FILE_NAME).write_bytes(b"not a database at all " * 500)
    inner = StandIn()
    with caplog.at_level(logging.WARNING, "monitor.classify.disk_cache"):
        got = cached(tmp_path, inner).encode(TEXTS[:3])
    assert inner.seen == TEXTS[:3]
    assert got.features.tobytes() == StandIn().encode(TEXTS[:3]).features.tobytes()
    assert any("unusable" in r.getMessage() for r in caplog.records), caplog.text


def test_a_torn_row_is_a_miss_and_is_rewritten(tmp_path: Path) -> None:
    cached(tmp_path, StandIn()).encode(TEXTS[:2])
    with sqlite3.connect(tmp_path / FILE_NAME) as conn:
        conn.execute("UPDATE encodings SET features = substr(features, 1, 100)")
    inner = StandIn()
    got = cached(tmp_path, inner).encode(TEXTS[:2])
    assert inner.seen == TEXTS[:2]
    assert got.features.tobytes() == StandIn().encode(TEXTS[:2]).features.tobytes()
    again = StandIn()
    cached(tmp_path, again).encode(TEXTS[:2])
    assert again.seen == []


def _writer(folder: str, start: int) -> None:
    # Each process writes overlapping slices, one row a transaction, to contend for the lock.
    encoder = cached(Path(folder), StandIn())
    for i in range(start, start + 25):
        encoder.encode([TEXTS[i % len(TEXTS)], f"Fictional: writer {start} post {i}"])


def test_concurrent_writers_leave_a_sound_file(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), s)) for s in (0, 7, 14, 21)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    with sqlite3.connect(tmp_path / FILE_NAME) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = conn.execute("SELECT count(*) FROM encodings").fetchone()[0]
    assert rows == len(TEXTS) + 4 * 25
    inner = StandIn()
    every = TEXTS + [
        f"Fictional: writer {s} post {i}" for s in (0, 7, 14, 21) for i in range(s, s + 25)
    ]
    got = cached(tmp_path, inner).encode(every)
    assert inner.seen == []
    assert got.features.tobytes() == StandIn().encode(every).features.tobytes()


def test_the_size_bound_drops_the_least_recently_used(tmp_path: Path) -> None:
    now = [1_000_000.0]
    cache = DiskEncodingCache(
        tmp_path / FILE_NAME, "id", width=WIDTH, max_rows=5, max_age_days=30, clock=lambda: now[0]
    )
    enc = StandIn()
    for t in TEXTS[:5]:
        now[0] += 4000  # past the touch interval, so a read refreshes a row's last use
        out = enc.encode([t], clean=False)
        cache.put_many([t], out.features, out.embeddings)
    now[0] += 4000
    assert set(cache.get_many([TEXTS[0]])) == {TEXTS[0]}  # now the most recently used
    out = enc.encode(TEXTS[5:8], clean=False)
    cache.put_many(TEXTS[5:8], out.features, out.embeddings)
    assert len(cache) == 5
    kept = set(cache.get_many(TEXTS[:8]))
    assert kept == {TEXTS[0], TEXTS[4], TEXTS[5], TEXTS[6], TEXTS[7]}


def test_rows_unused_for_the_retention_period_are_purged(tmp_path: Path) -> None:
    now = [1_000_000.0]
    path = tmp_path / FILE_NAME

    def cache() -> DiskEncodingCache:
        return DiskEncodingCache(
            path, "id", width=WIDTH, max_rows=100, max_age_days=30, clock=lambda: now[0]
        )

    out = StandIn().encode(TEXTS[:2], clean=False)
    old = cache()
    old.put_many(TEXTS[:1], out.features[:1], out.embeddings[:1])
    now[0] += 29 * 86400
    old.put_many(TEXTS[1:2], out.features[1:], out.embeddings[1:])
    old.close()
    now[0] += 2 * 86400  # the first row is 31 days old, the second 2
    assert set(cache().get_many(TEXTS[:2])) == {TEXTS[1]}


# --- deletion, erasure and purge reach the file (EncodingEraser) ------------------------------

# A post as stored: an HTML entity, a handle, a link and a disguised word, so the text the
# classifier encodes differs from it, and differs again when the model deobfuscates.
DELETED = "Fictional &amp; @fern_resident: the v3rm1n from https://example.org/x are on Idle Road"
KEPT = [f"Fictional: Idle Road bins collected on day {i}" for i in range(5)]


def test_forget_deletes_a_posts_rows_under_every_identity_and_keeps_the_rest(
    tmp_path: Path,
) -> None:
    from tests.classify.cache_rows import found, served, store

    plain, deobfuscated = served(DELETED), served(DELETED, deobfuscate=True)
    assert len({DELETED, plain, deobfuscated}) == 3  # the check below needs all three to differ
    kept = [served(t) for t in KEPT]
    store(tmp_path, [plain, *kept], "model one")
    store(tmp_path, [deobfuscated, *kept], "model two (deobfuscating)")

    done = EncodingEraser(DiskCacheConfig(tmp_path, 1000, 30)).forget([DELETED])

    assert done.rows == 2
    assert found(tmp_path, [plain, *kept], "model one") == set(kept)
    assert found(tmp_path, [deobfuscated, *kept], "model two (deobfuscating)") == set(kept)


def test_forget_deletes_the_rows_of_a_posts_sentences(tmp_path: Path) -> None:
    """A model with a sentence rule encodes each sentence of a longer post alone
    (monitor.classify.sentences): erasing the post must reach those rows too, and not a row of
    another post."""
    from monitor.classify.sentences import split_sentences
    from tests.classify.cache_rows import found, served, store

    post = "Fictional: bins left out on Idle Road again. The v3rm1n are back! Report it"
    sentences = split_sentences(post)
    assert len(sentences) == 3
    rows = [served(post)] + [served(s, deobfuscate=d) for s in sentences for d in (False, True)]
    kept = [served(t) for t in KEPT]
    store(tmp_path, [*rows, *kept])

    done = EncodingEraser(DiskCacheConfig(tmp_path, 1000, 30)).forget([post])

    assert done.rows == len(set(rows))
    assert found(tmp_path, [*rows, *kept]) == set(kept)


def test_forget_leaves_no_byte_of_the_row_in_the_file_or_its_wal(tmp_path: Path) -> None:
    cache = DiskEncodingCache(
        tmp_path / FILE_NAME, "id", width=WIDTH, max_rows=100, max_age_days=30
    )
    out = StandIn().encode([DELETED, *KEPT])
    cache.put_many([preprocess(t) for t in [DELETED, *KEPT]], out.features, out.embeddings)
    gone = out.embeddings[0].astype("<f4").tobytes()[:256]
    stays = out.embeddings[1].astype("<f4").tobytes()[:256]

    def on_disk() -> bytes:
        return b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())

    assert gone in on_disk()
    done = EncodingEraser(DiskCacheConfig(tmp_path, 100, 30)).forget([DELETED], checkpoint=True)
    assert done.rows == 1 and done.wal_truncated is True
    assert gone not in on_disk() and stays in on_disk()
    cache.close()


def test_forget_with_purge_stale_drops_rows_past_the_retention_period(tmp_path: Path) -> None:
    from tests.classify.cache_rows import store

    day = 86400.0
    store(tmp_path, ["Fictional: an old post"], at=1_000_000.0)
    store(tmp_path, ["Fictional: a recent post"], at=1_000_000.0 + 29 * day)
    eraser = EncodingEraser(DiskCacheConfig(tmp_path, 1000, 30), clock=lambda: 1e6 + 31 * day)
    assert eraser.forget([]).stale == 0  # nothing asked: nothing done
    done = eraser.forget([], purge_stale=True)
    assert (done.rows, done.stale) == (0, 1)
    with sqlite3.connect(tmp_path / FILE_NAME) as conn:
        assert conn.execute("SELECT count(*) FROM encodings").fetchone() == (1,)


def test_forget_creates_no_file_and_a_damaged_one_is_an_error(tmp_path: Path) -> None:
    eraser = EncodingEraser(DiskCacheConfig(tmp_path, 1000, 30))
    assert eraser.forget([DELETED], purge_stale=True).rows == 0
    assert not (tmp_path / FILE_NAME).exists()
    (tmp_path / FILE_NAME).write_bytes(b"not a database at all " * 500)
    with pytest.raises(EncodingCacheError, match=FILE_NAME):
        eraser.forget([DELETED])


def test_rows_written_before_identities_were_recorded_are_dropped(tmp_path: Path) -> None:
    """A file from before this change holds rows no erasure could find: they go at open."""
    with sqlite3.connect(tmp_path / FILE_NAME) as conn:
        conn.execute(
            "CREATE TABLE encodings (key BLOB PRIMARY KEY, features BLOB NOT NULL, "
            "embedding BLOB NOT NULL, used REAL NOT NULL) WITHOUT ROWID"
        )
        conn.execute("INSERT INTO encodings VALUES (x'00', x'00', x'00', 1e12)")
    cache = DiskEncodingCache(tmp_path / FILE_NAME, "id", width=WIDTH, max_rows=10, max_age_days=30)
    assert len(cache) == 0
    out = StandIn().encode(TEXTS[:1])
    cache.put_many(TEXTS[:1], out.features, out.embeddings)
    cache.close()
    again = DiskEncodingCache(tmp_path / FILE_NAME, "id", width=WIDTH, max_rows=10, max_age_days=30)
    assert len(again) == 1  # dropped once, not at every open
    again.close()


def test_off_or_an_encoder_without_identity_is_not_wrapped(tmp_path: Path) -> None:
    inner = StandIn()
    assert with_disk_cache(inner, None) is inner
    assert with_disk_cache(inner, DiskCacheConfig(tmp_path, 0, 30)) is inner

    class NoIdentity:  # PyTorch's encoder: rows depend on the batch's padding
        device, layers, variant = "cpu", LAYERS, "torch"

    plain = NoIdentity()
    assert with_disk_cache(plain, DiskCacheConfig(tmp_path, 10, 30)) is plain  # type: ignore[arg-type]
    assert not (tmp_path / FILE_NAME).exists()


@pytest.mark.model
def test_the_real_encoders_rows_come_back_bitwise(tmp_path: Path, transformer: Any) -> None:
    from .test_reproducible import fictional_posts

    texts = fictional_posts(60)
    fresh = transformer.encoder.encode(texts)
    cold = cached(tmp_path, transformer.encoder).encode(texts)
    warm_encoder = cached(tmp_path, transformer.encoder)
    calls: list[int] = []
    inner_encode = transformer.encoder.encode
    try:
        transformer.encoder.encode = lambda t, **kw: calls.append(len(t)) or inner_encode(t, **kw)
        warm = warm_encoder.encode(texts)
    finally:
        transformer.encoder.encode = inner_encode
    assert calls == []
    for got in (cold, warm):
        assert got.features.tobytes() == fresh.features.tobytes()
        assert got.embeddings.tobytes() == fresh.embeddings.tobytes()


@pytest.mark.model
def test_another_graph_checksum_misses(tmp_path: Path, transformer: Any) -> None:
    encoder = transformer.encoder
    cached(tmp_path, encoder).encode(["Fictional: road closed by Bradford Interchange"])
    graph = encoder.graph
    try:
        encoder.graph = dataclasses.replace(graph, sha256="0" * 64)
        other = cached(tmp_path, encoder)
        assert isinstance(other, CachedEncoder)
        assert other.cache.get_many(["Fictional: road closed by Bradford Interchange"]) == {}
    finally:
        encoder.graph = graph
    same = cached(tmp_path, encoder)
    assert len(same.cache.get_many(["Fictional: road closed by Bradford Interchange"])) == 1


@pytest.mark.model
def test_load_classifier_reads_the_setting(tmp_path: Path, transformer: Any) -> None:
    from monitor.classify import load_classifier

    from .conftest import settings_sharing_graph

    base = settings_sharing_graph(tmp_path, transformer)
    assert not isinstance(load_classifier(base).encoder, CachedEncoder)  # type: ignore[attr-defined]
    on = load_classifier(dataclasses.replace(base, classifier_encoding_cache=100, retention_days=7))
    encoder = on.encoder  # type: ignore[attr-defined]
    assert isinstance(encoder, CachedEncoder)
    assert encoder.cache.path == tmp_path / FILE_NAME
    assert (encoder.cache.max_rows, encoder.cache.max_age_s) == (100, 7 * 86400)
    on.analyse_sync(["Fictional: gala in Wibsey park on Sunday"])  # type: ignore[attr-defined]
    assert len(encoder.cache) == 1
