"""Prometheus metrics, one registry per app so that tests and several apps in a process stay apart."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

BATCH_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
# Every reason the service refuses a request with, as counted in altgen_requests_rejected_total.
REJECTION_REASONS = (
    "queue_full", "deadline", "unauthorized", "forbidden", "too_large", "client_disconnected", "model_busy",
    "too_much_text", "encoder_busy",
)
SECONDS_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.queue_depth = Gauge("altgen_queue_depth", "Images waiting for a model.", registry=r)
        self.batch_size = Histogram(
            "altgen_batch_size", "Images per model call.", buckets=BATCH_SIZE_BUCKETS, registry=r
        )
        self.batch_wait = Histogram(
            "altgen_batch_wait_seconds",
            "Time the oldest image of a batch waited in the queue.",
            buckets=SECONDS_BUCKETS,
            registry=r,
        )
        self.inference = Histogram(
            "altgen_inference_seconds", "Duration of one batched model call, per model replica.", ["device"], buckets=SECONDS_BUCKETS, registry=r
        )
        self.images = Counter("altgen_images_total", "Images described, by outcome.", ["outcome"], registry=r)
        self.rejected = Counter(
            "altgen_requests_rejected_total", "Requests refused before any model work, by reason.", ["reason"], registry=r
        )
        self.in_flight = Gauge("altgen_device_in_flight", "Images in the model call now running, per device.", ["device"], registry=r)
        self.consumer_restarts = Counter(
            "altgen_consumer_restarts_total", "Device consumers restarted after a crash.", ["device"], registry=r
        )
        # Known label values start at 0, so that a fresh server already exports every series.
        for outcome in ("ok", "error"):
            self.images.labels(outcome)
        for reason in REJECTION_REASONS:
            self.rejected.labels(reason)
