"""Ranking with the real embedded multilingual encoder: Korean requests find English descriptions."""

from __future__ import annotations

import pytest

from altgen.ranking import description_core, request_core

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
