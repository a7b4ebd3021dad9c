"""Tiny random-initialised InternVL3, Mistral-Small-3.1 and Florence-2 folders in transformers' native layouts
(real model, config, processor classes), built offline and saved the way a hub download is laid out."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import (
    CLIPImageProcessor,
    Florence2Config,
    Florence2ForConditionalGeneration,
    Florence2Processor,
    GotOcr2ImageProcessor,
    InternVLConfig,
    InternVLForConditionalGeneration,
    InternVLProcessor,
    InternVLVideoProcessor,
    Mistral3Config,
    Mistral3ForConditionalGeneration,
    PixtralImageProcessor,
    PixtralProcessor,
    PreTrainedTokenizerFast,
)

from random_vlms import byte_level_tokenizer


def family_tokenizer(special: list[str], **kwargs) -> PreTrainedTokenizerFast:
    """The project's byte-level BPE with a family's special tokens added. Keyword tokens that are not
    standard ones (``start_image_token``...) become named attributes, as processors look them up by name."""
    base = byte_level_tokenizer()
    base.add_special_tokens({"extra_special_tokens": special})
    return PreTrainedTokenizerFast(tokenizer_object=base.backend_tokenizer, unk_token="<unk>", **kwargs)


# transformers' InternVL conversion script's template (Qwen2 ChatML, one <IMG_CONTEXT> per image).
INTERNVL_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n'}}"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' %}{{ '<IMG_CONTEXT>\n' }}{% elif content['type'] == 'video' %}{{ '<video>\n' }}"
    "{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}{% endfor %}{% endif %}"
    "{{'<|im_end|>\n'}}{% endfor %}{% if add_generation_prompt %}{{'<|im_start|>assistant\n' }}{% endif %}"
)


def save_tiny_internvl(folder: Path, seed: int = 0) -> Path:
    """InternVL3 (-hf layout): InternViT tiles (a thumbnail added when an image is cut into several),
    pixel-shuffled 2x2 into a Qwen2 model; a Qwen2-style tokenizer with no BOS."""
    torch.manual_seed(seed)
    tokenizer = family_tokenizer(
        ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<img>", "</img>", "<IMG_CONTEXT>", "<video>"],
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        extra_special_tokens={
            "start_image_token": "<img>", "end_image_token": "</img>", "context_image_token": "<IMG_CONTEXT>",
            "video_token": "<video>",
        },
    )
    side, patch = 24, 4  # 6x6 patches, pixel-shuffled to 9 tokens a tile
    config = InternVLConfig(
        vision_config={
            "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
            "image_size": side, "patch_size": patch,
        },
        text_config={
            "model_type": "qwen2", "vocab_size": len(tokenizer), "hidden_size": 32, "intermediate_size": 64,
            "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 1, "max_position_embeddings": 1024,
            # Qwen2's config names <|endoftext|> as BOS, which its tokenizer never adds.
            "bos_token_id": tokenizer.pad_token_id, "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id, "tie_word_embeddings": True,
            "initializer_range": 0.5,  # the default 0.02 repeats one token for every photo
        },
        image_token_id=tokenizer.context_image_token_id,
        image_seq_length=(side // patch // 2) ** 2,
    )
    InternVLForConditionalGeneration(config).eval().save_pretrained(folder)
    # As on the hub: 448-pixel tiles (here 24), ImageNet mean and std, up to max_patches tiles.
    normalise = {"image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225]}
    InternVLProcessor(
        image_processor=GotOcr2ImageProcessor(
            size={"height": side, "width": side}, crop_to_patches=False, min_patches=1, max_patches=4, **normalise
        ),
        tokenizer=tokenizer,
        video_processor=InternVLVideoProcessor(size={"height": side, "width": side}, **normalise),
        image_seq_length=config.image_seq_length,
        chat_template=INTERNVL_TEMPLATE,
    ).save_pretrained(folder)
    return folder


# Mistral-Small-3.1's template, shortened: BOS and a default system prompt, then [INST]...[/INST] with [IMG] in place.
MISTRAL3_TEMPLATE = (
    "{%- set default_system_message = 'You are a helpful assistant that describes images.' %}{{- bos_token }}"
    "{%- if messages[0]['role'] == 'system' %}{%- set system_message = messages[0]['content'] %}"
    "{%- set loop_messages = messages[1:] %}{%- else %}{%- set system_message = default_system_message %}"
    "{%- set loop_messages = messages %}{%- endif %}{{- '[SYSTEM_PROMPT]' + system_message + '[/SYSTEM_PROMPT]' }}"
    "{%- for message in loop_messages %}{%- if message['role'] == 'user' %}{%- if message['content'] is string %}"
    "{{- '[INST]' + message['content'] + '[/INST]' }}{%- else %}{{- '[INST]' }}{%- for block in message['content'] %}"
    "{%- if block['type'] == 'text' %}{{- block['text'] }}{%- elif block['type'] in ['image', 'image_url'] %}"
    "{{- '[IMG]' }}{%- endif %}{%- endfor %}{{- '[/INST]' }}{%- endif %}"
    "{%- elif message['role'] == 'system' %}{{- '[SYSTEM_PROMPT]' + message['content'] + '[/SYSTEM_PROMPT]' }}"
    "{%- elif message['role'] == 'assistant' %}{{- message['content'] + eos_token }}{%- endif %}{%- endfor %}"
)


def save_tiny_mistral3(folder: Path, seed: int = 0) -> Path:
    """Mistral-Small-3.1: Pixtral patches at each photo's own aspect ratio (longest edge capped), merged 2x2
    into a Mistral model. The template writes BOS and the tokenizer adds one too, as on the hub."""
    torch.manual_seed(seed)
    tokenizer = family_tokenizer(
        ["[INST]", "[/INST]", "[IMG]", "[IMG_BREAK]", "[IMG_END]", "[SYSTEM_PROMPT]", "[/SYSTEM_PROMPT]"],
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        add_bos_token=True,
    )
    patch, longest_edge = 4, 48  # at most 6x6 merged tokens a photo
    config = Mistral3Config(
        vision_config={
            "model_type": "pixtral", "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
            "num_attention_heads": 2, "image_size": longest_edge, "patch_size": patch,
        },
        text_config={
            "model_type": "mistral", "vocab_size": len(tokenizer), "hidden_size": 32, "intermediate_size": 64,
            "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 16,
            "max_position_embeddings": 1024, "bos_token_id": tokenizer.bos_token_id,
            "eos_token_id": tokenizer.eos_token_id, "pad_token_id": tokenizer.pad_token_id,
            "initializer_range": 0.5,  # the default 0.02 repeats one token for every photo
        },
        image_token_index=tokenizer.convert_tokens_to_ids("[IMG]"),
        spatial_merge_size=2,
    )
    Mistral3ForConditionalGeneration(config).eval().save_pretrained(folder)
    PixtralProcessor(
        image_processor=PixtralImageProcessor(size={"longest_edge": longest_edge}, patch_size={"height": patch, "width": patch}),
        tokenizer=tokenizer,
        patch_size=patch,
        spatial_merge_size=2,
        chat_template=MISTRAL3_TEMPLATE,
    ).save_pretrained(folder)
    return folder


def save_tiny_florence2(folder: Path, seed: int = 0) -> Path:
    """Florence-2 (transformers-native): a DaViT tower (four strided stages, 32x downsampling) whose
    feature map plus one pooled token fills the <image> tokens ahead of a BART encoder-decoder. No chat
    template: the processor turns task tokens (<CAPTION>...) into its own prompts and adds <s>...</s> itself."""
    torch.manual_seed(seed)
    # BART's tokenizer wraps text in <s>...</s>; the processor turns that off and writes both itself.
    tokenizer = family_tokenizer(
        [], bos_token="<s>", eos_token="</s>", pad_token="<pad>", add_bos_token=True, add_eos_token=True,
        extra_special_tokens={"image_token": "<image>"},
    )
    side = 160  # a 5x5 feature map: 26 image tokens
    config = Florence2Config(
        vision_config={
            "depths": [1, 1, 1, 1], "embed_dim": [16, 16, 32, 32], "num_heads": [1, 1, 2, 2], "num_groups": [1, 1, 2, 2],
            "window_size": 3, "projection_dim": 32, "drop_path_rate": 0.0,
        },
        text_config={
            "model_type": "bart", "vocab_size": len(tokenizer), "d_model": 32, "encoder_layers": 1, "decoder_layers": 1,
            "encoder_attention_heads": 2, "decoder_attention_heads": 2, "encoder_ffn_dim": 64, "decoder_ffn_dim": 64,
            "max_position_embeddings": 1024, "bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id, "decoder_start_token_id": tokenizer.eos_token_id,
            "init_std": 0.5,  # the default 0.02 repeats one token for every photo
        },
        image_token_id=tokenizer.image_token_id,
    )
    Florence2ForConditionalGeneration(config).eval().save_pretrained(folder)
    # As on the hub: a square resize without crop, ImageNet mean and std, image_seq_length for the processor.
    image_processor = CLIPImageProcessor(
        size={"height": side, "width": side}, crop_size={"height": side, "width": side}, do_center_crop=False,
        image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225], image_seq_length=(side // 32) ** 2 + 1,
    )
    Florence2Processor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(folder)
    return folder
