"""Decode, check and normalise uploaded photos before they reach a model.

Everything here is blocking CPU work; callers run it in a thread, never on the event loop.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from altgen.errors import ImageRejected
from altgen.settings import ResizeConfig

ORIENTATION = 0x0112  # the EXIF tag
ACCEPTED_FORMATS = frozenset({"JPEG", "MPO", "PNG", "GIF", "WEBP", "BMP", "TIFF"})


@dataclass(frozen=True)
class PreparedImage:
    name: str
    sha256: str
    original_size: tuple[int, int]
    image: Image.Image  # RGB, already resized by the /config rule

    @property
    def size(self) -> tuple[int, int]:
        return self.image.size


def scaled_size(width: int, height: int, config: ResizeConfig) -> tuple[int, int]:
    """The /config rule with the aspect ratio kept: scale by ``halve_rate`` unless that makes a side
    shorter than ``min_size``; then scale so the shorter side is ``min_size``; never upscale."""
    scale = config.halve_rate
    if min(width, height) * scale < config.min_size:
        scale = config.min_size / min(width, height)
    scale = min(scale, 1.0)
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


def finish_image(opened: OpenedImage, config: ResizeConfig) -> PreparedImage:
    """Decodes a checked upload into an RGB photo resized by the /config rule."""
    image, name = opened.image, opened.name
    try:
        image.seek(0)  # animated GIF/WebP: the first frame
        image.load()
        if image.getexif().get(ORIENTATION, 1) != 1:  # exif_transpose copies even an upright photo
            image = ImageOps.exif_transpose(image)
        decoded = _to_8_bit(image)
    except Exception as exc:  # noqa: BLE001 - likewise for damaged pixel data
        raise ImageRejected(name, f"the image data is damaged or truncated ({exc})", status=422) from None
    target = scaled_size(*decoded.size, config)
    if target != decoded.size:
        decoded = decoded.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)
    rgb = decoded if decoded.mode == "RGB" else decoded.convert("RGB")
    return PreparedImage(
        name=name,
        sha256=hashlib.sha256(opened.data).hexdigest(),
        original_size=image.size,
        image=rgb,
    )


def prepare_image(data: bytes, name: str, config: ResizeConfig, *, max_bytes: int, max_pixels: int) -> PreparedImage:
    """Check one upload and return it as an RGB photo resized by the /config rule."""
    return finish_image(open_image(data, name, max_bytes=max_bytes, max_pixels=max_pixels), config)
