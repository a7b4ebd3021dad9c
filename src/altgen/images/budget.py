"""A bound on the pixels being decoded at once, so that a few huge photos cannot take all memory.

A decoding photo holds its pixels in memory several times over (the decoder's buffer, the 8-bit
copy, the resize); a 7000x7000 photo is ~49 million of them. Each decode first takes its pixel
count from the budget and gives it back when its thread is done, not when its request gives up.
"""

from __future__ import annotations

import asyncio
from collections import deque


class PixelBudget:
    def __init__(self, capacity: int):
        self.capacity = capacity
        self.in_use = 0
        self._waiting: deque[tuple[int, asyncio.Future]] = deque()

    async def take(self, pixels: int) -> int:
        """Waits until ``pixels`` fit (a photo larger than the whole budget waits for an empty one);
        returns what was taken, to hand back to ``give_back``. A small photo is not held up behind
        huge ones: only the huge ones wait for each other."""
        pixels = min(pixels, self.capacity)
        if self.in_use + pixels <= self.capacity:  # a photo that fits goes ahead of larger ones waiting
            self.in_use += pixels
            return pixels
        turn = asyncio.get_running_loop().create_future()
        self._waiting.append((pixels, turn))
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():  # granted just as the request gave up
                self.give_back(pixels)
            else:
                self._waiting.remove((pixels, turn))
            raise
        return pixels

    def give_back(self, pixels: int) -> None:
        """Called on the event loop's thread."""
        self.in_use -= pixels
        for waiter in list(self._waiting):  # oldest first, each that fits now
            pixels, turn = waiter
            if self.in_use + pixels <= self.capacity:
                self._waiting.remove(waiter)
                if not turn.done():
                    self.in_use += pixels
                    turn.set_result(None)
