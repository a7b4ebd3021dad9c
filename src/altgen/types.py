"""The small vocabularies the API, the service and the models share. Imports nothing of altgen."""

from dataclasses import dataclass
from typing import Literal

import numpy as np

Language = Literal["en", "ko"]
LANGUAGES: tuple[str, ...] = ("en", "ko")
# "alt": one or two sentences a screen reader reads in one go; "long": a fuller description.
Detail = Literal["alt", "long"]
# Whether a text to embed is a request ("query") or a photo description ("passage").
TextKind = Literal["query", "passage"]


@dataclass(frozen=True, eq=False)
class ClassScores:
    """The ImageNet-1k classes a classifier saw in one photo, most probable first, with their probabilities
    (the rest of the thousand left out: they carry almost nothing). Search reads them behind a description
    the service wrote, so a request meets what the model saw and not only the words it chose to say."""

    classes: np.ndarray  # int16 class indices
    probabilities: np.ndarray  # float16, same order

    @classmethod
    def top(cls, probabilities: np.ndarray, count: int = 32) -> "ClassScores":
        order = np.argsort(-probabilities)[:count]
        return cls(order.astype(np.int16), probabilities[order].astype(np.float16))

    @property
    def nbytes(self) -> int:
        return self.classes.nbytes + self.probabilities.nbytes

    def mass(self, members: np.ndarray) -> float:
        """The probability the classifier gave to any of ``members`` (a boolean mask over the classes)."""
        return float(self.probabilities[members[self.classes]].sum(dtype=np.float32))
