"""Description embeddings on disk (SQLite, WAL), so that a restart or a second process on the same
host does not pay again for descriptions already embedded.

Rows are keyed by the encoder's identity (name and version of its weights) and the SHA-256 of the
text: a vector made by another encoder, or another version of it, is never returned. Each row
carries a checksum of its key and vector, checked on every read with the values being finite: a
row that fails (a damaged page, bytes written over the file) is dropped, so that its text is
embedded again, and that is logged once. The file is bounded (``max_entries``; the least recently
used rows go first).

A full disk pauses writing (logged as such, once) and it is tried again every
``WRITE_RETRY_S``: the cache comes back when there is room. Other trouble with the file (not a
database, unreadable, a damaged page the database itself notices) is logged once and the store
turns itself off: the service carries on with its in-memory cache, never crashes, never returns a
wrong vector. A file that another process holds locked for longer than the wait only skips that
read or write.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
import time
from pathlib import Path
from typing import Sequence

import numpy as np

log = logging.getLogger(__name__)

# Version 2 added the checksum; rows of version 1 (no checksum, so never trusted) are dropped.
SCHEMA = """
DROP TABLE IF EXISTS vectors;
CREATE TABLE IF NOT EXISTS vectors2 (
    encoder TEXT NOT NULL,
    text_sha256 BLOB NOT NULL,
    vector BLOB NOT NULL,
    checksum BLOB NOT NULL,
    used REAL NOT NULL,
    PRIMARY KEY (encoder, text_sha256)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS vectors2_used ON vectors2 (used);
"""
WRITE_RETRY_S = 30.0
SQLITE_FULL = 13


def _busy(exc: sqlite3.Error) -> bool:
    """Another process holds the lock for now: skip this read or write, keep the file."""
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in str(exc) or "busy" in str(exc))


def _full(exc: sqlite3.Error) -> bool:
    return getattr(exc, "sqlite_errorcode", None) == SQLITE_FULL or "disk is full" in str(exc)


def text_key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


def checksum(encoder: str, key: bytes, blob: bytes) -> bytes:
    """Binds a vector to its row: a changed byte, or a vector moved under another key, fails."""
    return hashlib.blake2b(encoder.encode() + b"\0" + key + blob, digest_size=16).digest()


def _sound(encoder: str, key: bytes, blob: bytes, check: bytes, dimension: int) -> np.ndarray | None:
    """The stored vector if its row passes every check, else None."""
    if len(blob) != 4 * dimension or check != checksum(encoder, key, blob):
        return None
    vector = np.frombuffer(blob, dtype=np.float32)
    return vector if np.isfinite(vector).all() else None


class EmbeddingStore:
    def __init__(self, path: str | Path, max_entries: int = 1_000_000):
        self.path = str(path)
        self.max_entries = max_entries
        self._lock = threading.Lock()  # one connection, used from the ranking thread and the writer
        self._writes_since_trim = 0
        self._writes_paused_until = 0.0  # after a full disk: when to try writing again
        self._damage_reported = False
        self._db: sqlite3.Connection | None = None
        for attempt in range(20):  # several processes starting at once may find the file busy being set up
            try:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(self.path, timeout=5, check_same_thread=False, isolation_level=None)
                db.execute("PRAGMA journal_mode=WAL")  # readers in other processes never block the writer
                db.execute("PRAGMA synchronous=NORMAL")
                db.executescript(SCHEMA)
                db.execute("SELECT count(*) FROM vectors2 LIMIT 1").fetchone()  # a file that is no database fails here
                self._db = db
                return
            except sqlite3.OperationalError as exc:
                if not _busy(exc) or attempt == 19:
                    self._give_up(exc)
                    return
                time.sleep(0.05 * (attempt + 1))
            except (sqlite3.Error, OSError) as exc:
                self._give_up(exc)
                return

    @property
    def available(self) -> bool:
        return self._db is not None

    def _give_up(self, exc: Exception) -> None:
        log.error("embedding cache file %s is unusable (%s); carrying on without it", self.path, exc)
        if self._db is not None:
            try:
                self._db.close()
            except sqlite3.Error:
                pass
        self._db = None

    def get(self, encoder: str, texts: Sequence[str], dimension: int) -> dict[str, np.ndarray]:
        """The stored vectors of those texts that have one (made by this encoder identity)."""
        if self._db is None or not texts:
            return {}
        keys = {text_key(t): t for t in texts}
        found: dict[str, np.ndarray] = {}
        damaged: list[str] = []
        try:
            with self._lock:
                for start in range(0, len(keys), 500):
                    chunk = list(keys)[start : start + 500]
                    marks = ",".join("?" * len(chunk))
                    rows = self._db.execute(
                        f"SELECT text_sha256, vector, checksum FROM vectors2 WHERE encoder = ? AND text_sha256 IN ({marks})",
                        [encoder, *chunk],
                    ).fetchall()
                    for key, blob, check in rows:
                        vector = _sound(encoder, key, blob, check, dimension)
                        if vector is not None:
                            found[keys[key]] = vector
                        elif len(blob) == 4 * dimension:  # another shape is another encoder's business
                            damaged.append(keys[key])
                if found:
                    self._db.execute(
                        f"UPDATE vectors2 SET used = ? WHERE encoder = ? AND text_sha256 IN ({','.join('?' * len(found))})",
                        [time.time(), encoder, *(text_key(t) for t in found)],
                    )
        except sqlite3.Error as exc:
            if not _busy(exc):
                self._give_up(exc)
            return {}
        if damaged:
            self.drop(encoder, damaged, "failed their checksum or held values that are not numbers")
        return found

    def drop(self, encoder: str, texts: Sequence[str], why: str) -> None:
        """Deletes rows that failed a check, so that their texts are embedded again (logged once)."""
        if not self._damage_reported:
            self._damage_reported = True
            log.warning(
                "embedding cache file %s: %d stored vector(s) %s (a damaged file?); they are dropped and embedded "
                "again (reported once)", self.path, len(texts), why,
            )
        if self._db is None:
            return
        try:
            with self._lock:
                self._db.executemany(
                    "DELETE FROM vectors2 WHERE encoder = ? AND text_sha256 = ?", [(encoder, text_key(t)) for t in texts]
                )
        except sqlite3.Error as exc:
            if not _busy(exc) and not _full(exc):
                self._give_up(exc)

    def put(self, encoder: str, vectors: dict[str, np.ndarray]) -> None:
        if self._db is None or not vectors or time.monotonic() < self._writes_paused_until:
            return
        now = time.time()
        rows = []
        for text, vector in vectors.items():
            key, blob = text_key(text), np.asarray(vector, dtype=np.float32).tobytes()
            rows.append((encoder, key, blob, checksum(encoder, key, blob), now))
        try:
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")  # the write lock up front, waiting for it if need be
                try:
                    self._db.executemany("INSERT OR REPLACE INTO vectors2 VALUES (?, ?, ?, ?, ?)", rows)
                    self._db.execute("COMMIT")
                except sqlite3.Error:
                    if self._db.in_transaction:  # SQLite may have rolled back itself (a full disk does)
                        self._db.execute("ROLLBACK")
                    raise
                self._writes_since_trim += len(rows)
                if self._writes_since_trim >= max(1, self.max_entries // 100):
                    self._trim()
            if self._writes_paused_until:
                self._writes_paused_until = 0.0
                log.warning("embedding cache file %s: writing again (there is room on the disk)", self.path)
        except sqlite3.Error as exc:  # a busy file only skips this write
            if _full(exc):
                self._pause_writes(exc)
            elif not _busy(exc):
                self._give_up(exc)

    def _pause_writes(self, exc: sqlite3.Error) -> None:
        """Disk full: reads go on; writing is tried again in ``WRITE_RETRY_S`` (logged once per episode)."""
        if not self._writes_paused_until:
            log.error(
                "embedding cache file %s: the disk is full (%s); new vectors are not stored until there is room "
                "(tried again every %g s), the stored ones are still used", self.path, exc, WRITE_RETRY_S,
            )
        self._writes_paused_until = time.monotonic() + WRITE_RETRY_S

    def _trim(self) -> None:
        """Drops the least recently used rows beyond ``max_entries`` (checked every 1% of it written)."""
        self._writes_since_trim = 0
        (count,) = self._db.execute("SELECT count(*) FROM vectors2").fetchone()
        if count > self.max_entries:
            self._db.execute(
                "DELETE FROM vectors2 WHERE (encoder, text_sha256) IN "
                "(SELECT encoder, text_sha256 FROM vectors2 ORDER BY used LIMIT ?)",
                [count - self.max_entries],
            )

    def __len__(self) -> int:
        if self._db is None:
            return 0
        with self._lock:
            return self._db.execute("SELECT count(*) FROM vectors2").fetchone()[0]

    def close(self) -> None:
        if self._db is not None:
            with self._lock:
                self._db.close()
            self._db = None
