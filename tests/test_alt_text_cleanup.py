"""The cleanup pass on strings of the kind real VLMs produced (the old service's complaints included)."""

from __future__ import annotations

import pytest

from altgen.model.alt_text import clean_alt_text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            "The image shows a baby penguin standing on the snowy ground. ###Human: What else? ###Assistant: It is cold.",
            "A baby penguin standing on the snowy ground.",
        ),
        (
            "A cat sleeping on a sofa. Question 1: What color is the cat? Answer 1: The cat is orange.",
            "A cat sleeping on a sofa.",
        ),
        ("Image of a red car parked by the road", "A red car parked by the road."),
        ("In this picture, two dogs play in a park. The sky is", "Two dogs play in a park."),
        ("This photo depicts a bowl of ramen.\n\nUSER: thanks", "A bowl of ramen."),
        ("  \"a hedgehog curled up on a blanket.\"  ", "A hedgehog curled up on a blanket."),
        ("ASSISTANT: A cup of espresso. USER: more", "A cup of espresso."),
        ("###", ""),
    ],
)
def test_leakage_openers_and_unfinished_sentences_are_removed(raw, expected):
    assert clean_alt_text(raw) == expected


def test_alt_text_keeps_whole_sentences_within_the_limit():
    raw = (
        "A golden retriever catches a red frisbee in mid-air above a green lawn. "
        "Behind it, a family watches from a picnic blanket under tall oak trees. "
        "The afternoon light is warm and soft."
    )
    text = clean_alt_text(raw, max_chars=150)
    assert text == (
        "A golden retriever catches a red frisbee in mid-air above a green lawn. "
        "Behind it, a family watches from a picnic blanket under tall oak trees."
    )
    assert len(text) <= 150
    long_sentence = "A " + "very " * 60 + "long sentence."
    cut = clean_alt_text(long_sentence, max_chars=150)
    assert len(cut) <= 151 and cut.endswith(".") and " very." in cut[-7:]


def test_same_input_same_output():
    raw = "The image shows a tabby cat on a windowsill next to a red ball of yarn."
    assert clean_alt_text(raw) == clean_alt_text(raw) == "A tabby cat on a windowsill next to a red ball of yarn."


def test_a_long_description_keeps_its_paragraphs_and_its_own_limit():
    raw = (
        "The image shows a kitchen with a wooden table.\n\nOn the table is a bowl of apples. "
        "A window lets in daylight.\n\n### Human: anything else?"
    )
    assert clean_alt_text(raw) == "A kitchen with a wooden table."
    assert clean_alt_text(raw, 800, keep_paragraphs=True) == (
        "A kitchen with a wooden table. On the table is a bowl of apples. A window lets in daylight."
    )
    assert clean_alt_text(raw, 70, keep_paragraphs=True) == "A kitchen with a wooden table. On the table is a bowl of apples."
