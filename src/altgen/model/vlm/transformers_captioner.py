"""Any Hugging Face image-text-to-text model (LLaVA, Qwen2-VL, SmolVLM, ...) by hub id or local folder.

One replica per device; a batch is one padded, greedy ``generate`` call, so the same photo
with the same settings always gets the same text. The prompt asks for alt text, goes through the
processor's own chat template, and every answer passes the alt-text cleanup.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from dataclasses import replace
from typing import Mapping, Sequence

import torch
from PIL import Image
from transformers import BatchFeature

from altgen.captioning.contract import Captioner, CaptionRequest
from altgen.model.vlm.alt_text import clean_alt_text
from altgen.model.vlm.load_errors import explained
from altgen.model.vlm.prompts import PROMPTS

log = logging.getLogger(__name__)

# Families trained on task prefixes rather than chat instructions, by config model_type.
TASK_PROMPTS = {
    # PaliGemma's processor puts its image tokens where <image> stands (without it, it warns on every call).
    "paligemma": {(language, detail): f"<image>{task} {language}" for language in ("en", "ko") for detail, task in
                  (("alt", "caption"), ("long", "describe"))},
    # Florence-2 writes English only, whatever the request's language (said at start-up).
    "florence2": {(language, detail): task for language in ("en", "ko") for detail, task in
                  (("alt", "<CAPTION>"), ("long", "<MORE_DETAILED_CAPTION>"))},
}
ENGLISH_ONLY = {"florence2"}
# Generation stops at the first of these in any row: the start of an invented next turn or Q&A.
STOP_STRINGS = ["###", "Human:", "USER:", "Question 1:", "Question:", "질문 1:", "질문:", "사용자:"]


def echoed_prompt_length(input_ids: torch.Tensor, output: torch.Tensor) -> int:
    """How much of the prompt ``generate`` echoed before the new tokens. Decoder-only models echo it
    whole; BLIP-style models drop the prompt's closing [SEP] first, so the echo is one token shorter."""
    for length in range(input_ids.shape[1], 0, -1):
        if output.shape[1] >= length and torch.equal(output[:, :length], input_ids[:, :length]):
            return length
    return 0


def model_inputs(features: Mapping[str, torch.Tensor]) -> BatchFeature:
    """What ``generate`` takes of a processor's output: not the training ``labels`` that some
    processors add (PaliGemma's, padded with -100, not the pad token)."""
    return BatchFeature({key: value for key, value in features.items() if key != "labels"})


def collate_padded(
    features: Sequence[Mapping[str, torch.Tensor]], pad_token_id: int, side: str = "left"
) -> BatchFeature | None:
    """One batch from per-photo processor outputs, as the processor makes it with padding on ``side``;
    None when another feature differs in shape between photos (e.g. a varying number of image tiles)."""
    length = max(feature["input_ids"].shape[1] for feature in features)
    batch = {}
    for key in features[0]:
        parts = [feature[key] for feature in features]
        if parts[0].shape == features[0]["input_ids"].shape:  # one value per token: pad it
            value = pad_token_id if key == "input_ids" else 0
            widths = [(length - part.shape[1], 0) if side == "left" else (0, length - part.shape[1]) for part in parts]
            parts = [torch.nn.functional.pad(part, width, value=value) for part, width in zip(parts, widths)]
        elif any(part.shape[1:] != parts[0].shape[1:] for part in parts):
            return None
        batch[key] = torch.cat(parts)
    return BatchFeature(batch)


def batch_buckets(max_batch_size: int, chosen: Sequence[int] = ()) -> list[int]:
    """Batch sizes a compiled static-cache decode step is built for: the chosen ones (default: powers of
    two), never above the cap, and always the cap itself so that every batch has a bucket."""
    sizes = list(chosen) or [2**power for power in range(max_batch_size.bit_length())]
    return sorted({*(size for size in sizes if size < max_batch_size), max_batch_size})


def torch_dtype(setting: str, device: str) -> torch.dtype:
    """``auto``: bf16 on GPUs that have it, fp16 on older ones, fp32 on CPU."""
    if setting != "auto":
        return getattr(torch, setting)
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def load_processor(name_or_path: str):
    with explained(name_or_path):  # the import too: a torchvision from another torch build fails right there
        from transformers import AutoProcessor

        return AutoProcessor.from_pretrained(name_or_path)


