"""The text read in a photo, put into the description: quoted, as written (never translated), in
reading order; the largest line (a title, a sign's word) first. Alt text keeps what fits in a
screen reader's one go; a long description carries more lines.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from PIL import Image

from altgen.model.ocr.text_reader import TextLine

# Alt text's room for quoted text; a long description's.
QUOTED_CHARS = {"alt": 120, "long": 600}
# A screenshot is mostly flat colour (page, panels): the share of pixels in its few commonest colours.
FLAT_SHARE = 0.5
SCREENSHOT_LINES = 3


def quoted(text: str) -> str:
    return f"\u201c{text}\u201d"


def title_first(lines: Sequence[TextLine]) -> list[TextLine]:
    """The tallest line (a heading, the word on a sign) first, then the others in reading order."""
    if not lines:
        return []
    # The first line, in reading order, about as tall as the tallest: a heading over body text of nearly its size.
    tallest = max(line.height for line in lines)
    title = next(line for line in lines if line.height >= 0.9 * tallest)
    return [title, *(line for line in lines if line is not title)]


def flat_share(image: Image.Image) -> float:
    """The share of pixels in the five commonest colours of a small copy (colours quantised to 32 levels)."""
    small = np.asarray(image.convert("RGB").resize((160, max(1, round(160 * image.height / image.width)))), np.uint8) // 8
    codes = (small[..., 0].astype(np.int32) << 10) | (small[..., 1].astype(np.int32) << 5) | small[..., 2]
    counts = np.sort(np.bincount(codes.ravel()))[::-1]
    return float(counts[:5].sum() / codes.size)


def is_screenshot(image: Image.Image, lines: Sequence[TextLine]) -> bool:
    """Several lines of text on mostly flat colour: a screen, not a photo of a sign."""
    return len(lines) >= SCREENSHOT_LINES and flat_share(image) >= FLAT_SHARE


def _spans(lines: Sequence[TextLine], room: int) -> list[str]:
    """Quoted lines that fit in ``room`` characters; the first always, cut at a word if it alone is too long."""
    spans: list[str] = []
    used = 0
    for line in lines:
        text = line.text
        if not spans and len(text) > room:
            text = text[:room].rsplit(" ", 1)[0] or text[:room]
        if spans and used + len(text) + 4 > room:
            break
        spans.append(quoted(text))
        used += len(text) + 4
    return spans


def with_text(description: str, image: Image.Image, lines: Sequence[TextLine], language: str, detail: str) -> str:
    """The description with the photo's text; a screenshot is said to be one, titled by its largest line."""
    if not lines:
        return description
    ordered = title_first(lines)
    spans = _spans(ordered, QUOTED_CHARS.get(detail, QUOTED_CHARS["alt"]))
    if is_screenshot(image, lines):
        title, rest = spans[0], spans[1:]
        if language == "ko":
            head = f"{title} 제목의 스크린샷."
            return head + (f" 글자: {', '.join(rest)}." if rest else "")
        head = f"A screenshot titled {title}."
        return head + (f" Text: {', '.join(rest)}." if rest else "")
    label = "글자" if language == "ko" else "Text"
    return f"{description} {label}: {', '.join(spans)}."
