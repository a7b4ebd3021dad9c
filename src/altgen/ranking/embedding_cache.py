"""An LRU cache of description embeddings keyed by the text (a dict hashes the content), so a client
that re-sends the same candidates with each request pays only for the request's own embedding.
With a store, the LRU is the front of a file that outlives the process (and is shared by several)."""

from __future__ import annotations

from collections import OrderedDict
from typing import Sequence

import numpy as np

from altgen.ranking.contract import Embedder
from altgen.ranking.embedding_store import EmbeddingStore


def encoder_identity(embedder: Embedder) -> str:
    """What a stored vector must have been made by: the encoder's name and its weights' version."""
    return f"{embedder.name}@{getattr(embedder, 'version', 'unversioned')}"


class CachedPassages:
    def __init__(self, embedder: Embedder, max_entries: int, store: EmbeddingStore | None = None):
        self.embedder = embedder
        self.max_entries = max_entries
        self.store = store
        self.identity = encoder_identity(embedder)
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._vectors)

    def __contains__(self, text: str) -> bool:
        return text in self._vectors

    @property
    def dimension(self) -> int:
        return self.embedder.dimension

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        for text in texts:
            if text in self._vectors:
                self._vectors.move_to_end(text)
        self.hits += len(texts) - len(missing)
        fresh = self.store.get(self.identity, missing, self.dimension) if self.store is not None and missing else {}
        new = [t for t in missing if t not in fresh]
        self.misses += len(new)
        if new:
            made = dict(zip(new, self.embedder.embed(new, "passage")))
            if self.store is not None:
                self.store.put(self.identity, made)
            fresh.update(made)
        rows = [fresh[t] if t in fresh else self._vectors[t] for t in texts]
        for key, vector in fresh.items():
            self._vectors[key] = vector
        while len(self._vectors) > self.max_entries:
            self._vectors.popitem(last=False)
        return np.stack(rows) if rows else np.zeros((0, 1), dtype=np.float32)
