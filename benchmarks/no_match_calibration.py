"""Can "no match" be calibrated on dev so that a stated rate holds on held-out?

Reads the descriptions and requests that eval_describe_find.py and eval_places.py wrote
(benchmarks/results/{describe_find,places}_{dev,test}.json), ranks every request against its half's
descriptions with the service's ranker, and takes three signals of the best candidate: its relevance,
whether it shares a word with the request, and its score's lead over the second candidate. A logistic
model of "nothing shown" is fitted on dev (both sets together); its threshold is set on dev so that at
most a stated share of answerable requests is flagged; held-out then says whether that share holds,
with the precision and recall of "no match". The service's own rule is reported beside it.

    python benchmarks/no_match_calibration.py
Writes benchmarks/results/no_match_calibration.json.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from altgen.composition import load_ranker
from altgen.settings import Settings

RESULTS = Path(__file__).parent / "results"
SETS = ("describe_find", "places")
RATES = (0.05, 0.10, 0.15)


def signals(ranker, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per request: (relevance, shares a word, lead over the second), whether nothing is shown, the service's flag."""
    features, unanswerable, flagged = [], [], []
    for name in SETS:
        api = json.loads((RESULTS / f"{name}_{split}.json").read_text(encoding="utf-8"))["api"]
        texts = list(api["descriptions"].values())
        requests = [(f["request"], 0) for f in api["found"]] + [(u["request"], 1) for u in api["unanswerable"]]
        for request, label in requests:
            best, second = ranker.rank(request, texts)[:2]
            features.append((best.relevance, float(best.shared_words > 0), best.score - second.score))
            unanswerable.append(label)
            flagged.append(not ranker.is_match(best))
    return np.array(features), np.array(unanswerable), np.array(flagged)


def fit_logistic(x: np.ndarray, y: np.ndarray, steps: int = 50) -> np.ndarray:
    """Weights (bias first) by Newton's method, with a little ridge so separable data stays finite."""
    design = np.hstack([np.ones((len(x), 1)), x])
    weights = np.zeros(design.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-design @ weights))
        gradient = design.T @ (p - y) + 1e-3 * weights
        hessian = design.T @ (design * (p * (1 - p))[:, None]) + 1e-3 * np.eye(len(weights))
        weights -= np.linalg.solve(hessian, gradient)
    return weights


def predict(weights: np.ndarray, x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-(weights[0] + x @ weights[1:])))


def scores(flag: np.ndarray, unanswerable: np.ndarray) -> dict:
    hits = int((flag & (unanswerable == 1)).sum())
    return {
        "precision": hits / max(int(flag.sum()), 1),
        "recall": hits / int((unanswerable == 1).sum()),
        "answerable_flagged": float(flag[unanswerable == 0].mean()),
    }


def main() -> None:
    ranker = load_ranker(Settings())
    dev_x, dev_y, dev_flag = signals(ranker, "dev")
    test_x, test_y, test_flag = signals(ranker, "test")
    weights = fit_logistic(dev_x, dev_y)
    dev_p, test_p = predict(weights, dev_x), predict(weights, test_x)
    answerable = np.sort(dev_p[dev_y == 0])
    report = {
        "requests": {"dev": len(dev_y), "test": len(test_y)},
        "service_rule": {"dev": scores(dev_flag, dev_y), "test": scores(test_flag, test_y)},
        "weights_bias_relevance_shared_lead": weights.round(4).tolist(),
        "calibrated": [],
    }
    for rate in RATES:
        threshold = float(answerable[int(np.ceil((1 - rate) * len(answerable))) - 1])
        report["calibrated"].append({
            "stated_answerable_flagged": rate,
            "threshold": threshold,
            "dev": scores(dev_p > threshold, dev_y),
            "test": scores(test_p > threshold, test_y),
        })
    print(json.dumps(report, indent=2))
    (RESULTS / "no_match_calibration.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
