"""The asyncio side: a bounded job queue and one micro-batching consumer per device."""

from altgen.worker.batching import DeviceConsumer, Job, JobQueue, QueueFull

__all__ = ["DeviceConsumer", "Job", "JobQueue", "QueueFull"]
