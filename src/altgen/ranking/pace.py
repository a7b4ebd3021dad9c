"""How many new descriptions the ranking thread embeds in one turn.

Other requests' work runs between turns, so a turn should take about the same time whatever the
encoder: a quarter second is 5 texts for an encoder that takes 50 ms a text and ~80 for the packaged
e5 (whose batches also get faster the more texts they hold)."""

from __future__ import annotations

TURN_S = 0.25
FIRST_TURN = 16  # before any turn was timed
MOST_PER_TURN = 512


class EmbeddingPace:
    def __init__(self, turn_s: float = TURN_S):
        self.turn_s = turn_s
        self._texts_per_s: float | None = None

    def turn_size(self) -> int:
        if self._texts_per_s is None:
            return FIRST_TURN
        return max(1, min(MOST_PER_TURN, round(self._texts_per_s * self.turn_s)))

    def record(self, texts: int, seconds: float) -> None:
        """One turn's work; recent turns count most (the machine's load changes)."""
        if texts <= 0 or seconds <= 0:
            return
        rate = texts / seconds
        self._texts_per_s = rate if self._texts_per_s is None else 0.5 * (self._texts_per_s + rate)
