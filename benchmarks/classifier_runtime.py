"""The embedded default's speed-ups, checked for faithfulness on every evaluation photo (files as shipped):

  decode   - a photo decoded only as large as the classifier and the text gate need (JPEG: in the DCT, at
             1/2..1/8 scale) instead of whole and then shrunk by the /config rule;
  runtime  - the classifier in ONNX Runtime (float32), or in PyTorch in bfloat16, instead of PyTorch float32.

For each photo it writes the description every way (old/new decode x runtime) and reports how many
descriptions change against the release's way (whole decode, PyTorch float32), the classifier's top-1
agreement, and the classifier's time per photo in each runtime (batches of 8, one run, alternating).

    python benchmarks/classifier_runtime.py
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import torch

from eval_captioner import DATA as CAPTIONER_DATA
from eval_captioner import load_photo
from eval_describe_find import DATA as DESCRIBE_FIND_DATA
from eval_describe_find import read_photos

from altgen.captioning.contract import CaptionRequest
from altgen.images.decode import prepare_image
from altgen.model.classifier.faces import FaceCounter
from altgen.model.classifier.imagenet_captioner import ImageNetCaptioner
from altgen.model.ocr.text_reader import GATE_SIDE
from altgen.settings import ResizeConfig

RESULTS = Path(__file__).parent / "results" / "classifier_runtime.json"


def evaluation_photos() -> dict[str, bytes]:
    photos = {f"captioner:{p['id']}": load_photo(p["source"]) for p in json.loads(CAPTIONER_DATA.read_text())["photos"]}
    for photo in read_photos(json.loads(DESCRIBE_FIND_DATA.read_text()), "all"):
        photos[f"describe_find:{photo['id']}"] = photo["bytes"]
    return photos


def seconds_per_photo(captioner: ImageNetCaptioner, requests: list[CaptionRequest], rounds: int = 3) -> float:
    captioner.probabilities(requests[:8])  # warm-up
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for first in range(0, len(requests), 8):
            captioner.probabilities(requests[first : first + 8])
        best = min(best, (time.perf_counter() - started) / len(requests))
    return best


def main() -> None:
    photos = evaluation_photos()
    faces = FaceCounter()
    captioners = {
        "torch-float32": ImageNetCaptioner(faces=faces, runtime="torch"),
        "torch-bfloat16": ImageNetCaptioner(faces=faces, runtime="torch", dtype=torch.bfloat16),
        "onnxruntime-float32": ImageNetCaptioner(faces=faces),
    }
    rule = ResizeConfig()
    # What the default captioner (text reader on) asks for; the reader's gate is not run here.
    needed = max(ImageNetCaptioner.min_short_side, GATE_SIDE * 3 // 4)
    decodes = {
        "whole": {k: prepare_image(v, k, rule, max_bytes=10**9, max_pixels=10**9).image for k, v in photos.items()},
        "reduced": {
            k: prepare_image(v, k, rule, max_bytes=10**9, max_pixels=10**9, min_short_side=needed).image
            for k, v in photos.items()
        },
    }
    texts: dict[str, dict[str, str]] = {}
    top1: dict[str, dict[str, int]] = {}
    for decode, images in decodes.items():
        requests = {k: captioners["torch-float32"].preprocess(CaptionRequest(image)) for k, image in images.items()}
        for runtime, captioner in captioners.items():
            way = f"{decode}/{runtime}"
            texts[way] = {k: captioner.caption([r])[0] for k, r in requests.items()}
            top1[way] = {k: int(captioner.probabilities([r])[0].argmax()) for k, r in requests.items()}
    release = "whole/torch-float32"
    changed = {way: sorted(k for k in photos if texts[way][k] != texts[release][k]) for way in texts if way != release}
    requests = [captioners["torch-float32"].preprocess(CaptionRequest(image)) for image in decodes["reduced"].values()]
    speed: dict[str, list[float]] = {runtime: [] for runtime in captioners}
    for _round in range(2):  # alternating, so that a busy moment does not favour one
        for runtime, captioner in captioners.items():
            speed[runtime].append(seconds_per_photo(captioner, requests))
    result = {
        "photos": len(photos),
        "machine": {"cpu": platform.processor() or platform.machine(), "threads": torch.get_num_threads()},
        "top1_agreement_with_release": {
            way: sum(top1[way][k] == top1[release][k] for k in photos) / len(photos) for way in top1 if way != release
        },
        "descriptions_changed": {way: len(names) for way, names in changed.items()},
        "changed": {way: {k: [texts[release][k], texts[way][k]] for k in names} for way, names in changed.items()},
        "classifier_ms_per_photo": {runtime: round(min(times) * 1000, 2) for runtime, times in speed.items()},
    }
    RESULTS.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "changed"}, indent=1))


if __name__ == "__main__":
    main()
