"""Ranking latency on CPU for 10, 100, 1,000 and 10,000 candidates, cold and warm.

Cold: descriptions the ranker has never seen (every one must be embedded). Warm: the same
candidates re-sent with a new request each time (only the request is embedded; descriptions
come from the cache). Uses the default ranker (the packaged encoders and the glossary).

    python benchmarks/bench_ranking.py
Writes benchmarks/results/ranking_latency.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

from altgen.model.vocabulary import load_class_words
from altgen.model.loading import load_ranker
from altgen.settings import Settings

RESULTS = Path(__file__).parent / "results" / "ranking_latency.json"
COLOURS = ["red", "blue", "green", "yellow", "white", "black", "brown", "orange"]
PLACES = ["on a wooden table", "in a sunny park", "beside a window", "on a beach", "in a busy street", "in a kitchen"]
# Every timed request is new to the ranker (requests are not cached, descriptions are).
ANIMALS = ["고슴도치", "고양이", "강아지", "토끼", "펭귄", "앵무새", "hedgehog", "kitten", "puppy", "rabbit", "penguin", "parrot"]
SCENES = ["사진을 찾아 줘", "바닷가에서 찍은 사진", "on a wooden table", "in the park", "보여줘", "near a window"]


def request(i: int) -> str:
    return f"{ANIMALS[i % len(ANIMALS)]} {SCENES[(i // len(ANIMALS)) % len(SCENES)]} {i}"


def descriptions(count: int, offset: int) -> list[str]:
    """Distinct VLM-style descriptions; ``offset`` makes a batch nobody has seen yet."""
    names = [words.english for words in load_class_words()]
    texts = []
    for i in range(offset, offset + count):
        a, b = names[i % 1000], names[(i * 7 + 3) % 1000]
        texts.append(
            f"The image shows a {COLOURS[i % 8]} {a} {PLACES[i % 6]}. Next to it there is a {b}, "
            f"and the background is softly blurred. Photo number {i}."
        )
    return texts


def timed(ranker, query: str, texts: list[str]) -> float:
    started = time.perf_counter()
    ranker.rank(query, texts)
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1_000, 10_000])
    args = parser.parse_args()
    ranker = load_ranker(Settings())
    ranker.rank("warm-up", descriptions(10, 10**7))
    rows = []
    offset = 0
    for count in args.sizes:
        cold_runs = 3 if count <= 100 else 1
        cold = []
        for _ in range(cold_runs):
            cold.append(timed(ranker, request(offset), descriptions(count, offset)))
            offset += count
        warm_set = descriptions(count, offset)
        offset += count
        ranker.rank("warm-up", warm_set)
        warm = [timed(ranker, request(offset + i), warm_set) for i in range(30)]
        rows.append({"candidates": count, "cold_p50_ms": statistics.median(cold), "warm_p50_ms": statistics.median(warm)})
        print(f"{count:>6} candidates: cold p50 {rows[-1]['cold_p50_ms']:9.1f} ms   warm p50 {rows[-1]['warm_p50_ms']:7.1f} ms")
    RESULTS.parent.mkdir(exist_ok=True)
    if RESULTS.exists():  # keep rows of sizes not measured in this run
        earlier = json.loads(RESULTS.read_text())["rows"]
        rows = sorted([r for r in earlier if r["candidates"] not in args.sizes] + rows, key=lambda r: r["candidates"])
    RESULTS.write_text(
        json.dumps({"machine": f"{platform.machine()}, {os.cpu_count()} cores", "ranker": ranker.name, "rows": rows}, indent=2)
        + "\n"
    )


if __name__ == "__main__":
    main()
