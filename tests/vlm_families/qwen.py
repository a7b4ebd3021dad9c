"""Tiny random-initialised Qwen2-VL, Qwen2.5-VL and Qwen3-VL folders, laid out as the hub's "-Instruct" ones:
a Qwen2 byte-level BPE tokenizer with the family's special tokens, ChatML prompts with the photo as
<|vision_start|><|image_pad|><|vision_end|>, and image and video processors whose pixel budget keeps a photo
to at most 16 image tokens."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from transformers import (
    GenerationConfig,
    Qwen2_5_VLConfig,
    Qwen2_5_VLForConditionalGeneration,
    Qwen2_5_VLProcessor,
    Qwen2Tokenizer,
    Qwen2VLConfig,
    Qwen2VLForConditionalGeneration,
    Qwen2VLImageProcessor,
    Qwen2VLProcessor,
    Qwen2VLVideoProcessor,
    Qwen3VLConfig,
    Qwen3VLForConditionalGeneration,
    Qwen3VLProcessor,
    Qwen3VLVideoProcessor,
)

from random_vlms import byte_level_tokenizer

# In the hub's order, so that their ids keep the hub's offsets from <|endoftext|> (151643).
SPECIAL_TOKENS = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>",
    "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>",
    "<|image_pad|>", "<|video_pad|>",
]
_CONTENT = (
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}"
    "{% set video_count.value = video_count.value + 1 %}{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}"
    "<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}{% endif %}"
)
_COUNTERS = "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
# Qwen2-VL and Qwen2.5-VL: a default system turn when the conversation has none.
QWEN2_CHAT_TEMPLATE = (
    _COUNTERS + "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n" + _CONTENT + "<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
# Qwen3-VL: no default system turn.
QWEN3_CHAT_TEMPLATE = (
    _COUNTERS + "{% for message in messages %}<|im_start|>{{ message['role'] }}\n" + _CONTENT + "<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
TEXT = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
        "num_key_value_heads": 1, "max_position_embeddings": 1024,
        "initializer_range": 0.5}  # the default 0.02 gives every photo the same answer


def qwen_tokenizer() -> Qwen2Tokenizer:
    """The tests' byte-level BPE (its own special tokens dropped) as a Qwen2Tokenizer: no BOS, ChatML specials."""
    base = byte_level_tokenizer()
    bpe = json.loads(base.backend_tokenizer.to_str())["model"]
    words = [word for word, _ in sorted(bpe["vocab"].items(), key=lambda item: item[1]) if word not in base.all_special_tokens]
    tokenizer = Qwen2Tokenizer(
        vocab={word: i for i, word in enumerate(words)},
        merges=[tuple(merge) if isinstance(merge, list) else tuple(merge.split(" ")) for merge in bpe["merges"]],
        unk_token=None,
        bos_token=None,
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
    )
    tokenizer.add_special_tokens({"additional_special_tokens": SPECIAL_TOKENS[1:]})
    tokenizer.eos_token = "<|im_end|>"  # the Instruct tokenizers end a turn, not the document
    assert tokenizer.convert_tokens_to_ids(SPECIAL_TOKENS) == list(range(len(words), len(words) + len(SPECIAL_TOKENS)))
    return tokenizer


def special_ids(tokenizer: Qwen2Tokenizer) -> dict:
    ids = dict(zip(SPECIAL_TOKENS, tokenizer.convert_tokens_to_ids(SPECIAL_TOKENS)))
    return {
        "image_token_id": ids["<|image_pad|>"],
        "video_token_id": ids["<|video_pad|>"],
        "vision_start_token_id": ids["<|vision_start|>"],
        "vision_end_token_id": ids["<|vision_end|>"],
    }


def text_config(tokenizer: Qwen2Tokenizer, **rope) -> dict:
    end = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    return {**TEXT, "vocab_size": len(tokenizer), "bos_token_id": end, "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": end, "rope_parameters": {"rope_type": "default", **rope}}


def generation_config(tokenizer: Qwen2Tokenizer, **sampling) -> GenerationConfig:
    """The hub's generation_config.json: sampling on by default, <|im_end|> or <|endoftext|> ends an answer."""
    end = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    return GenerationConfig(bos_token_id=end, pad_token_id=end, eos_token_id=[tokenizer.eos_token_id, end],
                            do_sample=True, **sampling)


