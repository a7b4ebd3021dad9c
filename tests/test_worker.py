"""The queue and the micro-batching consumers, with model functions that record what they were given."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from altgen.admission import Admission
from altgen.captioning.batching import DeviceConsumer, JobQueue
from altgen.errors import QueueFull
from altgen.metrics import Metrics


class RecordingModel:
    """Upper-cases its inputs; remembers each batch and the thread it ran on; can fail on a marker."""

    def __init__(self, delay_s: float = 0.0, fail_on: str | None = None):
        self.delay_s = delay_s
        self.fail_on = fail_on
        self.batches: list[list[str]] = []
        self.threads: set[str] = set()

    def __call__(self, items: list[str]) -> list[str]:
        self.batches.append(list(items))
        self.threads.add(threading.current_thread().name)
        time.sleep(self.delay_s)
        if self.fail_on is not None and self.fail_on in items:
            raise RuntimeError(f"model cannot read {self.fail_on}")
        return [item.upper() for item in items]


async def start(model, *, capacity=100, max_batch_size=4, max_wait_s=0.05, busy_wait_s=0.0, devices=("cpu",)):
    metrics = Metrics()
    queue = JobQueue(Admission(capacity, metrics))
    consumers = [
        DeviceConsumer(
            d, d, model, queue, metrics, max_batch_size=max_batch_size, max_wait_s=max_wait_s, busy_wait_s=busy_wait_s
        )
        for d in devices
    ]
    tasks = [asyncio.create_task(c.run_forever()) for c in consumers]
    return queue, metrics, consumers, tasks


async def stop(consumers, tasks):
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for consumer in consumers:
        consumer.close()


def far_deadline() -> float:
    return time.monotonic() + 30


async def test_jobs_from_many_submitters_share_batches_in_order():
    model = RecordingModel(delay_s=0.02)
    queue, metrics, consumers, tasks = await start(model, max_batch_size=4)
    try:
        jobs = [queue.submit([f"r{r}-{i}" for i in range(3)], far_deadline()) for r in range(4)]
        results = [await asyncio.gather(*(j.future for j in request)) for request in jobs]
    finally:
        await stop(consumers, tasks)
    assert results == [[f"R{r}-{i}" for i in range(3)] for r in range(4)]
    assert max(len(b) for b in model.batches) == 4  # filled to the cap, never past it
    assert all(len(b) <= 4 for b in model.batches)
    mixed = [b for b in model.batches if len({item.split("-")[0] for item in b}) > 1]
    assert mixed, f"no batch mixed requests: {model.batches}"
    assert metrics.registry.get_sample_value("altgen_batch_size_count") == len(model.batches)


async def test_model_runs_off_the_event_loop_thread():
    model = RecordingModel()
    queue, _metrics, consumers, tasks = await start(model)
    try:
        [job] = queue.submit(["a"], far_deadline())
        assert await job.future == "A"
    finally:
        await stop(consumers, tasks)
    assert model.threads and threading.current_thread().name not in model.threads


async def test_lone_job_waits_no_longer_than_max_wait():
    model = RecordingModel()
    queue, _metrics, consumers, tasks = await start(model, max_batch_size=64, max_wait_s=0.05)
    try:
        started = time.perf_counter()
        [job] = queue.submit(["solo"], far_deadline())
        await job.future
        elapsed = time.perf_counter() - started
    finally:
        await stop(consumers, tasks)
    assert elapsed < 1.0  # generous: a consumer that waited for a full batch would never return
    assert model.batches == [["solo"]]


async def test_after_a_shared_batch_stragglers_join_until_they_stop_coming():
    model = RecordingModel(delay_s=0.02)
    queue, _metrics, consumers, tasks = await start(model, max_batch_size=16, max_wait_s=0.2, busy_wait_s=3.0)
    try:
        first = queue.submit(["a1", "a2"], far_deadline())  # a shared batch: the device counts as busy
        await asyncio.gather(*(job.future for job in first))
        # Clients coming back one by one, 40 ms apart: 0.28 s in all, longer than max_wait, so a quiet
        # consumer would have started without the later ones.
        stragglers = []
        for i in range(8):
            stragglers += queue.submit([f"b{i}"], far_deadline())
            await asyncio.sleep(0.04)
        last_arrival = time.perf_counter()
        await asyncio.gather(*(job.future for job in stragglers))
        waited = time.perf_counter() - last_arrival
    finally:
        await stop(consumers, tasks)
    assert model.batches == [["a1", "a2"], [f"b{i}" for i in range(8)]]
    assert waited < 1.5  # it started when they stopped coming, not at the 3 s cap


async def test_after_a_shared_batch_it_waits_for_as_many_photos_as_it_answered():
    """Closed-loop clients: while batch A runs, group B queues; A's clients come back slower than
    max_wait apart. The next batch still holds B and all of A (not B plus A's first one)."""
    model = RecordingModel(delay_s=0.2)
    queue, _metrics, consumers, tasks = await start(model, max_batch_size=8, max_wait_s=0.05, busy_wait_s=2.0)
    try:
        group_a = queue.submit([f"a{i}" for i in range(4)], far_deadline())
        await asyncio.sleep(0.1)  # A is running
        group_b = queue.submit([f"b{i}" for i in range(4)], far_deadline())
        await asyncio.gather(*(job.future for job in group_a))
        again = []
        for i in range(4):
            again += queue.submit([f"a{i}'"], far_deadline())
            await asyncio.sleep(0.08)  # longer than max_wait between returning clients
        await asyncio.gather(*(job.future for job in [*group_b, *again]))
    finally:
        await stop(consumers, tasks)
    assert model.batches == [[f"a{i}" for i in range(4)], [*(f"b{i}" for i in range(4)), *(f"a{i}'" for i in range(4))]]


async def test_failing_item_fails_only_its_own_job_and_consumer_survives():
    model = RecordingModel(fail_on="bad")
    queue, metrics, consumers, tasks = await start(model, max_batch_size=8, max_wait_s=0.05)
    try:
        jobs = queue.submit(["a", "bad", "c"], far_deadline())
        outcomes = await asyncio.gather(*(j.future for j in jobs), return_exceptions=True)
        [after] = queue.submit(["later"], far_deadline())
        assert await after.future == "LATER"
    finally:
        await stop(consumers, tasks)
    assert outcomes[0] == "A" and outcomes[2] == "C"
    assert isinstance(outcomes[1], RuntimeError) and "bad" in str(outcomes[1])
    assert model.batches[0] == ["a", "bad", "c"]  # tried together first, then one by one
    assert ["bad"] in model.batches
    assert metrics.registry.get_sample_value("altgen_images_total", {"outcome": "error"}) == 1


async def test_cancelled_and_expired_jobs_are_dropped_when_forming_a_batch():
    model = RecordingModel()
    metrics = Metrics()
    queue = JobQueue(Admission(10, metrics))
    cancelled, expired, live = (
        queue.submit(["cancelled"], far_deadline())[0],
        queue.submit(["expired"], time.monotonic() - 1)[0],
        queue.submit(["live"], far_deadline())[0],
    )
    cancelled.future.cancel()
    consumer = DeviceConsumer("cpu", "cpu", model, queue, metrics, max_batch_size=8, max_wait_s=0)
    batch = await consumer.next_batch()
    consumer.close()
    assert len(batch) == 1 and batch[0] is live
    with pytest.raises(asyncio.TimeoutError):
        await expired.future


async def test_queue_admission_is_all_or_nothing():
    queue = JobQueue(Admission(3, Metrics()))
    queue.submit(["a", "b"], far_deadline())
    with pytest.raises(QueueFull) as info:
        queue.submit(["c", "d"], far_deadline())
    assert info.value.retry_after_s >= 1
    assert queue.admission.waiting() == 2  # nothing of the refused request was queued
    queue.submit(["c"], far_deadline())
    assert queue.admission.free() == 0


async def test_two_devices_both_take_work_from_one_queue():
    model = RecordingModel(delay_s=0.05)
    queue, _metrics, consumers, tasks = await start(model, max_batch_size=2, max_wait_s=0, devices=("cpu:a", "cpu:b"))
    try:
        jobs = queue.submit([str(i) for i in range(8)], far_deadline())
        await asyncio.gather(*(j.future for j in jobs))
    finally:
        await stop(consumers, tasks)
    assert model.threads == {"model-cpu:a_0", "model-cpu:b_0"}


async def test_wrong_output_count_is_an_error_not_a_hang():
    queue, _metrics, consumers, tasks = await start(lambda items: items[:-1] if len(items) > 1 else [], max_wait_s=0.05)
    try:
        jobs = queue.submit(["a", "b"], far_deadline())
        outcomes = await asyncio.wait_for(asyncio.gather(*(j.future for j in jobs), return_exceptions=True), 5)
    finally:
        await stop(consumers, tasks)
    assert all(isinstance(o, RuntimeError) and "outputs" in str(o) for o in outcomes)


async def test_batches_respect_a_cost_budget_and_a_big_job_runs_alone():
    model = RecordingModel(delay_s=0.02)
    metrics = Metrics()
    queue = JobQueue(Admission(100, metrics))
    consumer = DeviceConsumer(
        "cpu", "cpu", model, queue, metrics, max_batch_size=10, max_wait_s=0.05, max_batch_cost=10, cost=len
    )
    task = asyncio.create_task(consumer.run_forever())
    try:
        jobs = queue.submit(["aaaa", "bbbb", "cccc", "dddddddddddddddd", "ee"], far_deadline())
        results = await asyncio.gather(*(j.future for j in jobs))
    finally:
        await stop([consumer], [task])
    assert results == ["AAAA", "BBBB", "CCCC", "DDDDDDDDDDDDDDDD", "EE"]
    assert model.batches == [["aaaa", "bbbb"], ["cccc"], ["dddddddddddddddd"], ["ee"]]
