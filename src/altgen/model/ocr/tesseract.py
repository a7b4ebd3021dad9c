"""Hangul line recognition through Debian's Tesseract (tesseract-ocr-kor), called in process.

No PyPI wheel ships Korean recognition weights that load offline (RapidOCR's wheel carries PP-OCRv6,
whose alphabet has no Hangul; its Korean model is downloaded on first use, which altgen never lets
happen). So Korean lines are read by libtesseract with the ``kor`` data Debian packages, through its
C API: engines kept warm, one per thread that reads (an engine is not thread-safe, and photos are read
on several request threads), no process per photo. Without the library or the
data, Korean lines are simply not read (``TesseractLines.load`` returns None).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
import weakref
from pathlib import Path

import numpy as np

# Where Debian's tesseract-ocr-kor puts kor.traineddata (Tesseract 5, then 4).
TESSDATA_DIRS = ("/usr/share/tesseract-ocr/5/tessdata", "/usr/share/tesseract-ocr/4.00/tessdata")
SINGLE_LINE = 7  # Tesseract's page segmentation mode for one line of text
WORD = 3  # its iterator level for words


def _library() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("tesseract") or "libtesseract.so.5"
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        return None
    lib.TessBaseAPICreate.restype = ctypes.c_void_p
    lib.TessBaseAPIInit3.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p]
    lib.TessBaseAPISetPageSegMode.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.TessBaseAPISetVariable.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p]
    lib.TessBaseAPIEnd.argtypes = [ctypes.c_void_p]
    lib.TessBaseAPISetImage.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.TessBaseAPISetSourceResolution.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.TessBaseAPIGetUTF8Text.argtypes = [ctypes.c_void_p]
    lib.TessBaseAPIGetUTF8Text.restype = ctypes.POINTER(ctypes.c_char)
    lib.TessBaseAPIRecognize.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    lib.TessBaseAPIGetIterator.argtypes = [ctypes.c_void_p]
    lib.TessBaseAPIGetIterator.restype = ctypes.c_void_p
    lib.TessResultIteratorGetUTF8Text.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.TessResultIteratorGetUTF8Text.restype = ctypes.POINTER(ctypes.c_char)
    lib.TessResultIteratorConfidence.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.TessResultIteratorConfidence.restype = ctypes.c_float
    lib.TessResultIteratorNext.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.TessResultIteratorDelete.argtypes = [ctypes.c_void_p]
    lib.TessDeleteText.argtypes = [ctypes.POINTER(ctypes.c_char)]
    lib.TessBaseAPIDelete.argtypes = [ctypes.c_void_p]
    return lib


class _Engine:
    """One Tesseract engine (not thread-safe: one thread uses it), freed when dropped or as the process ends."""

    def __init__(self, lib: ctypes.CDLL, tessdata: str, languages: str):
        self.api = lib.TessBaseAPICreate()
        if lib.TessBaseAPIInit3(self.api, tessdata.encode(), languages.encode()) != 0:
            lib.TessBaseAPIDelete(self.api)
            raise RuntimeError(f"Tesseract could not load {languages} from {tessdata}")
        lib.TessBaseAPISetPageSegMode(self.api, SINGLE_LINE)
        lib.TessBaseAPISetVariable(self.api, b"debug_file", b"/dev/null")  # its notes ("Mean= ...") are not ours
        # Ended before the process is: otherwise Tesseract's dictionary cache prints LEAK warnings at exit.
        weakref.finalize(self, _end, lib, self.api)


def _end(lib: ctypes.CDLL, api: int) -> None:
    lib.TessBaseAPIEnd(api)
    lib.TessBaseAPIDelete(api)


class TesseractLines:
    """Reads single lines of Korean (and the Latin mixed into them): words with their confidences. Each
    thread that reads gets its own engine (they share Tesseract's dictionaries): with one engine behind a
    lock, a photo thread waiting for it sat idle, and under load the photo threads queued behind readers."""

    def __init__(self, lib: ctypes.CDLL, tessdata: str, languages: str = "kor+eng"):
        self._lib = lib
        self._tessdata, self._languages = tessdata, languages
        self._engines = threading.local()
        self._engine()  # the first one now: data that cannot load fails at start, not on a photo

    def _engine(self) -> int:
        engine = getattr(self._engines, "engine", None)
        if engine is None:
            engine = self._engines.engine = _Engine(self._lib, self._tessdata, self._languages)
        return engine.api

    @classmethod
    def load(cls) -> "TesseractLines | None":
        """The engine, or None where the library or the Korean data is not installed."""
        lib = _library()
        folders = [os.environ.get("TESSDATA_PREFIX", ""), *TESSDATA_DIRS]
        tessdata = next((f for f in folders if f and (Path(f) / "kor.traineddata").is_file()), None)
        if lib is None or tessdata is None:
            return None
        return cls(lib, tessdata)

    def words(self, line: np.ndarray) -> list[tuple[str, float]]:
        """Each word of one line image (greyscale, uint8) with Tesseract's confidence in 0..1."""
        api = self._engine()
        pixels = np.ascontiguousarray(line, dtype=np.uint8)
        height, width = pixels.shape
        self._lib.TessBaseAPISetImage(api, pixels.ctypes.data, width, height, 1, width)
        self._lib.TessBaseAPISetSourceResolution(api, 300)
        if self._lib.TessBaseAPIRecognize(api, None) != 0:
            return []
        words: list[tuple[str, float]] = []
        iterator = self._lib.TessBaseAPIGetIterator(api)
        if not iterator:
            return words
        try:
            while True:  # word by word, each with its own confidence
                pointer = self._lib.TessResultIteratorGetUTF8Text(iterator, WORD)
                if pointer:
                    word = ctypes.string_at(pointer).decode("utf-8", errors="replace").strip()
                    self._lib.TessDeleteText(pointer)
                    if word:
                        words.append((word, self._lib.TessResultIteratorConfidence(iterator, WORD) / 100.0))
                if not self._lib.TessResultIteratorNext(iterator, WORD):
                    break
        finally:
            self._lib.TessResultIteratorDelete(iterator)
        return self._spaced(api, words)

    def _spaced(self, api: int, pieces: list[tuple[str, float]]) -> list[tuple[str, float]]:
        """The line's words as spaced in its text (Tesseract's word iterator splits Korean words into
        syllables), each with the lowest confidence of its pieces."""
        pointer = self._lib.TessBaseAPIGetUTF8Text(api)
        text = ctypes.string_at(pointer).decode("utf-8", errors="replace") if pointer else ""
        if pointer:
            self._lib.TessDeleteText(pointer)
        words, index = [], 0
        for word in text.split():
            joined, confidence = "", 1.0
            while index < len(pieces) and len(joined) < len(word):
                joined += pieces[index][0]
                confidence = min(confidence, pieces[index][1])
                index += 1
            if joined != word:
                return [(w, 0.0) for w in text.split()]  # could not pair them: trust none
            words.append((word, confidence))
        return words
