"""Any Hugging Face image-text-to-text model (LLaVA, Qwen2-VL, SmolVLM, ...) by hub id or local folder.

One replica per device; a batch is one left-padded, greedy ``generate`` call, so the same photo
with the same settings always gets the same text. The prompt asks for alt text, goes through the
processor's own chat template, and every answer passes the alt-text cleanup.
"""

from __future__ import annotations

from typing import Sequence

import torch

from altgen.model.alt_text import clean_alt_text
from altgen.model.base import CaptionRequest

PROMPTS = {
    "en": (
        "Write alt text for this photo for a blind reader: one or two short sentences saying what it shows, "
        "most important first. Do not start with 'image of' or 'photo of'. Do not guess names or text you cannot read."
    ),
    "ko": (
        "시각장애인을 위한 이 사진의 대체 텍스트를 한국어로 써 주세요. 사진에 보이는 것을 중요한 것부터 한두 문장으로 "
        "짧게 설명하고, '사진' 또는 '이미지'로 시작하지 마세요."
    ),
}


def echoed_prompt_length(input_ids: torch.Tensor, output: torch.Tensor) -> int:
    """How much of the prompt ``generate`` echoed before the new tokens. Decoder-only models echo it
    whole; BLIP-style models drop the prompt's closing [SEP] first, so the echo is one token shorter."""
    for length in range(input_ids.shape[1], 0, -1):
        if output.shape[1] >= length and torch.equal(output[:, :length], input_ids[:, :length]):
            return length
    return 0


class TransformersCaptioner:
    def __init__(
        self,
        name_or_path: str,
        device: str = "cpu",
        *,
        max_new_tokens: int = 60,
        max_chars: int = 150,
        min_new_tokens: int = 0,
    ):
        from transformers import AutoModelForImageTextToText, AutoProcessor

        self.name = name_or_path
        self.device = device
        self.max_new_tokens = max_new_tokens
        self.min_new_tokens = min_new_tokens
        self.max_chars = max_chars
        self.processor = AutoProcessor.from_pretrained(name_or_path)
        tokenizer = getattr(self.processor, "tokenizer", self.processor)
        tokenizer.padding_side = "left"  # generation continues from the right end of every row
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        # bf16 on GPUs that have it, fp16 on older ones, fp32 on CPU.
        if device.startswith("cuda"):
            dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        else:
            dtype = torch.float32
        self.model = AutoModelForImageTextToText.from_pretrained(name_or_path, dtype=dtype).to(device).eval()

    def _prompt(self, language: str) -> str:
        conversation = [
            {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": PROMPTS[language]}]}
        ]
        if getattr(self.processor, "chat_template", None):
            return self.processor.apply_chat_template(conversation, add_generation_prompt=True)
        return PROMPTS[language]  # models without a chat template (BLIP-style) take the bare instruction

    def generate_tokens(self, requests: Sequence[CaptionRequest]) -> torch.Tensor:
        """The new token ids for each photo (one batched greedy generate), prompt removed."""
        inputs = self.processor(
            images=[request.image for request in requests],
            text=[self._prompt(request.language) for request in requests],
            return_tensors="pt",
            padding=True,
        ).to(self.device)
        with torch.inference_mode():
            output = self.model.generate(
                **inputs,
                do_sample=False,
                num_beams=1,
                max_new_tokens=self.max_new_tokens,
                min_new_tokens=self.min_new_tokens,
            )
        return output[:, echoed_prompt_length(inputs["input_ids"], output) :]

    def generate_raw(self, requests: Sequence[CaptionRequest]) -> list[str]:
        """The model's own words for each photo, before cleanup."""
        if not requests:
            return []
        return self.processor.batch_decode(self.generate_tokens(requests), skip_special_tokens=True)

    def caption(self, requests: Sequence[CaptionRequest]) -> list[str]:
        return [clean_alt_text(text, self.max_chars) for text in self.generate_raw(requests)]
