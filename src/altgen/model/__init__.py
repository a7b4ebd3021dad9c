"""Models behind two small interfaces: captioners (images -> texts) and embedders (texts -> vectors)."""

from altgen.model.base import Captioner, Embedder

__all__ = ["Captioner", "Embedder"]
