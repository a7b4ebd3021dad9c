"""The contract every captioner meets: blocking calls, run by the captioning's threads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from PIL import Image

from altgen.types import ClassScores, Detail, Language


@dataclass(frozen=True)
class CaptionRequest:
    """One photo to describe and how: requests with different options share one batch."""

    image: Image.Image
    language: Language = "en"
    detail: Detail = "alt"
    # The backend's model inputs for this photo, made ahead by its ``preprocess`` (None: not yet).
    features: Any = field(default=None, compare=False, repr=False)
    # When the request holding this photo gives up (time.monotonic()); a call to a remote engine must end by then.
    deadline: float | None = field(default=None, compare=False)
    # The same photo decoded again from its upload with up to this many pixels on its longer side (never more
    # than the /config rule's size), for work that needs more pixels than ``image`` has; None: ``image`` is all.
    larger: Callable[[int], Image.Image] | None = field(default=None, compare=False, repr=False)


class Captioner:
    """Writes one description per request; one ``caption`` call is one batched pass on its device.

    Every hook the service calls is declared here, with what it does when a backend leaves it out:
    ``preprocess`` runs on a request thread before queueing (thread-safe, CPU only) so that the
    device's thread spends its time on the model; ``warm_up`` runs on the model thread before the
    service says it is ready (compilation, memory); ``caption_scored`` (``caption``, unless a backend has
    class scores to add) runs on the model thread; ``finish`` runs on a request thread after it, one photo
    at a time (thread-safe: CPU work on a photo's answer that must not hold up the next batch);
    ``reachable`` runs on a helper thread every few seconds while the service is up.
    """

    name: str
    device: str
    # A model in this process (0) gets one batched ``caption`` call at a time on its device's thread. A remote
    # engine batches for itself: the service then makes this many single-photo calls at once, each on its own thread.
    parallel_requests: int = 0
    # The fewest pixels on a photo's shorter side this model needs: photos are decoded no larger (a JPEG in
    # the DCT itself). None: the photo as the /config rule leaves it (a VLM's processor decides its own size).
    min_short_side: int | None = None

    def preprocess(self, request: CaptionRequest) -> CaptionRequest:
        """A photo's model inputs, made ahead; by default none (``caption`` gets the photo itself)."""
        return request

    def warm_up(self) -> None:
        """Whatever must happen before the first request; by default nothing."""

    def caption(self, requests: Sequence[CaptionRequest]) -> list[str]:
        raise NotImplementedError

    def caption_scored(self, requests: Sequence[CaptionRequest]) -> list[tuple[str, ClassScores | None]]:
        """``caption``, each description with the ImageNet class scores behind it, which search uses for
        descriptions the service wrote; by default none (a VLM has no such scores)."""
        return [(text, None) for text in self.caption(requests)]

    def finish(self, request: CaptionRequest, description: str) -> str:
        """One photo's description completed after ``caption`` (``request`` as ``preprocess`` left it); by default as is."""
        return description

    def reachable(self) -> bool:
        """Whether the model can take work now (/ready says no while it cannot); a model in this process always can."""
        return True

    @property
    def watched(self) -> bool:
        """Whether the service must keep asking ``reachable`` (else it skips the checks)."""
        return type(self).reachable is not Captioner.reachable

    @property
    def preprocesses(self) -> bool:
        """Whether this backend has pre-processing of its own (else the service skips the thread hop)."""
        return type(self).preprocess is not Captioner.preprocess

    @property
    def finishes(self) -> bool:
        """Whether this backend completes descriptions after ``caption`` (else the service skips the thread hop)."""
        return type(self).finish is not Captioner.finish

    def describe(self, requests: Sequence[CaptionRequest]) -> list[str]:
        """Every stage in turn on this thread, for callers without the service (tests, measurements)."""
        prepared = [self.preprocess(request) for request in requests]
        return [self.finish(request, text) for request, (text, _scores) in zip(prepared, self.caption_scored(prepared))]
