"""The cleanup pass every generated description goes through before a person reads it.

An engine's answer is untrusted text: it may carry markup (HTML, markdown links and images, code),
control and invisible characters (bidi overrides that reorder what a screen reader says), links, and
chat around the answer ("Sure! Here is the alt text: ...", "Let me know if you need more!").
Markup and invisible characters are removed, a preamble is reduced to the alt text it introduces
(its quotes balanced), chatter is dropped, and the length is capped.

Vision-language models also leak their chat template ("### Assistant:", "Question 1: ...", "질문 1:"),
open with "The image shows" / "이 사진에는", repeat themselves when greedy decoding loops, and stop
mid-sentence at the token limit. Alt text should be a sentence or two, start with what is shown,
end with a period, and fit what screen readers read out in one go; and a model that said something
never yields an empty alt text.
"""

from __future__ import annotations

import html
import re
import unicodedata

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


# ---- untrusted text: markup, invisible characters, links ---------------------------------
_SCRIPT = re.compile(r"(?is)<(script|style)\b.*?(?:</\1\s*>|$)")
_INLINE_TAG = re.compile(r"(?i)</?(?:b|i|em|strong|u|span|a|font|small|mark|sub|sup|code)\b[^<>]{0,500}>")
_TAG = re.compile(r"<[^<>]{0,500}>")
_MD_TARGET = r"\((?:[^()]|\([^()]*\))*\)"  # one level of parentheses inside, as in javascript:alert(1)
_MD_IMAGE = re.compile(r"!\[([^\]]*)\]" + _MD_TARGET)
_MD_LINK = re.compile(r"\[([^\]]*)\]" + _MD_TARGET)
_SPACE_BEFORE_PUNCTUATION = re.compile(r"\s+([.,!?;:])")
_CODE = re.compile(r"```[a-zA-Z]*|`")
_URL = re.compile(r"\b(?:https?|ftp|data|javascript):\S*|\bwww\.\S+", re.IGNORECASE)
# Zero-width and bidi-control characters (format characters, Unicode category Cf), and controls other than spacing.
_SPACING = "\n\t"


_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")  # terminal escapes: colour codes and the like


def _visible(text: str) -> str:
    text = _ANSI.sub("", text)
    return "".join(
        ch if ch in _SPACING else " " if unicodedata.category(ch) == "Cc" else ch
        for ch in text
        if unicodedata.category(ch) != "Cf"
    )


def _without_tags(text: str) -> str:
    return _TAG.sub(" ", _INLINE_TAG.sub("", _SCRIPT.sub(" ", text)))


def _without_markup(text: str) -> str:
    text = _without_tags(_visible(text))
    text = _visible(html.unescape(text))  # entities decoded, then what they hid is checked again
    text = _without_tags(text).replace("<", " ").replace(">", " ")
    text = _MD_IMAGE.sub(r"\1", text)
    text = _MD_LINK.sub(r"\1", text)
    text = _CODE.sub("", text)
    return _URL.sub(" ", text)


# ---- chat around the answer ------------------------------------------------------------------
_PREAMBLE = re.compile(
    r"^\s*(?:(?:sure|certainly|of course|absolutely|okay|ok|yes|great|alright)\b[!.,]?\s*)?"
    r"(?:[^:\n]{0,80}?\b(?:alt[- ]?text|alternative text|description|caption)\b[^:\n]{0,40}?|"
    r"here(?:'s| is| are)\b[^:\n]{0,60}?)\s*:\s*",
    re.IGNORECASE,
)
_KOREAN_PREAMBLE = re.compile(
    r"^\s*(?:(?:물론입니다|물론이죠|물론이에요|네|좋습니다|알겠습니다)[!.,]?\s*)?"
    r"[^:\n]{0,60}?(?:대체\s*텍스트|설명|캡션|다음)[^:\n]{0,30}?:\s*"
)
_OPENING_WORD = re.compile(r"^\s*(?:sure|certainly|of course|absolutely|okay|ok|물론입니다|물론이죠|알겠습니다)\s*[!.,]\s*", re.IGNORECASE)
_CHATTER = re.compile(
    r"let me know|hope (?:this|that) helps|feel free|if you (?:need|have|want)|anything else|as an ai\b|"
    r"i (?:can(?:'|no)t|am unable|'m unable|'m sorry|am sorry)|"
    r"도움이 되|궁금한|필요하시면|더 필요|말씀해",
    re.IGNORECASE,
)
_QUOTES = {'"': '"', "\u201c": "\u201d", "'": "'", "\u2018": "\u2019", "\u300c": "\u300d", "\u300e": "\u300f", "`": "`"}
_QUOTE_CHARS = "".join(set(_QUOTES) | set(_QUOTES.values()))


def _without_preamble(text: str) -> str:
    """"Sure! Here is the alt text: ..." -> "...": only when something follows the colon."""
    for pattern in (_PREAMBLE, _KOREAN_PREAMBLE, _OPENING_WORD):
        rest = pattern.sub("", text, count=1)
        if rest.strip() and rest != text:
            text = rest
    return text


def _balanced_quotes(text: str) -> str:
    """Quotes around the whole text go; a quote mark left without its pair goes too."""
    text = text.strip()
    while len(text) > 1 and text[0] in _QUOTES and text.endswith(_QUOTES[text[0]]):
        text = text[1:-1].strip()
    for opening, closing in _QUOTES.items():
        if opening == closing:
            if text.count(opening) % 2:
                text = text.replace(opening, "") if opening != "'" else text  # apostrophes are words' own
        elif text.count(opening) != text.count(closing):
            text = text.replace(opening, "").replace(closing, "")
    return text


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
    text = _without_markup(_answer(text or ""))  # turn markers first: they look like tags
    text = _without_preamble(_MARKDOWN.sub("", text))
    if not keep_paragraphs:
        text = _PARAGRAPH_BREAK.split(text.strip(), maxsplit=1)[0]
    text = _MARKDOWN.sub("", text)
    text = _balanced_quotes(_SPACE_BEFORE_PUNCTUATION.sub(r"\1", re.sub(r"\s+", " ", text)))
    sentences = _without_repeats(_SENTENCE_END.split(text))
    sentences = [s for s in sentences if not _CHATTER.search(s)]  # "Let me know if you need more!"
    statements = [s for s in sentences if not s.endswith("?")]
    sentences = statements or sentences  # a description asks nothing ("Is there anything else?")
    text = _balanced_quotes(_OPENER.sub("", " ".join(sentences), count=1))
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
    text = _balanced_quotes(text)  # a cut may have split a pair
    if not text:
        return NO_DESCRIPTION.get(language, NO_DESCRIPTION["en"])
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?", "。")) else text.rstrip(",;: ") + "."
