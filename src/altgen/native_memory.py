"""Handing freed memory back to the system after a large, passing allocation.

glibc keeps what a thread freed in that thread's heap for reuse, so one huge photo or a model export
can leave the process hundreds of megabytes larger for good. ``malloc_trim`` returns the free pages;
it costs milliseconds, so callers use it after large allocations only. Elsewhere (musl, macOS) a no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools


@functools.cache
def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        return libc
    except (OSError, AttributeError):
        return None


def return_free_memory() -> None:
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
