"""Encoder outputs kept on disk between runs and shared by processes (`classifier_encoding_cache`).

A post's features and sentence embedding are a pure function of its prepared text and of what
encoded it, bitwise (`monitor.classify.ort_encoder`: no row depends on its batch). So a text
encoded once, by any process, need not be encoded again until the encoder changes: a restart,
a re-import or a replay (`monitor demo`, the test suite) reads the rows back instead.

What is stored, in `<classifier_cache_dir>/encodings-v1.sqlite3` (SQLite, WAL mode):
- the key: blake2b of the encoder's identity and the prepared text. No text is kept in clear,
  and a change to anything that produced the rows (the exported graph's sha256, adapter
  included; the runtime and its version; the tokenizer; the layers; the maximum length; the
  preprocessing) changes every key: a miss, never a stale row. The hash hides nothing from
  someone who holds the file and guesses a text (as the vectors would not either: they could
  encode the guess and compare), which is why the rows are purged like post text is;
- the head features and the embedding, float32 little-endian, exactly as encoded;
- when the row was last used. Rows unused for `retention_days` are purged (at open and then
  hourly, and by `monitor purge` and the scheduled retention purge), as the store purges post
  text and its embedding, and past `max_rows` the least recently used go first.
  `secure_delete` zeroes what is freed;
- the identities of the encoders that have used the file (no text): what `EncodingEraser`
  needs to find the rows of a post deleted by its platform, erased (`monitor erase`) or purged
  for retention, from the post's text before the store drops it.

Only encoders whose rows are bitwise reproducible have an identity (ONNX Runtime fp32 on CPU);
PyTorch pads each batch to its longest row, so its rows move in the last bits with their
batch-mates, and they are never cached.

Several processes may share the file (SQLite's locking; writes are single transactions).
A file that cannot be opened or read (damaged, not a database, unwritable folder) is logged
once and then every look-up is a miss: the cache can make encoding quicker, never make it fail.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from monitor.classify.deobfuscate import LEVELS, deobfuscate
from monitor.classify.emoji import read_emoji
from monitor.classify.encoder import EMBEDDING_DIM, Encoded, FloatArray, preprocess
from monitor.classify.runtime import EncoderLike, graph_dir
from monitor.classify.sentences import split_sentences
from monitor.config import Settings, default_cache_dir

log = logging.getLogger(__name__)

# Bump when the file's layout or the meaning of its rows changes: the old file is then ignored.
FORMAT = 1
FILE_NAME = f"encodings-v{FORMAT}.sqlite3"
# Look-ups per statement: well under SQLite's limit on bound parameters.
CHUNK = 500
# A hit refreshes its row's last use at most this often, so warm runs read without writing.
TOUCH_EVERY_S = 3600.0
# How often a long-running process purges rows past their age, beside the purge at open.
PURGE_EVERY_S = 3600.0
DAY_S = 86400.0
_LE_F4 = np.dtype("<f4")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS encodings (
    key BLOB PRIMARY KEY,
    features BLOB NOT NULL,
    embedding BLOB NOT NULL,
    used REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS encodings_used ON encodings (used);
CREATE TABLE IF NOT EXISTS identities (identity TEXT PRIMARY KEY) WITHOUT ROWID;
"""


@dataclass(frozen=True, slots=True)
class DiskCacheConfig:
    """Where the cache lives and how much it keeps (from the settings)."""

    folder: Path
    max_rows: int
    max_age_days: float

    @property
    def path(self) -> Path:
        return self.folder / FILE_NAME

    @classmethod
    def from_settings(cls, settings: Settings) -> DiskCacheConfig | None:
        """The cache `classifier_encoding_cache` turns on; None when it is off (0)."""
        if settings.classifier_encoding_cache <= 0:
            return None
        return cls(
            graph_dir(settings) or default_cache_dir(),
            settings.classifier_encoding_cache,
            # Vectors derived from post text go when the text would (DESIGN.md, Retention).
            max_age_days=settings.retention_days,
        )


