"""Micro-batching: many requests' images share one model call per device.

Requests put one ``Job`` per image on a shared bounded ``JobQueue``; each ``DeviceConsumer``
takes up to ``max_batch_size`` live jobs (waiting at most ``max_wait_s`` for the batch to fill, or
up to ``busy_wait_s`` while jobs keep arriving after a shared batch), runs the blocking model call
in its own thread and resolves every job's future.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Sequence, TypeVar

from altgen.admission import Admission
from altgen.metrics import Metrics

log = logging.getLogger(__name__)

T = TypeVar("T")  # what a job carries to the model (a photo to describe)
R = TypeVar("R")  # what the model gives back for it (its description)


class ConsumerCrashed(RuntimeError):
    """The device consumer died while this job was in its batch."""


@dataclass
class Job(Generic[T, R]):
    payload: T | None  # None once its request gave up
    future: asyncio.Future[R]
    deadline: float  # time.monotonic() seconds
    enqueued_at: float = field(default_factory=time.perf_counter)
    waiting: bool = True  # still counted against the queue's capacity
    started_at: float = 0.0
    finished_at: float = 0.0

    def is_live(self, now: float) -> bool:
        if self.future.done():  # cancelled by its request, e.g. a client that went away
            return False
        if now >= self.deadline:
            self.future.set_exception(asyncio.TimeoutError("deadline passed while queued"))
            return False
        return True


class JobQueue(Generic[T]):
    """A FIFO of photos whose room is ``admission``'s: a request is queued whole or refused whole.

    A job whose request gave up (deadline, disconnect) gives its slot back, and drops its photo, at
    once, not when a consumer next reaches it.
    """

    def __init__(self, admission: Admission):
        self.admission = admission
        self._queue: asyncio.Queue[Job[T, Any]] = asyncio.Queue()

    def submit(self, payloads: Sequence[T], deadline: float) -> list[Job[T, Any]]:
        """``deadline``: time.monotonic() seconds."""
        self.admission.take(len(payloads))
        loop = asyncio.get_running_loop()
        jobs = [Job(payload=p, future=loop.create_future(), deadline=deadline) for p in payloads]
        for job in jobs:
            job.future.add_done_callback(lambda _future, job=job: self._leave(job, drop_payload=True))
            self._queue.put_nowait(job)
        return jobs

    def _leave(self, job: Job, drop_payload: bool = False) -> None:
        if job.waiting:
            job.waiting = False
            self.admission.give_back()
            if drop_payload:
                job.payload = None

    async def get(self) -> Job[T, Any]:
        job = await self._queue.get()
        self._leave(job)
        return job

    def get_nowait(self) -> Job[T, Any] | None:
        try:
            job = self._queue.get_nowait()
        except asyncio.QueueEmpty:
            return None
        self._leave(job)
        return job


class DeviceConsumer(Generic[T, R]):
    """Pulls batches from the shared queue for one model replica on one device."""

    def __init__(
        self,
        device: str,
        name: str,
        predict: Callable[[list[T]], list[R]],
        queue: JobQueue[T],
        metrics: Metrics,
        *,
        max_batch_size: int,
        max_wait_s: float,
        max_batch_cost: float = float("inf"),
        cost: Callable[[T], float] = lambda _payload: 1.0,
        busy_wait_s: float = 0.0,
    ):
        self.device = device
        self.name = name
        self.predict = predict
        self.queue = queue
        self.metrics = metrics
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_s
        self.busy_wait_s = busy_wait_s
        self._last_batch_size = 0
        self.max_batch_cost = max_batch_cost
        self.cost = cost
        self._carried: Job[T, R] | None = None  # taken from the queue but over the last batch's budget
        # One thread per device: its model is never called concurrently, and the event loop never blocks.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"model-{name}")

    async def run_forever(self) -> None:
        while True:
            batch = await self.next_batch()
            try:
                await self.run_batch(batch)
            except BaseException as exc:
                # The consumer is going down (crash or shutdown): its batch gets an answer, not a hang.
                for job in batch:
                    self._fail(job, ConsumerCrashed(f"the model worker on {self.device} stopped: {exc!r}"))
                raise

    async def next_batch(self) -> list[Job[T, R]]:
        """Up to ``max_batch_size`` live jobs whose summed cost stays within ``max_batch_cost``
        (a job over the budget on its own still runs, alone); a job that does not fit opens the next batch."""
        loop = asyncio.get_running_loop()
        batch: list[Job[T, R]] = []
        arrived = 0  # jobs that came in while this batch was forming (not already queued)
        while not batch:
            job, self._carried = self._carried, None
            job = job or self.queue.get_nowait()
            if job is None:
                job = await self.queue.get()
                arrived += 1
            if job.is_live(time.monotonic()):
                batch.append(job)
        spent = self.cost(batch[0].payload)
        # Quiet device: wait up to max_wait for company. Busy device (its last batch was shared): the
        # clients it just answered are on their way back, so wait, up to busy_wait, until as many photos
        # as it answered have come in, then start once they stop coming (max_wait after the last one);
        # otherwise closed-loop clients split into two half-size groups that take turns.
        busy = self.busy_wait_s > self.max_wait_s and self._last_batch_size > 1
        expected = self._last_batch_size if busy else 0
        give_up = loop.time() + (self.busy_wait_s if busy else self.max_wait_s)
        quiet_at = give_up if arrived < expected else loop.time() + self.max_wait_s
        while len(batch) < self.max_batch_size:
            job = self.queue.get_nowait()
            if job is None:
                remaining = min(give_up, quiet_at) - loop.time()
                if remaining <= 0:
                    break
                try:
                    job = await asyncio.wait_for(self.queue.get(), remaining)
                except asyncio.TimeoutError:
                    break
                arrived += 1
                if busy and arrived >= expected:
                    quiet_at = loop.time() + self.max_wait_s
            if not job.is_live(time.monotonic()):
                continue
            if spent + self.cost(job.payload) > self.max_batch_cost:
                self._carried = job
                break
            spent += self.cost(job.payload)
            batch.append(job)
        self._last_batch_size = len(batch)
        return batch

    async def run_batch(self, batch: list[Job[T, R]]) -> None:
        started = time.perf_counter()
        for job in batch:
            job.started_at = started
        self.metrics.batch_size.observe(len(batch))
        self.metrics.batch_wait.observe(started - min(job.enqueued_at for job in batch))
        self.metrics.in_flight.labels(self.name).set(len(batch))
        try:
            outputs = await self._call([job.payload for job in batch])
        except Exception as exc:  # noqa: BLE001 - any model error must reach the waiting requests
            if len(batch) == 1:
                self._fail(batch[0], exc)
            else:
                # One bad image must not fail its neighbours, and an out-of-memory batch may fit in
                # halves: split and retry, down to single images.
                log.warning("batch of %d failed on %s (%r); retrying in halves", len(batch), self.device, exc)
                middle = len(batch) // 2
                await self.run_batch(batch[:middle])
                await self.run_batch(batch[middle:])
            return
        finally:
            self.metrics.in_flight.labels(self.name).set(0)
        finished = time.perf_counter()
        self.metrics.inference.labels(self.name).observe(finished - started)
        for job, output in zip(batch, outputs, strict=True):
            job.finished_at = finished
            if not job.future.done():
                job.future.set_result(output)
            self.metrics.images.labels("ok").inc()

    async def on_model_thread(self, function: Callable[[], Any]) -> Any:
        """Runs ``function`` on this device's model thread (compiled CUDA graphs belong to the thread that built them)."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, function)

    async def _call(self, payloads: list[T]) -> list[R]:
        outputs = await self.on_model_thread(lambda: self.predict(payloads))
        if len(outputs) != len(payloads):
            raise RuntimeError(f"model returned {len(outputs)} outputs for {len(payloads)} inputs")
        return outputs

    def _fail(self, job: Job, exc: Exception) -> None:
        self.metrics.images.labels("error").inc()
        if not job.future.done():
            job.future.set_exception(exc)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
