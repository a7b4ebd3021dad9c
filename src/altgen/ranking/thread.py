"""The one thread that ranking runs on, taking waiting work by class, not by arrival.

A small request (one turn's work or less) goes before the turns of large requests, and those go
before embedding what the service wrote itself; within a class, first come first served, so large
requests take turns one after the other. A small request therefore waits for at most the turn now
running (about ``embedding_turn_s``) however many large ones are in flight."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from concurrent.futures import ThreadPoolExecutor
from enum import IntEnum
from typing import Callable, TypeVar

T = TypeVar("T")


class Work(IntEnum):
    SMALL = 0  # a request's own ranking, or a whole small request
    TURN = 1  # one turn of a large request's new descriptions
    BACKGROUND = 2  # descriptions the service wrote, embedded ahead of searches


class RankingThread:
    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ranking")
        self._busy = False
        self._waiting: list[tuple[int, int, asyncio.Future]] = []
        self._order = itertools.count()

    async def run(self, work: Work, function: Callable[..., T], *args: object) -> T:
        loop = asyncio.get_running_loop()
        if self._busy:
            turn = loop.create_future()
            heapq.heappush(self._waiting, (int(work), next(self._order), turn))
            try:
                await turn
            except asyncio.CancelledError:
                if turn.done() and not turn.cancelled():
                    self._next()  # handed the thread just as it left: pass it on
                raise
        self._busy = True
        job = self._pool.submit(function, *args)
        # The thread is free when the job ends, even if its request has stopped waiting for it.
        job.add_done_callback(lambda _job: self._on_loop(loop, self._next))
        return await asyncio.wrap_future(job)

    def _next(self) -> None:
        while self._waiting:
            _work, _order, turn = heapq.heappop(self._waiting)
            if not turn.done():
                turn.set_result(None)
                return
        self._busy = False

    @staticmethod
    def _on_loop(loop: asyncio.AbstractEventLoop, function: Callable[[], None]) -> None:
        try:
            loop.call_soon_threadsafe(function)
        except RuntimeError:  # the loop has closed: nothing waits any more
            pass

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
