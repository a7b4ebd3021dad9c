"""A request's deadline: one absolute time on the monotonic clock, carried from the route to the model."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, Awaitable

from altgen.errors import DeadlineExceeded


@dataclass(frozen=True)
class Deadline:
    at: float  # time.monotonic() seconds (asyncio's loop.time() reads the same clock)
    budget_s: float  # the whole request's budget, for the message

    @classmethod
    def after(cls, budget_s: float) -> Deadline:
        return cls(time.monotonic() + budget_s, budget_s)

    def left(self) -> float:
        return max(0.0, self.at - time.monotonic())

    def passed(self) -> bool:
        return time.monotonic() >= self.at

    def exceeded(self, detail: str = "") -> DeadlineExceeded:
        return DeadlineExceeded(self.budget_s, detail)


def gather_outcomes(*awaitables: Awaitable[Any]) -> asyncio.Future[list[Any]]:
    """``asyncio.gather`` with exceptions as results, for awaiting under a deadline. A request cancelled
    meanwhile (its client left, the process stops) leaves the gathering's own CancelledError unread: it is
    read here, or asyncio logs "exception was never retrieved" as an ERROR for what is no error."""
    gathered = asyncio.gather(*awaitables, return_exceptions=True)
    gathered.add_done_callback(lambda done: done.cancelled() or done.exception())
    return gathered
