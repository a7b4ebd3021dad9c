"""Korean words to English through a photo vocabulary, so rare Korean words in a request still
match English descriptions (multilingual encoders are weakest exactly there: 고슴도치, 통기타, 설산).

Korean attaches particles to nouns and often drops spaces, and people mistype; so each word is
stripped of particles, then matched whole, split into known compounds, or matched with one typo
(one edit over its letters, the jamo), in that order. Single-syllable entries (말, 배, 눈) only
ever match a whole word, since they hide inside many unrelated words.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from importlib import resources

_HANGUL = re.compile(r"[\uac00-\ud7a3]")
# Longest first, so "에서" is stripped before "서" would be considered.
PARTICLES = sorted(
    "을 를 이 가 은 는 에 에서 의 도 랑 이랑 하고 으로 로 만 좀 까지 부터 처럼 같은 이나 나 께서 한테 에게 들".split(),
    key=len,
    reverse=True,
)


def jamo(text: str) -> str:
    """Hangul syllables split into their letters (NFD), so one typo is one edit."""
    return unicodedata.normalize("NFD", text)


def within_one_edit(a: str, b: str) -> bool:
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    i = j = edits = 0
    while i < len(a) and j < len(b):
        if a[i] == b[j]:
            i += 1
            j += 1
            continue
        edits += 1
        if edits > 1:
            return False
        if len(a) == len(b):
            i += 1
        j += 1
    return edits + (len(b) - j) + (len(a) - i) <= 1


class Glossary:
    def __init__(self, entries: dict[str, str]):
        self.entries = entries
        self.longest = max((len(k) for k in entries), default=0)
        # Entries of several words ("눈 덮인 산") are matched as phrases before single words, longest first.
        self._phrases = sorted((k for k in entries if " " in k), key=len, reverse=True)
        self._by_length: dict[int, list[tuple[str, str]]] = {}
        for key in entries:
            if len(key) >= 2:
                self._by_length.setdefault(len(key), []).append((key, jamo(key)))

    @classmethod
    def packaged(cls) -> Glossary:
        text = resources.files("altgen.ranking").joinpath("data/ko_en_glossary.tsv").read_text(encoding="utf-8")
        entries = {}
        for line in text.splitlines():
            korean, _, english = line.partition("\t")
            if korean.strip() and english.strip():
                entries[korean.strip()] = english.split("/")[0].strip()
        return cls(entries)

    def _stems(self, word: str) -> list[str]:
        stems = [word]
        for particle in PARTICLES:
            if word.endswith(particle) and len(word) > len(particle):
                stems.append(word[: -len(particle)])
        return stems

    def _compound(self, word: str) -> list[str] | None:
        """Splits a word into known entries of two or more syllables, longest first, or None."""
        found, position = [], 0
        while position < len(word):
            for size in range(min(self.longest, len(word) - position), 1, -1):
                piece = word[position : position + size]
                if piece in self.entries:
                    found.append(self.entries[piece])
                    position += size
                    break
            else:
                position += 1  # an unknown syllable (a particle, an ending): skip it
        return found or None

    def _fuzzy(self, word: str) -> str | None:
        """An entry one letter away that starts with the same syllable: typos rarely hit the first
        syllable, and without that anchor common verbs match nouns (있어 is one letter from 잉어)."""
        letters = jamo(word)
        for size in (len(word), len(word) - 1, len(word) + 1):
            for key, key_letters in self._by_length.get(size, []):
                if key[0] == word[0] and within_one_edit(letters, key_letters):
                    return self.entries[key]
        return None

    @lru_cache(maxsize=4096)
    def translate_word(self, word: str, typos: bool = True) -> tuple[str, ...]:
        if not _HANGUL.search(word):
            return ()
        for stem in self._stems(word):
            if stem in self.entries:
                return (self.entries[stem],)
        compound = self._compound(word)
        if compound:
            return tuple(compound)
        if typos and len(word) >= 2:
            for stem in self._stems(word):
                if len(stem) >= 2 and (match := self._fuzzy(stem)):
                    return (match,)
        return ()

    def english_terms(self, text: str, *, typos: bool = True) -> list[str]:
        """The English words for the Korean words of ``text`` that the glossary knows, in order; with
        ``typos=False``, only words it knows as written (a word one letter from an entry may be another word:
        고대, "ancient", is one letter from 고래, "whale")."""
        found: list[tuple[int, str]] = []
        for phrase in self._phrases:
            while (start := text.find(phrase)) >= 0:
                found.append((start, self.entries[phrase]))
                text = text[:start] + " " * len(phrase) + text[start + len(phrase) :]
        for word in re.finditer(r"[\uac00-\ud7a3]+", text):
            found.extend((word.start(), term) for term in self.translate_word(word.group(), typos))
        return [term for _start, term in sorted(found, key=lambda item: item[0])]
