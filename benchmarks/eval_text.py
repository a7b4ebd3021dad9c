"""Text in photos, end to end through the API, on benchmarks/data/text_eval.json (see text_eval_set.py).

For one split: every photo (as rendered or shipped, never re-encoded) is described through
/getAltTexts; each text photo's Korean and English requests go through /getBestPictures against all
of the split's descriptions (text photos and text-free ones). Reported:
  - text_in_alt: the share of text photos whose alt text quotes every word of the truth, by language;
  - top1: the share of requests answered with their photo, by the request's language;
  - text_claimed_on_text_free: the share of text-free photos whose alt text quotes any text;
  - cost: ms to describe one photo (preprocess + caption, batch of one), the captioner without the
    reader and with it, alternating photo by photo in this one run.

    python benchmarks/text_eval_set.py render --out /tmp/text-eval
    python benchmarks/eval_text.py --split dev --images /tmp/text-eval [--line-confidence 0.8 --word-confidence 0.6]
Writes benchmarks/results/text_<split>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from eval_describe_find import describe_all, eval_client  # noqa: E402

from altgen.images.decode import prepare_image  # noqa: E402
from altgen.captioning.contract import CaptionRequest  # noqa: E402
from altgen.model.classifier.faces import FaceCounter  # noqa: E402
from altgen.model.classifier.imagenet_captioner import ImageNetCaptioner  # noqa: E402
from altgen.model.ocr.text_reader import TextReader  # noqa: E402
from altgen.ranking.words import quoted_text  # noqa: E402
from altgen.settings import Settings  # noqa: E402

DATA = Path(__file__).parent / "data" / "text_eval.json"
RESULTS = Path(__file__).parent / "results"


def read_photos(data: dict, split: str, images: Path) -> list[dict]:
    photos = [photo for photo in data["photos"] if split == "all" or photo["split"] == split]
    for photo in photos:
        root, relative = photo["source"].split(":", 1)
        if root == "render":
            path = images / relative
        elif root == "scikit-image":
            import skimage

            path = Path(skimage.__file__).parent / "data" / relative
        else:
            path = Path(data["roots"][root]) / relative
        if not path.exists():
            raise SystemExit(f"{path} is missing: apt-get install {' '.join(data['packages'])}, then render")
        photo["bytes"] = path.read_bytes()
    return photos


def quotes_truth(description: str, truth: str) -> bool:
    said = re.sub(r"\s+", " ", quoted_text(description))
    return all(word.lower() in said for word in truth.split())


async def through_the_api(photos: list[dict], captioner: ImageNetCaptioner) -> dict:
    async with eval_client(captioner) as client:
        pairs = await describe_all(client, photos)
        found = []
        for photo in photos:
            if not photo["truth"]:
                continue
            for language in ("ko", "en"):
                response = await client.post("/getBestPictures", data={"userText": photo[language], "data": json.dumps(pairs)})
                found.append({"language": language, "request": photo[language], "expected": photo["id"], "got": response.json()})
    return {"descriptions": {pair["Hash"]: pair["Description"] for pair in pairs}, "found": found}


def describe_ms(captioner: ImageNetCaptioner, photo: dict) -> float:
    image = prepare_image(photo["bytes"], photo["id"], Settings().resize_config(), max_bytes=10**9, max_pixels=10**9).image
    start = time.perf_counter()
    captioner.describe([CaptionRequest(image)])
    return (time.perf_counter() - start) * 1000


def cost(photos: list[dict], old: ImageNetCaptioner, new: ImageNetCaptioner) -> dict:
    """Old and new alternate photo by photo (which goes first alternates too), after one warm-up each."""
    describe_ms(old, photos[0]), describe_ms(new, photos[0])
    times = {"old": {"text": [], "text_free": []}, "new": {"text": [], "text_free": []}}
    for index, photo in enumerate(photos):
        group = "text" if photo["truth"] else "text_free"
        order = [("old", old), ("new", new)] if index % 2 == 0 else [("new", new), ("old", old)]
        for name, captioner in order:
            times[name][group].append(describe_ms(captioner, photo))
    summary = {name: {group: {"mean_ms": round(statistics.mean(v), 1), "median_ms": round(statistics.median(v), 1)}
                      for group, v in groups.items() if v} for name, groups in times.items()}
    summary["text_free_mean_ratio"] = round(statistics.mean(times["new"]["text_free"]) / statistics.mean(times["old"]["text_free"]), 2)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", default="dev", choices=["dev", "test", "all"])
    parser.add_argument("--images", type=Path, default=Path("/tmp/text-eval"), help="where text_eval_set.py rendered the screenshots")
    parser.add_argument("--line-confidence", type=float, help="least PP-OCR line confidence kept (default: the reader's)")
    parser.add_argument("--word-confidence", type=float, help="least Tesseract word confidence kept (default: the reader's)")
    parser.add_argument("--no-cost", action="store_true", help="skip the old/new timing")
    args = parser.parse_args()
    data = json.loads(DATA.read_text(encoding="utf-8"))
    photos = read_photos(data, args.split, args.images)
    thresholds = {k: v for k, v in (("line_confidence", args.line_confidence), ("word_confidence", args.word_confidence)) if v is not None}
    reader = TextReader(**thresholds)
    captioner = ImageNetCaptioner(faces=FaceCounter(), text_reader=reader)

    api = asyncio.run(through_the_api(photos, captioner))
    rows = []
    for photo in photos:
        description = api["descriptions"][photo["id"]]
        rows.append({"photo": photo["id"], "language": photo["language"], "kind": photo["kind"], "truth": photo["truth"],
                     "description": description, "text_read": quoted_text(description) != "",
                     "truth_in_alt": quotes_truth(description, photo["truth"]) if photo["truth"] else None})
    text_rows = [row for row in rows if row["truth"]]
    free_rows = [row for row in rows if not row["truth"]]
    summary = {
        "photos": {"text": len(text_rows), "text_free": len(free_rows)},
        "text_in_alt": {language: statistics.mean(r["truth_in_alt"] for r in text_rows if r["language"] == language)
                        for language in ("en", "ko") if any(r["language"] == language for r in text_rows)},
        "top1": {language: statistics.mean(f["got"] == f["expected"] for f in api["found"] if f["language"] == language)
                 for language in ("en", "ko")},
        "text_claimed_on_text_free": statistics.mean(r["text_read"] for r in free_rows) if free_rows else None,
        "screenshots_said": statistics.mean("screenshot" in r["description"] or "스크린샷" in r["description"]
                                            for r in text_rows if r["kind"] in ("document", "web", "chat", "settings")),
        "thresholds": {"line_confidence": reader.line_confidence, "word_confidence": reader.word_confidence},
        "korean_reader": reader.korean is not None,
    }
    if not args.no_cost:
        old = ImageNetCaptioner(faces=FaceCounter())
        summary["cost"] = cost(photos, old, captioner)
    misses = [row for row in text_rows if not row["truth_in_alt"]]
    wrong = [f for f in api["found"] if f["got"] != f["expected"]]
    for row in misses:
        print(f"MISS {row['photo']}: want {row['truth']!r}; said {row['description']!r}")
    for f in wrong:
        print(f"NOT FOUND {f['request']!r} -> {f['got']!r} (want {f['expected']})")
    for row in free_rows:
        if row["text_read"]:
            print(f"CLAIMED {row['photo']}: {row['description']!r}")
    print(json.dumps(summary, ensure_ascii=False, indent=1))
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"text_{args.split}.json"
    out.write_text(json.dumps({"summary": summary, "photos": rows, "found": api["found"]}, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
