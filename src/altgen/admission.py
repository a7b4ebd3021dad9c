"""Admission: the one place that decides whether the service can take more photos now, and tells a client
that it cannot (503 with Retry-After). The HTTP gate, the describe path, the queue and the Ray ingress all ask it."""

from __future__ import annotations

from altgen.errors import QueueFull
from altgen.metrics import Metrics


class Admission:
    """Counts the photos waiting for a model against ``capacity``. A request is taken whole or not at all,
    so a request is never half-queued; a photo's slot is given back the moment it stops waiting."""

    def __init__(self, capacity: int, metrics: Metrics, retry_after_s: int = 1):
        self.capacity = capacity
        self.retry_after_s = retry_after_s
        self._metrics = metrics
        self._waiting = 0
        metrics.queue_depth.set_function(self.waiting)

    def waiting(self) -> int:
        return self._waiting

    def free(self) -> int:
        return max(0, self.capacity - self._waiting)

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
        """Checks, then holds ``count`` slots until ``give_back``."""
        self.check(count)
        self._waiting += count

    def give_back(self, count: int = 1) -> None:
        self._waiting -= count
