"""Which files are photos: found by what they hold, not by their names."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

# The first bytes of each accepted format (HEIF and AVIF say "ftyp" at byte 4, then their brand).
SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*")
FTYP_BRANDS = (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis")


def looks_like_a_photo(path: Path) -> bool:
    try:
        with path.open("rb") as file:
            head = file.read(16)
    except OSError:
        return False
    if head.startswith(SIGNATURES):
        return True
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return True
    return head[4:8] == b"ftyp" and head[8:12] in FTYP_BRANDS


def photos_in(paths: list[Path], recursive: bool) -> Iterator[tuple[Path, str | None]]:
    """Each named file as it is (a file that is not a photo is reported by the describe step), and the photos
    inside each named folder (its subfolders too with ``recursive``), in name order. A path that does not
    exist comes back with the reason."""
    for path in paths:
        if path.is_dir():
            walk = os.walk(path) if recursive else [(str(path), [], [entry.name for entry in os.scandir(path)])]
            for folder, subfolders, files in walk:
                subfolders.sort()
                for name in sorted(files):
                    found = Path(folder) / name
                    if found.is_file() and looks_like_a_photo(found):
                        yield found, None
        elif path.exists():
            yield path, None
        else:
            yield path, "no such file or folder"
