"""Decode, check and normalise uploaded photos before they reach a model.

Everything here is blocking CPU work; callers run it in a thread, never on the event loop.
"""

from __future__ import annotations

import hashlib
import io
import math
import warnings
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from pillow_heif import register_heif_opener

from altgen.errors import ImageRejected
from altgen.images.webp import is_still_webp, webp_pixels
from altgen.native_memory import return_free_memory
from altgen.settings import ResizeConfig

ORIENTATION = 0x0112  # the EXIF tag
ROTATED = frozenset({5, 6, 7, 8})  # orientations that swap width and height
ACCEPTED_FORMATS = frozenset({"JPEG", "MPO", "PNG", "GIF", "WEBP", "BMP", "TIFF", "HEIF", "AVIF"})
# HEIC/HEIF (phones' own format) through pillow-heif, which applies the photo's rotation as it reads it;
# AVIF is Pillow's own.
register_heif_opener()
# Pillow keeps every pixel of a multi-band image in 4 bytes; "1", "L" and "P" in 1, 16-bit greyscale in 2.
STORED_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2}
# What turning a photo into 8-bit RGB adds at its peak, a pixel: the RGBA copy, the white background, the
# alpha mask (palette and transparent photos); an RGB copy (CMYK, YCbCr, ...); a band at a time for 16-bit.
CONVERSION_BYTES = {"L": 0, "RGB": 0, "I;16": 1, "I;16B": 1, "I;16L": 1, "I": 1, "F": 1, "RGBA": 5, "LA": 9, "PA": 9, "P": 9}
# A decode this large (bytes) is followed by handing the freed memory back to the system.
LARGE_DECODE_BYTES = 64 * 2**20


@dataclass(frozen=True)
class PreparedImage:
    name: str
    original_size: tuple[int, int]  # as uploaded, after EXIF rotation
    processed_size: tuple[int, int]  # after the /config rule
    # RGB at the /config rule's size, or smaller where the model needs fewer pixels (see ``decoded_size``).
    image: Image.Image
    # The upload's bytes and how they were decoded, to decode them again larger (``larger``); never the
    # decoder's own full-size pixels, which are let go once ``image`` is made.
    source: tuple[bytes, DecodePlan] | None = field(default=None, repr=False, compare=False)

    @cached_property
    def sha256(self) -> str:
        """The upload's SHA-256, computed when asked (only /v1/describe tells it: 0.9 ms of a 2 MB phone photo)."""
        assert self.source is not None, "made without its upload"
        return hashlib.sha256(self.source[0]).hexdigest()

    def larger(self, longest: int) -> Image.Image:
        """The photo decoded again from its upload with up to ``longest`` pixels on its longer side, never more
        than the /config rule's size; ``image`` itself when that is no larger (what the text reader reads)."""
        if self.source is None:
            return self.image
        data, plan = self.source
        opened = OpenedImage(self.name, data, Image.open(io.BytesIO(data)))
        bigger = opened.plan_larger(plan, longest)
        return self.image if bigger.target[0] <= self.image.width else decode(opened, bigger)[0]


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
        rgba = image if image.mode == "RGBA" else image.convert("RGBA")
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

    @cached_property
    def orientation(self) -> int:
        """The EXIF orientation its header holds (read once: the plan and its memory estimate both need it)."""
        return _header_orientation(self.image)

    def plan(self, config: ResizeConfig, min_short_side: int | None) -> DecodePlan:
        """How this photo will be decoded for a model that needs ``min_short_side``: JPEG decodes at 1/2, 1/4
        or 1/8 scale in the DCT itself (draft mode), the smallest scale still at least the size given to the
        model; other formats decode whole."""
        # A phone's portrait photo is stored lying on its side: sizes are said upright, from the header's EXIF.
        rotated = self.orientation in ROTATED
        width, height = self.image.size[::-1] if rotated else self.image.size
        target = decoded_size(width, height, config, min_short_side)
        return self._plan_for((width, height), scaled_size(width, height, config), target, rotated)

    def plan_larger(self, plan: DecodePlan, longest: int) -> DecodePlan:
        """``plan`` again for the photo as large as the /config rule's size, within ``longest`` on its longer side."""
        width, height = plan.processed_size
        scale = min(1.0, longest / max(width, height))
        target = (max(1, round(width * scale)), max(1, round(height * scale)))
        return self._plan_for(plan.original_size, plan.processed_size, target, plan.rotated)

    def _plan_for(self, upright: tuple[int, int], processed: tuple[int, int], target: tuple[int, int], rotated: bool) -> DecodePlan:
        draft_size = self.image.size
        if self.image.format in ("JPEG", "MPO"):
            scale = max(target[0] / upright[0], target[1] / upright[1])
            draft_size = (math.ceil(self.image.width * scale), math.ceil(self.image.height * scale))
        pixels = _reduced(self.image.size, draft_size)
        return DecodePlan(upright, processed, target, draft_size, pixels, pixels * self._bytes_per_pixel(), rotated)

    def _bytes_per_pixel(self) -> int:
        """Every buffer a decode holds at its peak, per decoded pixel: the decoder's output, the 8-bit RGB
        conversion, and a turned copy for a photo whose EXIF says it is not upright."""
        mode = self.image.mode
        if is_still_webp(self.image):  # libwebp's one array (see images/webp.py), and its resize
            return 6 if "A" in mode else 4
        stored = STORED_BYTES.get(mode, 4)
        turned = stored if self.orientation != 1 else 0
        return stored + CONVERSION_BYTES.get(mode, 4) + turned


