"""The contract every embedder meets (a blocking call, run on the ranking thread)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Sequence

import numpy as np

from altgen.types import TextKind


class Embedder(ABC):
    """Maps texts to L2-normalised vectors; a dot product is a cosine similarity.

    ``kind`` says whether the texts are requests ("query") or photo descriptions ("passage"), for
    models trained with a prefix or prompt for each; models without one ignore it.
    """

    name: str
    dimension: int  # length of each vector
    # Names its weights: a stored vector is only reused by the same name and version.
    version: str = "unversioned"
    # An encoder strong on English and weak on Korean reads a Korean request only in the English the glossary
    # made of it, where there is one (the same accuracy in half the time); others read both phrasings.
    english_phrasing_only: bool = False

    @abstractmethod
    def embed(self, texts: Sequence[str], kind: TextKind) -> np.ndarray: ...


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
