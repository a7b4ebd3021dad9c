"""The cleanup pass every generated description goes through before a person reads it.

Vision-language models leak their chat template ("### Assistant:", "Question 1: ...", "질문 1:"),
open with "The image shows" / "이 사진에는", repeat themselves when greedy decoding loops, and stop
mid-sentence at the token limit. Alt text should be a sentence or two, start with what is shown,
end with a period, and fit what screen readers read out in one go; and a model that said something
never yields an empty alt text.
"""

from __future__ import annotations

import re

# Turn markers: a role, or invented Q&A, in English or Korean. Group 1 names the role when there is one.
_MARKER = re.compile(
    r"(?:###\s*)?\b(Assistant|ASSISTANT|assistant|GPT|Human|USER|User|user|어시스턴트|사용자)\s*:|"
    r"###|<\|im_end\|>|<\|im_start\|>(?:assistant|user)?|<\|endoftext\|>|</s>|<end_of_turn>|"
    r"\b(?:Question|Answer)\s*\d*\s*:|(?:질문|답변|답)\s*\d*\s*:"
)
_ANSWER_ROLES = frozenset({"Assistant", "ASSISTANT", "assistant", "GPT", "어시스턴트"})
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_OPENER = re.compile(
    r"^\s*(?:in\s+this\s+(?:image|photo|picture),?\s+we\s+can\s+see\s+|we\s+can\s+see\s+|"
    r"(?:this|the)\s+(?:image|photo|picture|photograph)\s+(?:shows|depicts|features|contains|is of|captures)\s+|"
    r"(?:an?\s+)?(?:image|photo|picture|photograph)\s+of\s+|in\s+(?:this|the)\s+(?:image|photo|picture),?\s+|"
    r"(?:이|그|해당)?\s*(?:사진|이미지|그림)(?:에는|에서는|은|는|에)\s+)",
    re.IGNORECASE,
)
_MARKDOWN = re.compile(r"(?m)^\s*(?:[-*•]|\d+[.)])\s+|\*\*|__|^#+\s*")
_SENTENCE_END = re.compile(r"(?<=[.!?。])\s+")
# Words a cut-off phrase must not end on ("... with a knife next to").
_DANGLING = frozenset(
    "a an the to of with and or in on at next by for from its their his her near beside behind under over "
    "into onto while as that which who".split()
)
NO_DESCRIPTION = {"en": "No description could be written for this photo.", "ko": "이 사진의 설명을 쓸 수 없었습니다."}


_CHATML_ROLE = re.compile(r"<\|im_start\|>\s*(assistant|user|system)\s*")


def _answer(text: str) -> str:
    """The model's answer among leaked turns: text before any marker, else the first assistant turn."""
    text = _CHATML_ROLE.sub(lambda m: f" {m.group(1).capitalize()}: " if m.group(1) != "system" else " ### ", text)
    pieces = _MARKER.split(text)
    # split() with the one capturing group gives [text, role, text, role, text, ...]
    lead, rest = pieces[0], pieces[1:]
    if lead.strip():
        return lead
    for role, content in zip(rest[0::2], rest[1::2]):
        if role in _ANSWER_ROLES and content and content.strip():
            return _MARKER.split(content)[0]
    return ""


def _without_repeats(sentences: list[str]) -> list[str]:
    seen, kept = set(), []
    for sentence in sentences:
        key = re.sub(r"\W+", " ", sentence).strip().lower()
        if key and key not in seen:
            seen.add(key)
            kept.append(sentence)
    return kept


def _whole_phrase(text: str) -> str:
    """A sentence cut off by the token limit, trimmed back to its last whole phrase."""
    words = text.rstrip(",;: ").split()
    while len(words) > 3 and words[-1].lower().strip(",;:") in _DANGLING:
        words.pop()
    return " ".join(words).rstrip(",;: ")


def clean_alt_text(text: str, max_chars: int = 150, keep_paragraphs: bool = False, language: str = "en") -> str:
    """Keep the answer inside leaked turns, drop openers, markdown and repeated sentences, keep whole
    sentences within ``max_chars``, end with a period; never empty when the model said something.

    Alt text is one paragraph, so by default a blank line ends it (what follows is usually a new
    turn); a long description keeps later paragraphs, joined into one.
    """
    said_something = bool(text and text.strip())
    text = _answer(text)
    if not keep_paragraphs:
        text = _PARAGRAPH_BREAK.split(text.strip(), maxsplit=1)[0]
    text = _MARKDOWN.sub("", text)
    text = re.sub(r"\s+", " ", text).strip().strip('"')
    sentences = _without_repeats(_SENTENCE_END.split(text))
    statements = [s for s in sentences if not s.endswith("?")]
    sentences = statements or sentences  # a description asks nothing ("Is there anything else?")
    text = _OPENER.sub("", " ".join(sentences), count=1)
    if not text:
        return NO_DESCRIPTION.get(language, NO_DESCRIPTION["en"]) if said_something else ""
    sentences = _SENTENCE_END.split(text)
    complete = [s for s in sentences if s.endswith((".", "!", "?", "。"))]
    if complete and len(complete) < len(sentences):
        sentences = complete  # the last one ran into the token limit
    elif not complete:
        sentences = [_whole_phrase(sentences[0])]
    kept: list[str] = []
    for sentence in sentences:
        if kept and len(" ".join([*kept, sentence])) > max_chars:
            break
        kept.append(sentence)
    text = " ".join(kept)
    if len(text) > max_chars:  # a single over-long sentence: cut at a word boundary
        text = _whole_phrase(text[:max_chars].rsplit(" ", 1)[0])
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?", "。")) else text.rstrip(",;: ") + "."
