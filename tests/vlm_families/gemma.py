"""Tiny random PaliGemma and Gemma 3 folders, laid out as hub downloads, for altgen's tests."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import (
    Gemma3Config,
    Gemma3ForConditionalGeneration,
    Gemma3ImageProcessor,
    Gemma3Processor,
    GenerationConfig,
    PaliGemmaConfig,
    PaliGemmaForConditionalGeneration,
    PaliGemmaProcessor,
    PreTrainedTokenizerFast,
    SiglipImageProcessor,
)
from transformers.models.paligemma.processing_paligemma import EXTRA_TOKENS

from random_vlms import byte_level_tokenizer

GEMMA_SPECIALS = ["<bos>", "<eos>", "<start_of_turn>", "<end_of_turn>", "<start_of_image>", "<end_of_image>",
                  "<image_soft_token>"]
# google/gemma-3-4b-it's template (tokenizer_config.json): it writes BOS, and so does the tokenizer.
GEMMA3_CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{%- if messages[0]['role'] == 'system' -%}"
    "{%- if messages[0]['content'] is string -%}{%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}"
    "{%- else -%}{%- set first_user_prefix = messages[0]['content'][0]['text'] + '\n\n' -%}{%- endif -%}"
    "{%- set loop_messages = messages[1:] -%}"
    "{%- else -%}{%- set first_user_prefix = \"\" -%}{%- set loop_messages = messages -%}{%- endif -%}"
    "{%- for message in loop_messages -%}"
    "{%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}"
    "{{ raise_exception(\"Conversation roles must alternate user/assistant/user/assistant/...\") }}{%- endif -%}"
    "{%- if (message['role'] == 'assistant') -%}{%- set role = \"model\" -%}{%- else -%}"
    "{%- set role = message['role'] -%}{%- endif -%}"
    "{{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else \"\") }}"
    "{%- if message['content'] is string -%}{{ message['content'] | trim }}"
    "{%- elif message['content'] is iterable -%}{%- for item in message['content'] -%}"
    "{%- if item['type'] == 'image' -%}{{ '<start_of_image>' }}"
    "{%- elif item['type'] == 'text' -%}{{ item['text'] | trim }}{%- endif -%}{%- endfor -%}"
    "{%- else -%}{{ raise_exception(\"Invalid content type\") }}{%- endif -%}"
    "{{ '<end_of_turn>\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{'<start_of_turn>model\n'}}{%- endif -%}"
)
VISION = {"model_type": "siglip_vision_model", "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
          "num_attention_heads": 2, "vision_use_head": False}
TEXT = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
        "num_key_value_heads": 1, "head_dim": 16, "max_position_embeddings": 512}


def gemma_tokenizer(**named_tokens: str) -> PreTrainedTokenizerFast:
    """The byte-level BPE with Gemma's special tokens; like Gemma's, it adds BOS to every text."""
    backend = byte_level_tokenizer().backend_tokenizer
    backend.add_special_tokens(GEMMA_SPECIALS)
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>", unk_token="<unk>",
        add_bos_token=True, extra_special_tokens=named_tokens or None,
    )


def special_ids(tokenizer: PreTrainedTokenizerFast) -> dict[str, int]:
    return {"pad_token_id": tokenizer.pad_token_id, "bos_token_id": tokenizer.bos_token_id,
            "eos_token_id": tokenizer.eos_token_id}


def save_tiny_paligemma(folder: Path, seed: int = 0) -> Path:
    """PaliGemma: no chat template; the processor writes `<image>`s + BOS + prompt + newline itself (and turns
    the tokenizer's own BOS off), and adds 1,152 <locNNNN>/<segNNN> tokens to the vocabulary."""
    torch.manual_seed(seed)
    tokenizer = gemma_tokenizer()
    image_processor = SiglipImageProcessor(size={"height": 30, "width": 30}, image_seq_length=25)
    processor = PaliGemmaProcessor(image_processor=image_processor, tokenizer=tokenizer)
    config = PaliGemmaConfig(
        vision_config={**VISION, "image_size": 30, "patch_size": 6},
        # With Gemma's default 0.02 the tied embedding of the last prompt token ("\n") wins: every photo gets
        # that token repeated (up to 0.3, one repeated token per photo).
        text_config={**TEXT, "model_type": "gemma", "vocab_size": len(tokenizer), "initializer_range": 0.5,
                     **special_ids(tokenizer)},
        image_token_index=processor.image_token_id,
        vocab_size=len(tokenizer),
        projection_dim=32,
        hidden_size=32,
        **special_ids(tokenizer),
    )
    model = PaliGemmaForConditionalGeneration(config).eval()
    # The processor's 1,152 <locNNNN>/<segNNN> tokens are most of this vocabulary; shrunk, they rarely win, and
    # captions are words, as real PaliGemma's are for caption prompts.
    with torch.no_grad():
        model.get_input_embeddings().weight[tokenizer.convert_tokens_to_ids(EXTRA_TOKENS)] *= 0.1
    model.save_pretrained(folder)
    # Saved adding BOS, as on the hub: loading the processor is what turns it off.
    tokenizer.add_bos_token = True
    processor.save_pretrained(folder)
    return folder


def save_tiny_gemma3(folder: Path, seed: int = 0) -> Path:
    """Gemma 3: the hub chat template (BOS included), a tokenizer that adds BOS too, 16 soft tokens per image
    (8 x 8 patches pooled 2 x 2), and a sliding and a global layer. The window is longer than every prompt (as
    Gemma 3's 1,024 is): one shorter would hide the photo from the sliding layer and every photo would read
    alike. It is shorter than a static cache for long captions, so that cache's sliding layers are used."""
    torch.manual_seed(seed)
    tokenizer = gemma_tokenizer(boi_token="<start_of_image>", eoi_token="<end_of_image>", image_token="<image_soft_token>")
    config = Gemma3Config(
        vision_config={**VISION, "image_size": 32, "patch_size": 4},
        text_config={**TEXT, "vocab_size": len(tokenizer), "query_pre_attn_scalar": 16, "sliding_window": 256,
                     "layer_types": ["sliding_attention", "full_attention"], **special_ids(tokenizer)},
        mm_tokens_per_image=16,
        boi_token_index=tokenizer.boi_token_id,
        eoi_token_index=tokenizer.eoi_token_id,
        image_token_index=tokenizer.image_token_id,
    )
    model = Gemma3ForConditionalGeneration(config).eval()
    # Gemma 3 initialises the image projection to zeros, which would make every photo read the same.
    torch.nn.init.normal_(model.model.multi_modal_projector.mm_input_projection_weight, std=0.5)
    # As google/gemma-3-4b-it's: sampling on, and a turn also ends at <end_of_turn>.
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id, pad_token_id=tokenizer.pad_token_id,
        eos_token_id=[tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<end_of_turn>")],
        cache_implementation="hybrid", do_sample=True, top_k=64, top_p=0.95,
    )
    model.save_pretrained(folder)
    image_processor = Gemma3ImageProcessor(size={"height": 32, "width": 32}, image_seq_length=16)
    Gemma3Processor(
        image_processor=image_processor, tokenizer=tokenizer, chat_template=GEMMA3_CHAT_TEMPLATE, image_seq_length=16
    ).save_pretrained(folder)
    return folder
