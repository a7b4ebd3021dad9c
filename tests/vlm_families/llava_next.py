"""Tiny random LLaVA-NeXT (llava-v1.6-mistral) and LLaVA-OneVision (qwen2-ov) folders, laid out as hub downloads.

Both tile a photo on the best of a few grid resolutions (``image_grid_pinpoints``), so photos of different
aspect ratios give different image token counts, as on the hub; the sizes are the hub's scaled by 30/336
(NeXT) and 30/384 (OneVision)."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import (
    CLIPVisionConfig,
    LlavaNextConfig,
    LlavaNextForConditionalGeneration,
    LlavaNextImageProcessor,
    LlavaNextProcessor,
    LlavaOnevisionConfig,
    LlavaOnevisionForConditionalGeneration,
    LlavaOnevisionImageProcessor,
    LlavaOnevisionProcessor,
    LlavaOnevisionVideoProcessor,
    MistralConfig,
    Qwen2Config,
    SiglipVisionConfig,
)

from random_vlms import LLAVA_SHAPES, adds_bos, byte_level_tokenizer

VISION, TEXT, _ = LLAVA_SHAPES["tiny"]
SIDE, PATCH = VISION["image_size"], VISION["patch_size"]
CLIP_MEAN, CLIP_STD = [0.48145466, 0.4578275, 0.40821073], [0.26862954, 0.26130258, 0.27577711]

# llava-hf/llava-v1.6-mistral-7b-hf's template: images first, then the text, in one [INST] turn.
NEXT_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] == 'system' %}{{ '<<SYS>>\n' + message['content'][0]['text'] + '\n<</SYS>>\n\n' }}"
    "{% elif message['role'] == 'user' %}{{ '[INST] ' }}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>\n' }}{% endfor %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ content['text'] }}{% endfor %}{{ ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ ' ' + message['content'][0]['text'] + '</s> ' }}{% endif %}{% endfor %}"
)
# llava-hf/llava-onevision-qwen2-*-ov-hf's template: ChatML turns, images and videos before the text.
ONEVISION_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + ' ' }}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>' }}{% endfor %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'video') %}{{ '<video>' }}{% endfor %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ '\n' + content['text'] }}{% endfor %}"
    "{{ '<|im_end|>' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def save_tiny_llava_next(folder: Path, seed: int = 0) -> Path:
    """LLaVA-NeXT: CLIP tower (CLS dropped), Mistral text model, a tokenizer that adds BOS (Llama style)."""
    torch.manual_seed(seed)
    tokenizer = adds_bos(byte_level_tokenizer())
    pinpoints = [[SIDE, 2 * SIDE], [2 * SIDE, SIDE], [2 * SIDE, 2 * SIDE], [3 * SIDE, SIDE], [SIDE, 3 * SIDE]]
    text = MistralConfig(
        vocab_size=len(tokenizer),
        **TEXT,
        sliding_window=None,
        initializer_range=0.5,  # the default 0.02 gives a model that repeats one token for every photo
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    config = LlavaNextConfig(
        vision_config=CLIPVisionConfig(**VISION),
        text_config=text,
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
        vision_feature_select_strategy="default",
        vision_feature_layer=-2,
        image_grid_pinpoints=pinpoints,
        image_seq_length=(SIDE // PATCH) ** 2,
    )
    image_processor = LlavaNextImageProcessor(
        size={"shortest_edge": SIDE},
        crop_size={"height": SIDE, "width": SIDE},
        image_grid_pinpoints=pinpoints,
        image_mean=CLIP_MEAN,
        image_std=CLIP_STD,
    )
    LlavaNextProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=PATCH,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        chat_template=NEXT_TEMPLATE,
    ).save_pretrained(folder)
    LlavaNextForConditionalGeneration(config).eval().save_pretrained(folder)
    return folder


def save_tiny_llava_onevision(folder: Path, seed: int = 0) -> Path:
    """LLaVA-OneVision: SigLIP tower (no CLS, all features kept), Qwen2 text model with tied embeddings
    (as the 0.5B), a ChatML tokenizer with no BOS; an image and a video processor, as on the hub."""
    torch.manual_seed(seed)
    tokenizer = byte_level_tokenizer()
    tokenizer.add_special_tokens(
        {"additional_special_tokens": ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<video>"]}
    )
    tokenizer.eos_token, tokenizer.pad_token, tokenizer.bos_token = "<|im_end|>", "<|endoftext|>", None
    endoftext = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    pinpoints = [[SIDE * h, SIDE * w] for h in range(1, 4) for w in range(1, 4)]
    text = Qwen2Config(
        vocab_size=len(tokenizer),
        **TEXT,
        tie_word_embeddings=True,
        initializer_range=0.5,  # the default 0.02 gives a model that repeats one token for every photo
        pad_token_id=endoftext,
        bos_token_id=endoftext,  # Qwen2's config names <|endoftext|>, though its tokenizer adds no BOS
        eos_token_id=tokenizer.eos_token_id,
    )
    config = LlavaOnevisionConfig(
        vision_config=SiglipVisionConfig(**VISION, vision_use_head=False),
        text_config=text,
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
        video_token_index=tokenizer.convert_tokens_to_ids("<video>"),
        vision_feature_select_strategy="full",
        vision_feature_layer=-1,
        vision_aspect_ratio="anyres_max_9",
        image_grid_pinpoints=pinpoints,
        tie_word_embeddings=True,
    )
    square = {"height": SIDE, "width": SIDE}
    half = [0.5, 0.5, 0.5]
    LlavaOnevisionProcessor(
        image_processor=LlavaOnevisionImageProcessor(
            size=square, image_grid_pinpoints=pinpoints, image_mean=half, image_std=half
        ),
        video_processor=LlavaOnevisionVideoProcessor(size=square, image_mean=half, image_std=half),
        tokenizer=tokenizer,
        num_image_tokens=(SIDE // PATCH) ** 2,
        vision_feature_select_strategy="full",
        vision_aspect_ratio="anyres_max_9",
        chat_template=ONEVISION_TEMPLATE,
    ).save_pretrained(folder)
    LlavaOnevisionForConditionalGeneration(config).eval().save_pretrained(folder)
    return folder
