"""Search that reads the class scores behind descriptions the service wrote (issue 22): "a kitchen" finds the
photo whose classifier saw a dishwasher and a microwave, and a request for a specific thing the classifier saw
nothing of is "no match" even when a broader word (a vehicle) is in common."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import httpx
import numpy as np
from asgi_lifespan import LifespanManager
from PIL import Image

from altgen.api.app import create_app
from altgen.captioning.contract import Captioner, CaptionRequest
from altgen.composition import imagenet_class_concepts, load_ranker
from altgen.model.classifier.vocabulary import class_synonyms
from altgen.ranking.embedding_store import EmbeddingStore
from altgen.ranking.ranker import Ranker
from altgen.ranking.written_scores import STORE_IDENTITY, WrittenScores, as_row
from altgen.settings import Settings
from altgen.types import ClassScores

SYNONYMS = class_synonyms()


def class_index(name: str) -> int:
    return next(i for i, names in enumerate(SYNONYMS) if name in names)


def scores(**named: float) -> ClassScores:
    """A distribution with the given classes' probabilities and the rest spread flat."""
    probabilities = np.full(len(SYNONYMS), (1 - sum(named.values())) / (len(SYNONYMS) - len(named)), dtype=np.float32)
    for name, p in named.items():
        probabilities[class_index(name.replace("_", " "))] = p
    return ClassScores.top(probabilities)


# What the stand-in captioner writes for each photo (told apart by their grey level), with the scores behind it. The kitchen photo's text
# names no kitchen; the two machines read alike to the encoders.
WRITTEN = {
    64: ("Image may contain: a machine, possibly a safe.", scores(dishwasher=0.3, microwave=0.25, safe=0.2)),
    72: ("Image may contain: a machine, possibly a cash machine.", scores(cash_machine=0.5, safe=0.1)),
    80: ("Image may contain: a motorbike.", scores(moped=0.6, motor_scooter=0.3)),
}


class ScoredCaptioner(Captioner):
    name, device = "scored", "cpu"

    def caption(self, requests):
        return [text for text, _scores in self.caption_scored(requests)]

    def caption_scored(self, requests: list[CaptionRequest]):
        return [WRITTEN[request.image.getpixel((0, 0))[0]] for request in requests]


def png(grey: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (grey, grey, grey)).save(buffer, format="PNG")
    return buffer.getvalue()


async def describe_all(client) -> list[dict]:
    widths = sorted(WRITTEN)
    files = [(f"Image{i}", (f"{w}.png", png(w))) for i, w in enumerate(widths)]
    response = await client.post("/getAltTexts", data={"Id": "u", "Hash": [f"{w}.png" for w in widths]}, files=files)
    assert response.status_code == 200, response.text
    return response.json()


async def best(client, request: str, pairs: list[dict]):
    return await client.post("/getBestPictures", data={"userText": request, "data": json.dumps(pairs)})


def unwritten(pairs: list[dict]) -> list[dict]:
    """The same descriptions as texts the service did not write (a trailing space: ranking reads the same words)."""
    return [{**pair, "Description": pair["Description"] + " "} for pair in pairs]


async def test_a_request_finds_what_the_classifier_saw_behind_a_description_the_service_wrote(make_client):
    async with make_client(captioner_factory=lambda _s, _d: ScoredCaptioner()) as client:
        pairs = await describe_all(client)
        for request in ("a kitchen", "주방 사진 찾아 줘", "microwave"):
            response = await best(client, request, pairs)
            assert response.json() == "64.png", request
            assert response.headers["x-altgen-match"] == "true"
        # The words alone do not find it: the same texts, not written by the service, rank otherwise.
        texts_only = await best(client, "a kitchen", unwritten(pairs))
        assert texts_only.json() != "64.png" or texts_only.headers["x-altgen-match"] == "false"


async def test_no_match_when_the_classifier_saw_nothing_of_the_specific_thing_asked_for(make_client):
    async with make_client(captioner_factory=lambda _s, _d: ScoredCaptioner()) as client:
        pairs = await describe_all(client)
        response = await best(client, "a red sports car", pairs)
        assert response.json() == "" and response.headers["x-altgen-match"] == "false"
        # By its words, "a motorbike" shares "vehicle" with a sports car: texts the service did not write still match.
        texts_only = await best(client, "a red sports car", unwritten(pairs))
        assert texts_only.json() == "80.png" and texts_only.headers["x-altgen-match"] == "true"
        # A request the scores support is still a match ("scooter": the classifier saw one).
        assert (await best(client, "a scooter", pairs)).json() == "80.png"


def test_concepts_take_the_longest_name_and_plurals():
    concepts = imagenet_class_concepts()
    assert [c.phrase for c in concepts.named_in("two red sports cars")] == ["sports car"]
    assert [c.phrase for c in concepts.named_in("kitchens and lakes")] == ["kitchen", "lake"]
    assert concepts.named_in("a sunny afternoon") == []
    [kitchen] = concepts.named_in("a kitchen")
    assert kitchen.specific and kitchen.lift(scores(dishwasher=0.3, microwave=0.25)) > 2.5
    assert kitchen.lift(scores(moped=0.9)) == 0.0
    [vehicle] = concepts.named_in("a vehicle")
    assert not vehicle.specific


def test_the_captioner_gives_the_scores_behind_its_description(captioner, photos):
    image = Image.open(io.BytesIO(photos["cat"])).convert("RGB")
    request = captioner.preprocess(CaptionRequest(image))
    [(text, written)] = captioner.caption_scored([request])
    assert text == captioner.caption([request])[0]
    probabilities = captioner.probabilities([request])[0]
    assert written.classes[0] == int(np.argmax(probabilities)) and len(written.classes) == 32
    assert abs(float(written.probabilities[0]) - float(probabilities.max())) < 1e-3


