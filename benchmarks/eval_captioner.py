"""Honest evaluation of the embedded default captioner on real photos that Python packages ship.

For each photo of benchmarks/data/captioner_eval.json it prints the English and Korean
descriptions, the claims made and whether any is false (outside the photo's allowed list); then
it describes all photos through /getAltText, looks each one up by its Korean and English requests
through /getBestPictures, and reports top-1 retrieval; last, the CPU cost per photo of the full
captioner against the classifier alone. Needs scikit-learn and matplotlib for their sample photos.

    python benchmarks/eval_captioner.py
Writes benchmarks/results/captioner_eval.json.
"""

from __future__ import annotations

import asyncio
import json
import re
import statistics
import time
from pathlib import Path

import httpx
import torch
from asgi_lifespan import LifespanManager

from altgen.api.app import create_app
from altgen.images.decode import prepare_image
from altgen.captioning.contract import CaptionRequest
from altgen.model.classifier.imagenet_captioner import centre_crop, normalised, shorter_side_to_input
from altgen.composition import load_captioner
from altgen.settings import Settings

DATA = Path(__file__).parent / "data" / "captioner_eval.json"
RESULTS = Path(__file__).parent / "results" / "captioner_eval.json"
PROPERTY_CLAIMS = ["points of light", "black-and-white", "dark"]


def load_photo(source: str) -> bytes:
    """The photo file as its package ships it: users send files, not re-encoded copies."""
    package, name = source.split(":")
    if package == "skimage":
        from skimage.data import data_dir

        path = Path(data_dir) / name
    elif package == "sklearn":
        from sklearn.datasets import load_sample_images

        path = next(Path(f) for f in load_sample_images().filenames if f.endswith(name))
    else:
        import matplotlib.cbook

        path = Path(matplotlib.cbook.get_sample_data(name, asfileobj=False))
    return path.read_bytes()


def claims_of(description: str) -> list[str]:
    """The things an English description states, in the words of the allowed lists (a hedged
    "possibly a ..." is not a statement; hedged_of() lists those)."""
    if description.startswith("Image may contain: "):
        listed = re.split(r"(?:,? and |, |^)possibly ", description.removeprefix("Image may contain: ").split(". ")[0].rstrip("."))[0]
        parts = [part for part in re.split(r", | and ", listed) if part]
        return [re.sub(r"^(a|an|\d+) ", "", part).removesuffix("people").strip() or "person" for part in parts]
    found = [claim for claim in PROPERTY_CLAIMS if claim in description]
    tones = re.search(r"mostly (\w+) tones", description)
    return found + ([f"{tones.group(1)} tones"] if tones else [])


def hedged_of(description: str) -> list[str]:
    """The possibilities a hedged description names ("possibly an espresso or a cup")."""
    hedged = re.search(r"possibly (.*?)(?:\.|$)", description)
    return [re.sub(r"^(a|an) ", "", part) for part in re.split(r", | or ", hedged.group(1))] if hedged else []


def is_allowed(claim: str, allowed: list[str]) -> bool:
    claim = claim.lower()
    return any(claim == a.lower() or claim in a.lower().split(" or ") for a in allowed)


async def retrieval(photos: dict[str, bytes], data: dict) -> dict:
    app = create_app(Settings(devices="cpu"))
    async with LifespanManager(app, startup_timeout=120) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://eval", timeout=120) as client:
            pairs = []
            for photo in data["photos"]:
                response = await client.post(
                    "/getAltText", data={"Id": "eval", "Hash": photo["id"]}, files={"Image": ("p.jpg", photos[photo["id"]])}
                )
                pairs.extend(response.json())
            outcome = {"ko": [], "en": []}
            for photo in data["photos"]:
                for language, requests in photo["queries"].items():
                    for text in requests:
                        response = await client.post("/getBestPictures", data={"userText": text, "data": json.dumps(pairs)})
                        outcome[language].append({"request": text, "expected": photo["id"], "got": response.json()})
    return outcome


def main() -> None:
    data = json.loads(DATA.read_text(encoding="utf-8"))
    photos = {photo["id"]: load_photo(photo["source"]) for photo in data["photos"]}
    settings = Settings(devices="cpu")
    captioner = load_captioner(settings, "cpu")
    resize = settings.resize_config()
    prepared = {  # decoded as the service decodes for this captioner
        pid: prepare_image(raw, pid, resize, max_bytes=10**9, max_pixels=10**9, min_short_side=captioner.min_short_side).image
        for pid, raw in photos.items()
    }

    rows = []
    for photo in data["photos"]:
        image = prepared[photo["id"]]
        english, korean = captioner.caption([CaptionRequest(image, "en"), CaptionRequest(image, "ko")])
        claims = claims_of(english)
        false = [claim for claim in claims if not is_allowed(claim, photo["allowed"])]
        hedged = hedged_of(english)
        rows.append({"photo": photo["id"], "en": english, "ko": korean, "claims": claims, "false_claims": false,
                     "hedged": hedged, "hedged_right": any(is_allowed(h, photo["allowed"]) for h in hedged)})
        print(f"{'FALSE ' if false else 'ok    '}{photo['id']:<13} {english}  |  {korean}")

    outcome = asyncio.run(retrieval(photos, data))
    retrieval_rate = {
        language: sum(r["got"] == r["expected"] for r in results) / len(results) for language, results in outcome.items()
    }
    for language, results in outcome.items():
        for r in results:
            if r["got"] != r["expected"]:
                print(f"  retrieval miss [{language}] {r['request']!r}: expected {r['expected']}, got {r['got']!r}")

    images = [CaptionRequest(prepared[p["id"]]) for p in data["photos"]]
    def classifier_alone() -> None:  # EfficientNet-Lite0 on one centre crop, in the captioner's runtime
        batch = torch.stack([normalised(centre_crop(shorter_side_to_input(request.image))) for request in images])
        captioner.logits(batch).softmax(dim=-1)

    def full_captioner() -> None:  # the default captioner: two views, face count, wording
        captioner.caption(images)

    # Alternating rounds, median of each: this machine's speed drifts, so ratios come from one run.
    rounds = {classifier_alone: [], full_captioner: []}
    for _ in range(7):
        for measure, times in rounds.items():
            started = time.perf_counter()
            measure()
            times.append((time.perf_counter() - started) / len(images))
    classifier_s, full_s = (statistics.median(times) for times in rounds.values())

    summary = {
        "photos": len(rows),
        "photos_with_a_false_claim": sum(bool(r["false_claims"]) for r in rows),
        "hedged_descriptions": sum(bool(r["hedged"]) for r in rows),
        "hedged_descriptions_right": sum(r["hedged_right"] for r in rows),
        "retrieval_top1": retrieval_rate,
        "retrieval_requests": {language: len(results) for language, results in outcome.items()},
        "ms_per_photo_classifier_only": classifier_s * 1000,
        "ms_per_photo_full_captioner": full_s * 1000,
        "cost_ratio": full_s / classifier_s,
    }
    print(json.dumps(summary, indent=2))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"summary": summary, "photos": rows, "retrieval": outcome}, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
