"""An LRU cache of description embeddings keyed by the text (a dict hashes the content), so a client
that re-sends the same candidates with each request pays only for the request's own embedding.
It is bounded in bytes. With a store, the LRU is the front of a file that outlives the process (and
is shared by several); what comes from the file is checked against the encoder's contract (unit
length) before it is used."""

from __future__ import annotations

import sys
from typing import Sequence

import numpy as np

from altgen.ranking.byte_lru import ByteLRU
from altgen.ranking.contract import Embedder
from altgen.ranking.embedding_store import EmbeddingStore
from altgen.ranking.pace import cost

NORM_TOLERANCE = 1e-3  # float32 unit vectors are this close to length 1


def encoder_identity(embedder: Embedder) -> str:
    """What a stored vector must have been made by: the encoder's name and its weights' version."""
    return f"{embedder.name}@{embedder.version}"


def vector_entry_bytes(text: str, vector: np.ndarray) -> int:
    return sys.getsizeof(text) + vector.nbytes + 112  # 112: the array object itself


class CachedPassages:
    def __init__(self, embedder: Embedder, max_bytes: int, store: EmbeddingStore | None = None):
        self.embedder = embedder
        self.store = store
        self.identity = encoder_identity(embedder)
        self._vectors: ByteLRU[str, np.ndarray] = ByteLRU(max_bytes, vector_entry_bytes)
        self.hits = 0
        self.misses = 0
        self.encoded_units = 0  # the cost (altgen.ranking.pace) of all the texts the encoder itself was given

    def __len__(self) -> int:
        return len(self._vectors)

    def __contains__(self, text: str) -> bool:
        return text in self._vectors

    @property
    def nbytes(self) -> int:
        return self._vectors.nbytes

    @property
    def dimension(self) -> int:
        return self.embedder.dimension

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        known = {t: v for t in dict.fromkeys(texts) if (v := self._vectors.get(t)) is not None}
        missing = [t for t in dict.fromkeys(texts) if t not in known]
        self.hits += len(texts) - len(missing)
        fresh = self._from_store(missing) if self.store is not None and missing else {}
        new = [t for t in missing if t not in fresh]
        self.misses += len(new)
        if new:
            self.encoded_units += cost(new)
            made = dict(zip(new, self.embedder.embed(new, "passage")))
            if self.store is not None:
                self.store.put(self.identity, made)
            fresh.update(made)
        for text, vector in fresh.items():
            self._vectors.put(text, vector)
        known.update(fresh)
        rows = [known[t] for t in texts]
        return np.stack(rows) if rows else np.zeros((0, 1), dtype=np.float32)

    def _from_store(self, texts: list[str]) -> dict[str, np.ndarray]:
        """Stored vectors that pass the store's checks and are unit length, as every encoder makes them."""
        stored = self.store.get(self.identity, texts, self.dimension)
        wrong = [t for t, v in stored.items() if abs(float(np.linalg.norm(v)) - 1.0) > NORM_TOLERANCE]
        if wrong:
            self.store.drop(self.identity, wrong, "were not of unit length")
        return {t: v for t, v in stored.items() if t not in wrong}
