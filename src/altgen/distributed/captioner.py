"""The captioner deployment: one ``LocalCaptioning`` per replica, so the batching rules (cost budget, deadlines,
cancelled work dropped, a failed batch split down to the bad photo) are the in-process ones.

``@serve.batch`` does not fit here: it batches calls of one method by count and wait only, cannot weigh photos
by pixels, let a job's deadline drop it while queued, or retry a failed batch in halves; a replica's
``JobQueue`` does all of that, and Serve's ``max_ongoing_requests`` lets every waiting request reach it.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Sequence

from ray import serve

from altgen.api.middleware import request_id_var
from altgen.captioning import Captioned, LocalCaptioning
from altgen.cli import configure_logging
from altgen.metrics import Metrics
from altgen.model.base import CaptionRequest
from altgen.model.loading import load_captioner
from altgen.settings import Settings


class CaptionerReplica:
    async def __init__(self, settings: Settings):
        configure_logging(settings.log_level)
        self._pool = ThreadPoolExecutor(max_workers=min(8, max(2, os.cpu_count() or 1)), thread_name_prefix="images")
        self.captioning = LocalCaptioning(settings, load_captioner, Metrics(), self._pool)
        await self.captioning.start()

    async def caption(
        self, requests: Sequence[CaptionRequest], names: Sequence[str], timeout_s: float, request_id: str
    ) -> list[Captioned]:
        token = request_id_var.set(request_id)  # this replica's log lines name the request the client was told
        try:
            return await self.captioning.caption(requests, names, timeout_s)
        finally:
            request_id_var.reset(token)

    def status(self) -> dict:
        return {"ready": self.captioning.ready, "model": self.captioning.model_name, "devices": self.captioning.devices}

    async def __del__(self):
        await self.captioning.stop()
        self._pool.shutdown(wait=False, cancel_futures=True)


# Decorated apart from the class, so that replicas import the class by name rather than unpickle a copy of it.
# Serve's line per call is off: /ready's status checks would fill the log; the ingress logs each request.
Captioner = serve.deployment(name="Captioner", logging_config={"enable_access_log": False})(CaptionerReplica)