def pixel_budget(factor: int) -> dict:
    """Between 4 and 16 image tokens a photo (one token per factor x factor pixels)."""
    return {"shortest_edge": 4 * factor * factor, "longest_edge": 16 * factor * factor}


def grid(patch: int, **extra) -> dict:
    """What the image and video processors share: patch size, 2x2 merge, two frames per temporal patch."""
    return {"size": pixel_budget(2 * patch), "patch_size": patch, "merge_size": 2, "temporal_patch_size": 2, **extra}


def save(folder: Path, model: torch.nn.Module, processor, generation: GenerationConfig) -> Path:
    model.generation_config = generation
    model.eval().save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def save_tiny_qwen2_vl(folder: Path, seed: int = 0) -> Path:
    """Qwen2-VL: a ViT with 2-D rotary positions over 14-pixel patches, 2x2 merged into one token; M-RoPE text."""
    torch.manual_seed(seed)
    tokenizer = qwen_tokenizer()
    config = Qwen2VLConfig(
        text_config=text_config(tokenizer, rope_theta=1e6, mrope_section=[2, 3, 3]),
        vision_config={"depth": 2, "embed_dim": 32, "mlp_ratio": 2, "num_heads": 2, "hidden_size": 32,
                       "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2},
        **special_ids(tokenizer),
    )
    processor = Qwen2VLProcessor(
        image_processor=Qwen2VLImageProcessor(**grid(14)),
        video_processor=Qwen2VLVideoProcessor(**grid(14)),
        tokenizer=tokenizer,
        chat_template=QWEN2_CHAT_TEMPLATE,
    )
    sampling = {"temperature": 0.01, "top_k": 1, "top_p": 0.001, "repetition_penalty": 1.0}
    return save(folder, Qwen2VLForConditionalGeneration(config), processor, generation_config(tokenizer, **sampling))


def save_tiny_qwen2_5_vl(folder: Path, seed: int = 0) -> Path:
    """Qwen2.5-VL: windowed attention in the ViT (full attention in its last block), SwiGLU, RMSNorm."""
    torch.manual_seed(seed)
    tokenizer = qwen_tokenizer()
    config = Qwen2_5_VLConfig(
        text_config=text_config(tokenizer, rope_theta=1e6, mrope_section=[2, 3, 3]),
        vision_config={"depth": 2, "hidden_size": 32, "intermediate_size": 64, "num_heads": 2, "out_hidden_size": 32,
                       "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2, "window_size": 56,
                       "fullatt_block_indexes": [1]},
        **special_ids(tokenizer),
    )
    processor = Qwen2_5_VLProcessor(
        image_processor=Qwen2VLImageProcessor(**grid(14)),
        video_processor=Qwen2VLVideoProcessor(**grid(14)),
        tokenizer=tokenizer,
        chat_template=QWEN2_CHAT_TEMPLATE,
    )
    sampling = {"temperature": 0.1, "top_k": 1, "top_p": 0.001, "repetition_penalty": 1.05}
    return save(folder, Qwen2_5_VLForConditionalGeneration(config), processor, generation_config(tokenizer, **sampling))


def save_tiny_qwen3_vl(folder: Path, seed: int = 0) -> Path:
    """Qwen3-VL: 16-pixel patches, learned position embeddings, DeepStack features fed to the first text
    layer, interleaved M-RoPE."""
    torch.manual_seed(seed)
    tokenizer = qwen_tokenizer()
    config = Qwen3VLConfig(
        text_config={**text_config(tokenizer, rope_theta=5e6, mrope_section=[4, 2, 2], mrope_interleaved=True),
                     "head_dim": 16},
        vision_config={"depth": 2, "hidden_size": 32, "intermediate_size": 64, "num_heads": 2, "out_hidden_size": 32,
                       "patch_size": 16, "spatial_merge_size": 2, "temporal_patch_size": 2,
                       "num_position_embeddings": 64, "deepstack_visual_indexes": [0]},
        **special_ids(tokenizer),
    )
    half = {"image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]}
    processor = Qwen3VLProcessor(
        image_processor=Qwen2VLImageProcessor(**grid(16, **half)),
        video_processor=Qwen3VLVideoProcessor(**grid(16, **half)),
        tokenizer=tokenizer,
        chat_template=QWEN3_CHAT_TEMPLATE,
    )
    sampling = {"temperature": 0.7, "top_k": 20, "top_p": 0.8, "repetition_penalty": 1.0}
    return save(folder, Qwen3VLForConditionalGeneration(config), processor, generation_config(tokenizer, **sampling))
