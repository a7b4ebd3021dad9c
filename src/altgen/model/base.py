"""The two contracts every backend meets. Both are blocking calls, run by the worker in a thread."""

from __future__ import annotations

from typing import Protocol, Sequence

import numpy as np
from PIL import Image


class Captioner(Protocol):
    """Writes one description per image; one call is one batched forward pass on its device."""

    name: str
    device: str

    def caption(self, images: Sequence[Image.Image]) -> list[str]: ...


class Embedder(Protocol):
    """Maps texts to L2-normalised vectors; a dot product is a cosine similarity."""

    name: str

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...