def _header_orientation(image: Image.Image) -> int:
    """The EXIF orientation the header holds, without decoding: a PNG's EXIF may follow its pixels, and Pillow
    would decode the whole image to find it (such a rare PNG is turned upright after decoding instead)."""
    if image.format == "PNG" and "exif" not in image.info:
        return 1
    try:
        return image.getexif().get(ORIENTATION, 1)
    except Exception:  # noqa: BLE001 - a damaged header is reported when the pixels are decoded
        return 1


def _reduced(size: tuple[int, int], request: tuple[int, int]) -> int:
    """The pixels a JPEG decoder produces when asked for at least ``request`` (its scales are 1, 1/2, 1/4, 1/8)."""
    for factor in (8, 4, 2):
        reduced = (math.ceil(size[0] / factor), math.ceil(size[1] / factor))
        if reduced[0] >= request[0] and reduced[1] >= request[1]:
            return reduced[0] * reduced[1]
    return size[0] * size[1]


@dataclass(frozen=True)
class DecodePlan:
    original_size: tuple[int, int]  # as uploaded, upright
    processed_size: tuple[int, int]  # the /config rule's size, as the APIs report it
    target: tuple[int, int]  # what the model is given
    draft_size: tuple[int, int]  # what the decoder is asked for (JPEG: it picks the DCT scale)
    decoded_pixels: int  # what is really decoded (a JPEG in the DCT: fewer than it has)
    decoded_bytes: int  # the memory its decode holds at the peak, for the decode budget
    rotated: bool  # the header said the photo is stored on its side

    def turned(self) -> DecodePlan:
        """The same plan for a photo found on its side only once decoded (a PNG whose EXIF follows its pixels)."""
        return replace(
            self,
            original_size=self.original_size[::-1],
            processed_size=self.processed_size[::-1],
            target=self.target[::-1],
            rotated=not self.rotated,
        )


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


# Pillow's own rotations for each EXIF orientation other than upright.
TRANSPOSITIONS = {
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_90,
}


def finish_image(opened: OpenedImage, plan: DecodePlan) -> PreparedImage:
    """Decodes a checked upload into an RGB photo of the plan's size."""
    rgb, plan = decode(opened, plan)
    return PreparedImage(
        name=opened.name,
        original_size=plan.original_size,
        processed_size=plan.processed_size,
        image=rgb,
        source=(opened.data, plan),
    )


def decode(opened: OpenedImage, plan: DecodePlan) -> tuple[Image.Image, DecodePlan]:
    """The upload's pixels as RGB at the plan's size, and the plan (turned if the photo proved to lie on its side)."""
    decoded = None
    try:
        decoded, plan = _decode(opened, plan)
    finally:
        if plan.decoded_bytes >= LARGE_DECODE_BYTES:
            if opened.image is not decoded:
                opened.image.close()  # the decoder's full-size pixels, freed before handing memory back
            return_free_memory()
    return decoded, plan


def _decode(opened: OpenedImage, plan: DecodePlan) -> tuple[Image.Image, DecodePlan]:
    image, name = opened.image, opened.name
    if is_still_webp(image):
        try:
            orientation = opened.orientation  # from the header: nothing decoded yet
            stored = plan.target[::-1] if orientation in ROTATED else plan.target
            upright = webp_pixels(opened.data, stored)
        except Exception as exc:  # noqa: BLE001 - damaged pixel data fails inside libwebp
            raise ImageRejected(name, f"the image data is damaged or truncated ({exc})", status=422) from None
        return (upright.transpose(TRANSPOSITIONS[orientation]) if orientation in TRANSPOSITIONS else upright), plan
    try:
        image.seek(0)  # animated GIF/WebP: the first frame
        if plan.draft_size != image.size:
            image.draft(image.mode if image.mode in ("L", "RGB") else None, plan.draft_size)
        image.load()
        orientation = image.getexif().get(ORIENTATION, 1)
        if (orientation in ROTATED) != plan.rotated:
            plan = plan.turned()
        if orientation != 1:  # exif_transpose copies even an upright photo
            image = ImageOps.exif_transpose(image)
        decoded = _to_8_bit(image)
    except Exception as exc:  # noqa: BLE001 - likewise for damaged pixel data
        raise ImageRejected(name, f"the image data is damaged or truncated ({exc})", status=422) from None
    if plan.target != decoded.size:
        decoded = decoded.resize(plan.target, Image.Resampling.LANCZOS, reducing_gap=3.0)
    return (decoded if decoded.mode == "RGB" else decoded.convert("RGB")), plan


def prepare_image(
    data: bytes, name: str, config: ResizeConfig, *, max_bytes: int, max_pixels: int, min_short_side: int | None = None
) -> PreparedImage:
    """Check one upload and return it as an RGB photo resized by the /config rule (or to what the model needs)."""
    opened = open_image(data, name, max_bytes=max_bytes, max_pixels=max_pixels)
    return finish_image(opened, opened.plan(config, min_short_side))
