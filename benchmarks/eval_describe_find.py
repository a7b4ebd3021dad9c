"""Describe-then-find, end to end, on photos the project never tuned on (benchmarks/data/describe_find_eval.json).

Needs the Debian packages that ship the photos: `apt-get install tuxpaint-stamps-default
plasma-workspace-wallpapers`. Each photo file is sent as shipped. For one split (dev or held-out):
  - every photo is described through /getAltTexts (English, as the legacy app asks);
  - each photo's Korean and English requests go through /getBestPictures against all of the split's
    descriptions: top-1 is the share that come back with that photo; requests for things no photo
    shows should come back "" (no match);
  - the captioner's own claims are checked against each photo's truth words: stated claims that are
    false, hedged claims that are right; the ceiling is how often the classifier's top 5 basic-level
    names hold the answer at all; the reliability table says how often the top name is right at each
    pooled confidence (what the stated and hedged bands are chosen from, on dev only).

    python benchmarks/eval_describe_find.py --split dev [--state 0.5 --hedge 0.2]
Writes benchmarks/results/describe_find_<split>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from contextlib import asynccontextmanager
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import AsyncIterator

import httpx
import numpy as np
from asgi_lifespan import LifespanManager

from altgen.api.app import create_app
from altgen.images.decode import prepare_image
from altgen.captioning.contract import CaptionRequest
from altgen.model.classifier.faces import FaceCounter
from altgen.model.classifier.imagenet_captioner import Claim, ImageNetCaptioner
from altgen.model.classifier.vocabulary import CATEGORIES, load_class_words
from altgen.settings import Settings

DATA = Path(__file__).parent / "data" / "describe_find_eval.json"
RESULTS = Path(__file__).parent / "results"
# Words too general to count as finding the thing asked for (the ceiling needs the thing itself).
GENERAL = frozenset(
    "animal mammal bird fish insect reptile amphibian food fruit vegetable plant vehicle tool water sky "
    "musical instrument appliance aircraft marsupial rodent primate crustacean citrus berry".split(" ")
) | {"musical instrument"}
BINS = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.01]


def read_photos(data: dict, split: str) -> list[dict]:
    photos = [photo for photo in data["photos"] if split == "all" or photo["split"] == split]
    for photo in photos:
        package, relative = photo["source"].split(":")
        path = Path(data["roots"][package]) / relative
        if not path.exists():
            raise SystemExit(f"{path} is missing: apt-get install {' '.join(data['packages'])}")
        photo["bytes"] = path.read_bytes()
    return photos


def _same(name: str, word: str) -> bool:
    name, word = name.lower(), word.lower()
    return name == word or name in word.split(" or ") or word in name.split(" or ")


@lru_cache(maxsize=None)
def broader_words(word: str) -> frozenset[str]:
    """What WordNet says a thing also is: an owl is a bird of prey, a ladybug a beetle. From the
    hypernym chains of the ImageNet classes that the word names (any synonym, or the basic-level name)."""
    synonyms = [[s.strip() for s in line.split("\t")[2].split(",")]
                for line in resources.files("altgen.model.classifier").joinpath("data/imagenet_classes.tsv").read_text().splitlines()]
    found = set()
    for names, words in zip(synonyms, load_class_words()):
        if any(_same(word, name) for name in [*names, words.basic[0]]):
            found.update(words.chain)
            found.update(CATEGORIES[c][0] for c in words.categories)
            found.add(words.basic[0])
    return frozenset(found)


def is_true(name: str, truth: list[str]) -> bool:
    """A claim is true if it is one of the photo's truth words or, through WordNet, something its
    subject (the first truth word) also is."""
    return any(_same(name, word) for word in [*truth, *broader_words(truth[0])])


def parse_settings(pairs: list[str]) -> dict[str, str]:
    """``--setting name=value`` pairs for the service the evaluation runs (its settings parse the values)."""
    return dict(pair.split("=", 1) for pair in pairs)


def answers(photo: dict) -> list[str]:
    return [word for word in photo["truth"] if word not in GENERAL]


@asynccontextmanager
async def eval_client(captioner: ImageNetCaptioner, **settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app on ``captioner``, in this process. No cache file: every run embeds and remembers
    afresh, whatever earlier runs (or the user's own service) stored."""
    settings = {"cache_path": "none", **settings}
    app = create_app(Settings(devices="cpu", max_batch_size=8, **settings), captioner_factory=lambda _settings, _device: captioner)
    async with LifespanManager(app, startup_timeout=300) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://eval", timeout=600) as client:
            yield client


