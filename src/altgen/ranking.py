"""Ranks candidate photo descriptions against a request, by cosine similarity of text embeddings."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from altgen.model.base import Embedder

_SPACES = re.compile(r"\s+")


def normalise_text(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


@dataclass(frozen=True)
class Ranked:
    index: int
    score: float


def rank(embedder: Embedder, query: str, descriptions: Sequence[str]) -> list[Ranked]:
    """All candidates, best first; ties keep input order."""
    vectors = embedder.embed([normalise_text(query)] + [normalise_text(d) for d in descriptions])
    scores = vectors[1:] @ vectors[0]
    order = np.argsort(-scores, kind="stable")
    return [Ranked(int(i), float(scores[i])) for i in order]
