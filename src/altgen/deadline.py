"""A request's deadline: one absolute time on the monotonic clock, carried from the route to the model."""

from __future__ import annotations

import time
from dataclasses import dataclass

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
