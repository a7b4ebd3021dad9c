"""Admission: the one place that decides whether the service can take more work now, and tells a client
that it cannot. Photos (``Admission``): 503 with Retry-After when the queue is full; the HTTP gate, the
describe path, the queue and the Ray ingress all ask it. New descriptions to embed for ranking
(``EncoderAdmission``): by their cost at the measured speed, against the request's deadline."""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import deque
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator, Sequence

from altgen.deadline import Deadline
from altgen.errors import EncoderBusy, QueueFull, TooMuchNewText
from altgen.metrics import Metrics


class Admission:
    """Counts the photos waiting for a model, and those of admitted requests still being read, decoded or
    pre-processed, against ``capacity``. A request is taken whole or not at all, so a request is never
    half-queued; a photo's slot is given back the moment it stops waiting."""

    def __init__(self, capacity: int, metrics: Metrics, retry_after_s: int = 1):
        self.capacity = capacity
        self.retry_after_s = retry_after_s
        self._metrics = metrics
        self._waiting = 0
        self._preparing = 0
        # The places still held by the request handled in this task (a one-item list, see ``preparing``).
        self._held: ContextVar[list[int] | None] = ContextVar(f"admission_held_{id(self)}", default=None)
        self._line: deque[asyncio.Future[None]] = deque()  # requests waiting for a place (``wait_for_room``)
        metrics.queue_depth.set_function(self.waiting)
        metrics.photos_preparing.set_function(lambda: self._preparing)

    def waiting(self) -> int:
        return self._waiting

    def free(self) -> int:
        return max(0, self.capacity - self._waiting - self._preparing)

    @contextmanager
    def preparing(self, count: int) -> Iterator[None]:
        """Checks, then holds ``count`` places from a request's arrival until its photos are queued (``take``
        inside this block uses them): while they are read, decoded and pre-processed, no other request can take
        them. Otherwise a burst of requests all find room and decode at once, or a request's photos are
        decoded and pre-processed only to find the queue full (under a storm, most of the work was that)."""
        self.check(count)
        held = [count]
        self._preparing += count
        token = self._held.set(held)
        try:
            yield
        finally:
            self._held.reset(token)
            self._preparing -= held[0]
            self._freed(held[0])

    async def wait_for_room(self, within_s: float) -> bool:
        """Waits in line, first come first served, until a place frees, for at most ``within_s``: True if one
        did. The place is not reserved; the request still passes ``preparing`` like any other."""
        if self.free() > 0:
            return True
        turn = asyncio.get_running_loop().create_future()
        self._line.append(turn)
        try:
            await asyncio.wait_for(turn, within_s)
            return True
        except (asyncio.TimeoutError, TimeoutError):
            with contextlib.suppress(ValueError):  # not there if a freed place reached it as it timed out
                self._line.remove(turn)  # the line holds only live turns, however long no place frees
            return False

    def _freed(self, count: int) -> None:
        """Wakes the next ``count`` requests in line."""
        while count > 0 and self._line:
            turn = self._line.popleft()
            if not turn.done():
                turn.set_result(None)
                count -= 1

    def is_overloaded(self) -> bool:
        return self.free() == 0

    def check(self, wanted: int) -> None:
        """Raises ``QueueFull`` unless ``wanted`` photos fit now."""
        if wanted > self.free():
            raise self.refusal(wanted)

    def refusal(self, wanted: int) -> QueueFull:
        """The answer to a request that does not fit (counted here, once per refusal): also what a queue further
        down (a Ray deployment's own limit) that refuses it is turned into."""
        self._metrics.rejected.labels("queue_full").inc()
        return QueueFull(wanted, self.free(), self.retry_after_s)

    def take(self, count: int) -> None:
        """Checks, then holds ``count`` slots until ``give_back``; places this request holds (``preparing``)
        are used first."""
        held = self._held.get()
        own = min(count, held[0]) if held else 0
        self.check(count - own)
        if held:
            held[0] -= own
            self._preparing -= own
        self._waiting += count

    def give_back(self, count: int = 1) -> None:
        self._waiting -= count
        self._freed(count)


class EncoderAdmission:
    """Takes a ranking request's new descriptions only if they can be embedded before its deadline: alone
    (else 413, saying how many would fit) and behind the work already admitted (else 503 with Retry-After).
    ``units`` are ``altgen.ranking.pace`` cost units; ``speed`` is the measured units a second."""

    def __init__(self, metrics: Metrics):
        self._metrics = metrics
        self._admitted: dict[object, int] = {}  # request -> units it still has to embed

    def backlog(self) -> int:
        return sum(self._admitted.values())

    def check(self, request: object, units: Sequence[int], speed: float | None, deadline: Deadline) -> None:
        """``units``: the cost of each new description still to embed. Raises when they cannot be done in time;
        holds them (as this request's) when they can. Unknown speed admits: the first turn measures it."""
        total = sum(units)
        if speed is None or total == 0:
            self._admitted[request] = total
            return
        if total / speed > deadline.budget_s:
            self._admitted.pop(request, None)
            self._metrics.rejected.labels("too_much_text").inc()
            raise TooMuchNewText(len(units), total, _fitting(units, speed * deadline.budget_s), speed, deadline.budget_s)
        others = self.backlog() - self._admitted.get(request, 0)
        if (total + others) / speed > deadline.left():
            self._admitted.pop(request, None)
            self._metrics.rejected.labels("encoder_busy").inc()
            wait_s = max(1, math.ceil(others / speed))
            raise EncoderBusy(
                f"the encoder has about {others / speed:.0f} s of other requests' new descriptions to embed; this "
                f"request's {len(units)} new ones need about {total / speed:.0f} s more, past its deadline: retry later",
                wait_s,
            )
        self._admitted[request] = total

    def done(self, request: object) -> None:
        self._admitted.pop(request, None)


def _fitting(units: Sequence[int], budget: float) -> int:
    """How many of the first ``units`` fit in ``budget``."""
    taken = 0
    for count, unit in enumerate(units):
        taken += unit
        if taken > budget:
            return count
    return len(units)
