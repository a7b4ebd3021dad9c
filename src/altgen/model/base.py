"""The two contracts every backend meets. Both are blocking calls, run by the worker in a thread."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, Sequence

import numpy as np
from PIL import Image

TextKind = Literal["query", "passage"]
Language = Literal["en", "ko"]
LANGUAGES: tuple[str, ...] = ("en", "ko")
# "alt": one or two sentences a screen reader reads in one go; "long": a fuller description.
Detail = Literal["alt", "long"]


@dataclass(frozen=True)
class CaptionRequest:
    """One photo to describe and how: requests with different options share one batch."""

    image: Image.Image
    language: Language = "en"
    detail: Detail = "alt"
    # The backend's model inputs for this photo, made ahead by its ``preprocess`` (None: not yet).
    features: Any = field(default=None, compare=False, repr=False)


class Captioner(Protocol):
    """Writes one description per request; one call is one batched forward pass on its device.

    A backend may also define ``warm_up()``, which the service runs on the model thread before it is
    ready, and ``preprocess(request) -> request`` (thread-safe, CPU only), which the service runs on a
    request thread before queueing so that the device's thread spends its time on the model.
    """

    name: str
    device: str

    def caption(self, requests: Sequence[CaptionRequest]) -> list[str]: ...


class Embedder(Protocol):
    """Maps texts to L2-normalised vectors; a dot product is a cosine similarity.

    ``kind`` says whether the texts are requests ("query") or photo descriptions ("passage"), for
    models trained with a prefix or prompt for each; models without one ignore it.
    """

    name: str
    dimension: int  # length of each vector
    version: str  # names its weights: a stored vector is only reused by the same name and version

    def embed(self, texts: Sequence[str], kind: TextKind) -> np.ndarray: ...


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