def row_key(identity: str, text: str) -> bytes:
    h = hashlib.blake2b(digest_size=32, person=b"ctm-encodings")
    h.update(identity.encode("utf-8"))
    h.update(b"\x00")
    h.update(text.encode("utf-8"))
    return h.digest()


def prepared_forms(text: str) -> set[str]:
    """The prepared texts a post's rows may be stored under: what the classifier encodes
    (`monitor.classify.deobfuscate.encoder_text`: the shared preprocessing, emoji read as words
    where the model's manifest asks for it, then disguised words written plainly at the level
    it asks for) and what the training
    feature cache encodes (`cache_texts`, preprocessed again), for the whole post and, where
    it has two sentences or more, for each sentence (a model with a sentence rule encodes them
    alone: `monitor.classify.sentences`). Every reading is covered, so the manifest need not
    be loaded to find them."""
    forms = _forms(text)
    parts = split_sentences(text)
    if len(parts) > 1:
        for part in parts:
            forms |= _forms(part)
    return forms


def _forms(text: str) -> set[str]:
    cleaned = preprocess(text)
    forms = {cleaned}
    read = read_emoji(cleaned)  # a model may read emoji as words (`emoji_words`), or not
    for base in {cleaned, read}:
        forms |= {base, preprocess(base)}
        for level in LEVELS[1:]:  # every level a model may deobfuscate at
            plain = deobfuscate(base, level)
            forms |= {plain, preprocess(plain)}
    return forms


class _Busy(Exception):
    """Another process held the file past the wait: skip this write, keep the cache."""