async def describe_all(client: httpx.AsyncClient, photos: list[dict]) -> list[dict]:
    """Every photo described through /getAltTexts, eight a request, each file as shipped; its id is its Hash."""
    pairs = []
    for start in range(0, len(photos), 8):
        group = photos[start : start + 8]
        files = [(f"Image{i}", (p["source"].rsplit("/", 1)[-1], p["bytes"])) for i, p in enumerate(group)]
        response = await client.post("/getAltTexts", data={"Id": "eval", "Hash": [p["id"] for p in group]}, files=files)
        response.raise_for_status()
        pairs.extend(response.json())
    return pairs


async def through_the_api(photos: list[dict], unanswerable: list[dict], captioner: ImageNetCaptioner, **settings) -> dict:
    async with eval_client(captioner, **settings) as client:
        pairs = await describe_all(client, photos)
        found = []
        candidates = [{"id": pair["Hash"], "description": pair["Description"]} for pair in pairs]
        for photo in photos:
            for language in ("ko", "en"):
                response = await client.post("/getBestPictures", data={"userText": photo[language], "data": json.dumps(pairs)})
                # The best photo even when it is not a match: whether "no match" hid a right answer.
                ranked = await client.post("/v1/recommend", json={"query": photo[language], "candidates": candidates, "top_k": 1})
                found.append({"language": language, "request": photo[language], "expected": photo["id"], "got": response.json(),
                              "best": ranked.json()["results"][0]["id"]})
        unmatched = []
        for request in unanswerable:
            for language in ("ko", "en"):
                response = await client.post("/getBestPictures", data={"userText": request[language], "data": json.dumps(pairs)})
                unmatched.append({"language": language, "request": request[language], "got": response.json()})
    return {"descriptions": {pair["Hash"]: pair["Description"] for pair in pairs}, "found": found, "unanswerable": unmatched}


def no_match_figures(api: dict) -> dict:
    """How "no match" does: on requests nothing shows, on answerable ones, and on answerable ones whose best photo
    was right (a right answer hidden); precision and recall of "no match" for "nothing shown"."""
    found, unanswerable = api["found"], api["unanswerable"]
    flagged_unanswerable = sum(u["got"] == "" for u in unanswerable)
    flagged = flagged_unanswerable + sum(f["got"] == "" for f in found)
    return {
        "no_match_on_unanswerable": flagged_unanswerable / len(unanswerable),
        "no_match_on_answerable": float(np.mean([f["got"] == "" for f in found])),
        "no_match_hiding_the_right_photo": float(np.mean([f["got"] == "" and f["best"] == f["expected"] for f in found])),
        "no_match_precision": flagged_unanswerable / flagged if flagged else None,
    }


def claim_record(claim: Claim, truth: list[str]) -> dict:
    """A hedged claim ("possibly a fox or a dingo") is right when one of its possibilities is."""
    names = [english for english, _korean in claim.names]
    record = {"name": " or ".join(names), "confidence": round(claim.confidence, 3), "hedged": claim.hedged,
              "true": any(is_true(name, truth) for name in names)}
    if claim.general:
        record["general"] = {"name": claim.general.english, "true": is_true(claim.general.english, truth)}
    return record


def analyse_claims(photos: list[dict], captioner: ImageNetCaptioner) -> list[dict]:
    """The captioner's claims, its top-5 names and its top name's confidence, per photo (as the service sees it)."""
    resize = Settings().resize_config()
    rows = []
    for photo in photos:
        image = prepare_image(
            photo["bytes"], photo["id"], resize, max_bytes=10**9, max_pixels=10**9, min_short_side=captioner.min_short_side
        ).image
        request = captioner.preprocess(CaptionRequest(image))
        probs = captioner.probabilities([request])[0]
        names = list(captioner.name_probabilities(probs).items())[:5]
        claims = [claim_record(claim, photo["truth"]) for claim in captioner.claims(probs)]
        if request.features.faces:
            claims.insert(0, {"name": "person", "confidence": 1.0, "hedged": False, "true": is_true("person", photo["truth"])})
        rows.append({
            "photo": photo["id"],
            "claims": claims,
            "top5": [[en, round(p, 3)] for (en, _ko), p in names],
            "top_confidence": names[0][1],
            "top_true": is_true(names[0][0][0], photo["truth"]),
            "ceiling": any(is_true(en, answers(photo)) for (en, _ko), _p in names),
        })
    return rows


