"""The cleanup pass on strings of the kind real VLMs produced (the old service's complaints included)."""

from __future__ import annotations

import re

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
        ("###", "No description could be written for this photo."),  # said something, but no answer
        ("", ""),
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


# Answers in the styles of real vision-language models (the old service's MiniGPT-4 answers, and
# LLaVA, Qwen-VL, SmolVLM, BLIP), each with what a reader must hear.
CORPUS = [
    ("###Human: describe ###Assistant: A hedgehog curled up in dry leaves. ###Human: thanks",
     "A hedgehog curled up in dry leaves."),
    ("This image shows a baby penguin standing on the snowy ground. It has black and white feathers and is wearing a "
     "black and white coat. The penguin is standing in the middle of the snow, looking towards the left side of the "
     "image.", "A baby penguin standing on the snowy ground. It has black and white feathers and is wearing a black "
     "and white coat."),
    ("A photo of a cat. A photo of a cat. A photo of a cat. A photo of a cat.", "A cat."),
    ("A man slicing bread on a wooden board with a knife next to", "A man slicing bread on a wooden board with a knife."),
    ("In this image, we can see a dog running on the beach. We can see the sea in the background.",
     "A dog running on the beach. We can see the sea in the background."),
    ("**Description:**\n- A red bicycle leaning against a brick wall.\n- A potted plant beside it.",
     "Description: A red bicycle leaning against a brick wall. A potted plant beside it."),
    ("<|im_start|>assistant\nTwo children fly a kite on a grassy hill.<|im_end|>", "Two children fly a kite on a grassy hill."),
    ("Assistant: A bowl of ramen with an egg and green onions.<end_of_turn>", "A bowl of ramen with an egg and green onions."),
    ("a woman riding a horse on a dirt road", "A woman riding a horse on a dirt road."),
    ("What is in the picture? A bus parked at a stop. Is there anything else?", "A bus parked at a stop."),
]
KOREAN = [
    ("이 사진에는 해변에서 뛰어노는 강아지가 있습니다. 뒤로 파도가 보입니다. 질문 1: 강아지는 무엇을 하나요?",
     "해변에서 뛰어노는 강아지가 있습니다. 뒤로 파도가 보입니다."),
    ("사용자: 설명해 줘 어시스턴트: 빨간 우산을 든 아이가 비 오는 거리를 걷고 있습니다. 사용자: 고마워",
     "빨간 우산을 든 아이가 비 오는 거리를 걷고 있습니다."),
    ("고양이가 창가에 앉아 있습니다. 고양이가 창가에 앉아 있습니다. 고양이가 창가에 앉아 있습니다.", "고양이가 창가에 앉아 있습니다."),
    ("###", "이 사진의 설명을 쓸 수 없었습니다."),
]
LEAKS = re.compile(r"###|Human:|Assistant:|USER:|Question|Answer|질문|답변|사용자:|어시스턴트:|<\||<end_of_turn>|\*\*")


@pytest.mark.parametrize(("raw", "expected"), CORPUS)
def test_real_model_answers_come_out_clean(raw, expected):
    assert clean_alt_text(raw) == expected


@pytest.mark.parametrize(("raw", "expected"), KOREAN)
def test_korean_answers_come_out_clean(raw, expected):
    assert clean_alt_text(raw, language="ko") == expected


@pytest.mark.parametrize(("raw", "language"), [(raw, "en") for raw, _ in CORPUS] + [(raw, "ko") for raw, _ in KOREAN])
def test_no_empty_text_no_leak_no_repeat(raw, language):
    text = clean_alt_text(raw, language=language)
    assert text and not LEAKS.search(text), text
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", text) if s]
    assert len(sentences) == len(set(sentences)), text
