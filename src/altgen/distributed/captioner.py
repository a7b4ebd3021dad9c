"""The captioner deployment: one ``LocalCaptioning`` per replica, so the batching rules (cost budget, deadlines,
cancelled work dropped, a failed batch split down to the bad photo) are the in-process ones.

``@serve.batch`` does not fit here: it batches calls of one method by count and wait only, cannot weigh photos
by pixels, let a job's deadline drop it while queued, or retry a failed batch in halves; a replica's
``JobQueue`` does all of that, and Serve's ``max_ongoing_requests`` lets every waiting request reach it.
"""

from __future__ import annotations

import time
from typing import Sequence

from ray import serve

from altgen.captioning.contract import CaptionRequest
from altgen.captioning.local import Captioned
from altgen.composition import image_threads, load_captioner, local_captioning
from altgen.deadline import Deadline
from altgen.logs import configure_logging, request_id_var
from altgen.metrics import Metrics
from altgen.settings import Settings


class CaptionerReplica:
    async def __init__(self, settings: Settings):
        configure_logging(settings.log_level)
        self._settings = settings
        self._pool = image_threads()
        self.captioning = local_captioning(settings, load_captioner, Metrics(), self._pool)
        await self.captioning.start()

    async def caption(
        self, requests: Sequence[CaptionRequest], names: Sequence[str], left_s: float, request_id: str
    ) -> list[Captioned]:
        """``left_s``: what is left of the request's deadline (this host's clock is not the ingress's)."""
        token = request_id_var.set(request_id)  # this replica's log lines name the request the client was told
        deadline = Deadline(time.monotonic() + left_s, self._settings.request_timeout_s)
        try:
            return await self.captioning.caption(requests, names, deadline)
        finally:
            request_id_var.reset(token)

    def status(self) -> dict:
        captioning = self.captioning
        return {
            "ready": captioning.ready,
            "model": captioning.model_name,
            "devices": captioning.devices,
            "min_short_side": captioning.min_short_side,
        }

    async def __del__(self):
        await self.captioning.stop()
        self._pool.shutdown(wait=False, cancel_futures=True)


# Decorated apart from the class, so that replicas import the class by name rather than unpickle a copy of it.
# Serve's line per call is off: /ready's status checks would fill the log; the ingress logs each request.
Captioner = serve.deployment(name="Captioner", logging_config={"enable_access_log": False})(CaptionerReplica)
