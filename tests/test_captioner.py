"""The embedded captioner's wording rules, on real photos and on chosen class probabilities."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from altgen.model.base import CaptionRequest
from altgen.model.faces import FaceCounter
from altgen.model.photo_properties import describe_properties
from altgen.model.vocabulary import load_class_words

WORDS = load_class_words()


def index_of(english: str) -> int:
    return next(i for i, w in enumerate(WORDS) if w.english == english)


def probs(**weights: float) -> np.ndarray:
    vector = np.full(1000, 1e-6, dtype=np.float32)
    for name, weight in weights.items():
        vector[index_of(name.replace("_", " "))] = weight
    return vector


def labels(captioner, vector) -> list[str]:
    return [claim.english for claim in captioner.claims(vector)]


def test_breeds_are_pooled_into_the_kind(captioner):
    # No single breed is likely, but together they are surely a dog.
    vector = probs(Great_Dane=0.3, Doberman=0.25, beagle=0.25)
    assert labels(captioner, vector) == ["dog"]


def test_a_confident_breed_is_still_called_by_its_kind(captioner):
    assert labels(captioner, probs(tabby=0.9)) == ["cat"]


def test_unsure_kind_falls_back_to_the_broader_category(captioner):
    vector = probs(Great_Dane=0.3, tabby=0.25, sorrel=0.2)  # some animal, unclear which
    assert labels(captioner, vector) == ["animal"]


def test_confident_objects_are_named_and_low_ones_are_not(captioner):
    assert labels(captioner, probs(espresso=0.8)) == ["espresso"]
    assert labels(captioner, probs(bobsled=0.2, football_helmet=0.18)) == []


def test_korean_words_follow_the_same_claims(captioner):
    cat = Image.fromarray(skdata.chelsea())
    english, korean = captioner.caption([CaptionRequest(cat, "en"), CaptionRequest(cat, "ko")])
    assert english == "Image may contain: a cat."
    assert korean == "사진에 있을 수 있는 것: 고양이."


def test_faces_make_a_person_claim():
    counter = FaceCounter()
    assert counter.count(Image.fromarray(skdata.astronaut())) == 1
    assert counter.count(Image.fromarray(skdata.chelsea())) == 0
    assert counter.count(Image.fromarray(skdata.coffee())) == 0


@pytest.mark.parametrize(
    ("image", "english", "korean"),
    [
        (Image.fromarray(skdata.coins()), "A black-and-white photo.", "흑백 사진."),
        (Image.fromarray(skdata.hubble_deep_field()), "A dark photo with many small points of light.", "많은 작은 빛점이 있는 어두운 사진."),
        (Image.new("RGB", (50, 50), (20, 60, 220)), "A photo in mostly blue tones.", "주로 파란색인 사진."),
        (Image.new("RGB", (50, 50), (10, 10, 12)), "A dark black-and-white photo.", "어두운 흑백 사진."),
    ],
)
def test_properties_when_nothing_is_recognised(image, english, korean):
    assert describe_properties(image, "en") == english
    assert describe_properties(image, "ko") == korean


def test_every_class_has_korean_and_everyday_words():
    assert len(WORDS) == 1000
    assert all(w.korean and w.english for w in WORDS)
    assert WORDS[index_of("porcupine or hedgehog")].korean == "고슴도치"
    assert WORDS[index_of("tabby")].categories[0] == "domestic cat"


def test_a_long_description_adds_the_photos_notable_property(captioner):
    cat, camera = Image.fromarray(skdata.chelsea()), Image.fromarray(skdata.camera()).convert("RGB")
    texts = captioner.caption(
        [CaptionRequest(cat, "en", "long"), CaptionRequest(camera, "en", "long"), CaptionRequest(camera, "ko", "long")]
    )
    assert texts == [
        "Image may contain: a cat. A photo in mostly orange tones.",
        "Image may contain: a tripod. A black-and-white photo.",
        "사진에 있을 수 있는 것: 삼각대. 흑백 사진.",
    ]
    assert captioner.caption([CaptionRequest(camera, "en", "alt")]) == ["Image may contain: a tripod."]


def test_preprocessing_on_other_threads_gives_the_same_descriptions():
    from concurrent.futures import ThreadPoolExecutor

    from altgen.model.imagenet_captioner import ImageNetCaptioner

    captioner = ImageNetCaptioner(device="cpu", faces=FaceCounter())
    photos = [Image.fromarray(skdata.astronaut()), Image.fromarray(skdata.chelsea()), Image.fromarray(skdata.coffee())]
    requests = [CaptionRequest(photo, "en", "long") for photo in photos] * 2
    with ThreadPoolExecutor(3) as pool:  # face cascades and tensors made on three threads at once
        preprocessed = list(pool.map(captioner.preprocess, requests))
    assert preprocessed[0].features.faces == 1
    assert captioner.caption(preprocessed) == captioner.caption(requests)
