"""The core that both HTTP APIs and the CLI call: prepare photos, describe them, rank descriptions.

It owns the queue, one consumer per device and the models; it knows nothing of HTTP.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Sequence

from altgen.images import PreparedImage, finish_image, open_image
from altgen.metrics import Metrics
from altgen.model.base import Captioner, CaptionRequest, Detail, Language, ModelBusy
from altgen.model.loading import load_captioner, load_ranker
from altgen.ranking import Ranked, Ranker
from altgen.settings import ResizeConfig, Settings
from altgen.worker.batching import ConsumerCrashed, DeviceConsumer, JobQueue
from altgen.worker.decode_budget import PixelBudget

log = logging.getLogger(__name__)

CaptionerFactory = Callable[[Settings, str], Captioner]
RankerFactory = Callable[[Settings], Ranker]
# New descriptions embedded per turn on the ranking thread: ~1 s for multilingual-e5-small on 2 cores.
RANKING_SLICE = 16
# Descriptions waiting to be embedded after they were written; beyond this the oldest are dropped.
WRITTEN_BACKLOG = 10_000
WRITTEN_GATHER_S = 0.2
# How often /ready asks a model that can become unreachable (a remote engine) whether it can take work.
REACHABLE_CHECK_S = 2.0


def pixel_count(request: CaptionRequest) -> float:
    """A photo's share of a batch's memory budget: activations grow with its pixels."""
    return request.image.width * request.image.height


class DeadlineExceeded(Exception):
    pass


class ModelFailed(Exception):
    """The model raised on a photo; only the request holding that photo gets this error. Its message
    names the photo, never the exception's own text (logged, with the request id)."""


@dataclass(frozen=True)
class Description:
    image: PreparedImage
    text: str
    queued_s: float
    inference_s: float


