"""Builds the configured backends; the only place that maps a setting to a model class."""

from __future__ import annotations

from altgen.model.base import Captioner, Embedder
from altgen.settings import EMBEDDED, Settings


def load_captioner(settings: Settings, device: str) -> Captioner:
    if settings.model == EMBEDDED:
        from altgen.model.imagenet_captioner import ImageNetCaptioner

        return ImageNetCaptioner(device=device, torch_threads=settings.torch_threads)
    raise ValueError(f"unknown model {settings.model!r}; this version supports {EMBEDDED!r}")


def load_embedder(settings: Settings) -> Embedder:
    if settings.embedder == EMBEDDED:
        from altgen.model.use_embedder import UniversalSentenceEncoder

        return UniversalSentenceEncoder()
    raise ValueError(f"unknown embedder {settings.embedder!r}; this version supports {EMBEDDED!r}")