def reliability(rows: list[dict]) -> list[dict]:
    table = []
    for low, high in zip(BINS, BINS[1:]):
        inside = [row for row in rows if low <= row["top_confidence"] < high]
        if inside:
            table.append({"confidence": f"{low:.1f}-{min(high, 1.0):.1f}", "photos": len(inside),
                          "top_name_right": sum(row["top_true"] for row in inside) / len(inside)})
    return table


def summarise(rows: list[dict], api: dict) -> dict:
    stated = [claim for row in rows for claim in row["claims"] if not claim["hedged"]]
    stated += [claim["general"] for row in rows for claim in row["claims"] if claim.get("general")]
    hedged = [claim for row in rows for claim in row["claims"] if claim["hedged"]]
    top1 = {language: float(np.mean([f["got"] == f["expected"] for f in api["found"] if f["language"] == language]))
            for language in ("ko", "en")}
    return {
        "photos": len(rows),
        "top1": top1,
        "ceiling_top5": float(np.mean([row["ceiling"] for row in rows])),
        "photos_with_a_false_stated_claim": float(np.mean([any(not c["true"] for c in row["claims"] if not c["hedged"])
                                                            or any(not c["general"]["true"] for c in row["claims"] if c.get("general"))
                                                            for row in rows])),
        "stated_claims": len(stated),
        "stated_claims_false": sum(not claim["true"] for claim in stated),
        "hedged_claims": len(hedged),
        "hedged_claims_right": sum(claim["true"] for claim in hedged),
        "no_match_on_unanswerable": float(np.mean([u["got"] == "" for u in api["unanswerable"]])),
        **no_match_figures(api),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", default="dev", choices=["dev", "test", "all"])
    parser.add_argument("--state", type=float, help="stated band's lower edge (default: the captioner's)")
    parser.add_argument("--hedge", type=float, help="hedged band's lower edge (default: the captioner's)")
    parser.add_argument("--alternative", type=float, help="least confidence of a hedged claim's runner-up")
    parser.add_argument("--setting", action="append", default=[], metavar="NAME=VALUE",
                        help="a service setting for the run (e.g. evidence_weight=0), repeatable")
    parser.add_argument("--name", help="the results file's name (default: describe_find_<split>)")
    args = parser.parse_args()
    data = json.loads(DATA.read_text(encoding="utf-8"))
    photos = read_photos(data, args.split)
    bands = {k: v for k, v in (("state_confidence", args.state), ("hedge_confidence", args.hedge),
                               ("alternative_confidence", args.alternative)) if v is not None}
    captioner = ImageNetCaptioner(faces=FaceCounter(), **bands)

    rows = analyse_claims(photos, captioner)
    api = asyncio.run(through_the_api(photos, data["unanswerable"], captioner, **parse_settings(args.setting)))
    summary = summarise(rows, api)
    summary["bands"] = {"state": captioner.state_confidence, "hedge": captioner.hedge_confidence,
                        "alternative": captioner.alternative_confidence}
    table = reliability(rows)

    for row in rows:
        print(f"{row['photo']:<14} {api['descriptions'][row['photo']]:<60} top5 {row['top5'][:3]}")
    for f in api["found"]:
        if f["got"] != f["expected"]:
            print(f"  miss [{f['language']}] {f['request']!r}: expected {f['expected']}, got {f['got']!r}")
    print("reliability (top name right, by its pooled confidence):")
    for line in table:
        print(f"  {line['confidence']}: {line['top_name_right']:.2f} of {line['photos']}")
    print(json.dumps(summary, indent=2))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.name or 'describe_find_' + args.split}.json").write_text(
        json.dumps({"summary": summary, "reliability": table, "photos": rows, "api": api}, indent=2, ensure_ascii=False) + "\n"
    )


if __name__ == "__main__":
    main()
