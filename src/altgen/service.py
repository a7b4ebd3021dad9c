"""The core that both HTTP APIs and the CLI call: prepare photos, describe them, rank descriptions.

It owns the models (through its captioning) and the ranker; it knows nothing of HTTP.
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
from typing import Callable, Protocol, Sequence

from altgen.captioning import CaptionerFactory, Captioned, DeadlineExceeded, LocalCaptioning
from altgen.embedding_pace import EmbeddingPace
from altgen.images import PreparedImage, finish_image, open_image
from altgen.metrics import Metrics
from altgen.model.base import CaptionRequest, Detail, Language
from altgen.model.loading import load_captioner, load_ranker
from altgen.ranking import Ranked, Ranker
from altgen.settings import ResizeConfig, Settings
from altgen.worker.decode_budget import PixelBudget

log = logging.getLogger(__name__)

RankerFactory = Callable[[Settings], Ranker]
# Descriptions waiting to be embedded after they were written; beyond this the oldest are dropped.
WRITTEN_BACKLOG = 10_000
WRITTEN_GATHER_S = 0.2


class Captioning(Protocol):
    """Where photos are described: ``LocalCaptioning`` in this process, or a Ray deployment (altgen.distributed)."""

    devices: list[str]

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    @property
    def ready(self) -> bool: ...
    @property
    def model_name(self) -> str: ...
    def free_slots(self) -> int: ...
    async def caption(self, requests: Sequence[CaptionRequest], names: Sequence[str], timeout_s: float) -> list[Captioned]: ...


class ResizeStore(Protocol):
    """Shares the /config resize rule between the replicas of one service (altgen.distributed)."""

    async def start(self, on_change: Callable[[ResizeConfig], None]) -> None: ...
    async def stop(self) -> None: ...
    async def publish(self, config: ResizeConfig) -> None: ...


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
        captioning: Captioning | None = None,
        resize_store: ResizeStore | None = None,
    ):
        self.settings = settings
        self.resize = settings.resize_config()
        self.metrics = Metrics()
        self._ranker_factory = ranker_factory
        self.ranker: Ranker | None = None
        # Decoding, resizing and the model's pre-processing use a few threads; ranking has one of its own.
        self._image_pool = ThreadPoolExecutor(max_workers=min(8, max(2, os.cpu_count() or 1)), thread_name_prefix="images")
        self._text_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ranking")
        self._embedding_pace = EmbeddingPace()
        self.captioning: Captioning = captioning or LocalCaptioning(settings, captioner_factory, self.metrics, self._image_pool)
        self._resize_store = resize_store
        # Descriptions just written, to embed for later searches (bounded: the oldest are dropped first).
        self._written: collections.deque[str] = collections.deque(maxlen=WRITTEN_BACKLOG)
        self._embed_written_task: asyncio.Task | None = None
        # Two of the largest accepted photos may decode at once; smaller ones share the same budget.
        self._decode_budget = PixelBudget(2 * settings.max_image_pixels)

    # ---- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        if self._resize_store is not None:
            await self._resize_store.start(self._take_resize)
        self.ranker = await loop.run_in_executor(self._text_pool, self._ranker_factory, self.settings)
        await self.captioning.start()

    async def stop(self) -> None:
        if self._embed_written_task is not None:
            self._embed_written_task.cancel()
        if self._resize_store is not None:
            await self._resize_store.stop()
        await self.captioning.stop()
        self._image_pool.shutdown(wait=False, cancel_futures=True)
        self._text_pool.shutdown(wait=False, cancel_futures=True)

    @property
    def ready(self) -> bool:
        return self.captioning.ready and self.ranker is not None

    @property
    def model_name(self) -> str:
        return self.captioning.model_name

    @property
    def devices(self) -> list[str]:
        return self.captioning.devices

    def free_slots(self) -> int:
        """Photos the service can queue now; a request with more is refused (503) before its photos are decoded."""
        return self.captioning.free_slots()

    # ---- the /config resize rule -----------------------------------------------------------
    async def change_resize(self, config: ResizeConfig) -> None:
        """Sets the rule here and, on a cluster, on every other replica (published first: a refused publish changes nothing)."""
        if self._resize_store is not None:
            await self._resize_store.publish(config)
        self.resize = config

    def _take_resize(self, config: ResizeConfig) -> None:
        self.resize = config

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
        """Describes every image, at most ``timeout_s`` (default: the request deadline; less when decoding used part of it)."""
        timeout_s = self.settings.request_timeout_s if timeout_s is None else max(0.0, timeout_s)
        requests = [CaptionRequest(image.image, language, detail) for image in images]
        captioned = await self.captioning.caption(requests, [image.name for image in images], timeout_s)
        self._remember_written([c.text for c in captioned])
        return [Description(image, c.text, c.queued_s, c.inference_s) for image, c in zip(images, captioned)]

    def _remember_written(self, texts: Sequence[str]) -> None:
        """Queues descriptions the service just wrote to be embedded soon, off the answer's path, so
        that a later search over them (and, with a cache file, one after a restart) is already warm."""
        if self.ranker is None:
            return
        self._written.extend(texts)
        if self._embed_written_task is None or self._embed_written_task.done():
            self._embed_written_task = asyncio.create_task(self._embed_written(), name="embed-written")

    async def _embed_written(self) -> None:
        while self._written:
            await asyncio.sleep(WRITTEN_GATHER_S)  # gather what many answers wrote into one turn
            batch = [self._written.popleft() for _ in range(min(self._embedding_pace.turn_size(), len(self._written)))]
            missing = self.ranker.uncached(batch)
            if missing:
                try:
                    await self._embed_turn(missing)
                except Exception:  # noqa: BLE001 - a search will embed them; the answer went out long ago
                    log.exception("embedding written descriptions failed")

    # ---- ranking ---------------------------------------------------------------------------
    async def rank(self, query: str, descriptions: Sequence[str]) -> list[Ranked]:
        """New descriptions are embedded a turn (about a quarter second) at a time on the ranking thread,
        so that other requests' work runs between the turns of a large one (a small request waits for one
        turn, not for 2,000 descriptions), and a request that gives up or passes its deadline stops."""
        assert self.ranker is not None, "service not started"
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + self.settings.request_timeout_s
        # Dictionary look-ups only, so on the event loop: a small request is then one turn on the thread.
        missing = self.ranker.uncached(descriptions)
        done = 0
        # New descriptions go a turn at a time; the last turn's worth is embedded in the ranking's own turn.
        while len(missing) - done > (turn_size := self._embedding_pace.turn_size()):
            if loop.time() >= deadline:
                raise self._too_many_new(len(missing), done, loop.time() - started)
            turn = missing[done : done + turn_size]
            await self._embed_turn(turn)
            done += len(turn)
        if loop.time() >= deadline:
            raise self._too_many_new(len(missing), done, loop.time() - started)
        return await loop.run_in_executor(self._text_pool, self.ranker.rank, query, descriptions)

    async def _embed_turn(self, passages: list[str]) -> None:
        """One turn of embedding on the ranking thread, timed to size the next turns."""
        started = time.perf_counter()
        await asyncio.get_running_loop().run_in_executor(self._text_pool, self.ranker.embed_passages, passages)
        self._embedding_pace.record(len(passages), time.perf_counter() - started)

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

