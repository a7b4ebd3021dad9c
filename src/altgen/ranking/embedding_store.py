"""Description embeddings on disk (SQLite, WAL), so that a restart or a second process on the same
host does not pay again for descriptions already embedded.

Rows are keyed by the encoder's identity (name and version of its weights) and the SHA-256 of the
text: a vector made by another encoder, or another version of it, is never returned. The file is
bounded (``max_entries``; the least recently used rows go first). Any trouble with the file
(corrupt, unreadable, disk full) is logged once and the store turns itself off: the service
carries on with its in-memory cache, never crashes, never returns a wrong vector. A file that
another process holds locked for longer than the wait only skips that read or write.
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

SCHEMA = """
CREATE TABLE IF NOT EXISTS vectors (
    encoder TEXT NOT NULL,
    text_sha256 BLOB NOT NULL,
    vector BLOB NOT NULL,
    used REAL NOT NULL,
    PRIMARY KEY (encoder, text_sha256)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS vectors_used ON vectors (used);
"""


def _busy(exc: sqlite3.Error) -> bool:
    """Another process holds the lock for now: skip this read or write, keep the file."""
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in str(exc) or "busy" in str(exc))


def text_key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


class EmbeddingStore:
    def __init__(self, path: str | Path, max_entries: int = 1_000_000):
        self.path = str(path)
        self.max_entries = max_entries
        self._lock = threading.Lock()  # one connection, used from the ranking thread and the writer
        self._writes_since_trim = 0
        self._db: sqlite3.Connection | None = None
        for attempt in range(20):  # several processes starting at once may find the file busy being set up
            try:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(self.path, timeout=5, check_same_thread=False, isolation_level=None)
                db.execute("PRAGMA journal_mode=WAL")  # readers in other processes never block the writer
                db.execute("PRAGMA synchronous=NORMAL")
                db.executescript(SCHEMA)
                db.execute("SELECT count(*) FROM vectors LIMIT 1").fetchone()  # a corrupt file fails here
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
        try:
            with self._lock:
                for start in range(0, len(keys), 500):
                    chunk = list(keys)[start : start + 500]
                    marks = ",".join("?" * len(chunk))
                    rows = self._db.execute(
                        f"SELECT text_sha256, vector FROM vectors WHERE encoder = ? AND text_sha256 IN ({marks})",
                        [encoder, *chunk],
                    ).fetchall()
                    for key, blob in rows:
                        vector = np.frombuffer(blob, dtype=np.float32)
                        if vector.shape == (dimension,):  # never a vector of another shape
                            found[keys[key]] = vector
                if found:
                    self._db.execute(
                        f"UPDATE vectors SET used = ? WHERE encoder = ? AND text_sha256 IN ({','.join('?' * len(found))})",
                        [time.time(), encoder, *(text_key(t) for t in found)],
                    )
        except sqlite3.Error as exc:
            if not _busy(exc):
                self._give_up(exc)
            return {}
        return found

    def put(self, encoder: str, vectors: dict[str, np.ndarray]) -> None:
        if self._db is None or not vectors:
            return
        now = time.time()
        rows = [(encoder, text_key(t), np.asarray(v, dtype=np.float32).tobytes(), now) for t, v in vectors.items()]
        try:
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")  # the write lock up front, waiting for it if need be
                try:
                    self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?, ?)", rows)
                    self._db.execute("COMMIT")
                except sqlite3.Error:
                    self._db.execute("ROLLBACK")
                    raise
                self._writes_since_trim += len(rows)
                if self._writes_since_trim >= max(1, self.max_entries // 100):
                    self._trim()
        except sqlite3.Error as exc:  # disk full, corrupt page...; a busy file only skips this write
            if not _busy(exc):
                self._give_up(exc)

    def _trim(self) -> None:
        """Drops the least recently used rows beyond ``max_entries`` (checked every 1% of it written)."""
        self._writes_since_trim = 0
        (count,) = self._db.execute("SELECT count(*) FROM vectors").fetchone()
        if count > self.max_entries:
            self._db.execute(
                "DELETE FROM vectors WHERE (encoder, text_sha256) IN "
                "(SELECT encoder, text_sha256 FROM vectors ORDER BY used LIMIT ?)",
                [count - self.max_entries],
            )

    def __len__(self) -> int:
        if self._db is None:
            return 0
        with self._lock:
            return self._db.execute("SELECT count(*) FROM vectors").fetchone()[0]
