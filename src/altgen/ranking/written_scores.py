"""The class scores behind the descriptions the service wrote, kept by text: in memory (least recently used
forgotten first) and, with a cache file, on disk beside the embeddings, so that a restart or another process
on the host still knows what the classifier saw behind a description written before.

On disk a row is the embedding store's own (checksummed, bounded, dropped when damaged) under an identity of
its own; its 64 float32 values are the 32 class indices then their probabilities, checked again when read.
"""

from __future__ import annotations

import hashlib
import sys
import threading
from time import monotonic
from typing import Sequence

import numpy as np

from altgen.ranking.byte_lru import ByteLRU
from altgen.ranking.embedding_store import EmbeddingStore
from altgen.types import ClassScores

# What the rows on disk are: another classifier, another count of classes, another layout is another identity.
STORE_IDENTITY = "class-scores:imagenet-1k:top32:v1"
TOP = 32
CLASS_COUNT = 1000
# A remembered description's class scores in memory: the key, the two small arrays and their objects.
ENTRY_OVERHEAD = 400
# Written scores waiting for the ranking thread to store them; past this many the oldest are not stored.
MOST_UNSAVED = 10_000
# How long a text the file did not have is not asked about again: another process may write it meanwhile.
ABSENT_FOR_S = 30.0


def text_key(description: str) -> bytes:
    return hashlib.blake2b(description.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def as_row(scores: ClassScores) -> np.ndarray:
    return np.concatenate([scores.classes.astype(np.float32), scores.probabilities.astype(np.float32)])


def from_row(row: np.ndarray) -> ClassScores | None:
    """The scores a stored row holds, or None when they cannot be a classifier's (bytes changed on disk)."""
    classes, probabilities = row[:TOP], row[TOP:]
    whole = (classes == np.round(classes)).all() and ((classes >= 0) & (classes < CLASS_COUNT)).all()
    if not whole or len(set(classes.tolist())) != TOP:
        return None
    if not ((probabilities >= 0) & (probabilities <= 1)).all() or probabilities.sum() > 1.01:
        return None
    return ClassScores(classes.astype(np.int16), probabilities.astype(np.float16))


class WrittenScores:
    def __init__(self, max_bytes: int, store: EmbeddingStore | None = None):
        # With a cache file, a quarter of the bytes remembers texts it does not have either (the candidates of a
        # search over a VLM's descriptions), so that the file is asked about a text once every ABSENT_FOR_S.
        absent_share = max_bytes // 4 if store is not None else 0
        self._memory: ByteLRU[bytes, ClassScores] = ByteLRU(
            max_bytes - absent_share, lambda key, scores: sys.getsizeof(key) + scores.nbytes + ENTRY_OVERHEAD
        )
        self._absent: ByteLRU[bytes, float] = ByteLRU(absent_share, lambda key, _v: sys.getsizeof(key) + 64)
        self._store = store if store is not None and store.available else None
        self._unsaved: dict[str, ClassScores] = {}
        self._unsaved_lock = threading.Lock()  # the event loop adds, the ranking thread takes

    @property
    def nbytes(self) -> int:
        return self._memory.nbytes + self._absent.nbytes

    def __len__(self) -> int:
        return len(self._memory)

    def remember(self, description: str, scores: ClassScores) -> None:
        """Keeps the scores behind a description just written; ``save`` stores them on disk."""
        self._memory.put(text_key(description), scores)
        if self._store is not None:
            with self._unsaved_lock:
                if len(self._unsaved) < MOST_UNSAVED:
                    self._unsaved[description] = scores

    @property
    def unsaved(self) -> bool:
        return bool(self._unsaved)

    def save(self) -> None:
        """Stores what was remembered since the last call (on the ranking thread: SQLite is blocking)."""
        with self._unsaved_lock:
            unsaved, self._unsaved = self._unsaved, {}
        if self._store is not None and unsaved:
            self._store.put(STORE_IDENTITY, {text: as_row(scores) for text, scores in unsaved.items()})

    def _known_absent(self, key: bytes, now: float) -> bool:
        missed_at = self._absent.get(key)
        return missed_at is not None and now - missed_at < ABSENT_FOR_S

    def lookup(self, descriptions: Sequence[str]) -> list[ClassScores | None]:
        """The scores behind each description, from memory, else from the file (a text it lacked is not asked
        about again for ABSENT_FOR_S)."""
        keys = [text_key(d) for d in descriptions]
        found = [self._memory.get(key) for key in keys]
        if self._store is None:
            return found
        now = monotonic()
        wanted = {d: key for d, key, scores in zip(descriptions, keys, found) if scores is None and not self._known_absent(key, now)}
        if not wanted:
            return found
        rows = self._store.get(STORE_IDENTITY, list(wanted), 2 * TOP)
        damaged = []
        loaded: dict[str, ClassScores] = {}
        for text, key in wanted.items():
            scores = from_row(rows[text]) if text in rows else None
            if scores is not None:
                loaded[text] = scores
                self._memory.put(key, scores)
            else:
                self._absent.put(key, now)
                if text in rows:
                    damaged.append(text)
        if damaged:
            self._store.drop(STORE_IDENTITY, damaged, "held class scores no classifier gives")
        return [scores if scores is not None else loaded.get(d) for d, scores in zip(descriptions, found)]
