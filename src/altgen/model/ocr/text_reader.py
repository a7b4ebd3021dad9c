"""Reads the text in a photo: PP-OCRv6 detection and Latin recognition from the weights inside the
RapidOCR wheel, Hangul lines through Debian's Tesseract (see tesseract.py), all on the CPU.

The cost falls on photos with text only: ``has_text`` runs detection alone on a small copy (a
text-free photo stops there); ``read`` detects again at reading size and recognises each line.
A line is kept only when its recogniser is sure of it: uncertain text is left out, never guessed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib import resources
from typing import Sequence

import numpy as np
from PIL import Image

from altgen.model.ocr.tesseract import TesseractLines

log = logging.getLogger(__name__)

DET_MODEL = "PP-OCRv6_det_small.onnx"
REC_MODEL = "PP-OCRv6_rec_small.onnx"
GATE_SIDE = 320  # the gate's copy, longer side (chosen on the text evaluation's dev half)
READ_SIDE = 1600  # what a photo is read at, at most, longer side


@dataclass(frozen=True)
class TextLine:
    text: str
    confidence: float
    box: tuple[float, float, float, float]  # left, top, right, bottom in the photo's pixels

    @property
    def height(self) -> float:
        return min(self.box[3] - self.box[1], self.box[2] - self.box[0])


def wheel_model(name: str) -> str:
    """A model file inside the installed rapidocr wheel; never fetched (RapidOCR would download a missing one)."""
    path = resources.files("rapidocr") / "models" / name
    if not path.is_file():
        raise FileNotFoundError(f"{name} is not inside the installed rapidocr wheel; altgen does not download models")
    return str(path)


def _has_ideographs(text: str) -> bool:
    """Chinese or Japanese characters: not a script altgen reads, so a sign that the line was Hangul misread."""
    return any("\u3040" <= c <= "\u30ff" or "\u3400" <= c <= "\u9fff" or "\uf900" <= c <= "\ufaff" for c in text)


def _quad_size(quad: np.ndarray) -> tuple[int, int]:
    width = max(np.linalg.norm(quad[0] - quad[1]), np.linalg.norm(quad[3] - quad[2]))
    height = max(np.linalg.norm(quad[0] - quad[3]), np.linalg.norm(quad[1] - quad[2]))
    return max(1, int(round(width))), max(1, int(round(height)))


def crop_line(pixels: np.ndarray, quad: np.ndarray) -> np.ndarray:
    """One detected line, straightened; a tall, narrow line (vertical text) turned to read left to right."""
    import cv2

    width, height = _quad_size(quad)
    target = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
    matrix = cv2.getPerspectiveTransform(quad.astype(np.float32), target)
    line = cv2.warpPerspective(pixels, matrix, (width, height), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    return np.rot90(line) if height >= 1.5 * width else line


def reading_order(lines: list[TextLine]) -> list[TextLine]:
    """Top to bottom; lines whose middles sit within half a line of each other, left to right."""
    rows: list[list[TextLine]] = []
    for line in sorted(lines, key=lambda l: (l.box[1] + l.box[3]) / 2):
        middle = (line.box[1] + line.box[3]) / 2
        if rows and abs(middle - np.mean([(l.box[1] + l.box[3]) / 2 for l in rows[-1]])) < 0.5 * line.height:
            rows[-1].append(line)
        else:
            rows.append([line])
    return [line for row in rows for line in sorted(row, key=lambda l: l.box[0])]


class TextReader:
    """Finds and reads lines of Latin and Hangul text."""

    name = "pp-ocrv6-small+tesseract-kor"

    def __init__(
        self,
        *,
        gate_side: int = GATE_SIDE,
        read_side: int = READ_SIDE,
        line_confidence: float = 0.8,
        word_confidence: float = 0.6,
        min_text_pixels: int = 8,
        max_line_share: float = 0.8,
        max_lines: int = 40,
        korean: bool = True,
    ):
        from rapidocr import RapidOCR

        self.line_confidence = line_confidence
        self.word_confidence = word_confidence
        self.min_text_pixels = min_text_pixels
        self.max_line_share = max_line_share
        self.max_lines = max_lines
        self.gate_side, self.read_side = gate_side, read_side
        # One thread per call: the service runs several photos at once on its own threads, and ONNX Runtime's
        # own pool would only spin against them.
        models = {"Det.model_path": wheel_model(DET_MODEL), "Rec.model_path": wheel_model(REC_MODEL),
                  "Global.use_cls": False, "Global.log_level": "error", "Det.limit_type": "max",
                  "EngineConfig.onnxruntime.intra_op_num_threads": 1, "EngineConfig.onnxruntime.inter_op_num_threads": 1}
        # Two detectors: the gate's small copy and the reading size.
        self._gate = RapidOCR(params={**models, "Det.limit_side_len": gate_side})._load_det_model()
        engine = RapidOCR(params={**models, "Det.limit_side_len": read_side})
        self._detector = engine._load_det_model()
        self._recogniser = engine._load_rec_model()
        self.korean = TesseractLines.load() if korean else None
        if korean and self.korean is None:
            log.warning("Tesseract's Korean data is not installed (apt-get install tesseract-ocr-kor): Hangul is not read")

    def _boxes(self, detector, image: Image.Image) -> np.ndarray:
        bgr = np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1])
        found = detector(bgr)
        return np.zeros((0, 4, 2), np.float32) if found.boxes is None else np.asarray(found.boxes, np.float32)

    def _legible(self, boxes: np.ndarray) -> np.ndarray:
        """Lines tall enough to read (in the photo's pixels)."""
        return np.array([min(_quad_size(q)) >= self.min_text_pixels for q in boxes], dtype=bool) if len(boxes) else np.zeros(0, bool)

    def has_text(self, image: Image.Image) -> bool:
        """Whether detection on a small copy finds any legible line (thread-safe: runs on request threads).
        A "line" nearly as tall as the whole photo is a textured area (foliage, fur, ripples), not text: on
        the text evaluation's dev half such boxes were 0.91-0.99 of the shorter side on every text-free photo
        the gate let through, and at most 0.64 on a photo with text (a stop sign close up)."""
        heights = [min(_quad_size(q)) for q in self._boxes(self._gate, image)]
        tallest_line = self.max_line_share * min(image.size)
        return any(self.min_text_pixels <= height <= tallest_line for height in heights)

    def read(self, images: Sequence[Image.Image]) -> list[list[TextLine]]:
        """The sure lines of each photo, in reading order; recognition batched over all the photos' lines."""
        crops, owners, quads = [], [], []
        for index, image in enumerate(images):
            pixels = np.asarray(image.convert("RGB"))
            boxes = self._boxes(self._detector, image)
            boxes = boxes[self._legible(boxes)]
            # A page of tiny print: the tallest lines (titles, headings) first, a bounded number of them.
            tallest = sorted(boxes, key=lambda q: -min(_quad_size(q)))[: self.max_lines]
            for quad in tallest:
                crops.append(np.ascontiguousarray(crop_line(pixels, quad)[:, :, ::-1]))
                owners.append(index)
                quads.append(quad)
        read: list[list[TextLine]] = [[] for _ in images]
        if not crops:
            return read
        from rapidocr.ch_ppocr_rec import TextRecInput

        found = self._recogniser(TextRecInput(img=crops))
        for crop, owner, quad, text, score in zip(crops, owners, quads, found.txts, found.scores):
            line = self._sure_text(crop, text, float(score))
            if line:
                box = (float(quad[:, 0].min()), float(quad[:, 1].min()), float(quad[:, 0].max()), float(quad[:, 1].max()))
                read[owner].append(TextLine(line[0], line[1], box))
        return [reading_order(lines) for lines in read]

    def _sure_text(self, crop: np.ndarray, text: str, score: float) -> tuple[str, float] | None:
        """PP-OCR's reading when it is sure and Latin; otherwise Tesseract's Korean reading, word by word,
        without the words it is unsure of."""
        text = " ".join(text.split())
        # PP-OCRv6 knows a few Hangul syllables, not the script: a line it reads as Hangul goes to Tesseract too.
        latin = not _has_ideographs(text) and not any("\uac00" <= c <= "\ud7a3" for c in text)
        if score >= self.line_confidence and latin and len(text.replace(" ", "")) >= 2:
            return text, score
        if self.korean is None:
            return None
        words = self.korean.words(self._for_tesseract(crop))
        sure = [(w, c) for w, c in words if c >= self.word_confidence]
        if not sure or not any("\uac00" <= ch <= "\ud7a3" for w, _ in sure for ch in w):
            return None  # Tesseract is the Hangul reader: a Latin line PP-OCR doubted stays unread
        return " ".join(w for w, _ in sure), float(np.mean([c for _, c in sure]))

    @staticmethod
    def _for_tesseract(crop: np.ndarray) -> np.ndarray:
        """Greyscale, about 48 pixels tall, on a white margin: the size Tesseract reads lines best at."""
        grey = np.asarray(Image.fromarray(crop[:, :, ::-1]).convert("L"))
        height, width = grey.shape
        scale = 48 / max(1, height)
        image = Image.fromarray(grey).resize((max(1, round(width * scale)), 48), Image.Resampling.BICUBIC)
        if np.mean(image) < 128:  # light text on a dark ground: Tesseract wants dark on light
            image = Image.fromarray(255 - np.asarray(image))
        padded = Image.new("L", (image.width + 24, image.height + 24), 255)
        padded.paste(image, (12, 12))
        return np.asarray(padded)
