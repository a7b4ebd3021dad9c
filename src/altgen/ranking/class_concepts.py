"""What a request names among the classifier's classes, and how much of a photo's class scores falls on it.

A description the service wrote says a few names ("possibly a dishwasher or a microwave"); the classifier saw
more: a whole distribution over ImageNet's thousand classes. A request word that names a class, something
classes are (WordNet: a stupa is a shrine, an alp a mountain) or a place classes make up (a kitchen: a
dishwasher, a microwave, a stove) selects a set of classes; the share of a photo's probability on that set,
against the share a flat guess would give it, says how strongly the photo shows what was asked for, whatever
the description's words.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from altgen.ranking.broader_words import phrase_pattern
from altgen.types import ClassScores

# Probability below which a photo's share of a concept is noise (the classifier spreads about this much
# over hundreds of classes on any photo); it also bounds the lift a concept of one class can reach.
NOISE = 0.01
# A concept of at most this share of the classes is a specific thing (a sports car, a lighthouse, a kitchen's
# appliances), whose absence from a photo's scores the classifier can be trusted on; a vehicle or an animal is not.
SPECIFIC = 0.03


@dataclass(frozen=True)
class Concept:
    phrase: str
    members: np.ndarray  # boolean mask over the classes
    background: float  # the share of a flat guess that falls on the members

    @property
    def specific(self) -> bool:
        return self.background <= SPECIFIC

    def lift(self, scores: ClassScores) -> float:
        """How many times (log) more probability the photo puts on the concept than a flat guess; 0 when
        not more."""
        return max(0.0, math.log((scores.mass(self.members) + NOISE) / (self.background + NOISE)))


class ClassConcepts:
    """English phrases (class names, what classes are, places) with the classes each one covers."""

    def __init__(self, phrases: dict[str, Iterable[int]], class_count: int):
        self._concepts: dict[str, Concept] = {}
        for phrase, indices in phrases.items():
            members = np.zeros(class_count, dtype=bool)
            members[list(indices)] = True
            if members.any():
                self._concepts[phrase.lower()] = Concept(phrase.lower(), members, float(members.mean()))
        self._pattern = re.compile(r"\b(" + phrase_pattern(self._concepts) + r")(?:s|es)?\b")

    def __len__(self) -> int:
        return len(self._concepts)

    def is_specific(self, phrase: str) -> bool:
        """Whether ``phrase`` names a specific thing (a bird of prey, a clock; not an animal, not a reptile)."""
        concept = self._concepts.get(phrase.lower())
        return concept is not None and concept.specific

    def named_in(self, text: str) -> list[Concept]:
        """The concepts ``text`` names (the longest phrase at each place: "sports car", not "car")."""
        found = {match.group(1) for match in self._pattern.finditer(text.lower())}
        return [self._concepts[phrase] for phrase in sorted(found)]

    @staticmethod
    def evidence(concepts: list[Concept], scores: ClassScores) -> float:
        """The lifts of every concept the request names, added (each is a separate thing asked for)."""
        return sum(concept.lift(scores) for concept in concepts)
