"""Describing photos with the models of this process: the shared queue, one consumer per device, the models.

``AltTextService`` runs one in its own process; on a Ray cluster each captioner replica runs one
(``altgen.distributed``), so that the batching rules are the same either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from concurrent.futures import Executor
from typing import Callable, NamedTuple, Sequence

from altgen.admission import Admission
from altgen.captioning.batching import ConsumerCrashed, DeviceConsumer, JobQueue
from altgen.captioning.contract import Captioner, CaptionRequest
from altgen.deadline import Deadline, gather_outcomes
from altgen.errors import ModelBusy, ModelFailed
from altgen.metrics import Metrics
from altgen.settings import Settings
from altgen.types import ClassScores

log = logging.getLogger(__name__)

CaptionerFactory = Callable[[Settings, str], Captioner]
# How often /ready asks a model that can become unreachable (a remote engine) whether it can take work.
REACHABLE_CHECK_S = 2.0


def pixel_count(request: CaptionRequest) -> float:
    """A photo's share of a batch's memory budget: activations grow with its pixels."""
    return request.image.width * request.image.height


class Captioned(NamedTuple):
    text: str
    queued_s: float
    inference_s: float
    scores: ClassScores | None = None  # the class scores behind the description, where the model has them


class LocalCaptioning:
    def __init__(
        self,
        settings: Settings,
        captioner_factory: CaptionerFactory,
        metrics: Metrics,
        image_pool: Executor,
        admission: Admission,
    ):
        self.settings = settings
        self.metrics = metrics
        self._captioner_factory = captioner_factory
        self._image_pool = image_pool  # the model's pre-processing runs here, beside the photos' decoding
        self.admission = admission
        self.devices = settings.device_list()
        self.queue: JobQueue[CaptionRequest] | None = None
        self.consumers: list[DeviceConsumer] = []
        self.captioners: list[Captioner] = []
        self._tasks: list[asyncio.Task] = []
        self._down: set[str] = set()  # devices whose consumer crashed and is waiting to restart
        self._unreachable: set[str] = set()  # captioners whose model cannot take work now (a remote engine down)

    # ---- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        self.queue = JobQueue(self.admission)
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
            captioner.caption_scored,
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
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for consumer in self.consumers:
            consumer.close()

    @property
    def ready(self) -> bool:
        running = bool(self._tasks) and all(not task.done() for task in self._tasks)
        return running and not self._down and not self._unreachable

    @property
    def model_name(self) -> str:
        return self.captioners[0].name if self.captioners else self.settings.model

    @property
    def min_short_side(self) -> int | None:
        """What the models need of a photo's shorter side (all replicas share one backend class)."""
        return self.captioners[0].min_short_side if self.captioners else None

    # ---- describing ------------------------------------------------------------------------
    async def caption(self, requests: Sequence[CaptionRequest], names: Sequence[str], deadline: Deadline) -> list[Captioned]:
        """Queues every photo as its own job (so it batches with other requests) and waits for all, until
        ``deadline``; ``names`` say which photo an error is about."""
        assert self.queue is not None, "captioning not started"
        requests = await self._preprocess([dataclasses.replace(r, deadline=deadline.at) for r in requests], names)
        jobs = self.queue.submit(requests, deadline.at)
        futures = [job.future for job in jobs]
        try:
            outcomes = await asyncio.wait_for(gather_outcomes(*futures), deadline.left())
        except (asyncio.TimeoutError, TimeoutError):
            raise deadline.exceeded() from None
        finally:
            for future in futures:  # a cancelled or failed request frees its queued jobs
                future.cancel()
        for name, outcome in zip(names, outcomes):
            if isinstance(outcome, (asyncio.TimeoutError, TimeoutError)):  # expired while queued, or the engine was late
                raise deadline.exceeded()
            if isinstance(outcome, ModelBusy):  # the engine cannot take it now: 503, said in our words
                raise outcome
            if isinstance(outcome, BaseException):
                log.error("model failed on %s: %r", name, outcome)
                # Our own words (a crashed worker) may be told; a model's exception text stays in the log.
                reason = f" ({outcome})" if isinstance(outcome, ConsumerCrashed) else ""
                raise ModelFailed(f"the model could not describe '{name}'{reason}")
        texts = await self._finish(requests, [text for text, _scores in outcomes], names, deadline)
        return [
            Captioned(text, job.started_at - job.enqueued_at, job.finished_at - job.started_at, scores)
            for job, text, (_text, scores) in zip(jobs, texts, outcomes)
        ]

    async def _finish(self, requests: list[CaptionRequest], texts: list[str], names: Sequence[str], deadline: Deadline) -> list[str]:
        """The backend's work after the model, on the image threads (the device's thread is on the next batch)."""
        if not self.captioners[0].finishes:
            return texts
        try:
            return await self._per_photo(
                self.captioners[0].finish, list(zip(requests, texts)), names, "finishing", "describe", deadline.left()
            )
        except (asyncio.TimeoutError, TimeoutError):
            raise deadline.exceeded() from None

    async def _preprocess(self, requests: list[CaptionRequest], names: Sequence[str]) -> list[CaptionRequest]:
        """The backend's CPU work for each photo, in parallel on the image threads, so that a device's
        thread only runs the model (all replicas share one backend class, so the first one's will do)."""
        if not self.captioners[0].preprocesses:
            return requests
        return await self._per_photo(self.captioners[0].preprocess, [(r,) for r in requests], names, "pre-processing", "read")

    async def _per_photo(
        self, function: Callable, arguments: list[tuple], names: Sequence[str], stage: str, verb: str, timeout: float | None = None
    ) -> list:
        """``function`` on each photo's arguments at once on the image threads, within ``timeout``; a photo it
        fails on is logged and fails the request as a model error naming the photo."""
        loop = asyncio.get_running_loop()
        running = [loop.run_in_executor(self._image_pool, function, *args) for args in arguments]
        outcomes = await asyncio.wait_for(gather_outcomes(*running), timeout)
        for name, outcome in zip(names, outcomes):
            if isinstance(outcome, Exception):
                log.error("%s failed on %s: %r", stage, name, outcome)
                raise ModelFailed(f"the model could not {verb} '{name}'")
        return outcomes
