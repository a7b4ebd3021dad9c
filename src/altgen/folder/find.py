"""``altgen find``: the photo library search people expect, without a server. Photos are described once
(descriptions kept by file content beside the embedding cache), then ranked for the request."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path


class StoredDescriptions:
    """Descriptions by (file content, model, language), in a small SQLite file; safe across threads."""

    def __init__(self, path: Path | None, model: str, language: str):
        self._key = (model, language)
        self._lock = threading.Lock()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path) if path else ":memory:", check_same_thread=False)
        with self._db:
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS descriptions (sha256 TEXT, model TEXT, language TEXT, text TEXT, "
                "PRIMARY KEY (sha256, model, language))"
            )

    def get(self, sha256: str) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT text FROM descriptions WHERE sha256 = ? AND model = ? AND language = ?", (sha256, *self._key)
            ).fetchone()
        return row[0] if row else None

    def put(self, sha256: str, description: str) -> None:
        with self._lock, self._db:
            self._db.execute("INSERT OR REPLACE INTO descriptions VALUES (?, ?, ?, ?)", (sha256, *self._key, description))

    def close(self) -> None:
        self._db.close()


def descriptions_file(embedding_cache: str | None) -> Path | None:
    """Beside the service's embedding cache (None when caching is off: descriptions then live in memory)."""
    return Path(embedding_cache).with_name("descriptions.sqlite3") if embedding_cache else None
