"""Random-initialised vision-language models of real architectures, built offline and saved the way a
hub download is laid out. Tests use tiny ones; the GPU check (benchmarks/gpu_check.py) uses LLaVA-1.5-7B's shape (config
and processor files only, built with random weights on the device), whose serving cost depends on the architecture,
not on the weight values."""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import (
    BertTokenizerFast,
    Blip2Config,
    Blip2ForConditionalGeneration,
    Blip2Processor,
    BlipConfig,
    BlipForConditionalGeneration,
    BlipImageProcessor,
    BlipProcessor,
    CLIPImageProcessor,
    CLIPVisionConfig,
    LlamaConfig,
    LlavaConfig,
    LlavaForConditionalGeneration,
    LlavaProcessor,
    OPTConfig,
    PreTrainedTokenizerFast,
)


CHAT_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] == 'user' %}USER: "
    "{% for part in message['content'] %}{% if part['type'] == 'image' %}<image>\n{% else %}{{ part['text'] }}{% endif %}"
    "{% endfor %} {% endif %}{% endfor %}{% if add_generation_prompt %}ASSISTANT:{% endif %}"
)
CORPUS = [
    "USER: Write alt text for this photo for a blind reader ASSISTANT: A cat sleeping on a sofa.",
    "a red car parked by the road. two dogs play in a park. a cup of espresso on a table.",
    "시각장애인을 위한 이 사진의 대체 텍스트를 한국어로 써 주세요 고양이 강아지 자동차",
]


def byte_level_tokenizer() -> PreTrainedTokenizerFast:
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<pad>", "<s>", "</s>", "<unk>", "<image>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(CORPUS, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>"
    )


def adds_bos(tokenizer: PreTrainedTokenizerFast) -> PreTrainedTokenizerFast:
    """The tokenizer puts its BOS before every text it encodes (Llama's and OPT's do)."""
    bos = tokenizer.bos_token
    tokenizer._tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, tokenizer.bos_token_id)]
    )
    return tokenizer


# Vision and text shapes: a tiny one for tests, and LLaVA-1.5-7B's (CLIP ViT-L/14-336 + Llama-2-7B).
LLAVA_SHAPES = {
    "tiny": (
        {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
         "image_size": 30, "patch_size": 6},
        {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
         "num_key_value_heads": 2, "max_position_embeddings": 512},
        None,
    ),
    "llava-1.5-7b": (
        {"hidden_size": 1024, "intermediate_size": 4096, "num_hidden_layers": 24, "num_attention_heads": 16,
         "image_size": 336, "patch_size": 14, "projection_dim": 768},
        {"hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32, "num_attention_heads": 32,
         "num_key_value_heads": 32, "max_position_embeddings": 4096},
        32064,
    ),
}


def save_random_llava(
    folder: Path,
    seed: int = 0,
    shape: str = "tiny",
    dtype: torch.dtype = torch.float32,
    weights: bool = True,
    bos_in_template: bool = False,
) -> Path:
    """A LLaVA folder of the given shape. Without ``weights`` only the config and processor files are
    written: the model is then built with ``load_format = dummy`` (no multi-gigabyte weight files).
    The tokenizer adds a BOS, as Llama's does; ``bos_in_template``: the chat template writes one too
    (Llama-3 style), the set-up that gives a doubled BOS when templated prompts are tokenized with special tokens."""
    torch.manual_seed(seed)
    tokenizer = byte_level_tokenizer()
    adds_bos(tokenizer)  # as Llama's does
    image_token = tokenizer.convert_tokens_to_ids("<image>")
    vision_shape, text_shape, vocab_size = LLAVA_SHAPES[shape]
    vision = CLIPVisionConfig(**vision_shape)
    text = LlamaConfig(
        vocab_size=vocab_size or len(tokenizer),
        **text_shape,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    config = LlavaConfig(
        vision_config=vision,
        text_config=text,
        image_token_index=image_token,
        vision_feature_select_strategy="default",
        vision_feature_layer=-1,
    )
    side = vision_shape["image_size"]
    image_processor = CLIPImageProcessor(size={"shortest_edge": side}, crop_size={"height": side, "width": side})
    processor = LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=vision_shape["patch_size"],
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        chat_template="{{ bos_token }}" + CHAT_TEMPLATE if bos_in_template else CHAT_TEMPLATE,
    )
    processor.save_pretrained(folder)
    if not weights:
        config.save_pretrained(folder)
        return folder
    with torch.device("cuda" if shape != "tiny" and torch.cuda.is_available() else "cpu"):
        model = LlavaForConditionalGeneration(config).to(dtype).eval()
    model.save_pretrained(folder)
    return folder


def save_tiny_blip(folder: Path, seed: int = 0) -> Path:
    """BLIP: no chat template, a BERT WordPiece tokenizer, a [DEC] token to start decoding."""
    torch.manual_seed(seed)
    words = sorted({w.strip(".,").lower() for line in CORPUS for w in line.split() if w.isascii()})
    (folder / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]", *words]) + "\n")
    tokenizer = BertTokenizerFast.from_pretrained(str(folder))
    config = BlipConfig(
        text_config={
            "vocab_size": len(tokenizer),
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "encoder_hidden_size": 32,
            "bos_token_id": tokenizer.convert_tokens_to_ids("[DEC]"),
            "pad_token_id": tokenizer.pad_token_id,
            "sep_token_id": tokenizer.sep_token_id,
        },
        vision_config={
            "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
            "image_size": 30, "patch_size": 6,
        },
    )
    BlipForConditionalGeneration(config).eval().save_pretrained(folder)
    BlipProcessor(image_processor=BlipImageProcessor(size={"height": 30, "width": 30}), tokenizer=tokenizer).save_pretrained(
        folder
    )
    return folder


def save_tiny_blip2(folder: Path, seed: int = 0) -> Path:
    """BLIP-2 (the design InstructBLIP and MiniGPT-4 share): a Q-Former's query tokens stand in for the
    image in a decoder-only language model (OPT here), with no chat template."""
    torch.manual_seed(seed)
    tokenizer = adds_bos(byte_level_tokenizer())  # as OPT's does
    tokenizer.image_token = "<image>"
    layers = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2}
    text = OPTConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        ffn_dim=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        word_embed_proj_dim=32,
        max_position_embeddings=512,
        init_std=0.5,  # the default 0.02 gives a model that repeats one token for every photo
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    config = Blip2Config(
        vision_config={**layers, "image_size": 30, "patch_size": 6},
        qformer_config={**layers, "encoder_hidden_size": 32, "vocab_size": 100},
        text_config=text.to_dict(),
        num_query_tokens=4,
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
    )
    Blip2ForConditionalGeneration(config).eval().save_pretrained(folder)
    image_processor = BlipImageProcessor(size={"height": 30, "width": 30})
    Blip2Processor(image_processor=image_processor, tokenizer=tokenizer, num_query_tokens=4).save_pretrained(folder)
    return folder
