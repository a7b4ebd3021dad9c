"""An LRU cache of description embeddings, keyed by a hash of the text, so a client that re-sends
the same candidates with each request pays only for the request's own embedding."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Sequence

import numpy as np

from altgen.model.base import Embedder


def text_key(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


class CachedPassages:
    def __init__(self, embedder: Embedder, max_entries: int):
        self.embedder = embedder
        self.max_entries = max_entries
        self._vectors: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._vectors)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        keys = [text_key(t) for t in texts]
        missing: dict[bytes, str] = {}
        for key, text in zip(keys, texts):
            if key in self._vectors:
                self._vectors.move_to_end(key)
            else:
                missing.setdefault(key, text)
        self.hits += len(keys) - len(missing)
        self.misses += len(missing)
        fresh = dict(zip(missing, self.embedder.embed(list(missing.values()), "passage"))) if missing else {}
        rows = [fresh[key] if key in fresh else self._vectors[key] for key in keys]
        for key, vector in fresh.items():
            self._vectors[key] = vector
        while len(self._vectors) > self.max_entries:
            self._vectors.popitem(last=False)
        return np.stack(rows) if rows else np.zeros((0, 1), dtype=np.float32)
