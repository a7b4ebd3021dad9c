"""CPU time to describe one photo, with and without the scene reading (issue 22 asks for at most 1.3x).

Both captioners share one loaded model (the scene reading adds no model); they describe the same
places photos one at a time (preprocessing included), alternating old and new round by round in
one run so that the machine's load falls on both alike. Writes benchmarks/results/places_cost.json.

    python benchmarks/bench_places_cost.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from photo_sources import read_source  # noqa: E402

from altgen.images.decode import prepare_image  # noqa: E402
from altgen.captioning.contract import CaptionRequest  # noqa: E402
from altgen.model.classifier.faces import FaceCounter  # noqa: E402
from altgen.model.classifier.imagenet_captioner import ImageNetCaptioner  # noqa: E402
from altgen.settings import Settings  # noqa: E402

DATA = Path(__file__).parent / "data" / "places_eval.json"


def cpu_seconds(captioner: ImageNetCaptioner, images: list) -> float:
    start = time.process_time()
    for image in images:
        captioner.caption([captioner.preprocess(CaptionRequest(image))])
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    data = json.loads(DATA.read_text(encoding="utf-8"))
    resize = Settings().resize_config()
    images = [prepare_image(read_source(p["source"], data["roots"], data["packages"]), p["id"], resize,
                            max_bytes=10**9, max_pixels=10**9).image for p in data["photos"]]
    new = ImageNetCaptioner(faces=FaceCounter(), torch_threads=1)
    old = ImageNetCaptioner(faces=FaceCounter(), scenes=False, background_lift=0.0)
    old.model = new.model  # the same weights: only the wording work differs
    cpu_seconds(new, images[:4]), cpu_seconds(old, images[:4])  # warm-up
    times = {"old": [], "new": []}
    for _ in range(args.rounds):
        for name, captioner in (("old", old), ("new", new)):
            times[name].append(cpu_seconds(captioner, images) / len(images))
    per_photo = {name: min(values) for name, values in times.items()}
    result = {"photos": len(images), "rounds": args.rounds, "cpu_s_per_photo": per_photo,
              "ratio_new_over_old": per_photo["new"] / per_photo["old"], "all_rounds": times}
    print(json.dumps(result, indent=2))
    out = Path(__file__).parent / "results" / "places_cost.json"
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
