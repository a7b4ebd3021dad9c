"""Ranks candidate photo descriptions against a request, by cosine similarity of text embeddings.

Both sides are stripped of words that every request or every description shares ("find me the
photo of", "사진을 찾아 줘", "Image may contain:", "The image shows"): they carry no meaning for the
match, and with short texts they dominate the embedding and drown the one word that matters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from altgen.model.base import Embedder
from altgen.model.embedding_cache import CachedPassages

_SPACES = re.compile(r"\s+")
_DESCRIPTION_OPENERS = re.compile(
    r"^\s*(image may contain:|(the|this) (image|photo|picture) (shows|depicts|contains|is of)|"
    r"(an? )?(image|photo|picture) of)\s*",
    re.IGNORECASE,
)
_REQUEST_FILLER = re.compile(
    r"(사진|이미지|그림|짤)(들)?(을|를|이|가|은|는|좀)?|"
    r"(찾아|보여|골라)\s*(줘|주세요|줄래|줘요|주라|봐)?|"
    r"\b(please|can you|could you|find( me)?|show( me)?|give me|get me|i want|i need|looking for)\b|"
    r"\b(a|an|the|some)?\s*(photo|picture|image|pic)s?( of| with)?\b|"
    r"[.?!,~]+",
    re.IGNORECASE,
)


def normalise_text(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def request_core(query: str) -> str:
    """What the request asks for, without the "find me the photo" wrapping (kept whole if nothing is left)."""
    core = normalise_text(_REQUEST_FILLER.sub(" ", query))
    return core or normalise_text(query)


def description_core(description: str) -> str:
    core = normalise_text(_DESCRIPTION_OPENERS.sub("", description))
    return core or normalise_text(description)


@dataclass(frozen=True)
class Ranked:
    index: int
    score: float  # what orders the candidates (z-scored across candidates when several encoders vote)
    similarity: float  # mean cosine similarity of request and description: an absolute match strength


def _standardise(scores: np.ndarray) -> np.ndarray:
    spread = scores.std()
    return (scores - scores.mean()) / spread if spread > 1e-6 else scores - scores.mean()


class Ranker:
    """Ranks descriptions for a request with one encoder, or several whose votes are z-scored and averaged
    (each encoder's cosines live on their own scale). Description embeddings are cached."""

    def __init__(self, embedders: Sequence[Embedder], cache_entries: int = 100_000):
        if not embedders:
            raise ValueError("a ranker needs at least one embedder")
        self.embedders = list(embedders)
        self.caches = [CachedPassages(e, cache_entries) for e in self.embedders]

    @property
    def name(self) -> str:
        return "+".join(e.name for e in self.embedders)

    def rank(self, query: str, descriptions: Sequence[str]) -> list[Ranked]:
        """All candidates, best first; ties keep input order."""
        request = request_core(query)
        passages = [description_core(d) for d in descriptions]
        cosines = np.stack(
            [cache.embed(passages) @ embedder.embed([request], "query")[0] for embedder, cache in zip(self.embedders, self.caches)]
        )
        similarity = cosines.mean(axis=0)
        score = similarity if len(self.embedders) == 1 else np.mean([_standardise(c) for c in cosines], axis=0)
        order = np.argsort(-score, kind="stable")
        return [Ranked(int(i), float(score[i]), float(similarity[i])) for i in order]
