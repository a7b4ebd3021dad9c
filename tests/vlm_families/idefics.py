"""Tiny random SmolVLM and Idefics3 folders, laid out as hub downloads. Both split a photo into
square tiles plus a downscaled global view, so photos of different shapes give different tile (and
image token) counts; the tiles here are 32 px and a photo's longest edge is at most 64 px (2x2 tiles)."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import (
    Idefics3Config,
    Idefics3ForConditionalGeneration,
    Idefics3ImageProcessor,
    Idefics3Processor,
    SmolVLMConfig,
    SmolVLMForConditionalGeneration,
    SmolVLMImageProcessor,
    SmolVLMProcessor,
    SmolVLMVideoProcessor,
)

from random_vlms import adds_bos, byte_level_tokenizer

# Both hub templates: no space after "User:" when the message opens with the image.
CHAT_TEMPLATE = (
    "{% for message in messages %}{{ message['role'] | capitalize }}"
    "{% if message['content'][0]['type'] == 'image' %}{{ ':' }}{% else %}{{ ': ' }}{% endif %}"
    "{% for line in message['content'] %}{% if line['type'] == 'text' %}{{ line['text'] }}"
    "{% elif line['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}<end_of_utterance>\n"
    "{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)
TILE, PATCH, SCALE = 32, 8, 2
IMAGE_SEQ_LEN = (TILE // PATCH) ** 2 // SCALE**2  # image tokens per tile, after the pixel shuffle
IMAGE_TOKENS = ["<fake_token_around_image>", "<global-img>", "<end_of_utterance>"] + [
    f"<row_{row}_col_{col}>" for row in range(1, 7) for col in range(1, 7)
]


def family_tokenizer(bos: str, extra: list[str] = ()):
    tokenizer = byte_level_tokenizer()  # already has <image>
    tokenizer.add_tokens([bos, *extra, *IMAGE_TOKENS], special_tokens=True)
    tokenizer.bos_token, tokenizer.eos_token = bos, "<end_of_utterance>"
    return tokenizer


def family_config(config_class, tokenizer, **extra):
    layers = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2}
    text = {
        "model_type": "llama",
        **layers,
        "num_key_value_heads": 2,
        "vocab_size": len(tokenizer),
        "max_position_embeddings": 1024,
        "initializer_range": 0.5,  # the default 0.02 gives a model that repeats one token for every photo
        "pad_token_id": tokenizer.pad_token_id,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
    }
    return config_class(
        vision_config={**layers, "image_size": TILE, "patch_size": PATCH},
        text_config=text,
        scale_factor=SCALE,
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
        pad_token_id=tokenizer.pad_token_id,
        **extra,
    )


def save_tiny_smolvlm(folder: Path, seed: int = 0) -> Path:
    """SmolVLM (SmolLM2 text model): the template writes the BOS <|im_start|>, the tokenizer adds none."""
    torch.manual_seed(seed)
    tokenizer = family_tokenizer("<|im_start|>", ["<|im_end|>", "<video>"])
    SmolVLMForConditionalGeneration(family_config(SmolVLMConfig, tokenizer)).eval().save_pretrained(folder)
    sizes = {"size": {"longest_edge": 2 * TILE}, "max_image_size": {"longest_edge": TILE}}
    video_processor = SmolVLMVideoProcessor(
        **sizes, video_sampling={"fps": 1, "max_frames": 4, "video_size": {"longest_edge": 2 * TILE}}
    )
    SmolVLMProcessor(
        image_processor=SmolVLMImageProcessor(**sizes, do_image_splitting=True),
        tokenizer=tokenizer,
        video_processor=video_processor,
        image_seq_len=IMAGE_SEQ_LEN,
        chat_template="<|im_start|>" + CHAT_TEMPLATE,
    ).save_pretrained(folder)
    return folder


def save_tiny_idefics3(folder: Path, seed: int = 0) -> Path:
    """Idefics3 (Llama-3 text model): the template writes <|begin_of_text|> and the tokenizer adds it too,
    as Llama-3's does, so templated prompts must be tokenized without special tokens."""
    torch.manual_seed(seed)
    tokenizer = adds_bos(family_tokenizer("<|begin_of_text|>"))
    Idefics3ForConditionalGeneration(family_config(Idefics3Config, tokenizer)).eval().save_pretrained(folder)
    image_processor = Idefics3ImageProcessor(
        size={"longest_edge": 2 * TILE}, max_image_size={"longest_edge": TILE}, do_image_splitting=True
    )
    Idefics3Processor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        image_seq_len=IMAGE_SEQ_LEN,
        chat_template="<|begin_of_text|>" + CHAT_TEMPLATE,
    ).save_pretrained(folder)
    return folder
