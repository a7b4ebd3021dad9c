"""Places and scenes, described then found end to end (benchmarks/data/places_eval.json, issue 22).

Needs the Debian packages that ship the photos (the install line is in the data file's
"packages" and in docs/places.md). Each photo file is sent as shipped. For one split:
  - every photo is described through /getAltTexts (English), then each photo's Korean and English
    requests go through /getBestPictures against all of the split's descriptions (top-1), and the
    requests no photo answers should come back "" (no match);
  - the captioner's claims are checked against the truth words: stated object claims, the scene
    (indoors / outdoors, the place, sky, night), and hedged possibilities that are wrong and of
    another kind than the photo shows (a dog on a staircase) all count as false claims;
  - the ceiling is how often the classifier's top 5 names or a place its classes point to (pooled
    probability 0.2 or more) hold the thing asked for at all.

    python benchmarks/eval_places.py --split dev [--match-threshold -1.0]
Writes benchmarks/results/places_<split>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from eval_describe_find import answers, is_true, no_match_figures, parse_settings, through_the_api  # noqa: E402
from photo_sources import read_source  # noqa: E402

from altgen.images.decode import prepare_image  # noqa: E402
from altgen.captioning.contract import CaptionRequest  # noqa: E402
from altgen.model.classifier.faces import FaceCounter  # noqa: E402
from altgen.model.classifier.imagenet_captioner import ImageNetCaptioner  # noqa: E402
from altgen.model.classifier.scenes import OUTDOORS, kind_of  # noqa: E402
from altgen.model.classifier.vocabulary import class_synonyms, load_class_words  # noqa: E402
from altgen.settings import Settings  # noqa: E402

DATA = Path(__file__).parent / "data" / "places_eval.json"
RESULTS = Path(__file__).parent / "results"
NO_OBJECT = "A photo with no object recognised with confidence."  # the whole text, before it named the colours
NOTHING_RECOGNISED = "no object recognised"
# The truth words that make a stated place right (written with the place list, before the runs).
PLACE_TRUTH = {
    "a kitchen": {"kitchen"}, "a bathroom": {"bathroom"}, "a bedroom": {"bedroom"}, "a ballpark": {"ballpark", "stadium"},
    "a sports ground": {"stadium", "field", "court", "hall", "sports ground", "arena"},
    "a stage": {"stage", "theatre", "concert hall"}, "a shop": {"shop", "store", "pub", "bar", "shopfront"},
    "a street": {"street", "road", "sidewalk", "pavement", "town", "city"},
    "a historic building": {"castle", "palace", "temple", "church", "cathedral", "mosque", "monument", "ruins", "fort",
                            "fortress", "stupa", "gate", "memorial", "abbey", "mausoleum", "pyramid", "capitol",
                            "amphitheatre", "basilica", "pavilion", "cliff dwelling", "triumphal arch", "tower", "minaret",
                            "museum", "opera house", "statue", "wall", "aqueduct", "building"},
    "mountains": {"mountain", "alp", "cliff", "canyon", "valley", "hill"},
    "a shore": {"shore", "beach", "sea", "lake", "lakeside", "seashore", "harbour", "river", "island", "moat"},
    "under water": {"underwater"},
}
# Words that do not single a photo out, left out of the ceiling (it needs the thing asked for).
NOT_THE_ANSWER = frozenset({"building", "outdoor", "indoor", "sky", "cloud", "tree", "grass", "water", "night", "people",
                            "person", "black-and-white", "stone", "brick", "window", "sign", "wall"})
SYNONYMS = class_synonyms()
CLASSES = load_class_words()


def photo_kinds(truth: list[str]) -> set[str]:
    """The kinds of thing a photo shows: its truth words that name ImageNet classes, and always a place."""
    kinds = {"place"}
    for word in truth:
        for names, words in zip(SYNONYMS, CLASSES):
            if word.lower() in {n.lower() for n in names} | {words.basic[0].lower()}:
                kinds.add(kind_of(words.chain))
    return kinds


def kind_of_name(name: str) -> str:
    return next((kind_of(words.chain) for words in CLASSES if words.basic[0] == name), "thing")


def analyse(photos: list[dict], captioner: ImageNetCaptioner) -> list[dict]:
    resize = Settings().resize_config()
    rows = []
    for photo in photos:
        image = prepare_image(photo["bytes"], photo["id"], resize, max_bytes=10**9, max_pixels=10**9).image
        request = captioner.preprocess(CaptionRequest(image))
        probs = captioner.probabilities([request])[0]
        truth, kinds = photo["truth"], photo_kinds(photo["truth"])
        names = list(captioner.name_probabilities(probs).items())[:5]
        claims = []
        for claim in captioner.claims(probs):
            possible = [english for english, _korean in claim.names]
            right = [is_true(name, truth) for name in possible]
            wrong_kind = [n for n, r in zip(possible, right) if not r and kind_of_name(n) not in kinds]
            claims.append({"name": " or ".join(possible), "hedged": claim.hedged,
                           "false": (not claim.hedged and not right[0]) or (claim.hedged and bool(wrong_kind)),
                           "right": any(right)})
            if claim.general:
                claims.append({"name": claim.general.english, "hedged": False, "right": is_true(claim.general.english, truth),
                               "false": not is_true(claim.general.english, truth)})
        scene = captioner.scene(request, probs)
        scene_claims = []
        if scene.setting:
            word = "outdoor" if scene.setting == OUTDOORS else "indoor"
            scene_claims.append({"name": scene.setting[0], "false": word not in truth})
        if scene.place:
            scene_claims.append({"name": scene.place.english, "false": not PLACE_TRUTH[scene.place.english] & {t.lower() for t in truth}})
        for english, _korean in scene.facts:
            scene_claims.append({"name": english, "false": english not in truth})
        cues = [place.english for place, members in captioner.scenes._places if probs[members].sum() >= 0.2]
        # A place cue supports an answer only by its own name ("a kitchen"), not by what it may stand for.
        cue_words = {word.removesuffix("s") for place in cues for word in place.split() if word not in ("a", "an", "historic", "building")}
        cue_words |= {"underwater"} if "under water" in cues else set()
        wanted = [word for word in answers(photo) if word not in NOT_THE_ANSWER]
        rows.append({
            "photo": photo["id"],
            "claims": claims,
            "scene": scene_claims,
            "top5": [[en, round(p, 3)] for (en, _ko), p in names],
            "place_cues": cues,
            "ceiling": bool(wanted) and (any(is_true(en, wanted) for (en, _ko), _p in names) or bool(cue_words & set(wanted))),
            "outdoor_mass": round(captioner.scenes.outdoor_mass(probs), 3),
            "indoor_mass": round(captioner.scenes.indoor_mass(probs), 3),
        })
    return rows


def summarise(rows: list[dict], api: dict) -> dict:
    found = api["found"]
    top1 = {lang: float(np.mean([f["got"] == f["expected"] for f in found if f["language"] == lang])) for lang in ("ko", "en")}
    ceiling = float(np.mean([row["ceiling"] for row in rows]))
    false_photos = [row["photo"] for row in rows if any(c["false"] for c in row["claims"] + row["scene"])]
    return {
        "photos": len(rows),
        "top1": top1,
        "ceiling": ceiling,
        "top1_over_ceiling": {lang: v / ceiling if ceiling else None for lang, v in top1.items()},
        "whole_text_no_object": float(np.mean([d == NO_OBJECT for d in api["descriptions"].values()])),
        "nothing_recognised": float(np.mean([NOTHING_RECOGNISED in d for d in api["descriptions"].values()])),
        "photos_with_a_false_claim": len(false_photos) / len(rows),
        "false_claim_photos": false_photos,
        "object_claims_false": sum(c["false"] for row in rows for c in row["claims"]),
        "scene_claims": sum(len(row["scene"]) for row in rows),
        "scene_claims_false": sum(c["false"] for row in rows for c in row["scene"]),
        "hedged_claims": sum(c["hedged"] for row in rows for c in row["claims"]),
        "hedged_claims_right": sum(c["hedged"] and c["right"] for row in rows for c in row["claims"]),
        **no_match_figures(api),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", default="dev", choices=["dev", "test", "all"])
    parser.add_argument("--match-threshold", type=float, help="the ranker's match threshold (default: the service's)")
    parser.add_argument("--baseline", action="store_true", help="the captioner without scenes or background lift")
    parser.add_argument("--setting", action="append", default=[], metavar="NAME=VALUE",
                        help="a service setting for the run (e.g. evidence_weight=0), repeatable")
    parser.add_argument("--name", help="the results file's name (default: places_<split>)")
    args = parser.parse_args()
    data = json.loads(DATA.read_text(encoding="utf-8"))
    photos = [p for p in data["photos"] if args.split == "all" or p["split"] == args.split]
    for photo in photos:
        photo["bytes"] = read_source(photo["source"], data["roots"], data["packages"])
    options = {"scenes": False, "background_lift": 0.0} if args.baseline else {}
    captioner = ImageNetCaptioner(faces=FaceCounter(), **options)
    settings = {"match_threshold": args.match_threshold} if args.match_threshold is not None else {}
    settings.update(parse_settings(args.setting))
    rows = analyse(photos, captioner) if not args.baseline else []
    api = asyncio.run(through_the_api(photos, data["unanswerable"], captioner, **settings))
    summary = summarise(rows, api) if rows else {"top1": {lang: float(np.mean([f["got"] == f["expected"] for f in api["found"] if f["language"] == lang])) for lang in ("ko", "en")},
                                                 "whole_text_no_object": float(np.mean([d == NO_OBJECT for d in api["descriptions"].values()])),
                                                 "nothing_recognised": float(np.mean([NOTHING_RECOGNISED in d for d in api["descriptions"].values()])),
                                                 **no_match_figures(api)}
    for photo in photos:
        print(f"{photo['id']:<18} {api['descriptions'][photo['id']]}")
    for f in api["found"]:
        if f["got"] != f["expected"]:
            print(f"  miss [{f['language']}] {f['request']!r}: expected {f['expected']}, got {f['got']!r}")
    for u in api["unanswerable"]:
        if u["got"]:
            print(f"  matched unanswerable [{u['language']}] {u['request']!r}: got {u['got']!r}")
    print(json.dumps(summary, indent=2))
    RESULTS.mkdir(exist_ok=True)
    name = args.name or f"places_{args.split}" + ("_baseline" if args.baseline else "")
    (RESULTS / f"{name}.json").write_text(json.dumps({"summary": summary, "photos": rows, "api": api}, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
