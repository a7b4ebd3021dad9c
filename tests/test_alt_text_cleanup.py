"""The cleanup pass on strings of the kind real VLMs produced (the old service's complaints included)."""

from __future__ import annotations

import re

import pytest

from altgen.model.vlm.alt_text import clean_alt_text


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
     "A red bicycle leaning against a brick wall. A potted plant beside it."),  # the label is a preamble
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


# ---- untrusted answers: markup, invisible characters, chat around the alt text (third hardening pass) ----
HOSTILE = [
    ('<script>alert("x")</script><b>A cat</b> on a <i>sofa</i>.', "A cat on a sofa."),
    ("A dog <img src=x onerror=alert(1)> in the snow.", "A dog in the snow."),
    ("&lt;script&gt;alert(1)&lt;/script&gt;A red car.", "A red car."),
    ("A cat\u202e.txt.exe\u202c on a mat\u200b.", "A cat.txt.exe on a mat."),  # bidi override, zero-width space
    ("A bowl\x00 of\x1b[31m ramen\x07.", "A bowl of ramen."),
    ("![a hedgehog](http://evil.example/x.png) A hedgehog in leaves. See [more](javascript:alert(1)).",
     "A hedgehog A hedgehog in leaves. See more."),
    ("A bus at a stop, photo from https://evil.example/?q=1 today.", "A bus at a stop, photo from today."),
    ("```\nA lighthouse on a cliff.\n```", "A lighthouse on a cliff."),
]
CHATTY = [
    ('Sure! Here is the alt text: "A golden retriever catching a frisbee in a park."',
     "A golden retriever catching a frisbee in a park."),
    ("Certainly! Here's a concise alt text for the image:\n\nA child flying a red kite on a beach.",
     "A child flying a red kite on a beach."),
    ("Alt text: \u201cTwo cups of coffee on a wooden table.\u201d", "Two cups of coffee on a wooden table."),
    ("Here is a description of the image: A man riding a bicycle. Let me know if you need anything else!",
     "A man riding a bicycle."),
    ('Of course. "A bowl of ramen with an egg. I hope this helps!', "A bowl of ramen with an egg."),
    ("I'm sorry, I can't help with that. Is there anything else?", "No description could be written for this photo."),
]
CHATTY_KOREAN = [
    ("물론입니다! 다음은 이미지의 대체 텍스트입니다: \"해변에서 뛰어노는 강아지.\"", "해변에서 뛰어노는 강아지."),
    ("대체 텍스트: 「빨간 우산을 든 아이가 비 오는 거리를 걷고 있습니다.」", "빨간 우산을 든 아이가 비 오는 거리를 걷고 있습니다."),
    ("네, 설명은 다음과 같습니다:\n\n창가에 앉아 있는 고양이. 도움이 되었으면 좋겠습니다!", "창가에 앉아 있는 고양이."),
    ("<b>고양이</b>가 소파에서 자고 있습니다\u200b.", "고양이가 소파에서 자고 있습니다."),
]
# What must never reach a reader: markup, links, invisible characters.
UNSAFE = re.compile(r"[<>]|https?:|javascript:|[\u200b-\u200f\u202a-\u202e\u2066-\u2069\x00-\x1f]")
NO_DESCRIPTIONS = {"No description could be written for this photo.", "이 사진의 설명을 쓸 수 없었습니다."}


@pytest.mark.parametrize(("raw", "expected"), HOSTILE + CHATTY)
def test_hostile_and_chatty_answers_come_out_as_plain_alt_text(raw, expected):
    assert clean_alt_text(raw) == expected


@pytest.mark.parametrize(("raw", "expected"), CHATTY_KOREAN)
def test_hostile_and_chatty_korean_answers_come_out_as_plain_alt_text(raw, expected):
    assert clean_alt_text(raw, language="ko") == expected


@pytest.mark.parametrize("raw", [raw for raw, _ in HOSTILE + CHATTY + CHATTY_KOREAN])
def test_nothing_unsafe_survives_quotes_stay_paired_and_the_length_is_capped(raw):
    for given in (raw, raw * 5, raw + " " + "very " * 200 + "long."):
        for limit in (20, 60, 150):
            text = clean_alt_text(given, max_chars=limit)
            assert text and not UNSAFE.search(text), text
            assert len(text) <= limit + 1 or text in NO_DESCRIPTIONS, text  # + the closing period
            assert text.count('"') % 2 == 0 and text.count("\u201c") == text.count("\u201d"), text
            assert text.count("\u300c") == text.count("\u300d"), text
