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
    score: float


def rank(embedder: Embedder, query: str, descriptions: Sequence[str]) -> list[Ranked]:
    """All candidates, best first; ties keep input order."""
    vectors = embedder.embed([request_core(query)] + [description_core(d) for d in descriptions])
    scores = vectors[1:] @ vectors[0]
    order = np.argsort(-scores, kind="stable")
    return [Ranked(int(i), float(scores[i])) for i in order]
