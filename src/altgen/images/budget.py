"""A bound on the memory photos being decoded hold at once, so that a few huge photos cannot take it all.

A decoding photo holds its pixels several times over (the decoder's output, the 8-bit RGB copy, a
white background under a transparent one, a turned copy); a 7000x7000 photo is ~49 million pixels.
Each decode first takes what its plan says it holds at its peak (``DecodePlan.decoded_bytes``) and
gives it back when its thread is done, not when its request gives up.
"""

from __future__ import annotations

import asyncio
from collections import deque


class DecodeBudget:
    def __init__(self, capacity: int):
        self.capacity = capacity
        self.in_use = 0
        self._waiting: deque[tuple[int, asyncio.Future]] = deque()

    async def take(self, amount: int) -> int:
        """Waits until ``amount`` bytes fit (a photo larger than the whole budget waits for an empty one);
        returns what was taken, to hand back to ``give_back``. A small photo is not held up behind
        huge ones: only the huge ones wait for each other."""
        amount = min(amount, self.capacity)
        if self.in_use + amount <= self.capacity:  # a photo that fits goes ahead of larger ones waiting
            self.in_use += amount
            return amount
        turn = asyncio.get_running_loop().create_future()
        self._waiting.append((amount, turn))
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():  # granted just as the request gave up
                self.give_back(amount)
            else:
                self._waiting.remove((amount, turn))
            raise
        return amount

    def give_back(self, amount: int) -> None:
        """Called on the event loop's thread."""
        self.in_use -= amount
        for waiter in list(self._waiting):  # oldest first, each that fits now
            amount, turn = waiter
            if self.in_use + amount <= self.capacity:
                self._waiting.remove(waiter)
                if not turn.done():
                    self.in_use += amount
                    turn.set_result(None)
