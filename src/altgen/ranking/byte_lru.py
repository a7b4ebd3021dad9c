"""A least-recently-used map bounded by the bytes its entries hold, not by their count: with texts of
up to 4,000 characters, a count says little about memory (100,000 entries may be 10 MB or 1 GB)."""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from typing import Callable, Generic, Hashable, Iterable, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

ENTRY_OVERHEAD = 100  # the map's own node and references, per entry


def size_of_text(text: str) -> int:
    return sys.getsizeof(text)


def size_of_words(words: Iterable[set[str]]) -> int:
    """Sets of words; the words themselves are counted too (they are usually not shared)."""
    return sum(sys.getsizeof(s) + sum(sys.getsizeof(w) for w in s) for s in words)


class ByteLRU(Generic[K, V]):
    """Safe to share between threads (the event loop looks texts up while the ranking thread adds them)."""

    def __init__(self, max_bytes: int, size_of: Callable[[K, V], int]):
        self.max_bytes = max_bytes
        self._size_of = size_of
        self._entries: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._lock = threading.Lock()
        self.nbytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: K) -> bool:
        return key in self._entries

    def get(self, key: K) -> V | None:
        """The value (now the most recently used), or None."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
            return entry[0]

    def put(self, key: K, value: V) -> None:
        """Keeps ``value``, then drops the least recently used entries until the total fits."""
        size = self._size_of(key, value) + ENTRY_OVERHEAD
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self.nbytes -= old[1]
            self._entries[key] = (value, size)
            self.nbytes += size
            while self.nbytes > self.max_bytes and self._entries:
                _key, (_value, dropped) = self._entries.popitem(last=False)
                self.nbytes -= dropped


def memoised(function: Callable[[K], V], max_bytes: int, size_of: Callable[[K, V], int]) -> Callable[[K], V]:
    """``function`` with its results kept in a ByteLRU (one hashable argument; threads racing on a new one may
    both compute it)."""
    cache: ByteLRU[K, V] = ByteLRU(max_bytes, size_of)

    def cached(argument: K) -> V:
        value = cache.get(argument)
        if value is None:
            value = function(argument)
            cache.put(argument, value)
        return value

    cached.cache = cache  # type: ignore[attr-defined]
    return cached
