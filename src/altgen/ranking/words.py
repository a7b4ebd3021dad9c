"""What the ranker reads in words: a request and a description stripped of their wrapping, their English
words, a request's typos, and a request's words found among the candidates' words or in the text read in a
photo (each IDF-weighted over one request's candidates).

Both sides are stripped of words that every request or every description shares ("find me the photo of",
"사진을 찾아 줘", "Image may contain:", "The image shows"): they carry no meaning for the match, and with short
texts they dominate the embedding and drown the one word that matters.
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from altgen.ranking.glossary import within_one_edit

_SPACES = re.compile(r"\s+")
_DESCRIPTION_OPENERS = re.compile(
    r"^\s*(image may contain:|(the|this) (image|photo|picture) (shows|depicts|contains|is of)|"
    r"(an? )?(image|photo|picture) of)\s*",
    re.IGNORECASE,
)
_REQUEST_FILLER = re.compile(
    r"(사진|이미지|그림|짤)(들)?(을|를|이|가|은|는|좀)?|"
    r"(찾아|보여|골라)\s*(줘|주세요|줄래|줘요|주라|봐)?|"
    r"\b(please|can you|could you|find( me)?|show( me)?|give me|get me|i want|i need|looking for)\b|"
    r"\b(a|an|the|some)?\s*(photo|picture|image|pic)s?( of| with)?\b|"
    r"[.?!,~]+",
    re.IGNORECASE,
)


# Whole Korean words that only wrap a request ("그 ... 나온 거 있어?"): they name nothing in a photo.
_KOREAN_FILLER = frozenset(
    "있어 있어요 있나 있나요 있니 있는 있던 있었던 있잖아 나온 나오는 나왔던 찍은 찍힌 찍었던 보여 보여줘 보여줘요 "
    "줘 줘요 줘봐 줄래 주세요 좀 그 그거 그때 거 것 이거 저거 찾아 찾아줘 해줘 부탁해".split()
)


def normalise_text(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def request_core(query: str) -> str:
    """What the request asks for, without the "find me the photo" wrapping (kept whole if nothing is left)."""
    words = _REQUEST_FILLER.sub(" ", query).split()
    core = " ".join(word for word in words if word not in _KOREAN_FILLER)
    return core or normalise_text(query)


def description_core(description: str) -> str:
    core = normalise_text(_DESCRIPTION_OPENERS.sub("", description))
    return core or normalise_text(description)


# The embedded captioner's scene sentence ("Scene: outdoors, mountains, sky." / "장면: 실외, 산, 하늘.").
_SCENE_SENTENCE = re.compile(r"(?:^|\s)(?:Scene|장면): [^.]*\.")


def encoder_text(passage: str) -> str:
    """What the encoders read of a prepared description: all of it but the captioner's scene sentence. Its
    words (a closed list of places, indoors / outdoors, sky, night) count by the words themselves; read by
    an encoder, "Scene: outdoors." lifted short descriptions near any request for a landscape ("snow-covered
    mountains", "the city at night") and past the bar for a match with no word in common."""
    return normalise_text(_SCENE_SENTENCE.sub(" ", passage)) or passage


_WORD = re.compile(r"[a-z]+")
_STOPWORDS = frozenset("a an the of with and in on at to for is are it its this that photo picture image pic".split())


def english_words(text: str) -> set[str]:
    """Lower-case English words with a crude plural fold (cups -> cup), without stop words."""
    words = set()
    for word in _WORD.findall(text.lower()):
        if word in _STOPWORDS or len(word) < 2:
            continue
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        words.add(word)
    return words


def corrected_typos(words: set[str], vocabulary: set[str]) -> set[str]:
    """The candidates' words that a request word of five or more letters, found in no candidate,
    misspells by one letter ("guitr" -> "guitar", "expresso" -> "espresso"). Pass only words that are
    not known English words: "beach" is not a typo of "bench"."""
    found = set()
    for word in words - vocabulary:
        if len(word) >= 5:
            found.update(v for v in vocabulary if v[0] == word[0] and abs(len(v) - len(word)) <= 1 and within_one_edit(word, v))
    return found


# Text read in a photo is quoted in its description (“STOP”); a request may name it in part, in any script.
_QUOTED = re.compile(r"\u201c([^\u201d]+)\u201d")
_TOKEN = re.compile(r"[^\W_]+")
_HANGUL = re.compile(r"[\uac00-\ud7a3]")
# Words a request for a photo's text wraps it in ("the screenshot that says ...", "... 글자가 있는 사진").
_TEXT_REQUEST_WORDS = _STOPWORDS | frozenset(
    "screenshot screen says say saying words word text written reads read sign page about show me find with on "
    "화면 스크린샷 글자 글자가 글씨 쓰인 쓰여 적힌 나온 있는 표지판 페이지".split()
)


def quoted_text(description: str) -> str:
    return " ".join(_QUOTED.findall(description)).lower()


def text_request_tokens(request: str) -> list[str]:
    """The request's words that could name text in a photo: Hangul of two syllables or more, other words of three letters or more."""
    tokens = []
    for token in _TOKEN.findall(request.lower()):
        if token in _TEXT_REQUEST_WORDS:
            continue
        if (len(token) >= 2 if _HANGUL.search(token) else len(token) >= 3) and token not in tokens:
            tokens.append(token)
    return tokens


def quoted_scores(tokens: Sequence[str], quoted: Sequence[str]) -> np.ndarray:
    """IDF-weighted count of request words found in each description's quoted text: a Hangul word anywhere
    inside it (Korean glues particles on), another word as the start of a word ("segment" finds "segmentation")."""
    scores = np.zeros(len(quoted), dtype=np.float32)
    for token in tokens:
        pattern = re.compile(re.escape(token) if _HANGUL.search(token) else r"\b" + re.escape(token))
        holders = [i for i, text in enumerate(quoted) if text and pattern.search(text)]
        if holders:
            scores[holders] += np.log((len(quoted) + 1) / (len(holders) + 0.5))
    return scores


def lexical_scores(query_words: set[str], description_words: Sequence[set[str]]) -> np.ndarray:
    """IDF-weighted overlap over this request's candidates: a word few descriptions share counts most."""
    count = len(description_words)
    scores = np.zeros(count, dtype=np.float32)
    for word in query_words:
        holders = [i for i, words in enumerate(description_words) if word in words]
        if holders:
            scores[holders] += np.log((count + 1) / (len(holders) + 0.5))
    return scores
