"""The cleanup pass every generated description goes through before a person reads it.

Vision-language models leak their chat template ("### Assistant:", "Question 1: ..."), open with
"The image shows", and stop mid-sentence at the token limit. Alt text should be a sentence or two,
start with what is shown, end with a period, and fit what screen readers read out in one go.
"""

from __future__ import annotations

import re

# Where a description stops being a description: chat-template markers and invented Q&A.
_LEAKAGE = re.compile(
    r"(###|<\|im_end\|>|<\|endoftext\|>|</s>|\b(?:Assistant|Human|USER|ASSISTANT|User)\s*:|"
    r"\bQuestion\s*\d*\s*:|\bAnswer\s*\d*\s*:)",
)
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_OPENER = re.compile(
    r"^\s*(?:(?:this|the)\s+(?:image|photo|picture|photograph)\s+(?:shows|depicts|features|contains|is of|captures)\s+|"
    r"(?:an?\s+)?(?:image|photo|picture|photograph)\s+of\s+|in\s+(?:this|the)\s+(?:image|photo|picture),?\s+)",
    re.IGNORECASE,
)
_LEADING_ROLE = re.compile(r"^\s*(?:###\s*)?(?:Assistant|ASSISTANT|assistant|GPT)\s*:\s*")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def clean_alt_text(text: str, max_chars: int = 150, keep_paragraphs: bool = False) -> str:
    """Cut leakage, drop "image of" openers, keep whole sentences within ``max_chars``, end with a period.

    Alt text is one paragraph, so by default a blank line ends it (what follows is usually a new
    turn); a long description keeps later paragraphs, joined into one.
    """
    text = _LEADING_ROLE.sub("", text, count=1)  # the answer's own role marker, echoed
    text = _LEAKAGE.split(text, maxsplit=1)[0]
    if not keep_paragraphs:
        text = _PARAGRAPH_BREAK.split(text, maxsplit=1)[0]
    text = re.sub(r"\s+", " ", text).strip().strip('"')
    text = _OPENER.sub("", text, count=1)
    if not text:
        return ""
    sentences = _SENTENCE_END.split(text)
    complete = [s for s in sentences if s.endswith((".", "!", "?"))]
    if complete and len(complete) < len(sentences):
        sentences = complete  # the last one ran into the token limit
    kept: list[str] = []
    for sentence in sentences:
        if kept and len(" ".join([*kept, sentence])) > max_chars:
            break
        kept.append(sentence)
    text = " ".join(kept)
    if len(text) > max_chars:  # a single over-long sentence: cut at a word boundary
        text = text[:max_chars].rsplit(" ", 1)[0].rstrip(",;:")
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text.rstrip(",;: ") + "."
