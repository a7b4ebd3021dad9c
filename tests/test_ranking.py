"""Ranking with the real embedded multilingual encoder: Korean requests find English descriptions."""

from __future__ import annotations

import pytest

from altgen.ranking.words import description_core, encoder_text, request_core

DESCRIPTIONS = [
    "Image may contain: a cat.",
    "Image may contain: a porcupine or hedgehog.",
    "Image may contain: an espresso.",
    "Image may contain: a tripod.",
    "Image may contain: a dog.",
    "Image may contain: a motor scooter.",
]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (" 고슴도치 사진을 찾아 줘.", 1),
        ("고양이 사진 보여줘", 0),
        ("커피 사진을 찾아 주세요", 2),
        ("강아지  사진", 4),
        ("오토바이 사진 찾아줘", 5),
        ("find me the hedgehog photo", 1),
        ("show me a picture of the kitty", 0),
        ("motorbike", 5),
    ],
)
def test_korean_and_english_requests_find_the_right_description(ranker, query, expected):
    ranked = ranker.rank(query, DESCRIPTIONS)
    assert ranked[0].index == expected, [(DESCRIPTIONS[r.index], round(r.score, 3)) for r in ranked]
    assert sorted(r.index for r in ranked) == list(range(len(DESCRIPTIONS)))
    assert all(a.score >= b.score for a, b in zip(ranked, ranked[1:]))


def test_request_and_description_wrapping_is_removed():
    assert request_core(" 고슴도치 사진을 찾아 줘.") == "고슴도치"
    assert request_core("Find me the photo of a red car, please") == "a red car"
    assert request_core("사진") == "사진"  # nothing left: keep the request as it was
    assert description_core("Image may contain: a cat.") == "a cat."
    assert description_core("The image shows three penguins.") == "three penguins."


SEARCH_BY_MEANING = [
    "Image may contain: a daisy.",
    "Image may contain: a ladybug.",
    "Image may contain: a bird of prey.",
    "Image may contain: a moped.",
    "Image may contain: an espresso.",
    "A black-and-white photo.",
]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("yellow flower", 0),
        ("노란 꽃 사진", 0),
        ("a beetle", 1),
        ("insect", 1),
        ("the owl photo", 2),
        ("a motorcycle", 3),
    ],
)
def test_requests_match_descriptions_through_what_things_are(ranker, query, expected):
    # A daisy is a flower, a ladybug a beetle and an insect, an owl a bird of prey, a moped a motorbike.
    ranked = ranker.rank(query, SEARCH_BY_MEANING)
    assert ranked[0].index == expected, [(SEARCH_BY_MEANING[r.index], round(r.score, 3)) for r in ranked]
    assert ranked[0].shared_words > 0 and ranker.is_match(ranked[0])


@pytest.mark.parametrize("query", ["a piano", "피아노 사진", "the Eiffel tower", "birthday cake"])
def test_a_request_for_something_no_photo_shows_is_no_match(ranker, query):
    animals = ["Image may contain: a camel.", "Image may contain: a zebra.", "Image may contain: a dog.",
               "Image may contain: an animal, possibly a koala or a wombat."]
    best = ranker.rank(query, animals)[0]
    assert not ranker.is_match(best), (query, best)


def test_broader_words_come_from_wordnet_chains():
    from altgen.composition import imagenet_broader_words

    broader = imagenet_broader_words()
    assert {"flower", "plant"} <= broader.of("Image may contain: a daisy.")
    assert {"beetle", "insect", "animal"} <= broader.of("A ladybug on a leaf")
    assert {"bird of prey", "bird"} <= broader.of("an owl")
    assert "vehicle" in broader.of("two red cars")
    assert broader.of("A black-and-white photo.") == set()


def test_a_misspelt_english_word_still_matches():
    from altgen.ranking.words import corrected_typos

    vocabulary = {"guitar", "espresso", "cat", "sushi"}
    assert corrected_typos({"guitr", "expresso", "cta", "sushi"}, vocabulary) == {"guitar", "espresso"}


def test_the_encoders_read_a_description_without_its_scene_sentence():
    assert encoder_text("a balloon. Scene: outdoors.") == "a balloon."
    assert encoder_text("Scene: outdoors. A black-and-white photo.") == "A black-and-white photo."
    assert encoder_text("사진에 있을 수 있는 것: 성. 장면: 실외, 역사적 건물, 하늘.") == "사진에 있을 수 있는 것: 성."
    assert encoder_text("Scene: outdoors, mountains.") == "Scene: outdoors, mountains."  # nothing else to read


SCENE_DESCRIPTIONS = [
    "Image may contain: a balloon. Scene: outdoors.",
    "Scene: outdoors. A black-and-white photo.",
    "Image may contain: a zebra.",
    "Image may contain: possibly a canoe. Scene: outdoors, mountains, sky.",
    "Image may contain: possibly a palace or a mosque. Scene: outdoors, a historic building.",
]


@pytest.mark.parametrize("query", ["the city at night", "snow-covered mountains", "눈 덮인 산", "a waterfall", "birthday cake",
                                   "an umbrella"])
def test_a_bare_scene_sentence_does_not_make_a_match(ranker, query):
    # Read by the encoder, "Scene: outdoors." put these requests past the bar for a match with no shared word.
    descriptions = SCENE_DESCRIPTIONS[:3]
    best = ranker.rank(query, descriptions)[0]
    assert not ranker.is_match(best), (query, descriptions[best.index], best)


@pytest.mark.parametrize(("query", "expected"), [("mountains", 3), ("산 사진", 3), ("궁전", 4), ("a palace", 4)])
def test_scene_words_still_find_their_photo(ranker, query, expected):
    best = ranker.rank(query, SCENE_DESCRIPTIONS)[0]
    assert best.index == expected and ranker.is_match(best), (query, best)
