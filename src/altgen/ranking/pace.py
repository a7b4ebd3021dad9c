"""How fast the ranking thread embeds new descriptions, and so how much one turn of it holds.

Work is counted in characters, not texts: a 4,000-character description costs the packaged e5 about
80 times a 40-character one (it reads every window of a long text). Each text also has a fixed
cost, ``TEXT_OVERHEAD`` characters' worth. Other requests' work runs between turns, so a turn
should take about the same time whatever the encoder and the texts; the measured speed also tells
admission whether a request's new descriptions can be embedded before its deadline."""

from __future__ import annotations

from typing import Sequence

TURN_S = 0.1
TEXT_OVERHEAD = 40  # characters' worth of fixed cost per text
FIRST_TURN_UNITS = 1_000  # before any turn was timed: a few short texts, or one long one
MOST_UNITS_PER_TURN = 200_000


def cost(texts: Sequence[str]) -> int:
    """What embedding ``texts`` costs, in units of one character."""
    return sum(len(text) + TEXT_OVERHEAD for text in texts)


class EmbeddingPace:
    def __init__(self, turn_s: float = TURN_S):
        self.turn_s = turn_s
        self.units_per_s: float | None = None

    def turn_units(self) -> int:
        if self.units_per_s is None:
            return FIRST_TURN_UNITS
        return max(1, min(MOST_UNITS_PER_TURN, round(self.units_per_s * self.turn_s)))

    def turn_size(self, texts: Sequence[str], start: int = 0) -> int:
        """How many of ``texts[start:]`` make one turn (at least one)."""
        budget, taken = self.turn_units(), 0
        for count, text in enumerate(texts[start:], start=1):
            taken += len(text) + TEXT_OVERHEAD
            if taken >= budget:
                return count
        return len(texts) - start

    def seconds_for(self, units: int) -> float | None:
        """How long ``units`` of work take at the measured speed (None before any turn was timed)."""
        return None if self.units_per_s is None else units / self.units_per_s

    def record(self, units: int, seconds: float) -> None:
        """One turn's work; recent turns count most (the machine's load changes)."""
        if units <= 0 or seconds <= 0:
            return
        rate = units / seconds
        self.units_per_s = rate if self.units_per_s is None else 0.5 * (self.units_per_s + rate)
