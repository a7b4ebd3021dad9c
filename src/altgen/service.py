"""The core that both HTTP APIs and the CLI call: prepare photos, describe them, rank descriptions.

It owns the models (through its captioning) and the ranker; it knows nothing of HTTP.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Protocol, Sequence

from altgen.admission import Admission, EncoderAdmission
from altgen.captioning.contract import CaptionRequest
from altgen.captioning.local import Captioned
from altgen.deadline import Deadline, gather_outcomes
from altgen.errors import DeadlineExceeded, ImageRejected, RequestRejected
from altgen.images.budget import DecodeBudget
from altgen.images.decode import PreparedImage, finish_image, open_image
from altgen.metrics import Metrics
from altgen.ranking.pace import TEXT_OVERHEAD, EmbeddingPace, cost
from altgen.ranking.ranker import Ranked, Ranker
from altgen.ranking.thread import RankingThread, Work
from altgen.ranking.words import normalise_text
from altgen.settings import ResizeConfig, Settings
from altgen.types import Detail, Language

log = logging.getLogger(__name__)

RankerFactory = Callable[[Settings], Ranker | None]  # None: a service that only describes (`altgen describe`)
# Descriptions waiting to be embedded after they were written; beyond this the oldest are dropped.
WRITTEN_BACKLOG = 10_000
WRITTEN_GATHER_S = 0.2
# What the encoders are timed on at start-up: a description of a usual length.
CALIBRATION_TEXT = "A brown dog runs along a sandy beach beside the sea, with a red ball in its mouth, at sunset."


class Captioning(Protocol):
    """Where photos are described: ``LocalCaptioning`` in this process, or a Ray deployment (altgen.distributed)."""

    devices: list[str]

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    @property
    def ready(self) -> bool: ...
    @property
    def model_name(self) -> str: ...
    @property
    def min_short_side(self) -> int | None: ...
    async def caption(self, requests: Sequence[CaptionRequest], names: Sequence[str], deadline: Deadline) -> list[Captioned]: ...


class ResizeStore(Protocol):
    """Shares the /config resize rule between the replicas of one service (altgen.distributed)."""

    async def start(self, on_change: Callable[[ResizeConfig], None]) -> None: ...
    async def stop(self) -> None: ...
    async def publish(self, config: ResizeConfig) -> None: ...


class Upload(Protocol):
    """An uploaded photo as the service reads it (an HTTP file part, say): its size if known, then its bytes,
    once; closed as soon as they are read, so that a request holds each photo's bytes once."""

    size: int | None

    async def read(self) -> bytes: ...

    async def close(self) -> None: ...


async def _read_and_close(upload: Upload) -> bytes:
    try:
        return await upload.read()
    finally:
        await upload.close()


@dataclass(frozen=True)
class Description:
    image: PreparedImage
    text: str
    queued_s: float
    inference_s: float


@dataclass(frozen=True)
class Found:
    """One candidate description, ranked for a request."""

    index: int  # its place in the request's list
    score: float  # what orders the candidates
    relevance: float  # how far above a generic description it stands
    match: bool  # whether it answers the request at all


