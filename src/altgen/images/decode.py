"""Decode, check and normalise uploaded photos before they reach a model.

Everything here is blocking CPU work; callers run it in a thread, never on the event loop.
"""

from __future__ import annotations

import hashlib
import io
import math
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from altgen.errors import ImageRejected
from altgen.settings import ResizeConfig

ORIENTATION = 0x0112  # the EXIF tag
ROTATED = frozenset({5, 6, 7, 8})  # orientations that swap width and height
ACCEPTED_FORMATS = frozenset({"JPEG", "MPO", "PNG", "GIF", "WEBP", "BMP", "TIFF"})


@dataclass(frozen=True)
class PreparedImage:
    name: str
    sha256: str
    original_size: tuple[int, int]  # as uploaded, after EXIF rotation
    processed_size: tuple[int, int]  # after the /config rule
    # RGB at the /config rule's size, or smaller where the model needs fewer pixels (see ``decoded_size``).
    image: Image.Image


def scaled_size(width: int, height: int, config: ResizeConfig) -> tuple[int, int]:
    """The /config rule with the aspect ratio kept: scale by ``halve_rate`` unless that makes a side
    shorter than ``min_size``; then scale so the shorter side is ``min_size``; never upscale."""
    scale = config.halve_rate
    if min(width, height) * scale < config.min_size:
        scale = config.min_size / min(width, height)
    scale = min(scale, 1.0)
    return max(1, round(width * scale)), max(1, round(height * scale))


