"""Tiny random models of the popular vision-language families, built offline from their real config,
processor and model classes and saved as a hub download is laid out (tests/test_vlm_families.py)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Family:
    module: str  # where its builder lives: random_vlms, or a module of this package
    builder: str
    needs_torchvision: bool = False  # its processor (or video processor) imports torchvision

    def build(self, folder: Path) -> Path:
        module = self.module if self.module == "random_vlms" else f"vlm_families.{self.module}"
        return getattr(importlib.import_module(module), self.builder)(folder)


FAMILIES = {
    "qwen2-vl": Family("qwen", "save_tiny_qwen2_vl", needs_torchvision=True),
    "qwen2.5-vl": Family("qwen", "save_tiny_qwen2_5_vl", needs_torchvision=True),
    "qwen3-vl": Family("qwen", "save_tiny_qwen3_vl", needs_torchvision=True),
    "llava-1.5": Family("random_vlms", "save_random_llava"),
    "llava-next": Family("llava_next", "save_tiny_llava_next"),
    "llava-onevision": Family("llava_next", "save_tiny_llava_onevision", needs_torchvision=True),
    "blip-2": Family("random_vlms", "save_tiny_blip2"),
    "idefics3": Family("idefics", "save_tiny_idefics3"),
    "smolvlm": Family("idefics", "save_tiny_smolvlm", needs_torchvision=True),
    "internvl": Family("others", "save_tiny_internvl", needs_torchvision=True),
    "mistral3": Family("others", "save_tiny_mistral3", needs_torchvision=True),
    "florence-2": Family("others", "save_tiny_florence2"),
    "paligemma": Family("gemma", "save_tiny_paligemma"),
    "gemma-3": Family("gemma", "save_tiny_gemma3"),
}