class AltTextService:
    """Built by ``altgen.composition``, which chooses where photos are described and how ranking loads."""

    def __init__(
        self,
        settings: Settings,
        captioning: Captioning,
        ranker_factory: RankerFactory,
        *,
        metrics: Metrics,
        admission: Admission,
        image_pool: ThreadPoolExecutor,
        decodes_per_request: int,
        resize_store: ResizeStore | None = None,
    ):
        self.settings = settings
        self.resize = settings.resize_config()
        self.metrics = metrics
        self.admission = admission
        self.captioning = captioning
        self._ranker_factory = ranker_factory
        self.ranker: Ranker | None = None
        # Decoding, resizing and the model's pre-processing share the image threads; ranking has one of its own,
        # where small requests go before the turns of large ones.
        self._image_pool = image_pool
        # A request decodes at most this many photos at once (the image threads): another request's photo then
        # waits for one round of its decodes, not all of them (16 huge photos held a small one ~2.8 s, until
        # their own deadline), and a request alone still keeps every thread busy.
        self._decodes_per_request = decodes_per_request
        self._ranking = RankingThread()
        self._embedding_pace = EmbeddingPace(settings.embedding_turn_s)
        self.encoder_admission = EncoderAdmission(metrics)
        self._resize_store = resize_store
        # Descriptions just written, to embed for later searches (bounded: the oldest are dropped first).
        self._written: collections.deque[str] = collections.deque(maxlen=WRITTEN_BACKLOG)
        self._embed_written_task: asyncio.Task | None = None
        # Two of the largest accepted photos may decode at once; smaller ones share the same budget.
        self._decode_budget = DecodeBudget(settings.decode_memory_mb * 2**20)

    # ---- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        if self._resize_store is not None:
            await self._resize_store.start(self._take_resize)
        self.ranker = await self._ranking.run(Work.SMALL, self._ranker_factory, self.settings)
        if self.ranker is not None:  # `altgen describe` runs without one
            await self._measure_encoder()
        await self.captioning.start()

    async def stop(self) -> None:
        if self._embed_written_task is not None:
            self._embed_written_task.cancel()
        if self._resize_store is not None:
            await self._resize_store.stop()
        await self.captioning.stop()
        self._image_pool.shutdown(wait=False, cancel_futures=True)
        self._ranking.shutdown()

    @property
    def ready(self) -> bool:
        return self.captioning.ready and self.ranker is not None

    @property
    def model_name(self) -> str:
        return self.captioning.model_name

    @property
    def devices(self) -> list[str]:
        return self.captioning.devices

    # ---- the /config resize rule -----------------------------------------------------------
    async def change_resize(self, config: ResizeConfig) -> None:
        """Sets the rule here and, on a cluster, on every other replica (published first: a refused publish changes nothing)."""
        if self._resize_store is not None:
            await self._resize_store.publish(config)
        self.resize = config

    def _take_resize(self, config: ResizeConfig) -> None:
        self.resize = config

    # ---- describing ------------------------------------------------------------------------
    async def describe_uploads(
        self, uploads: Sequence[tuple[str, Upload]], language: Language = "en", detail: Detail = "alt"
    ) -> list[Description]:
        """The whole path of uploaded photos: the request's limits, admission (before any costly decode),
        then decoding and describing under one deadline. ``uploads`` are (label for messages, photo) pairs,
        in the order the answer keeps."""
        settings = self.settings
        if not uploads:
            raise RequestRejected(422, "the request has no image file; send at least one file part")
        if len(uploads) > settings.max_files_per_request:
            raise RequestRejected(
                413, f"the request has {len(uploads)} image files; the limit is {settings.max_files_per_request} per request"
            )
        for label, upload in uploads:
            if upload.size is not None and upload.size > settings.max_file_bytes:
                raise ImageRejected(label, f"the file is {upload.size} bytes; the limit is {settings.max_file_bytes} bytes", status=413)
        # The deadline covers decoding too: a request of many huge photos answers 504 on time, and its
        # photos still waiting for the decode budget are never decoded.
        deadline = Deadline.after(settings.request_timeout_s)
        resize = self.resize  # one rule for every photo of this request, even if /config changes meanwhile
        # The request's places are held from here until its photos are queued (see Admission.preparing).
        with self.admission.preparing(len(uploads)):
            contents = [await _read_and_close(upload) for _label, upload in uploads]
            in_turn = asyncio.Semaphore(self._decodes_per_request)

            async def prepare_in_turn(label: str, data: bytes) -> PreparedImage:
                async with in_turn:
                    return await self.prepare(label, data, resize)

            try:
                prepared = await asyncio.wait_for(
                    gather_outcomes(*(prepare_in_turn(label, data) for (label, _upload), data in zip(uploads, contents))),
                    deadline.left(),
                )
            except (asyncio.TimeoutError, TimeoutError):
                raise deadline.exceeded("decoding the photos") from None
            rejected = [p for p in prepared if isinstance(p, ImageRejected)]
            if len(rejected) == 1:
                raise rejected[0]
            if rejected:
                raise RequestRejected(max(r.status for r in rejected), "; ".join(str(r) for r in rejected))
            for outcome in prepared:
                if isinstance(outcome, BaseException):
                    raise outcome
            return await self.describe(prepared, language, detail, deadline)

    async def prepare(self, name: str, data: bytes, resize: ResizeConfig | None = None) -> PreparedImage:
        """Checks the header, then decodes within the pixel budget: a decode's pixels are given back when
        its thread finishes, even if its request gave up meanwhile."""
        loop = asyncio.get_running_loop()
        settings = self.settings
        opened = await loop.run_in_executor(
            self._image_pool,
            lambda: open_image(data, name, max_bytes=settings.max_file_bytes, max_pixels=settings.max_image_pixels),
        )
        plan = opened.plan(resize or self.resize, self.captioning.min_short_side)
        taken = await self._decode_budget.take(plan.decoded_bytes)
        decoding = self._image_pool.submit(finish_image, opened, plan)
        decoding.add_done_callback(lambda _done: self._on_loop(loop, self._decode_budget.give_back, taken))
        return await asyncio.wrap_future(decoding)

    @staticmethod
    def _on_loop(loop: asyncio.AbstractEventLoop, function: Callable, *args: object) -> None:
        """Runs ``function`` on the event loop from another thread, unless the loop has shut down."""
        with contextlib.suppress(RuntimeError):  # a decode that outlived the service
            loop.call_soon_threadsafe(function, *args)

    async def describe(
        self,
        images: Sequence[PreparedImage],
        language: Language = "en",
        detail: Detail = "alt",
        deadline: Deadline | None = None,
    ) -> list[Description]:
        """Describes every image by ``deadline`` (default: the request deadline from now)."""
        deadline = deadline or Deadline.after(self.settings.request_timeout_s)
        requests = [CaptionRequest(image.image, language, detail, larger=image.larger) for image in images]
        captioned = await self.captioning.caption(requests, [image.name for image in images], deadline)
        self._remember_written(captioned)
        return [Description(image, c.text, c.queued_s, c.inference_s) for image, c in zip(images, captioned)]

    def _remember_written(self, captioned: Sequence[Captioned]) -> None:
        """Queues descriptions the service just wrote to be embedded soon, off the answer's path, so
        that a later search over them (and, with a cache file, one after a restart) is already warm; and
        keeps the class scores behind them, which a search that sends them back uses."""
        if self.ranker is None:
            return
        for written in captioned:
            if written.scores is not None:
                self.ranker.remember_scores(written.text, written.scores)
        self._written.extend(written.text for written in captioned)
        if self._embed_written_task is None or self._embed_written_task.done():
            self._embed_written_task = asyncio.create_task(self._embed_written(), name="embed-written")

    async def _embed_written(self) -> None:
        while self._written:
            await asyncio.sleep(WRITTEN_GATHER_S)  # gather what many answers wrote into one turn
            batch, budget = [], self._embedding_pace.turn_units()
            while self._written and budget > 0:
                batch.append(self._written.popleft())
                budget -= len(batch[-1]) + TEXT_OVERHEAD
            missing = self.ranker.uncached(batch)
            if missing:
                try:
                    await self._embed_turn(missing, Work.BACKGROUND)
                except Exception:  # noqa: BLE001 - a search will embed them; the answer went out long ago
                    log.exception("embedding written descriptions failed")
            if self.ranker.scores_to_save:
                try:
                    await self._ranking.run(Work.BACKGROUND, self.ranker.save_scores)
                except Exception:  # noqa: BLE001 - they are still in memory; the file is only for later
                    log.exception("storing the class scores of written descriptions failed")

    # ---- ranking ---------------------------------------------------------------------------
    @staticmethod
    def is_blank(text: str) -> bool:
        """A request with nothing to search for once its spacing is normalised."""
        return not normalise_text(text)

    async def rank(self, query: str, descriptions: Sequence[str]) -> list[Found]:
        """Every description ranked for ``query``, best first, each with whether it answers it.

        New descriptions are embedded a turn (about ``embedding_turn_s``) at a time on the ranking thread,
        where small requests go first, so a small request waits for at most one turn of a large one; a
        request whose new descriptions cannot be embedded before its deadline is refused at once (413, or
        503 while other requests' turns fill the time), and one that gives up or passes its deadline stops."""
        ranker = self.ranker
        assert ranker is not None, "service not started"
        deadline = Deadline.after(self.settings.request_timeout_s)
        try:
            ranked = await self._rank_within(ranker, query, descriptions, deadline)
        except TimeoutError:  # a remote embedding engine that did not answer in time
            raise deadline.exceeded("the embedding engine did not answer") from None
        return [Found(r.index, r.score, r.relevance, ranker.is_match(r)) for r in ranked]

    async def _rank_within(self, ranker: Ranker, query: str, descriptions: Sequence[str], deadline: Deadline) -> list[Ranked]:
        # Dictionary look-ups only, so on the event loop: a small request is then one turn on the thread.
        missing = ranker.uncached(descriptions)
        units = [len(text) + TEXT_OVERHEAD for text in missing]
        pace, request = self._embedding_pace, object()
        done = 0
        try:
            # New descriptions go a turn at a time; the last turn's worth is embedded in the ranking's own turn.
            while sum(units[done:]) > pace.turn_units():
                if deadline.passed():
                    raise self._too_many_new(deadline, len(missing), done)
                self.encoder_admission.check(request, units[done:], pace.units_per_s, deadline)
                size = pace.turn_size(missing, done)
                await self._embed_turn(missing[done : done + size], Work.TURN)
                done += size
        finally:
            self.encoder_admission.done(request)
        if deadline.passed():
            raise self._too_many_new(deadline, len(missing), done)
        return await self._ranking.run(Work.SMALL, ranker.rank, query, descriptions)

    async def _measure_encoder(self) -> None:
        """Times the encoders on a few texts at start-up, so that the first large request is already admitted
        (or refused) by its cost. Nothing is cached; a failure only leaves the speed to the first turn."""
        ranker = self.ranker
        texts = [f"{i}: {CALIBRATION_TEXT}" for i in range(4)]

        def timed() -> float:
            started = time.perf_counter()
            for embedder in ranker.embedders:
                embedder.embed(texts, "passage")
            return time.perf_counter() - started

        try:
            self._embedding_pace.record(cost(texts), await self._ranking.run(Work.SMALL, timed))
        except Exception:  # noqa: BLE001 - an engine not up yet: the first turn measures instead
            log.warning("could not time the encoder at start-up; the first ranking turn will", exc_info=True)

    async def _embed_turn(self, passages: list[str], work: Work) -> None:
        """One turn of embedding on the ranking thread, timed there (not the wait for it) to size the next turns."""
        ranker = self.ranker

        def timed() -> tuple[int, float]:
            started = time.perf_counter()
            encoded = ranker.embed_passages(passages)
            return encoded, time.perf_counter() - started

        encoded, seconds = await self._ranking.run(work, timed)
        if encoded:  # texts found in a cache say nothing of the encoder's speed
            self._embedding_pace.record(encoded, seconds)

    @staticmethod
    def _too_many_new(deadline: Deadline, new: int, done: int) -> DeadlineExceeded:
        """A clear 504 for a request with more new descriptions than the deadline allows; what was
        embedded is kept, so the same request sent again goes on from there."""
        rate = done / deadline.budget_s if done else 0.0
        left = f"about {(new - done) / rate:.0f} s more" if rate else "more time"
        return deadline.exceeded(
            f"{new} of the descriptions are new to the service and must be embedded first; {done} were done "
            f"({rate:.0f} a second) and are kept, so the same request sent again goes on from there ({left}). "
            "Descriptions this service wrote itself are embedded in advance"
        )
