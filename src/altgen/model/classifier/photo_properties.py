"""Plain, checkable properties of a photo, for when no object is recognised with confidence."""

from __future__ import annotations

import numpy as np
from PIL import Image

# (name, Korean, hue range in degrees) for the colour named when one hue dominates.
HUES = [
    ("red", "빨간색", (0, 15)),
    ("orange", "주황색", (15, 40)),
    ("yellow", "노란색", (40, 70)),
    ("green", "초록색", (70, 170)),
    ("blue", "파란색", (170, 260)),
    ("purple", "보라색", (260, 320)),
    ("red", "빨간색", (320, 360)),
]


HUE_KOREAN = {english: korean for english, korean, _range in HUES}


def thumbnail(image: Image.Image) -> Image.Image:
    return image.convert("RGB").resize((64, 64))


def hue_bands(small: Image.Image) -> tuple[float, list[tuple[str, str, float]]]:
    """The share of a thumbnail's pixels that have colour, and each band of HUES with its share of those pixels
    (no bands when none has colour)."""
    hsv = np.asarray(small.convert("HSV"), dtype=np.float32)
    colourful = hsv[..., 1] > 80
    if not colourful.any():
        return 0.0, []
    hues = hsv[..., 0][colourful] * 360 / 255
    shares = [float(((hues >= low) & (hues < high)).mean()) for _english, _korean, (low, high) in HUES]
    return float(colourful.mean()), [(english, korean, share) for (english, korean, _range), share in zip(HUES, shares)]


def describe_properties(image: Image.Image, language: str = "en") -> str:
    """The photo's notable property, or its main colours and that nothing was recognised (a reader still learns
    something: green and blue tones are not a dark room)."""
    small = thumbnail(image)
    notable = notable_property(small, language)
    if notable is not None:
        return notable
    tones = main_tones(small)
    if language == "ko":
        colours = "과 ".join(HUE_KOREAN[t] for t in tones) if tones else "흐릿한 회색"
        return f"{colours} 계열의 사진. 알아볼 수 있는 사물은 확실하지 않음."
    colours = " and ".join(tones) if tones else "muted, greyish"
    return f"A photo in {colours} tones; no object recognised with confidence."


def main_tones(image: Image.Image, least_share: float = 0.25) -> list[str]:
    """Up to two hues that each hold at least ``least_share`` of the photo's colourful pixels, commonest first;
    none when under a fifth of the photo has colour."""
    coloured, bands = hue_bands(thumbnail(image))
    if coloured < 0.2:
        return []
    shares: dict[str, float] = {}
    for english, _korean, share in bands:
        shares[english] = shares.get(english, 0.0) + share  # red's two ends of the circle count as one
    ranked = sorted((share, english) for english, share in shares.items() if share >= least_share)
    return [english for _share, english in reversed(ranked)][:2]


def notable_property(image: Image.Image, language: str = "en") -> str | None:
    """Black-and-white, dark, or mostly one colour, as a sentence; None when none of these holds."""
    small_image = thumbnail(image)
    small = np.asarray(small_image, dtype=np.float32) / 255.0
    spread = small.max(axis=2) - small.min(axis=2)  # saturation-like: 0 for greys
    brightness = small.mean(axis=2)
    dark = brightness.mean() < 0.25
    if spread.mean() < 0.06 and dark and 0.002 < (brightness > 0.6).mean() < 0.1:
        return "많은 작은 빛점이 있는 어두운 사진." if language == "ko" else "A dark photo with many small points of light."
    # Black-and-white only when (almost) no pixel has colour: a grey animal cut out on white, or a
    # white rabbit, is still a colour photo.
    if spread.mean() < 0.06 and np.percentile(spread, 99) < 0.05:
        if dark:
            return "어두운 흑백 사진." if language == "ko" else "A dark black-and-white photo."
        return "흑백 사진." if language == "ko" else "A black-and-white photo."
    if brightness.mean() < 0.2:
        return "어두운 사진." if language == "ko" else "A dark photo."
    coloured, bands = hue_bands(small_image)
    if coloured > 0.4:
        for english, korean, share in bands:
            if share > 0.6:
                return f"주로 {korean}인 사진." if language == "ko" else f"A photo in mostly {english} tones."
    return None
