"""Decoding stays within a pixel budget: huge photos wait for each other, small ones are not held up."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from altgen.images.budget import PixelBudget


async def test_huge_photos_take_turns_and_small_ones_pass():
    budget = PixelBudget(100)
    first = await budget.take(60)
    second = asyncio.create_task(budget.take(60))
    await asyncio.sleep(0)
    assert not second.done() and budget.in_use == 60
    assert await asyncio.wait_for(budget.take(30), 1) == 30  # fits beside the first: not queued behind the second
    budget.give_back(first)
    assert await asyncio.wait_for(second, 1) == 60 and budget.in_use == 90


async def test_a_request_that_gives_up_leaves_the_queue_and_a_photo_over_the_budget_still_runs_alone():
    budget = PixelBudget(100)
    held = await budget.take(80)
    waiting = asyncio.create_task(budget.take(50))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    budget.give_back(held)
    assert budget.in_use == 0
    assert await budget.take(10**9) == 100  # clipped to the whole budget


def test_a_huge_16_bit_png_decodes_in_bounded_memory(tmp_path):
    """A 95 KB 7000x7000 16-bit PNG once took +1.2 GB (a float64 copy); the bound is 400 MB."""
    png = tmp_path / "big16.png"
    make = (
        "import numpy as np, sys; from PIL import Image\n"
        "a = np.zeros((7000, 7000), dtype=np.uint16); a[1000:2000, 1000:2000] = 40000\n"
        f"Image.fromarray(a).save({str(png)!r})\n"
    )
    subprocess.run([sys.executable, "-c", make], check=True, timeout=120)  # made elsewhere: its peak is not ours
    measure = (
        "import resource, sys\n"
        "from altgen.images.decode import prepare_image\nfrom altgen.settings import ResizeConfig\n"
        f"data = open({str(png)!r}, 'rb').read()\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "image = prepare_image(data, 'big', ResizeConfig(), max_bytes=10**8, max_pixels=50_000_000)\n"
        "print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024, image.processed_size, image.image.mode)\n"
    )
    done = subprocess.run([sys.executable, "-c", measure], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    growth_mb, *rest = done.stdout.split(maxsplit=1)
    assert int(growth_mb) <= 400, done.stdout
    assert "(3500, 3500) RGB" in rest[0]