class DiskEncodingCache:
    """Rows of (head features, embedding) by prepared text, for one encoder identity."""

    def __init__(
        self,
        path: Path,
        identity: str,
        *,
        width: int,
        max_rows: int,
        max_age_days: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.identity = identity
        self.width = width
        self.max_rows = max(1, max_rows)
        self.max_age_s = max_age_days * DAY_S
        self.clock = clock
        self.hits = 0
        self.misses = 0
        self.broken = False
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._purged_at = float("-inf")

    def get_many(self, texts: Sequence[str]) -> dict[str, tuple[FloatArray, FloatArray]]:
        """The rows found for `texts` (prepared texts), by text; absent ones are misses."""
        keys = {row_key(self.identity, t): t for t in dict.fromkeys(texts)}
        found: dict[str, tuple[FloatArray, FloatArray]] = {}
        stale: list[bytes] = []
        now = self.clock()
        with self._session("reading") as conn:
            if conn is not None:
                wanted = list(keys)
                for start in range(0, len(wanted), CHUNK):
                    part = wanted[start : start + CHUNK]
                    marks = ",".join("?" * len(part))
                    for key, feats, emb, used in conn.execute(
                        f"SELECT key, features, embedding, used FROM encodings "
                        f"WHERE key IN ({marks})",
                        part,
                    ):
                        row = self._decode(feats, emb)
                        if row is None:  # a torn or foreign row: encode afresh, overwrite it
                            continue
                        found[keys[bytes(key)]] = row
                        if used < now - TOUCH_EVERY_S:
                            stale.append(bytes(key))
        self.hits += len(found)
        self.misses += len(keys) - len(found)
        if stale:
            with self._session("refreshing rows' last use in") as conn:
                if conn is not None:
                    with _write(conn):
                        conn.executemany(
                            "UPDATE encodings SET used = ? WHERE key = ?",
                            [(now, k) for k in stale],
                        )
                        self._bound(conn, now)  # the hourly age purge, for a process that reads
        return found

    def put_many(self, texts: Sequence[str], features: FloatArray, embeddings: FloatArray) -> None:
        """Store the rows of `texts` (prepared texts, distinct), then keep within bounds."""
        if not len(texts):
            return
        now = self.clock()
        rows = [
            (
                row_key(self.identity, t),
                np.ascontiguousarray(features[i], dtype=_LE_F4).tobytes(),
                np.ascontiguousarray(embeddings[i], dtype=_LE_F4).tobytes(),
                now,
            )
            for i, t in enumerate(texts)
        ]
        with self._session("writing") as conn:
            if conn is not None:
                with _write(conn):
                    conn.executemany(
                        "INSERT OR REPLACE INTO encodings (key, features, embedding, used) "
                        "VALUES (?, ?, ?, ?)",
                        rows,
                    )
                    self._bound(conn, now)

    def purge(self) -> int:
        """Drop rows unused for the age limit and, past the size limit, the least recently
        used; returns how many went."""
        with self._session("purging") as conn:
            if conn is None:
                return 0
            with _write(conn):
                return self._bound(conn, self.clock(), force=True)
        return 0

    def __len__(self) -> int:
        with self._session("counting") as conn:
            if conn is None:
                return 0
            return int(conn.execute("SELECT count(*) FROM encodings").fetchone()[0])
        return 0

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _bound(self, conn: sqlite3.Connection, now: float, *, force: bool = False) -> int:
        aged = force or now - self._purged_at >= PURGE_EVERY_S
        if aged:
            self._purged_at = now
        return _bound(conn, now, self.max_age_s if aged else None, self.max_rows)

    def _decode(self, feats: Any, emb: Any) -> tuple[FloatArray, FloatArray] | None:
        if len(feats) != self.width * 4 or len(emb) != EMBEDDING_DIM * 4:
            return None
        f: FloatArray = np.frombuffer(feats, dtype=_LE_F4).astype(np.float32)
        e: FloatArray = np.frombuffer(emb, dtype=_LE_F4).astype(np.float32)
        return f, e

    @contextmanager
    def _session(self, doing: str) -> Iterator[sqlite3.Connection | None]:
        """The open connection (None once the file proved unusable, or while another process
        holds it past the wait), under this object's lock. A failure is logged: a busy file
        skips this step, any other failure turns the cache off for this process."""
        with self._lock:
            conn = None
            if not self.broken:
                try:
                    if self._conn is None:
                        self._conn = self._open()
                    conn = self._conn
                except _Busy as exc:
                    self._busy(doing, exc)
                except (sqlite3.Error, OSError) as exc:
                    self._fail(doing, exc)
            if conn is None:
                yield None
                return
            try:
                yield conn
            except _Busy as exc:
                self._busy(doing, exc)
            except (sqlite3.Error, OSError) as exc:
                self._fail(doing, exc)

    def _busy(self, doing: str, exc: Exception) -> None:
        log.info("classifier: encoding cache %s busy, skipped %s it (%s)", self.path, doing, exc)

    def _fail(self, doing: str, exc: Exception) -> None:
        self.broken = True
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        log.warning(
            "classifier: encoding cache %s unusable (%s it: %s: %s); encoding without it in "
            "this process. Delete the file to start it afresh.",
            self.path,
            doing,
            type(exc).__name__,
            exc,
        )

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = _connect(self.path)
        try:
            with _write(conn):
                _ensure_schema(conn)
                # Recorded before any row of this encoder is: an erasure finds its rows by it.
                conn.execute(
                    "INSERT OR IGNORE INTO identities (identity) VALUES (?)", (self.identity,)
                )
                self._bound(conn, self.clock(), force=True)
        except BaseException:
            conn.close()
            raise
        return conn


def _connect(path: Path) -> sqlite3.Connection:
    # Autocommit: each write opens its own transaction (BEGIN IMMEDIATE, `_write`).
    conn = sqlite3.connect(path, timeout=10.0, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA secure_delete=ON")
    except BaseException:
        conn.close()
        raise
    return conn


def _ensure_schema(conn: sqlite3.Connection) -> None:
    """Create the tables (inside a write transaction). A file written before encoders'
    identities were recorded holds rows no erasure could find: they are dropped (a cold
    start, once)."""
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)
    if "encodings" in tables and "identities" not in tables:
        cur = conn.execute("DELETE FROM encodings")
        log.info(
            "classifier: encoding cache: dropped %d rows written before encoders were recorded",
            max(cur.rowcount, 0),
        )


def _bound(conn: sqlite3.Connection, now: float, max_age_s: float | None, max_rows: int) -> int:
    """Drop rows unused for `max_age_s` (None: skip that) and, past `max_rows` (0: no
    limit), the least recently used; how many went."""
    gone = 0
    if max_age_s is not None:
        cur = conn.execute("DELETE FROM encodings WHERE used < ?", (now - max_age_s,))
        gone += max(cur.rowcount, 0)
    if max_rows > 0:
        count = int(conn.execute("SELECT count(*) FROM encodings").fetchone()[0])
        if count > max_rows:
            cur = conn.execute(
                "DELETE FROM encodings WHERE key IN "
                "(SELECT key FROM encodings ORDER BY used LIMIT ?)",
                (count - max_rows,),
            )
            gone += max(cur.rowcount, 0)
    return gone


@contextmanager
def _write(conn: sqlite3.Connection) -> Iterator[None]:
    """One write transaction; a lock held past the connection's wait is `_Busy`."""
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise _Busy(str(exc)) from exc
        raise
    try:
        yield
    except BaseException:
        with suppress(sqlite3.Error):  # SQLite may have rolled back already (a full disk)
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class EncodingCacheError(Exception):
    """The cache file could not be updated (busy past the wait, damaged, unwritable)."""


@dataclass(frozen=True, slots=True)
class Forgotten:
    """What `EncodingEraser.forget` deleted."""

    rows: int  # rows derived from the texts given
    stale: int = 0  # rows past the age or size bound (with purge_stale)
    wal_truncated: bool | None = None  # with checkpoint, when rows went: the -wal emptied


class EncodingEraser:
    """Deletes the rows derived from posts' texts, under every encoder identity the file has
    recorded, when the store drops the texts (a platform deletion, `monitor erase`, the
    retention purge). The key is a hash of the prepared text, so this must run while the text
    is still known. One transaction per call (one commit, whatever the number of rows); with
    `checkpoint` the write-ahead log is then copied into the file and truncated, so no page
    that held a deleted row stays in either. A missing file is not created.

    The connection stays open between calls (a long-running process deletes as platforms
    report deletions): closing the last connection to a WAL file checkpoints it, about 0.3 s
    a call on the 2 shared cores (benchmarks/encoding_erasure.py). A file replaced meanwhile
    (deleted and made afresh) is opened again."""

    def __init__(self, config: DiskCacheConfig, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.clock = clock
        self._conn: sqlite3.Connection | None = None
        self._inode: int | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> EncodingEraser | None:
        """The eraser of the cache the settings turn on; None when it is off."""
        config = DiskCacheConfig.from_settings(settings)
        return cls(config) if config is not None else None

    @property
    def path(self) -> Path:
        return self.config.path

    async def forget_async(
        self, texts: Iterable[str], *, purge_stale: bool = False, checkpoint: bool = False
    ) -> Forgotten:
        """`forget` in a worker thread, so the event loop does not wait on the file."""
        items = list(texts)
        return await asyncio.to_thread(
            self.forget, items, purge_stale=purge_stale, checkpoint=checkpoint
        )

    async def forget_after_purge(self, texts: Sequence[str], why: str) -> bool:
        """`forget_async` after the store has committed a purge of these texts (a platform
        deletion, a post gone on re-check): the cache can never make that purge fail, so one
        that cannot be updated is logged (`why` says what purged them) and False returned; its
        rows still go when unused for retention_days."""
        if not texts:
            return True
        try:
            await self.forget_async(texts)
        except EncodingCacheError as exc:
            log.warning(
                "%s: the encoding cache's rows of %d posts were not deleted (%s); they go when "
                "unused for retention_days",
                why,
                len(texts),
                exc,
            )
            return False
        return True

    def forget(
        self, texts: Iterable[str], *, purge_stale: bool = False, checkpoint: bool = False
    ) -> Forgotten:
        """Delete the rows of `texts` (posts' texts as stored, not prepared) and, with
        `purge_stale`, the rows past the age and size bounds. Raises `EncodingCacheError`."""
        prepared = {p for t in texts for p in prepared_forms(t)}
        if not (prepared or purge_stale or checkpoint):
            return Forgotten(0)
        with self._lock:
            try:
                conn = self._connection()
                if conn is None:
                    return Forgotten(0)
                with _write(conn):
                    identities = [r[0] for r in conn.execute("SELECT identity FROM identities")]
                    keys = [row_key(i, p) for i in identities for p in prepared]
                    rows = 0
                    for start in range(0, len(keys), CHUNK):
                        part = keys[start : start + CHUNK]
                        cur = conn.execute(
                            f"DELETE FROM encodings WHERE key IN ({','.join('?' * len(part))})",
                            part,
                        )
                        rows += max(cur.rowcount, 0)
                    stale = 0
                    if purge_stale:
                        max_age_s = self.config.max_age_days * DAY_S
                        stale = _bound(conn, self.clock(), max_age_s, self.config.max_rows)
                truncated = None
                if checkpoint:
                    busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
                    truncated = not busy
                return Forgotten(rows, stale, truncated)
            except (_Busy, sqlite3.Error, OSError) as exc:
                self._close()
                raise EncodingCacheError(f"{self.path}: {type(exc).__name__}: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            self._close()

    def _connection(self) -> sqlite3.Connection | None:
        """The open connection to the file as it is now; None when there is no file."""
        try:
            inode = self.path.stat().st_ino
        except FileNotFoundError:
            self._close()
            return None
        if self._conn is not None and inode == self._inode:
            return self._conn
        self._close()
        conn = _connect(self.path)
        try:
            with _write(conn):
                _ensure_schema(conn)
        except BaseException:
            conn.close()
            raise
        self._conn, self._inode = conn, inode
        return conn

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn, self._inode = None, None


def encoder_identity(encoder: EncoderLike) -> str | None:
    """What produced `encoder`'s rows, when they are bitwise reproducible; else None."""
    identity = getattr(encoder, "cache_identity", None)
    return identity() if callable(identity) else None


class CachedEncoder:
    """An encoder that reads through a `DiskEncodingCache`: rows found are not encoded again,
    and rows encoded are stored. Same interface and bitwise the same outputs as the inner one."""

    def __init__(self, inner: EncoderLike, cache: DiskEncodingCache) -> None:
        self.inner = inner
        self.cache = cache
        self.layers = inner.layers
        self.variant = inner.variant
        self.device = inner.device

    def encode(self, texts: Sequence[str], *, sort: bool = True, clean: bool = True) -> Encoded:
        width = len(self.layers) * EMBEDDING_DIM
        prepared = [preprocess(t) if clean else t for t in texts]
        found = self.cache.get_many(prepared) if prepared else {}
        missing = [t for t in dict.fromkeys(prepared) if t not in found]
        if missing:
            fresh = self.inner.encode(missing, sort=sort, clean=False)
            self.cache.put_many(missing, fresh.features, fresh.embeddings)
            for row, t in enumerate(missing):
                found[t] = (fresh.features[row], fresh.embeddings[row])
        features = np.zeros((len(prepared), width), dtype=np.float32)
        embeddings = np.zeros((len(prepared), EMBEDDING_DIM), dtype=np.float32)
        for i, t in enumerate(prepared):
            features[i], embeddings[i] = found[t]
        return Encoded(features, embeddings)


def with_disk_cache(encoder: EncoderLike, config: DiskCacheConfig | None) -> EncoderLike:
    """`encoder` reading through the on-disk cache `config` describes; `encoder` itself when
    the cache is off or the encoder's rows are not reproducible (said in the log)."""
    if config is None or config.max_rows <= 0:
        return encoder
    identity = encoder_identity(encoder)
    if identity is None:
        log.info(
            "classifier: encoding cache off: %s rows depend on their batch (only ONNX Runtime "
            "on CPU is cached)",
            encoder.variant,
        )
        return encoder
    cache = DiskEncodingCache(
        config.path,
        identity,
        width=len(encoder.layers) * EMBEDDING_DIM,
        max_rows=config.max_rows,
        max_age_days=config.max_age_days,
    )
    log.info("classifier: encoding cache %s (at most %d rows)", config.path, config.max_rows)
    return CachedEncoder(encoder, cache)
