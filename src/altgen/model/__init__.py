"""Models behind two small interfaces: captioners (images -> texts) and embedders (texts -> vectors)."""

from altgen.model.base import Captioner, CaptionRequest, Embedder

__all__ = ["CaptionRequest", "Captioner", "Embedder"]
