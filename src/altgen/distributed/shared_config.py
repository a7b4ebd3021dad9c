"""One /config resize rule for every ingress replica: a one-replica deployment holds it, and each ingress
replica long-polls it. A change is answered once every ingress replica has taken it (or after a second), so a
client that changed the rule sees it in its next request, whichever replica answers."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Callable

from ray import serve
from ray.serve.handle import DeploymentHandle

from altgen.settings import ResizeConfig

log = logging.getLogger(__name__)

# How long a watch waits for a change before it answers "no change" (and is asked again).
WATCH_S = 10.0
# A replica not heard from for this long has gone (replaced, scaled down): a change does not wait for it.
GONE_S = WATCH_S + 5.0
# Longest a change waits for every ingress replica to take it.
CONFIRM_S = 1.0
RETRY_PAUSE_S = 0.5

Version = tuple[str, int]  # (the store's life, changes in that life): a restarted store has a new life


class ConfigStoreReplica:
    def __init__(self, initial: ResizeConfig):
        self._config = initial
        self._version: Version = (uuid.uuid4().hex, 0)
        self._changed = asyncio.Event()
        self._heard = asyncio.Event()
        self._watchers: dict[str, tuple[Version | None, float]] = {}  # replica -> (version it has, when it said so)

    async def publish(self, config: ResizeConfig, confirm_s: float) -> Version:
        self._config = config
        self._version = version = (self._version[0], self._version[1] + 1)
        self._changed.set()
        self._changed = asyncio.Event()
        ends = time.monotonic() + confirm_s
        while not self._everyone_has(version) and (left := ends - time.monotonic()) > 0:
            try:
                await asyncio.wait_for(self._heard.wait(), left)
            except asyncio.TimeoutError:
                break
        return version

    async def watch(self, watcher: str, seen: Version | None, wait_s: float) -> tuple[Version, ResizeConfig]:
        """The rule as soon as it differs from version ``seen``, or after ``wait_s`` if it does not change."""
        self._watchers[watcher] = (seen, time.monotonic())
        self._heard.set()
        self._heard = asyncio.Event()
        if seen == self._version:
            try:
                await asyncio.wait_for(self._changed.wait(), wait_s)
            except asyncio.TimeoutError:
                pass
        return self._version, self._config

    def _everyone_has(self, version: Version) -> bool:
        now = time.monotonic()
        return all(seen == version for seen, heard in self._watchers.values() if now - heard < GONE_S)


# Decorated apart from the class, so that its replica imports the class by name rather than unpickle a copy of it.
ConfigStore = serve.deployment(
    name="ConfigStore",
    num_replicas=1,
    max_ongoing_requests=10_000,  # one long poll per ingress replica, plus changes
    ray_actor_options={"num_cpus": 0},
    graceful_shutdown_timeout_s=1.0,  # what it is busy with at shutdown is long polls, not work
)(ConfigStoreReplica)


class ServeResizeStore:
    """The service's ``ResizeStore`` on the cluster: reads the rule at start (a restarted replica takes the
    current one), then follows every change."""

    def __init__(self, store: DeploymentHandle):
        self._store = store
        self._name = uuid.uuid4().hex
        self._seen: Version | None = None
        self._config: ResizeConfig | None = None
        self._on_change: Callable[[ResizeConfig], None] = lambda _config: None
        self._follow: asyncio.Task | None = None

    async def start(self, on_change: Callable[[ResizeConfig], None]) -> None:
        self._on_change = on_change
        await self._take(*await self._store.watch.remote(self._name, None, 0))
        self._follow = asyncio.create_task(self._follow_changes(), name="config-watch")

    async def stop(self) -> None:
        if self._follow is not None:
            self._follow.cancel()

    async def publish(self, config: ResizeConfig) -> None:
        await self._take(await self._store.publish.remote(config, CONFIRM_S), config)

    async def _take(self, version: Version, config: ResizeConfig) -> None:
        restarted = self._seen is not None and version[0] != self._seen[0]
        if restarted and version[1] == 0 and self._config is not None and config != self._config:
            # The store restarted with the start-up rule and nobody changed it since: the rule it lost is ours.
            log.warning("the /config store restarted; giving it back the current rule")
            await self.publish(self._config)
            return
        if self._seen is None or version[0] != self._seen[0] or version[1] > self._seen[1]:
            self._seen, self._config = version, config
            self._on_change(config)

    async def _follow_changes(self) -> None:
        while True:
            response = self._store.watch.remote(self._name, self._seen, WATCH_S)
            try:
                await self._take(*await response)
            except asyncio.CancelledError:
                response.cancel()
                raise
            except Exception:  # noqa: BLE001 - the store restarting; this replica keeps its rule meanwhile
                log.exception("watching /config failed; trying again")
                await asyncio.sleep(RETRY_PAUSE_S)
