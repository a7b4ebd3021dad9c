"""Describes photos one file at a time at the model's own pace: a bounded number in flight (enough to fill
the model's batches), each with its own time limit, so a folder of any size needs no more memory than a
few photos and one bad or slow photo fails alone."""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Protocol

from altgen.deadline import Deadline
from altgen.errors import DeadlineExceeded, ImageRejected, ModelFailed, ServiceBusy
from altgen.service import AltTextService
from altgen.types import Detail, Language

# How long to wait before trying a photo again when the service says it is busy (it is shared with nothing
# here, so this only happens when the window is larger than the queue).
BUSY_PAUSE_S = 0.2


@dataclass(frozen=True)
class Outcome:
    path: Path
    description: str | None
    error: str | None


class DescriptionCache(Protocol):
    """Descriptions by file content, so a photo is described once (``altgen find`` keeps them on disk)."""

    def get(self, sha256: str) -> str | None: ...
    def put(self, sha256: str, description: str) -> None: ...


async def describe_each(
    service: AltTextService,
    paths: Iterable[tuple[Path, str | None]],
    on_outcome: Callable[[Outcome], None],
    *,
    language: Language = "en",
    detail: Detail = "alt",
    in_flight: int,
    cache: DescriptionCache | None = None,
) -> None:
    """Calls ``on_outcome`` as each photo is done (in the order they finish)."""
    room = asyncio.Semaphore(in_flight)
    tasks: set[asyncio.Task] = set()

    async def one(path: Path, problem: str | None) -> None:
        try:
            on_outcome(await _describe_one(service, path, problem, language, detail, cache))
        finally:
            room.release()

    try:
        for path, problem in paths:
            await room.acquire()
            task = asyncio.create_task(one(path, problem))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.gather(*tasks)
    except BaseException:  # Ctrl-C or a failure: the photos in flight are dropped, not reported half-done
        unfinished = list(tasks)
        for task in unfinished:
            task.cancel()
        await asyncio.gather(*unfinished, return_exceptions=True)
        raise


async def _describe_one(
    service: AltTextService,
    path: Path,
    problem: str | None,
    language: Language,
    detail: Detail,
    cache: DescriptionCache | None,
) -> Outcome:
    if problem is not None:
        return Outcome(path, None, problem)
    try:
        data = await asyncio.to_thread(path.read_bytes)
    except OSError as exc:
        return Outcome(path, None, exc.strerror or str(exc))
    # Only `altgen find` keeps descriptions by content: `describe` does not hash every photo for nothing.
    sha256 = hashlib.sha256(data).hexdigest() if cache is not None else ""
    if cache is not None and (known := cache.get(sha256)) is not None:
        return Outcome(path, known, None)
    deadline = Deadline.after(service.settings.request_timeout_s)  # the limit is per photo
    while True:
        try:
            image = await asyncio.wait_for(service.prepare(str(path), data), deadline.left())
            [described] = await service.describe([image], language, detail, deadline)
        except ServiceBusy:
            if deadline.left() <= BUSY_PAUSE_S:
                return Outcome(path, None, "the model stayed busy for the whole time limit")
            await asyncio.sleep(BUSY_PAUSE_S)
            continue
        except ImageRejected as exc:
            return Outcome(path, None, exc.reason)
        except (DeadlineExceeded, asyncio.TimeoutError, TimeoutError):
            return Outcome(path, None, f"not described within the {deadline.budget_s:g} s limit for one photo")
        except ModelFailed as exc:
            return Outcome(path, None, str(exc))
        if cache is not None:
            cache.put(sha256, described.text)
        return Outcome(path, described.text, None)


class Pace:
    """Counts outcomes for the summary line."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.described = 0
        self.failed = 0

    def count(self, outcome: Outcome) -> None:
        if outcome.error is None:
            self.described += 1
        else:
            self.failed += 1

    def summary(self) -> str:
        elapsed = time.perf_counter() - self.started
        rate = self.described / elapsed if elapsed > 0 else 0.0
        return f"described {self.described}, failed {self.failed}, {rate:.1f} photos/s"
