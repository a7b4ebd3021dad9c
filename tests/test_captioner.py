"""The embedded captioner's wording rules, on real photos and on chosen class probabilities."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from altgen.captioning.contract import CaptionRequest
from altgen.model.classifier.faces import FaceCounter
from altgen.model.classifier.imagenet_captioner import ImageNetCaptioner
from altgen.model.classifier.photo_properties import describe_properties
from altgen.model.classifier.vocabulary import load_class_words

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


def texts(captioner, vector) -> tuple[str, str]:
    from altgen.model.classifier.imagenet_captioner import sentence

    claims = captioner.claims(vector)
    return sentence(claims, "en"), sentence(claims, "ko")


def test_breeds_are_pooled_into_the_everyday_name(captioner):
    # No single breed is likely, but together they are surely a dog.
    vector = probs(Great_Dane=0.3, Doberman=0.3, beagle=0.25)
    assert labels(captioner, vector) == ["dog"]


@pytest.mark.parametrize(
    ("classes", "name"),
    [
        ({"tabby": 0.9}, "cat"),
        ({"Arabian_camel": 0.99}, "camel"),
        ({"sorrel": 0.92}, "horse"),
        ({"drake": 0.85}, "duck"),
        ({"tusker": 0.5, "Indian_elephant": 0.3, "African_elephant": 0.18}, "elephant"),
        ({"fox_squirrel": 1.0}, "squirrel"),
        ({"hog": 0.9}, "pig"),
        ({"ram": 0.9}, "sheep"),
        ({"ox": 0.9}, "cow"),
        ({"Eskimo_dog": 0.9}, "dog"),
        ({"zebra": 0.89}, "zebra"),
        ({"kite": 0.95}, "bird of prey"),
    ],
)
def test_a_confident_class_is_said_by_the_name_people_use(captioner, classes, name):
    # No list of "animal kinds" stands between a confident camel and the words "a camel".
    assert labels(captioner, probs(**classes)) == [name]


def test_a_fairly_likely_name_is_visibly_hedged_in_both_languages(captioner):
    vector = probs(koala=0.5, wombat=0.2, Madagascar_cat=0.1)
    english, korean = texts(captioner, vector)
    assert english == "Image may contain: an animal, possibly a koala, a wombat or a lemur."
    assert korean == "사진에 있을 수 있는 것: 동물(코알라, 웜뱃 또는 여우원숭이일 수 있음)."
    [claim] = captioner.claims(vector)
    assert claim.hedged and claim.general.english == "animal"


def test_a_hedged_object_without_a_confident_category_says_it_is_unsure(captioner):
    english, korean = texts(captioner, probs(hourglass=0.33, perfume=0.02))
    assert english == "Image may contain: possibly an hourglass."
    assert korean == "사진에 있을 수 있는 것: 확실하지 않음: 모래시계일 수 있음."


def test_unsure_names_fall_back_to_the_confident_broader_category(captioner):
    vector = probs(Great_Dane=0.15, tabby=0.15, sorrel=0.15, zebra=0.15, ox=0.15, lion=0.15)  # some animal
    assert labels(captioner, vector) == ["animal"]


def test_confident_objects_are_named_and_low_ones_are_not(captioner):
    assert labels(captioner, probs(espresso=0.9)) == ["espresso"]
    assert labels(captioner, probs(bobsled=0.15, football_helmet=0.14)) == []
    assert texts(captioner, probs(binoculars=0.95))[0] == "Image may contain: binoculars."


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


def halves(top: tuple[int, int, int], bottom: tuple[int, int, int]) -> Image.Image:
    photo = Image.new("RGB", (100, 100), top)
    photo.paste(bottom, (0, 50, 100, 100))
    return photo


@pytest.mark.parametrize(
    ("image", "english", "korean"),
    [
        (Image.fromarray(skdata.coins()), "A black-and-white photo.", "흑백 사진."),
        (Image.fromarray(skdata.hubble_deep_field()), "A dark photo with many small points of light.", "많은 작은 빛점이 있는 어두운 사진."),
        (Image.new("RGB", (50, 50), (20, 60, 220)), "A photo in mostly blue tones.", "주로 파란색인 사진."),
        (Image.new("RGB", (50, 50), (10, 10, 12)), "A dark black-and-white photo.", "어두운 흑백 사진."),
        # Nothing notable: its main colours, and that nothing was recognised (never that alone).
        (halves((110, 160, 230), (60, 140, 50)), "A photo in green and blue tones; no object recognised with confidence.",
         "초록색과 파란색 계열의 사진. 알아볼 수 있는 사물은 확실하지 않음."),
        (halves((140, 130, 120), (100, 110, 100)), "A photo in muted, greyish tones; no object recognised with confidence.",
         "흐릿한 회색 계열의 사진. 알아볼 수 있는 사물은 확실하지 않음."),
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
    assert WORDS[index_of("tabby")].basic == ("cat", "고양이")
    assert WORDS[index_of("ladybug")].basic == ("ladybug", "무당벌레")


def test_a_long_description_adds_the_photos_notable_property(captioner):
    cat, camera = Image.fromarray(skdata.chelsea()), Image.fromarray(skdata.camera()).convert("RGB")
    texts = captioner.caption(
        [CaptionRequest(cat, "en", "long"), CaptionRequest(camera, "en", "long"), CaptionRequest(camera, "ko", "long")]
    )
    assert [text.split(" How sure")[0].split(" 확신도")[0] for text in texts] == [
        "Image may contain: a cat. A photo in mostly orange tones.",
        "Image may contain: a tripod. A black-and-white photo.",
        "사진에 있을 수 있는 것: 삼각대. 흑백 사진.",
    ]
    assert captioner.caption([CaptionRequest(camera, "en", "alt")]) == ["Image may contain: a tripod."]


def test_preprocessing_on_other_threads_gives_the_same_descriptions():
    from concurrent.futures import ThreadPoolExecutor

    from altgen.model.classifier.imagenet_captioner import ImageNetCaptioner

    captioner = ImageNetCaptioner(device="cpu", faces=FaceCounter())
    photos = [Image.fromarray(skdata.astronaut()), Image.fromarray(skdata.chelsea()), Image.fromarray(skdata.coffee())]
    requests = [CaptionRequest(photo, "en", "long") for photo in photos] * 2
    with ThreadPoolExecutor(3) as pool:  # face cascades and tensors made on three threads at once
        preprocessed = list(pool.map(captioner.preprocess, requests))
    assert preprocessed[0].features.faces == 1
    assert captioner.caption(preprocessed) == captioner.caption(requests)


def test_a_guess_alone_is_followed_by_a_sure_property(captioner):
    from altgen.model.classifier.imagenet_captioner import ImageNetCaptioner

    blue = Image.new("RGB", (300, 120), (20, 60, 220))  # wide, and clearly blue
    request = CaptionRequest(blue, "en")
    probs = np.full(1000, 1e-6, dtype=np.float32)
    probs[index_of("hourglass")] = 0.3
    text = ImageNetCaptioner._describe(captioner, captioner.preprocess(request), probs)
    assert text == "Image may contain: possibly an hourglass. A photo in mostly blue tones."


def test_a_grey_subject_cut_out_on_white_is_not_called_black_and_white():
    # A grey animal on white has a few coloured pixels (eyes, legs); a real black-and-white photo has none.
    cut_out = Image.new("RGB", (64, 64), (255, 255, 255))
    cut_out.paste((128, 128, 130), (8, 8, 56, 56))
    cut_out.paste((200, 120, 90), (20, 20, 28, 28))
    assert "black-and-white" not in describe_properties(cut_out, "en")
    assert describe_properties(cut_out.convert("L").convert("RGB"), "en") == "A black-and-white photo."


def test_both_views_of_any_shape_of_photo_reach_the_model(captioner):
    for size in [(900, 120), (120, 900), (224, 224), (31, 17)]:
        request = captioner.preprocess(CaptionRequest(Image.new("RGB", size, "green")))
        assert tuple(request.features.pixels.shape) == (2, 3, 224, 224)
    transparent = Image.new("RGBA", (200, 100), (0, 0, 0, 0))
    assert captioner.caption([CaptionRequest(transparent.convert("RGB"))])[0]


@pytest.mark.parametrize("name", ["chelsea", "coffee", "rocket", "camera"])
def test_a_long_description_says_how_sure_in_both_languages(captioner, name):
    """Whatever the alt text names, the long description adds how likely each name is (and what else was
    considered), so it always says more than the alt text when anything was named."""
    photo = Image.fromarray(getattr(skdata, name)()).convert("RGB")
    alt, long, korean = captioner.caption([CaptionRequest(photo), CaptionRequest(photo, "en", "long"), CaptionRequest(photo, "ko", "long")])
    assert long.startswith(alt.split(". ")[0]) and len(long) > len(alt)
    assert "How sure: " in long and "%" in long
    assert "확신도: " in korean


def test_onnx_runtime_gives_pytorchs_probabilities(captioner):
    """The CPU runtime is an exact stand-in: same float32 arithmetic, so the same classes and descriptions."""
    in_torch = ImageNetCaptioner(runtime="torch")
    assert captioner._session is not None and in_torch._session is None
    photos = [Image.fromarray(getattr(skdata, name)()).convert("RGB") for name in ("chelsea", "coffee", "astronaut", "rocket")]
    requests = [captioner.preprocess(CaptionRequest(photo)) for photo in photos]
    fast, reference = captioner.probabilities(requests), in_torch.probabilities(requests)
    assert np.abs(fast - reference).max() < 1e-4
    assert (fast.argmax(axis=1) == reference.argmax(axis=1)).all()
    assert captioner.caption(requests) == in_torch.caption(requests)