def decoded_size(width: int, height: int, config: ResizeConfig, min_short_side: int | None) -> tuple[int, int]:
    """What the model is given: the /config rule's size, or, for a model that needs only ``min_short_side``
    pixels on the shorter side (the embedded default's classifier: 224), a photo scaled so the shorter side
    is that (never larger than the rule's size). A 12-megapixel photo is then never decoded whole."""
    target = scaled_size(width, height, config)
    if min_short_side is None or min(target) <= min_short_side:
        return target
    scale = min_short_side / min(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _sixteen_bit_to_8(image: Image.Image) -> Image.Image:
    """16/32-bit greyscale scaled to 8 bits (PIL's convert("L") clips instead of scaling), a band of
    rows at a time so that memory stays near one 8-bit copy, not a float64 one (8 bytes a pixel)."""
    _low, high = image.getextrema()
    peak = 65535.0 if image.mode.startswith("I;16") or high > 255 else 255.0
    width, height = image.size
    out = np.empty((height, width), dtype=np.uint8)
    rows = max(1, 4_000_000 // max(1, width))
    for top in range(0, height, rows):
        band = np.asarray(image.crop((0, top, width, min(height, top + rows))), dtype=np.float32)
        out[top : top + band.shape[0]] = np.clip(band * np.float32(255.0 / peak), 0, 255)
    return Image.fromarray(out)


def _to_8_bit(image: Image.Image) -> Image.Image:
    """8-bit greyscale ("L") or RGB; greyscale stays one channel until after the resize (a third of the memory)."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        image = _sixteen_bit_to_8(image)
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        # Transparent areas are shown on white, as a browser would.
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image if image.mode in ("L", "RGB") else image.convert("RGB")


@dataclass(frozen=True)
class OpenedImage:
    """A checked upload whose header has been read but whose pixels are not decoded yet."""

    name: str
    data: bytes
    image: Image.Image

    @property
    def pixels(self) -> int:
        return self.image.width * self.image.height

    def upright_size(self) -> tuple[int, int]:
        """The size after EXIF rotation (a phone's portrait photo is stored lying on its side)."""
        width, height = self.image.size
        return (height, width) if self.image.getexif().get(ORIENTATION, 1) in ROTATED else (width, height)

    def plan(self, config: ResizeConfig, min_short_side: int | None) -> DecodePlan:
        """How this photo will be decoded for a model that needs ``min_short_side``: JPEG decodes at 1/2, 1/4
        or 1/8 scale in the DCT itself (draft mode), the smallest scale still at least the size given to the
        model; other formats decode whole."""
        width, height = self.upright_size()
        target = decoded_size(width, height, config, min_short_side)
        draft_size = self.image.size
        if self.image.format in ("JPEG", "MPO"):
            scale = max(target[0] / width, target[1] / height)
            draft_size = (math.ceil(self.image.width * scale), math.ceil(self.image.height * scale))
        return DecodePlan(scaled_size(width, height, config), target, draft_size, _reduced(self.image.size, draft_size))


def _reduced(size: tuple[int, int], request: tuple[int, int]) -> int:
    """The pixels a JPEG decoder produces when asked for at least ``request`` (its scales are 1, 1/2, 1/4, 1/8)."""
    for factor in (8, 4, 2):
        reduced = (math.ceil(size[0] / factor), math.ceil(size[1] / factor))
        if reduced[0] >= request[0] and reduced[1] >= request[1]:
            return reduced[0] * reduced[1]
    return size[0] * size[1]


@dataclass(frozen=True)
class DecodePlan:
    processed_size: tuple[int, int]  # the /config rule's size, as the APIs report it
    target: tuple[int, int]  # what the model is given
    draft_size: tuple[int, int]  # what the decoder is asked for (JPEG: it picks the DCT scale)
    decoded_pixels: int  # what is really decoded, for the pixel budget


def open_image(data: bytes, name: str, *, max_bytes: int, max_pixels: int) -> OpenedImage:
    """Reads one upload's header and checks it (size, format, pixel count) before any decoding."""
    if not data:
        raise ImageRejected(name, "the file is empty (0 bytes)", status=422)
    if len(data) > max_bytes:
        raise ImageRejected(name, f"the file is {len(data)} bytes; the limit is {max_bytes} bytes", status=413)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise ImageRejected(
            name, f"not a recognised image; accepted formats are {', '.join(sorted(ACCEPTED_FORMATS))}", status=415
        ) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected(name, f"the image is too large to decode safely ({exc})", status=413) from None
    except Exception as exc:  # noqa: BLE001 - a damaged header can fail in many ways inside the decoder
        raise ImageRejected(name, f"the image data is damaged or truncated ({exc})", status=422) from None
    if image.format not in ACCEPTED_FORMATS:
        raise ImageRejected(
            name, f"format {image.format} is not accepted; use one of {', '.join(sorted(ACCEPTED_FORMATS))}", status=415
        )
    width, height = image.size
    if width * height > max_pixels:
        raise ImageRejected(
            name, f"the image is {width}x{height} = {width * height} pixels; the limit is {max_pixels} pixels", status=413
        )
    return OpenedImage(name, data, image)


def finish_image(opened: OpenedImage, plan: DecodePlan) -> PreparedImage:
    """Decodes a checked upload into an RGB photo of the plan's size."""
    image, name = opened.image, opened.name
    original_size = opened.upright_size()
    try:
        image.seek(0)  # animated GIF/WebP: the first frame
        if plan.draft_size != image.size:
            image.draft(image.mode if image.mode in ("L", "RGB") else None, plan.draft_size)
        image.load()
        if image.getexif().get(ORIENTATION, 1) != 1:  # exif_transpose copies even an upright photo
            image = ImageOps.exif_transpose(image)
        decoded = _to_8_bit(image)
    except Exception as exc:  # noqa: BLE001 - likewise for damaged pixel data
        raise ImageRejected(name, f"the image data is damaged or truncated ({exc})", status=422) from None
    if plan.target != decoded.size:
        decoded = decoded.resize(plan.target, Image.Resampling.LANCZOS, reducing_gap=3.0)
    rgb = decoded if decoded.mode == "RGB" else decoded.convert("RGB")
    return PreparedImage(
        name=name,
        sha256=hashlib.sha256(opened.data).hexdigest(),
        original_size=original_size,
        processed_size=plan.processed_size,
        image=rgb,
    )


def prepare_image(
    data: bytes, name: str, config: ResizeConfig, *, max_bytes: int, max_pixels: int, min_short_side: int | None = None
) -> PreparedImage:
    """Check one upload and return it as an RGB photo resized by the /config rule (or to what the model needs)."""
    opened = open_image(data, name, max_bytes=max_bytes, max_pixels=max_pixels)
    return finish_image(opened, opened.plan(config, min_short_side))
