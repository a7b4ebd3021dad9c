"""An LRU cache of description embeddings keyed by the text (a dict hashes the content), so a client
that re-sends the same candidates with each request pays only for the request's own embedding."""

from __future__ import annotations

from collections import OrderedDict
from typing import Sequence

import numpy as np

from altgen.model.base import Embedder


class CachedPassages:
    def __init__(self, embedder: Embedder, max_entries: int):
        self.embedder = embedder
        self.max_entries = max_entries
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._vectors)

    def __contains__(self, text: str) -> bool:
        return text in self._vectors

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        for text in texts:
            if text in self._vectors:
                self._vectors.move_to_end(text)
        self.hits += len(texts) - len(missing)
        self.misses += len(missing)
        fresh = dict(zip(missing, self.embedder.embed(missing, "passage"))) if missing else {}
        rows = [fresh[t] if t in fresh else self._vectors[t] for t in texts]
        for key, vector in fresh.items():
            self._vectors[key] = vector
        while len(self._vectors) > self.max_entries:
            self._vectors.popitem(last=False)
        return np.stack(rows) if rows else np.zeros((0, 1), dtype=np.float32)
