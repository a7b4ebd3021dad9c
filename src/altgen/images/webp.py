"""Still WebP photos decoded by libwebp (the ``webp`` wheel) straight into one array.

Pillow decodes every WebP through libwebp's animation decoder, whose canvases and copies hold ~16 bytes
a pixel at the peak (a 7000x7000 photo: +745 MB); this holds the 3 or 4 bytes of the decoded array. An
animated WebP still goes through Pillow (its first frame).
"""

from __future__ import annotations

import numpy as np
from PIL import Image


def is_still_webp(image: Image.Image) -> bool:
    return image.format == "WEBP" and not getattr(image, "is_animated", False)


def webp_pixels(data: bytes, size: tuple[int, int]) -> Image.Image:
    """A still WebP decoded by libwebp straight into one array (3 or 4 bytes a pixel; Pillow's animation
    decoder holds ~16 at its peak) and area-averaged to ``size`` (as stored), transparency laid on white."""
    import cv2
    import webp

    source = webp.WebPData.from_buffer(data)
    features = webp.WebPDecoderConfig.new()
    features.read_features(source)
    alpha = bool(features.input.has_alpha)
    pixels = source.decode(webp.WebPColorMode.rgbA if alpha else webp.WebPColorMode.RGB)  # rgbA: premultiplied
    if (pixels.shape[1], pixels.shape[0]) != size:
        pixels = cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)  # linear, so premultiplied stays exact
    if alpha:  # premultiplied colour over white: c + 255 - a
        pixels = pixels[..., :3] + (255 - pixels[..., 3:4])
    return Image.fromarray(np.ascontiguousarray(pixels[..., :3]))