def load_model(name_or_path: str, dtype: torch.dtype, device: str, load_format: str) -> torch.nn.Module:
    """The model in eval mode on ``device``. ``dummy`` reads only the config and builds random weights
    directly on the device (seconds for 7B parameters on a GPU, no weight files needed)."""
    from transformers import AutoConfig, AutoModelForImageTextToText, GenerationConfig

    if load_format != "dummy":
        return AutoModelForImageTextToText.from_pretrained(name_or_path, dtype=dtype).to(device).eval()
    config = AutoConfig.from_pretrained(name_or_path)
    with torch.device(device):
        model = AutoModelForImageTextToText.from_config(config, dtype=dtype)
    try:
        model.generation_config = GenerationConfig.from_pretrained(name_or_path)
    except OSError:  # no generation_config.json: keep the one derived from the model config
        pass
    return model.eval()


class TransformersCaptioner(Captioner):
    def __init__(
        self,
        name_or_path: str,
        device: str = "cpu",
        *,
        max_new_tokens: int = 60,
        max_chars: int = 150,
        long_max_new_tokens: int = 200,
        long_max_chars: int = 800,
        min_new_tokens: int = 0,
        kv_cache: str = "auto",
        dtype: str = "auto",
        max_batch_size: int = 64,
        compiled_batch_sizes: Sequence[int] = (),
        load_format: str = "auto",
    ):
        self.name = name_or_path
        self.device = device
        self.new_tokens = {"alt": max_new_tokens, "long": long_max_new_tokens}
        self.max_chars = {"alt": max_chars, "long": long_max_chars}
        self.min_new_tokens = min_new_tokens
        # A static KV cache lets transformers compile the decode step (on GPUs); compiled shapes are
        # fixed, so batches are padded up to a few bucket sizes instead of compiling one per size.
        self.static_cache = kv_cache == "static" or (kv_cache == "auto" and device.startswith("cuda"))
        self.buckets = batch_buckets(max_batch_size, compiled_batch_sizes) if self.static_cache else []
        self.processor = load_processor(name_or_path)
        self.tokenizer = getattr(self.processor, "tokenizer", self.processor)
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        with explained(name_or_path):
            self.model = load_model(name_or_path, torch_dtype(dtype, device), device, load_format)
        if self.static_cache:
            self.model.generation_config.cache_implementation = "static"
        # An end forced at the token budget (BART's, Florence-2's) would make a row's text depend on the
        # largest budget in its batch; a text cut by the budget is trimmed by the cleanup instead.
        self.model.generation_config.forced_eos_token_id = None
        # A decoder-only model continues from the right end of every row, so rows are padded on the left;
        # an encoder-decoder's encoder numbers positions from the left whatever the mask says (Florence-2).
        self.tokenizer.padding_side = "right" if self.model.config.is_encoder_decoder else "left"
        model_type = self.model.config.model_type
        self.prompts = TASK_PROMPTS.get(model_type) or {
            key: self._render_prompt(instruction) for key, instruction in PROMPTS.items()
        }
        if model_type in ENGLISH_ONLY:
            log.warning("%s (%s) writes English only: Korean requests get English text", name_or_path, model_type)
        # A chat template that already writes the BOS token must not get a second one from the tokenizer.
        bos = self.tokenizer.bos_token
        templated_bos = bool(bos) and any(prompt.startswith(bos) for prompt in self.prompts.values())
        self.text_kwargs = {"add_special_tokens": False} if templated_bos else {}
        self._thread_local = threading.local()  # per-thread processor copies for preprocess()
        self.warm_up_seconds: dict[int, float] = {}  # per bucket: compilation and CUDA graph capture

    def _render_prompt(self, instruction: str) -> str:
        conversation = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": instruction}]}]
        if getattr(self.processor, "chat_template", None):
            return self.processor.apply_chat_template(conversation, add_generation_prompt=True)
        return instruction  # models without a chat template (BLIP-style) take the bare instruction

    def _prompt(self, language: str, detail: str = "alt") -> str:
        return self.prompts[language, detail]

    def preprocess(self, request: CaptionRequest) -> CaptionRequest:
        """The processor's tensors for one photo, made on a request thread so that the model thread only
        collates them. Each thread has its own processor copy: a fast tokenizer is not re-entrant."""
        processor = getattr(self._thread_local, "processor", None)
        if processor is None:
            processor = self._thread_local.processor = copy.deepcopy(self.processor)
        features = processor(
            images=[[request.image]], text=[self._prompt(request.language, request.detail)], return_tensors="pt", **self.text_kwargs
        )
        return replace(request, features=model_inputs(features))

    def _inputs(self, rows: Sequence[CaptionRequest]) -> BatchFeature:
        if all(row.features is not None for row in rows):
            collated = collate_padded([row.features for row in rows], self.tokenizer.pad_token_id, self.tokenizer.padding_side)
            if collated is not None:
                return collated
        # One list of images per prompt: processors that count image tokens per sample (Gemma 3,
        # SmolVLM) refuse a flat list, and the others give the same tensors for either.
        return model_inputs(self.processor(
            images=[[row.image] for row in rows],
            text=[self._prompt(row.language, row.detail) for row in rows],
            return_tensors="pt",
            padding=True,
            **self.text_kwargs,
        ))

    def _padded(self, requests: Sequence[CaptionRequest]) -> list[CaptionRequest]:
        """With a static cache, the batch repeated up to its bucket size (extra rows are dropped later)."""
        size = next((b for b in self.buckets if b >= len(requests)), len(requests))
        return [*requests, *[requests[-1]] * (size - len(requests))]

    def generate_tokens(self, requests: Sequence[CaptionRequest]) -> list[torch.Tensor]:
        """The new token ids for each photo (one batched greedy generate), prompt removed.

        A batch may mix details; it generates up to the largest budget and each row is cut to its own,
        so a photo's text does not depend on which requests it shared a batch with.
        """
        max_new_tokens = max(self.new_tokens[request.detail] for request in requests)
        new = self._generate(self._padded(requests), max_new_tokens, min(self.min_new_tokens, max_new_tokens))
        return [row[: self.new_tokens[request.detail]] for row, request in zip(new, requests)]

    def _generate(self, rows: Sequence[CaptionRequest], max_new_tokens: int, min_new_tokens: int) -> torch.Tensor:
        inputs = self._inputs(rows).to(self.device)
        with torch.inference_mode():
            output = self.model.generate(
                **inputs,
                do_sample=False,
                num_beams=1,
                max_new_tokens=max_new_tokens,
                min_new_tokens=min_new_tokens,
                # A fixed length (benchmarks) runs every row to the end; otherwise stop at leakage.
                stop_strings=None if min_new_tokens else STOP_STRINGS,
                tokenizer=self.tokenizer,
            )
        if self.model.config.is_encoder_decoder:  # the prompt went to the encoder; only the start token leads
            return output[:, 1:]
        return output[:, echoed_prompt_length(inputs["input_ids"], output) :]

    def generate_raw(self, requests: Sequence[CaptionRequest]) -> list[str]:
        """The model's own words for each photo, before cleanup."""
        if not requests:
            return []
        return self.tokenizer.batch_decode(self.generate_tokens(requests), skip_special_tokens=True)

    def caption(self, requests: Sequence[CaptionRequest]) -> list[str]:
        raw = self.generate_raw(requests)
        return [
            clean_alt_text(text, self.max_chars[request.detail], keep_paragraphs=request.detail == "long", language=request.language)
            for text, request in zip(raw, requests)
        ]

    def warm_up(self) -> None:
        """Compiles the decode step for every bucket size before the service says it is ready.

        The static cache is sized once for the longest prompt and budget, so later calls reuse the
        compiled shapes (a model whose image token count varies with the photo may still grow it once).
        """
        if not self.static_cache:
            return
        photo = Image.new("RGB", (336, 336), "gray")
        longest_prompt = max(
            len(self.processor(images=[[photo]], text=[self._prompt(language, detail)], **self.text_kwargs)["input_ids"][0])
            for language, detail in PROMPTS
        )
        self.model.generation_config.max_cache_len = longest_prompt + max(self.new_tokens.values())
        for size in self.buckets:
            started = time.perf_counter()
            self._generate([CaptionRequest(photo)] * size, max_new_tokens=3, min_new_tokens=3)
            self.warm_up_seconds[size] = time.perf_counter() - started
            log.info("%s on %s: batch size %d ready in %.1f s", self.name, self.device, size, self.warm_up_seconds[size])
