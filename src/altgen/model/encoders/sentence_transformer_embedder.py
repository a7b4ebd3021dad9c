"""Any sentence-transformers encoder, by hub id or local folder (e.g. intfloat/multilingual-e5-base, BAAI/bge-m3)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from altgen.ranking.contract import Embedder, l2_normalise
from altgen.types import TextKind

# Families trained with "query: "/"passage: " prefixes that older checkpoints do not declare as prompts.
E5_PREFIXES = {"query": "query: ", "passage": "passage: "}


def weights_version(name_or_path: str) -> str:
    """Names the weights a vector came from: a folder's files (names, sizes, times), else the hub id."""
    import hashlib
    from pathlib import Path

    folder = Path(name_or_path)
    if not folder.is_dir():
        return "hub"
    files = sorted(f for f in folder.rglob("*") if f.is_file())
    listing = "".join(f"{f.relative_to(folder)}:{f.stat().st_size}:{f.stat().st_mtime_ns};" for f in files)
    return hashlib.sha256(listing.encode()).hexdigest()[:16]


class SentenceTransformerEmbedder(Embedder):
    def __init__(self, name_or_path: str, device: str = "cpu"):
        from sentence_transformers import SentenceTransformer

        self.name = name_or_path
        self._model = SentenceTransformer(name_or_path, device=device)
        dimension = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dimension = dimension()
        self.version = weights_version(name_or_path)
        # Newer sentence-transformers versions declare empty prompts by default: only non-empty ones count.
        declared = {name: prompt for name, prompt in (self._model.prompts or {}).items() if prompt}
        if declared:
            self._prefixes = {
                "query": declared.get("query", ""),
                "passage": declared.get("passage", declared.get("document", "")),
            }
        elif "e5" in name_or_path.lower():
            self._prefixes = E5_PREFIXES
        else:
            self._prefixes = {"query": "", "passage": ""}

    def embed(self, texts: Sequence[str], kind: TextKind = "passage") -> np.ndarray:
        prefix = self._prefixes[kind]
        vectors = self._model.encode([prefix + t for t in texts], convert_to_numpy=True, show_progress_bar=False)
        return l2_normalise(np.asarray(vectors).reshape(len(texts), -1))