def test_remembered_scores_stay_within_their_share_of_the_cache(ranker: Ranker):
    small = Ranker(ranker.embedders, ["a photo", "a picture"], concepts=imagenet_class_concepts(), cache_bytes=2**20)
    for i in range(2000):
        small.remember_scores(f"Image may contain: thing {i}.", scores(moped=0.5))
    assert 0 < small.written_scores.nbytes <= 2**20 // 16
    assert len(small.written_scores) < 2000


def test_a_korean_word_the_glossary_only_guessed_names_no_class(ranker: Ranker):
    """등데 is one letter from 등대 (lighthouse): the encoders read the guess, the class scores do not."""
    assert "lighthouse" in ranker.phrasings("등데 사진 보여줘")[-1]
    assert "lighthouse" not in ranker._concept_text("등데 사진 보여줘")
    assert "lighthouse" in ranker._concept_text("등대 사진 보여줘")


async def test_words_read_in_a_photo_are_not_taken_for_things_to_see(make_client):
    """리베이스 ("rebase") holds 베이스 ("bass guitar"): a screenshot reading it beats a photo whose classifier saw a guitar."""
    written = {
        40: ("Image may contain: possibly an acoustic guitar.", scores(acoustic_guitar=0.5, electric_guitar=0.3)),
        120: ("A screenshot titled \u201c리베이스\u201d.", scores(web_site=0.6, monitor=0.2)),
        **{grey: (f"A screenshot titled \u201c{title}\u201d.", scores(web_site=0.6, monitor=0.2))
           for grey, title in ((150, "설정"), (180, "병합"), (210, "커밋"))},
    }

    class Captioner2(ScoredCaptioner):
        def caption_scored(self, requests):
            return [written[request.image.getpixel((0, 0))[0]] for request in requests]

    async with make_client(captioner_factory=lambda _s, _d: Captioner2()) as client:
        files = [(f"Image{i}", (f"{g}.png", png(g))) for i, g in enumerate(written)]
        response = await client.post("/getAltTexts", data={"Id": "u", "Hash": [f"{g}.png" for g in written]}, files=files)
        pairs = response.json()
        assert (await best(client, "\u201c리베이스\u201d 화면 찾아 줘", pairs)).json() == "120.png"
        assert (await best(client, "베이스 기타 사진", pairs)).json() == "40.png"


async def served(cache: Path, work) -> None:
    """A service on the stand-in captioner and the real ranker with its cache file at ``cache``; ``work(client)``."""
    settings = Settings(devices="cpu", cache_path=str(cache))
    app = create_app(settings, captioner_factory=lambda _s, _d: ScoredCaptioner(), ranker_factory=load_ranker)
    async with LifespanManager(app, startup_timeout=60) as manager:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=manager.app), base_url="http://altgen.test") as client:
            client.app = app
            await work(client)


async def test_the_class_scores_outlive_a_restart_with_a_cache_file(tmp_path: Path):
    cache = tmp_path / "cache.sqlite3"
    pairs: list[dict] = []

    async def describe(client):
        pairs.extend(await describe_all(client))
        for _ in range(200):  # stored a moment after the answer, on the ranking thread
            if len(EmbeddingStore(cache)) >= len(WRITTEN) * 2:  # each description's vector and its scores
                break
            await asyncio.sleep(0.05)

    async def search(client):
        assert (await best(client, "a kitchen", pairs)).json() == "64.png"
        no_car = await best(client, "a red sports car", pairs)
        assert no_car.json() == "" and no_car.headers["x-altgen-match"] == "false"

    await served(cache, describe)
    await served(cache, search)  # a new process would find the same file


def test_stored_class_scores_are_checked_when_read(tmp_path: Path):
    store = EmbeddingStore(tmp_path / "cache.sqlite3")
    written = WrittenScores(2**20, store)
    kitchen = scores(dishwasher=0.3, microwave=0.25)
    written.remember("a kitchen photo", kitchen)
    written.save()
    reopened = WrittenScores(2**20, EmbeddingStore(tmp_path / "cache.sqlite3"))
    [found, absent] = reopened.lookup(["a kitchen photo", "never written"])
    assert absent is None and (found.classes == kitchen.classes).all()
    # A row whose checksum holds but whose values no classifier gives (class 5000) is dropped, never used.
    row = as_row(kitchen)
    row[0] = 5000
    store.put(STORE_IDENTITY, {"a damaged row": row})
    assert WrittenScores(2**20, store).lookup(["a damaged row"]) == [None]
    assert store.get(STORE_IDENTITY, ["a damaged row"], len(row)) == {}


def test_a_text_another_process_stores_later_is_read_once_the_miss_is_old(tmp_path: Path, monkeypatch):
    from altgen.ranking import written_scores

    here = WrittenScores(2**20, EmbeddingStore(tmp_path / "cache.sqlite3"))
    assert here.lookup(["a kitchen photo"]) == [None]  # not written yet: the miss is remembered
    there = WrittenScores(2**20, EmbeddingStore(tmp_path / "cache.sqlite3"))
    there.remember("a kitchen photo", scores(dishwasher=0.3, microwave=0.25))
    there.save()
    assert here.lookup(["a kitchen photo"]) == [None]  # the file is not asked again at once
    later = written_scores.monotonic() + written_scores.ABSENT_FOR_S + 1
    monkeypatch.setattr(written_scores, "monotonic", lambda: later)
    [found] = here.lookup(["a kitchen photo"])
    assert found is not None and int(found.classes[0]) == class_index("dishwasher")