class AltTextService:
    def __init__(
        self,
        settings: Settings,
        captioner_factory: CaptionerFactory = load_captioner,
        ranker_factory: RankerFactory = load_ranker,
    ):
        self.settings = settings
        self.resize = settings.resize_config()
        self.metrics = Metrics()
        self._captioner_factory = captioner_factory
        self._ranker_factory = ranker_factory
        self.devices = settings.device_list()
        self.queue: JobQueue | None = None
        self.consumers: list[DeviceConsumer] = []
        self.captioners: list[Captioner] = []
        self.ranker: Ranker | None = None
        self._tasks: list[asyncio.Task] = []
        self._down: set[str] = set()  # devices whose consumer crashed and is waiting to restart
        self._unreachable: set[str] = set()  # captioners whose model cannot take work now (a remote engine down)
        # Decoding, resizing and the model's pre-processing use a few threads; ranking has one of its own.
        self._image_pool = ThreadPoolExecutor(max_workers=min(8, max(2, os.cpu_count() or 1)), thread_name_prefix="images")
        self._text_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ranking")
        # Descriptions just written, to embed for later searches (bounded: the oldest are dropped first).
        self._written: collections.deque[str] = collections.deque(maxlen=WRITTEN_BACKLOG)
        self._embed_written_task: asyncio.Task | None = None
        # Two of the largest accepted photos may decode at once; smaller ones share the same budget.
        self._decode_budget = PixelBudget(2 * settings.max_image_pixels)

    # ---- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.queue = JobQueue(self.settings.queue_capacity, self.metrics)
        self.ranker = await loop.run_in_executor(self._text_pool, self._ranker_factory, self.settings)
        for index, device in enumerate(self.devices):
            captioner = await asyncio.to_thread(self._captioner_factory, self.settings, device)
            self.captioners.append(captioner)
            name = device if self.devices.count(device) == 1 else f"{device}#{index}"
            consumers = [self._consumer(captioner, name)] if not captioner.parallel_requests else [
                self._consumer(captioner, f"{name}#{slot}", one_photo=True) for slot in range(captioner.parallel_requests)
            ]
            self.consumers += consumers
            await consumers[0].on_model_thread(captioner.warm_up)  # e.g. compile before /ready says yes
            self._tasks += [asyncio.create_task(self._supervise(c), name=f"consumer-{c.name}") for c in consumers]
        watched = [captioner for captioner in self.captioners if captioner.watched]
        if watched:
            await self._check_reachable(watched)  # /ready tells the truth from the first answer on
            self._tasks.append(asyncio.create_task(self._watch_reachable(watched), name="reachable"))
        log.info("ready: captioner %s on %s", self.captioners[0].name, ", ".join(self.devices))

    def _consumer(self, captioner: Captioner, name: str, one_photo: bool = False) -> DeviceConsumer:
        """A consumer of the shared queue for ``captioner``. ``one_photo``: one of the parallel slots of a remote
        engine, which batches for itself: each takes the next photo at once, with no wait for company."""
        settings = self.settings
        return DeviceConsumer(
            captioner.device,
            name,
            captioner.caption,
            self.queue,
            self.metrics,
            max_batch_size=1 if one_photo else settings.max_batch_size,
            max_wait_s=0 if one_photo else settings.max_batch_wait_ms / 1000,
            busy_wait_s=0 if one_photo else settings.busy_batch_wait_ms / 1000,
            max_batch_cost=settings.max_batch_pixels or float("inf"),
            cost=pixel_count,
        )

    async def _check_reachable(self, captioners: list[Captioner]) -> None:
        """/ready says no while a captioner's model cannot take work (a remote engine that is down)."""
        for captioner in captioners:
            try:
                reachable = await asyncio.to_thread(captioner.reachable)
            except Exception:  # noqa: BLE001 - a check that fails says "not reachable", and the checks go on
                log.exception("checking whether %s is reachable failed", captioner.name)
                reachable = False
            if reachable and captioner.name in self._unreachable:
                log.warning("captioner %s is reachable again", captioner.name)
                self._unreachable.discard(captioner.name)
            elif not reachable and captioner.name not in self._unreachable:
                log.warning("captioner %s is not reachable: /ready says no until it is", captioner.name)
                self._unreachable.add(captioner.name)

    async def _watch_reachable(self, captioners: list[Captioner]) -> None:
        while True:
            await asyncio.sleep(REACHABLE_CHECK_S)
            await self._check_reachable(captioners)

    async def _supervise(self, consumer: DeviceConsumer) -> None:
        """Keeps a consumer running: a crash is logged and counted, /ready says not-ready, and it restarts."""
        while True:
            self._down.discard(consumer.name)
            try:
                await consumer.run_forever()
            except (asyncio.CancelledError, KeyboardInterrupt, SystemExit):
                raise
            except BaseException:  # noqa: BLE001 - whatever killed it, the device must come back
                self._down.add(consumer.name)
                log.exception("consumer %s crashed; restarting in %.1f s", consumer.name, self.settings.restart_backoff_s)
                self.metrics.consumer_restarts.labels(consumer.device).inc()
                await asyncio.sleep(self.settings.restart_backoff_s)

    async def stop(self) -> None:
        if self._embed_written_task is not None:
            self._embed_written_task.cancel()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for consumer in self.consumers:
            consumer.close()
        self._image_pool.shutdown(wait=False, cancel_futures=True)
        self._text_pool.shutdown(wait=False, cancel_futures=True)

    @property
    def ready(self) -> bool:
        running = bool(self._tasks) and all(not task.done() for task in self._tasks)
        return running and not self._down and not self._unreachable and self.ranker is not None

    @property
    def model_name(self) -> str:
        return self.captioners[0].name if self.captioners else self.settings.model

    # ---- describing ------------------------------------------------------------------------
    async def prepare(self, name: str, data: bytes, resize: ResizeConfig | None = None) -> PreparedImage:
        """Checks the header, then decodes within the pixel budget: a decode's pixels are given back when
        its thread finishes, even if its request gave up meanwhile."""
        loop = asyncio.get_running_loop()
        settings = self.settings
        opened = await loop.run_in_executor(
            self._image_pool,
            lambda: open_image(data, name, max_bytes=settings.max_file_bytes, max_pixels=settings.max_image_pixels),
        )
        taken = await self._decode_budget.take(opened.pixels)
        decoding = self._image_pool.submit(finish_image, opened, resize or self.resize)
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
        timeout_s: float | None = None,
    ) -> list[Description]:
        """Queue every image as its own job (so it batches with other requests) and wait for all, at
        most ``timeout_s`` (default: the request deadline; less when decoding used part of it)."""
        assert self.queue is not None, "service not started"
        loop = asyncio.get_running_loop()
        timeout_s = self.settings.request_timeout_s if timeout_s is None else max(0.0, timeout_s)
        deadline = loop.time() + timeout_s
        ends = time.monotonic() + timeout_s  # the same deadline on the clock a model's thread reads
        requests = await self._preprocess(
            [CaptionRequest(image.image, language, detail, deadline=ends) for image in images], images
        )
        jobs = self.queue.submit(requests, deadline)
        futures = [job.future for job in jobs]
        late = DeadlineExceeded(f"no answer within the {self.settings.request_timeout_s:g} s deadline")
        try:
            outcomes = await asyncio.wait_for(
                asyncio.gather(*futures, return_exceptions=True), timeout_s
            )
        except (asyncio.TimeoutError, TimeoutError):
            raise late from None
        finally:
            for future in futures:  # a cancelled or failed request frees its queued jobs
                future.cancel()
        for image, outcome in zip(images, outcomes):
            if isinstance(outcome, (asyncio.TimeoutError, TimeoutError)):  # expired while queued
                raise late
            if isinstance(outcome, ModelBusy):  # the engine cannot take it now: 503, said in our words
                raise outcome
            if isinstance(outcome, BaseException):
                log.error("model failed on %s: %r", image.name, outcome)
                # Our own words (a crashed worker) may be told; a model's exception text stays in the log.
                reason = f" ({outcome})" if isinstance(outcome, ConsumerCrashed) else ""
                raise ModelFailed(f"the model could not describe '{image.name}'{reason}")
        self._remember_written(outcomes)
        return [
            Description(
                image=image,
                text=text,
                queued_s=job.started_at - job.enqueued_at,
                inference_s=job.finished_at - job.started_at,
            )
            for image, job, text in zip(images, jobs, outcomes)
        ]

    def _remember_written(self, texts: Sequence[str]) -> None:
        """Queues descriptions the service just wrote to be embedded soon, off the answer's path, so
        that a later search over them (and, with a cache file, one after a restart) is already warm."""
        if self.ranker is None:
            return
        self._written.extend(texts)
        if self._embed_written_task is None or self._embed_written_task.done():
            self._embed_written_task = asyncio.create_task(self._embed_written(), name="embed-written")

    async def _embed_written(self) -> None:
        loop = asyncio.get_running_loop()
        while self._written:
            await asyncio.sleep(WRITTEN_GATHER_S)  # gather what many answers wrote into one slice
            batch = [self._written.popleft() for _ in range(min(RANKING_SLICE, len(self._written)))]
            missing = self.ranker.uncached(batch)
            if missing:
                try:
                    await loop.run_in_executor(self._text_pool, self.ranker.embed_passages, missing)
                except Exception:  # noqa: BLE001 - a search will embed them; the answer went out long ago
                    log.exception("embedding written descriptions failed")

    async def _preprocess(
        self, requests: list[CaptionRequest], images: Sequence[PreparedImage]
    ) -> list[CaptionRequest]:
        """The backend's CPU work for each photo, in parallel on the image threads, so that a device's
        thread only runs the model (all replicas share one backend class, so the first one's will do)."""
        if not self.captioners[0].preprocesses:
            return requests
        preprocess = self.captioners[0].preprocess
        loop = asyncio.get_running_loop()
        outcomes = await asyncio.gather(
            *(loop.run_in_executor(self._image_pool, preprocess, request) for request in requests), return_exceptions=True
        )
        for image, outcome in zip(images, outcomes):
            if isinstance(outcome, Exception):
                log.error("pre-processing failed on %s: %r", image.name, outcome)
                raise ModelFailed(f"the model could not read '{image.name}'")
        return outcomes

    # ---- ranking ---------------------------------------------------------------------------
    async def rank(self, query: str, descriptions: Sequence[str]) -> list[Ranked]:
        """New descriptions are embedded a slice at a time on the ranking thread, so that other
        requests' work runs between the slices of a large one (a small request waits for one slice,
        not for 2,000 descriptions), and a request that gives up or passes its deadline stops."""
        assert self.ranker is not None, "service not started"
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + self.settings.request_timeout_s
        # Dictionary look-ups only, so on the event loop: a small request is then one turn on the thread.
        missing = self.ranker.uncached(descriptions)
        done = 0
        for start in range(0, len(missing) if len(missing) > RANKING_SLICE else 0, RANKING_SLICE):
            if loop.time() >= deadline:
                raise self._too_many_new(len(missing), done, loop.time() - started)
            await loop.run_in_executor(self._text_pool, self.ranker.embed_passages, missing[start : start + RANKING_SLICE])
            done = min(len(missing), start + RANKING_SLICE)
        if loop.time() >= deadline:
            raise self._too_many_new(len(missing), done, loop.time() - started)
        return await loop.run_in_executor(self._text_pool, self.ranker.rank, query, descriptions)

    def _too_many_new(self, new: int, done: int, elapsed_s: float) -> DeadlineExceeded:
        """A clear 504 for a request with more new descriptions than the deadline allows; what was
        embedded is kept, so the same request sent again goes on from there."""
        rate = done / elapsed_s if elapsed_s > 0 and done else 0.0
        left = f"about {(new - done) / rate:.0f} s more" if rate else "more time"
        return DeadlineExceeded(
            f"{new} of the descriptions are new to the service and must be embedded first; {done} were done "
            f"within the {self.settings.request_timeout_s:g} s deadline ({rate:.0f} a second) and are kept, so the "
            f"same request sent again goes on from there ({left}). Descriptions this service wrote itself are "
            "embedded in advance."
        )

