"""The ingress side of the captioner deployment: the service's ``Captioning``, with photos sent to Ray replicas."""

from __future__ import annotations

import asyncio
import logging
from typing import Sequence

from ray.exceptions import RayActorError, RayTaskError
from ray.serve.exceptions import BackPressureError
from ray.serve.handle import DeploymentHandle

from altgen.admission import Admission
from altgen.captioning.contract import CaptionRequest
from altgen.captioning.local import Captioned
from altgen.deadline import Deadline
from altgen.logs import request_id_var
from altgen.settings import Settings

log = logging.getLogger(__name__)

# How often /ready asks the captioner deployment whether it serves, and how long one ask may take.
STATUS_CHECK_S = 0.5
STATUS_TIMEOUT_S = 2.0
# A request whose replica died is sent again (to a live one) after this pause, while its deadline allows.
RETRY_PAUSE_S = 0.1
# Beyond its own deadline, what a replica's answer may take to come back.
TRANSPORT_GRACE_S = 1.0


class RemoteCaptioning:
    def __init__(self, captioner: DeploymentHandle, settings: Settings, admission: Admission):
        self._captioner = captioner
        self.settings = settings
        self.devices: list[str] = []
        self._model_name = settings.model
        self._min_short_side: int | None = None  # the whole /config-sized photo until a replica says otherwise
        self._ready = False
        self._watch: asyncio.Task | None = None
        # Holds the photos this replica has sent and not had answered: no more than the captioners can queue.
        self._admission = admission

    async def start(self) -> None:
        # Not waiting for the captioners here: a model may take minutes to load; /ready says no until one serves.
        self._watch = asyncio.create_task(self._watch_status(), name="captioner-status")

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()

    async def _watch_status(self) -> None:
        while True:
            response = self._captioner.status.remote()
            try:
                status = await asyncio.wait_for(response, STATUS_TIMEOUT_S)
            except Exception as exc:  # noqa: BLE001 - no replica answered: not ready, and the checks go on
                response.cancel()
                if self._ready:
                    log.warning("the captioner deployment does not answer (%r): /ready says no until it does", exc)
                self._ready = False
            else:
                self._ready, self._model_name, self.devices = status["ready"], status["model"], status["devices"]
                self._min_short_side = status["min_short_side"]
            await asyncio.sleep(STATUS_CHECK_S)

    @property
    def ready(self) -> bool:
        return self._ready

    @property
    def model_name(self) -> str:
        return self._model_name

    @property
    def min_short_side(self) -> int | None:
        return self._min_short_side

    async def caption(self, requests: Sequence[CaptionRequest], names: Sequence[str], deadline: Deadline) -> list[Captioned]:
        """One call to a captioner replica, which queues the photos with other requests'; sent again to another
        replica when the one holding them dies, while the deadline allows."""
        self._admission.take(len(requests))
        try:
            while True:
                left = deadline.left()
                if left <= 0:
                    raise deadline.exceeded()
                # Seconds left, not the time itself: a replica on another host has a monotonic clock of its own.
                response = self._captioner.caption.remote(list(requests), list(names), left, request_id_var.get())
                try:
                    return await asyncio.wait_for(response, left + TRANSPORT_GRACE_S)
                except RayTaskError as exc:  # the replica's own error (QueueFull, ModelFailed...), as it raised it
                    raise exc.cause from None
                except BackPressureError:  # Serve's own limit, said as ours
                    raise self._admission.refusal(len(requests)) from None
                except RayActorError as exc:
                    log.warning("the captioner replica stopped while holding %d photo(s) (%r); sending them again", len(requests), exc)
                    await asyncio.sleep(RETRY_PAUSE_S)
                except BaseException:  # cancelled (the client left) or too late: the replica drops the photos
                    response.cancel()
                    raise
        finally:
            self._admission.give_back(len(requests))
