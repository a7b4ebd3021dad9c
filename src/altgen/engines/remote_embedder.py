"""A text encoder behind an OpenAI-compatible embedding engine (``ALTGEN_EMBEDDER=openai:<base url>#<model>``:
Infinity, TEI, vLLM, Ollama, ...), for ranking. Vectors are cached like the local encoders' (the cache key names
the engine and the model), so each description costs the engine one embedding, once."""

from __future__ import annotations

import logging
from typing import Sequence

import numpy as np

from altgen.engines.openai_engine import Engine, EngineError
from altgen.errors import ModelBusy, ModelUnavailable
from altgen.model.encoders.sentence_transformer_embedder import E5_PREFIXES
from altgen.ranking.contract import Embedder, l2_normalise
from altgen.settings import EngineAddress
from altgen.types import TextKind

log = logging.getLogger(__name__)

# Texts per /embeddings request: TEI refuses more than 32 by default (--max-client-batch-size).
BATCH = 32
NO_PREFIXES = {"query": "", "passage": ""}


class RemoteEmbedder(Embedder):
    # A stored vector is reused only for the same engine and model name: the name carries both. The engine does not
    # say which weights it serves, so a model changed under the same name needs a new cache file (cache_path).
    version = "engine"

    def __init__(self, address: EngineAddress, *, api_key: str | None, timeout_s: float):
        self.name = str(address)
        # A search embeds its request while its new descriptions are embedded: two calls at once at most.
        self.engine = Engine(address, api_key, connections=2)
        self.timeout_s = timeout_s
        # e5 models were trained with these prefixes, and engines serve them as they are.
        self._prefixes = E5_PREFIXES if "e5" in address.model.lower() else NO_PREFIXES
        try:  # one text tells the vector length, and whether the engine, key and model name are right
            self.dimension = self._embed_batch(["photo"]).shape[1]
        except (ModelBusy, TimeoutError, EngineError) as exc:  # said in one line at start-up, no traceback
            raise ModelUnavailable(f"embedder {address}: {exc}") from None
        log.info("ranking with %s at %s (%d dimensions)", address.model, address.base_url, self.dimension)

    def embed(self, texts: Sequence[str], kind: TextKind = "passage") -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        prefix = self._prefixes[kind]
        batches = [self._embed_batch([prefix + t for t in texts[i : i + BATCH]]) for i in range(0, len(texts), BATCH)]
        return l2_normalise(np.concatenate(batches))

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        answer = self.engine.post("/embeddings", {"model": self.engine.address.model, "input": texts}, self.timeout_s)
        try:
            rows = sorted(answer["data"], key=lambda row: row["index"])  # the API allows any order
            vectors = np.asarray([row["embedding"] for row in rows], dtype=np.float32)
        except (KeyError, TypeError, ValueError) as exc:
            raise EngineError(f"an answer that is not a list of embeddings: {str(answer)[:300]}") from exc
        if vectors.ndim != 2 or len(vectors) != len(texts):
            raise EngineError(f"{len(vectors)} embeddings for {len(texts)} texts")
        return vectors
