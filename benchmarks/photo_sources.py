"""Photo files as Debian packages ship them, for the evaluations.

A source is "package:path" under the package's root, or "package:bundle.rcc!/member" for a photo
that GCompris ships inside a Qt resource bundle (.rcc): the member's bytes, once the bundle's own
zlib or zstd wrapping is undone, are the photo file exactly as it was packed.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

RCC_COMPRESSED, RCC_DIRECTORY, RCC_ZSTD = 0x01, 0x02, 0x04


def rcc_members(bundle: bytes) -> dict[str, bytes]:
    """Every file in a Qt resource bundle (format versions 1-3), by its resource path."""
    if bundle[:4] != b"qres":
        raise ValueError("not a Qt resource bundle")
    version, tree, data, names = struct.unpack(">IIII", bundle[4:20])
    node_size = 14 if version == 1 else 22  # version 2 added a last-modified time to each node

    def name_at(offset: int) -> str:
        (length,) = struct.unpack(">H", bundle[names + offset : names + offset + 2])
        start = names + offset + 6  # length, then a 4-byte hash, then UTF-16 characters
        return bundle[start : start + 2 * length].decode("utf-16-be")

    def content(flags: int, offset: int) -> bytes:
        (size,) = struct.unpack(">I", bundle[data + offset : data + offset + 4])
        raw = bundle[data + offset + 4 : data + offset + 4 + size]
        if flags & RCC_COMPRESSED:
            return zlib.decompress(raw[4:])  # qCompress: a 4-byte length, then zlib
        if flags & RCC_ZSTD:
            import zstandard

            return zstandard.ZstdDecompressor().decompress(raw, max_output_size=1 << 28)
        return raw

    members: dict[str, bytes] = {}

    def walk(node: int, prefix: str) -> None:
        at = tree + node * node_size
        name_offset, flags = struct.unpack(">IH", bundle[at : at + 6])
        path = prefix + (name_at(name_offset) if node else "")
        if flags & RCC_DIRECTORY:
            count, first = struct.unpack(">II", bundle[at + 6 : at + 14])
            for child in range(first, first + count):
                walk(child, path + "/")
        else:
            (offset,) = struct.unpack(">I", bundle[at + 10 : at + 14])
            members[path] = content(flags, offset)

    walk(0, "")
    return members


_bundles: dict[Path, dict[str, bytes]] = {}


def read_source(source: str, roots: dict[str, str], packages: list[str]) -> bytes:
    package, relative = source.split(":", 1)
    relative, _, member = relative.partition("!")
    path = Path(roots[package]) / relative
    if not path.exists():
        raise SystemExit(f"{path} is missing: apt-get install {' '.join(packages)}")
    if not member:
        return path.read_bytes()
    if path not in _bundles:
        _bundles[path] = rcc_members(path.read_bytes())
    return _bundles[path][member]
